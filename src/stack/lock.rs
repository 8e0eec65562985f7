//! One `up` or `down` of a project at a time, for a local or a remote engine: the lock is an
//! engine object, the volume `<project>-lock`, labelled with its holder (host, pid, start
//! time, command). The engine creates a volume name once: a second create of the same name
//! answers the existing volume with its first labels, so whoever reads back their own holder
//! label holds the lock, and everyone else waits for it to go. A lock whose holder ran on this
//! machine and is no longer running is taken over, with a message. Different projects never
//! wait for each other.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::docker::{Engine, EngineError};
use crate::names::{self, LABEL_ROLE, LABEL_STACK};
use crate::report::{Event, Reporter};

/// The lock volume's role label.
pub const LOCK_ROLE: &str = "lock";
/// Who holds the lock: `host pid start-seconds command`.
pub const LABEL_HOLDER: &str = "dev.iamstack.lock-holder";

/// How often a waiting run looks again.
const POLL: Duration = Duration::from_millis(250);

/// The holder of a project's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    /// Unix seconds.
    pub since: u64,
    /// `up` or `down`.
    pub command: String,
}

impl Holder {
    /// This process, running `command`.
    pub fn me(command: &str) -> Holder {
        Holder {
            host: this_host(),
            pid: std::process::id(),
            since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            command: command.to_string(),
        }
    }

    /// The label value.
    pub fn label(&self) -> String {
        format!("{} {} {} {}", self.host, self.pid, self.since, self.command)
    }

    /// Read back from a label value.
    pub fn parse(label: &str) -> Option<Holder> {
        let mut parts = label.split(' ');
        Some(Holder {
            host: parts.next()?.to_string(),
            pid: parts.next()?.parse().ok()?,
            since: parts.next()?.parse().ok()?,
            command: parts.next()?.to_string(),
        })
    }

    /// How a message names it.
    pub fn describe(&self) -> String {
        format!(
            "`iamstack {}` (pid {} on {}, since {})",
            self.command,
            self.pid,
            self.host,
            clock_time(self.since)
        )
    }
}

/// What to do about a lock someone else holds. Pure: the caller says whether the holder's
/// process still runs (only knowable for this machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Wait for it.
    Wait,
    /// Its holder ran here and is gone: take it over.
    TakeOver,
}

pub fn verdict(holder: Option<&Holder>, here: &str, running: impl Fn(u32) -> bool) -> Verdict {
    match holder {
        // A lock volume without a readable holder (made by hand, or a foreign tool): wait;
        // the timeout message names it.
        None => Verdict::Wait,
        Some(h) if h.host == here && !running(h.pid) => Verdict::TakeOver,
        Some(_) => Verdict::Wait,
    }
}

/// The lock volume's name.
pub fn lock_name(project: &str) -> String {
    format!("{project}-lock")
}

/// Why the lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another run works on stack `{project}`: {holder}; waited {waited_s} s for it. Let it \
         finish, or, if it is gone, remove the lock: `docker volume rm {lock}`"
    )]
    Busy {
        project: String,
        holder: String,
        waited_s: u64,
        lock: String,
    },
    #[error("cannot take the stack's lock")]
    Engine(#[from] EngineError),
}

impl LockError {
    /// Busy is a conflict (exit 4); an engine failure is the engine's (its own kind, found
    /// further down the chain).
    pub fn kind(&self) -> Option<crate::error::Kind> {
        match self {
            LockError::Busy { .. } => Some(crate::error::Kind::Conflict),
            LockError::Engine(_) => None,
        }
    }
}

/// A held lock; [`StackLock::release`] gives it back (a run that dies leaves it to be taken
/// over by the next run on this machine).
pub struct StackLock {
    name: String,
    me: String,
}

