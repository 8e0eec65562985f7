//! `iamstack doctor`'s decisions, pure: how much free disk `up` needs, and which objects of
//! other stacks look abandoned. The checks themselves (engine, ownership, ports, images) are
//! `up`'s own, run without changing anything (`commands::doctor`).

use std::collections::{BTreeMap, BTreeSet};

use crate::docker::VolumeInfo;
use crate::names::{LABEL_ROLE, LABEL_STACK};
use crate::stack::lock::{verdict, Holder, Verdict, LABEL_HOLDER, LOCK_ROLE};

const MIB: u64 = 1024 * 1024;

/// Room for the data volume's first growth (Postgres' `initdb` and Keycloak's schema take
/// about 60 MiB; the rest is headroom).
pub const DATA_HEADROOM: u64 = 512 * MIB;
/// Room per image to pull: each official image unpacks to about 450 MB, and a pull holds the
/// compressed layers as well for a while.
pub const PER_IMAGE_PULL: u64 = 1024 * MIB;

/// Free bytes `up` needs where the engine keeps its data, with `to_pull` images to pull.
pub fn disk_needed(to_pull: usize) -> u64 {
    DATA_HEADROOM + PER_IMAGE_PULL * to_pull as u64
}

/// Bytes as people read them.
pub fn human_bytes(n: u64) -> String {
    if n >= 1024 * MIB {
        format!("{:.1} GiB", n as f64 / (1024 * MIB) as f64)
    } else {
        format!("{} MiB", n / MIB)
    }
}

/// A container as listed: name, labels, running.
pub type Listed = (String, BTreeMap<String, String>, bool);

/// Objects of other stacks that look abandoned, each with the command that removes them:
/// stacks none of whose containers run, and locks left by runs of this machine that are gone.
pub fn leftovers(
    containers: &[Listed],
    locks: &[VolumeInfo],
    this_project: &str,
    here: &str,
    runs: impl Fn(u32) -> bool,
) -> Vec<String> {
    let mut stacks: BTreeMap<&str, bool> = BTreeMap::new();
    for (_, labels, running) in containers {
        if let Some(project) = labels.get(LABEL_STACK) {
            *stacks.entry(project.as_str()).or_default() |= *running;
        }
    }
    let mut out: Vec<String> = stacks
        .into_iter()
        .filter(|(project, running)| *project != this_project && !running)
        .map(|(project, _)| {
            format!(
                "stack `{project}` has containers but none runs: `iamstack down --project \
                 {project}` removes them (add --volumes to drop its data)"
            )
        })
        .collect();
    let mut seen = BTreeSet::new();
    for lock in locks {
        if lock.labels.get(LABEL_ROLE).map(String::as_str) != Some(LOCK_ROLE)
            || !seen.insert(lock.name.clone())
        {
            continue;
        }
        let holder = lock.labels.get(LABEL_HOLDER).and_then(|l| Holder::parse(l));
        if verdict(holder.as_ref(), here, &runs) == Verdict::TakeOver {
            out.push(format!(
                "lock `{}` was left by {}, which no longer runs: the next `up` takes it over, \
                 or `docker volume rm {}`",
                lock.name,
                holder.as_ref().map_or_else(String::new, Holder::describe),
                lock.name
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pulls_need_room_for_each_image() {
        assert_eq!(disk_needed(0), 512 * MIB);
        assert_eq!(disk_needed(2), 512 * MIB + 2048 * MIB);
        assert_eq!(human_bytes(disk_needed(2)), "2.5 GiB");
        assert_eq!(human_bytes(300 * MIB), "300 MiB");
    }

    #[test]
    fn stopped_stacks_and_dead_locks_are_named_with_their_fix() {
        let stack = |p: &str| labels(&[(LABEL_STACK, p)]);
        let containers = vec![
            ("old-postgres".to_string(), stack("old"), false),
            ("old-keycloak".to_string(), stack("old"), false),
            ("live-postgres".to_string(), stack("live"), true),
            ("live-keycloak".to_string(), stack("live"), false),
            ("me-postgres".to_string(), stack("me"), false),
        ];
        let lock = |name: &str, holder: &str| VolumeInfo {
            name: name.into(),
            labels: labels(&[(LABEL_ROLE, LOCK_ROLE), (LABEL_HOLDER, holder)]),
        };
        let locks = vec![
            lock("a-lock", "here 10 1764500000 up"),
            lock("b-lock", "here 11 1764500000 up"),
            lock("c-lock", "there 10 1764500000 up"),
        ];
        let found = leftovers(&containers, &locks, "me", "here", |pid| pid == 11);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("stack `old`") && found[0].contains("iamstack down --project old")
        );
        assert!(found[1].contains("lock `a-lock`") && found[1].contains("docker volume rm a-lock"));
    }
}
