//! Ctrl-C during `up`: remove the containers this run created (only those still carrying our
//! label), keep everything else, and say what was left behind. Network and volume stay; a later
//! `up` converges.

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::docker::Engine;
use crate::names;

/// Names of the containers this run created: what Ctrl-C removes. Recorded *before* the
/// create request is sent, so a request cut short by Ctrl-C is still cleaned up.
#[derive(Debug, Clone, Default)]
pub struct CreatedLog(Arc<Mutex<Vec<String>>>);

impl CreatedLog {
    pub fn record(&self, name: &str) {
        if let Ok(mut v) = self.0.lock() {
            if !v.iter().any(|n| n == name) {
                v.push(name.to_string());
            }
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// What the rollback did with each created container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollback {
    pub removed: Vec<String>,
    /// Left behind: the container and why it could not be removed.
    pub failed: Vec<(String, String)>,
    /// Left behind because a second Ctrl-C abandoned the cleanup.
    pub abandoned: Vec<String>,
}

/// One container's fate in the rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// Gone already, or no longer ours: nothing to do.
    Skipped,
}

/// Remove each created container through the engine.
pub async fn remove_created(engine: &Engine, project: &str, created: &CreatedLog) -> Rollback {
    remove_each(created.names(), |name| async move {
        let c = engine
            .container(&name)
            .await
            .map_err(|e| format!("{e:#}"))?;
        match c {
            Some(c) if c.label(names::LABEL_STACK) == Some(project) => engine
                .remove_container(&name)
                .await
                .map(|()| Removal::Removed)
                .map_err(|e| format!("{e:#}")),
            Some(_) | None => Ok(Removal::Skipped),
        }
    })
    .await
}

/// Remove each name with `remove`, collecting every failure (never stopping at one).
pub async fn remove_each<F, Fut>(names: Vec<String>, mut remove: F) -> Rollback
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Removal, String>>,
{
    let mut rollback = Rollback::default();
    for name in names {
        match remove(name.clone()).await {
            Ok(Removal::Removed) => rollback.removed.push(name),
            Ok(Removal::Skipped) => {}
            Err(reason) => rollback.failed.push((name, reason)),
        }
    }
    rollback
}

impl Rollback {
    /// A second Ctrl-C: nothing was removed; everything created may be left behind.
    pub fn abandoned(created: &CreatedLog) -> Rollback {
        Rollback {
            abandoned: created.names(),
            ..Rollback::default()
        }
    }

    /// What the user reads after Ctrl-C: what was removed and, above all, what is left behind.
    pub fn message(&self) -> String {
        let quoted = |names: &mut dyn Iterator<Item = &String>| {
            names
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let mut parts = Vec::new();
        if !self.removed.is_empty() {
            parts.push(format!(
                "removed {} created by this run",
                quoted(&mut self.removed.iter())
            ));
        }
        for (name, reason) in &self.failed {
            parts.push(format!(
                "could not remove `{name}` ({reason}): it is left behind, remove it with \
                 `docker rm -f {name}`"
            ));
        }
        if !self.abandoned.is_empty() {
            parts.push(format!(
                "cleanup abandoned at the second Ctrl-C: {} may be left behind",
                quoted(&mut self.abandoned.iter())
            ));
        }
        if parts.is_empty() {
            parts.push("no container had been created yet".to_string());
        }
        format!(
            "{}; network and data were kept; run `iamstack up` again to finish",
            parts.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_removal_is_reported_and_the_others_still_removed() {
        let names = vec!["iam-postgres".to_string(), "iam-keycloak".to_string()];
        let rollback = remove_each(names, |name| async move {
            if name == "iam-postgres" {
                Err("engine said: device or resource busy".to_string())
            } else {
                Ok(Removal::Removed)
            }
        })
        .await;
        assert_eq!(rollback.removed, vec!["iam-keycloak".to_string()]);
        let msg = rollback.message();
        assert!(msg.contains("removed `iam-keycloak`"), "{msg}");
        assert!(
            msg.contains("could not remove `iam-postgres` (engine said: device or resource busy)"),
            "{msg}"
        );
        assert!(msg.contains("left behind"), "{msg}");
        assert!(msg.contains("docker rm -f iam-postgres"), "{msg}");
    }

    #[tokio::test]
    async fn skipped_and_abandoned_containers_are_told_apart() {
        let rollback =
            remove_each(vec!["gone".to_string()], |_| async { Ok(Removal::Skipped) }).await;
        assert_eq!(rollback, Rollback::default());
        assert!(rollback
            .message()
            .starts_with("no container had been created yet"));
        let created = CreatedLog::default();
        created.record("iam-postgres");
        let msg = Rollback::abandoned(&created).message();
        assert!(msg.contains("`iam-postgres` may be left behind"), "{msg}");
    }
}