impl StackLock {
    /// Take the project's lock for `command`, waiting up to `budget` for another holder.
    /// `labels` are added to the lock volume (the stack's own user labels, e.g. a test run's).
    pub async fn acquire(
        engine: &Engine,
        project: &str,
        command: &str,
        labels: &BTreeMap<String, String>,
        budget: Duration,
        reporter: &Reporter,
    ) -> Result<StackLock, LockError> {
        let name = lock_name(project);
        let me = Holder::me(command);
        let mut wanted = labels.clone();
        wanted.insert(LABEL_STACK.to_string(), project.to_string());
        wanted.insert(LABEL_ROLE.to_string(), LOCK_ROLE.to_string());
        wanted.insert(LABEL_HOLDER.to_string(), me.label());
        let started = Instant::now();
        let mut told = None;
        loop {
            engine.create_volume(&name, &wanted).await?;
            let found = engine.volume(&name).await?;
            let label = found
                .as_ref()
                .and_then(|v| v.labels.get(LABEL_HOLDER).cloned());
            if label.as_deref() == Some(me.label().as_str()) {
                return Ok(StackLock {
                    name,
                    me: me.label(),
                });
            }
            let Some(label) = label.or_else(|| found.is_some().then(String::new)) else {
                // Released between our create and our read: try again at once.
                continue;
            };
            let holder = Holder::parse(&label);
            match verdict(holder.as_ref(), &me.host, process_runs) {
                Verdict::TakeOver => {
                    reporter.emit(Event::Warning {
                        message: format!(
                            "taking over the lock of stack `{project}` left by {}, which is no \
                             longer running",
                            holder.as_ref().map_or(label.clone(), Holder::describe)
                        ),
                    });
                    remove_if_held_by(engine, &name, &label).await?;
                    continue;
                }
                Verdict::Wait => {}
            }
            let described = holder
                .as_ref()
                .map_or_else(|| format!("lock volume `{name}`"), Holder::describe);
            if started.elapsed() >= budget {
                return Err(LockError::Busy {
                    project: project.to_string(),
                    holder: described,
                    waited_s: started.elapsed().as_secs(),
                    lock: name,
                });
            }
            if told.as_ref() != Some(&label) {
                reporter.emit(Event::Warning {
                    message: format!(
                        "waiting for another run on stack `{project}` to finish: {described} \
                         (up to {} s)",
                        budget.as_secs()
                    ),
                });
                told = Some(label);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Give the lock back (only if it is still ours).
    pub async fn release(self, engine: &Engine) -> Result<(), EngineError> {
        remove_if_held_by(engine, &self.name, &self.me).await
    }
}

async fn remove_if_held_by(engine: &Engine, name: &str, label: &str) -> Result<(), EngineError> {
    let current = engine.volume(name).await?;
    let held = current
        .as_ref()
        .map(|v| v.labels.get(LABEL_HOLDER).map_or("", String::as_str));
    if held == Some(label) {
        engine.remove_volume(name).await?;
    }
    Ok(())
}

/// The labels a stack's objects carry beyond iamstack's own (e.g. a test run's), for the lock
/// of a command that has no `--label` (`down`).
pub fn user_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| !k.starts_with("dev.iamstack.") || k.as_str() == names::LABEL_TEST_RUN)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The user labels of project's existing objects (a container's, else the network's, else a
/// volume's): what `down` puts on the lock.
pub async fn stack_user_labels(
    engine: &Engine,
    project: &str,
) -> Result<BTreeMap<String, String>, EngineError> {
    let ours = [(LABEL_STACK, project)];
    if let Some(c) = engine.containers_labelled(&ours).await?.into_iter().next() {
        let labels: BTreeMap<String, String> = c.labels.unwrap_or_default().into_iter().collect();
        return Ok(user_labels(&labels));
    }
    if let Some(n) = engine.networks_labelled(&ours).await?.into_iter().next() {
        return Ok(user_labels(&n.labels));
    }
    let volumes = engine.volumes_labelled(&ours).await?;
    Ok(volumes
        .iter()
        .find(|v| v.labels.get(LABEL_ROLE).map(String::as_str) != Some(LOCK_ROLE))
        .map(|v| user_labels(&v.labels))
        .unwrap_or_default())
}

/// This machine's name, as the lock records it.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(' '))
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Does process `pid` of this machine still run an iamstack? (A reused pid running something
/// else does not count.) Without `/proc`, assume it does: waiting is the safe side.
pub fn process_runs(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    std::fs::read(proc.join(pid.to_string()).join("cmdline"))
        .map(|cmd| String::from_utf8_lossy(&cmd).contains("iamstack"))
        .unwrap_or(false)
}

fn clock_time(unix_s: u64) -> String {
    let day = unix_s % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        (day % 3600) / 60,
        day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, pid: u32) -> Holder {
        Holder {
            host: host.into(),
            pid,
            since: 1_764_531_000,
            command: "up".into(),
        }
    }

    #[test]
    fn a_holder_reads_back_from_its_label() {
        let h = holder("ci-7", 4242);
        assert_eq!(Holder::parse(&h.label()), Some(h.clone()));
        assert_eq!(Holder::parse("garbage"), None);
        assert_eq!(
            h.describe(),
            "`iamstack up` (pid 4242 on ci-7, since 19:30:00 UTC)"
        );
    }

    #[test]
    fn only_a_gone_holder_of_this_machine_is_taken_over() {
        let gone = |_| false;
        let alive = |_| true;
        assert_eq!(
            verdict(Some(&holder("here", 1)), "here", gone),
            Verdict::TakeOver
        );
        assert_eq!(
            verdict(Some(&holder("here", 1)), "here", alive),
            Verdict::Wait
        );
        // Another machine's process cannot be checked: wait for it.
        assert_eq!(
            verdict(Some(&holder("there", 1)), "here", gone),
            Verdict::Wait
        );
        assert_eq!(verdict(None, "here", gone), Verdict::Wait);
    }

    #[test]
    fn the_lock_keeps_a_test_runs_label_but_not_iamstacks_own() {
        let labels = BTreeMap::from([
            (names::LABEL_STACK.to_string(), "p".to_string()),
            (names::LABEL_TEST_RUN.to_string(), "run-1".to_string()),
            ("team".to_string(), "a".to_string()),
        ]);
        let kept: Vec<String> = user_labels(&labels).into_keys().collect();
        assert_eq!(kept, [names::LABEL_TEST_RUN, "team"]);
    }
}
