//! Why a snapshot cannot be made or used, each naming the cause and the fix, with its row of
//! the exit-code table ([`SnapshotError::kind`]).

use std::path::PathBuf;

use super::metadata::Mismatch;
use crate::error::Kind;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot `{}`: {cause}", path.display())]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },

    #[error(
        "`{}` is not a usable iamstack snapshot: {cause}; make one with `iamstack snapshot save \
         FILE`; nothing was created",
        path.display()
    )]
    Corrupt { path: PathBuf, cause: String },

    #[error(
        "snapshot `{}` does not fit this `up`; nothing was created:\n{}\nA snapshot restores a \
         data directory made with those images and settings: use them, or start without \
         --from-snapshot and save a new snapshot",
        path.display(),
        .mismatches.iter().map(|m| format!("  - {m}")).collect::<Vec<_>>().join("\n")
    )]
    DoesNotFit {
        path: PathBuf,
        mismatches: Vec<Mismatch>,
    },

    #[error(
        "--from-snapshot cannot be used with {flag}: a snapshot is restored into the stack's \
         named volume; drop {flag}"
    )]
    DataElsewhere { flag: &'static str },

    /// A restore needs a fresh data volume: it never overwrites data.
    #[error(
        "stack `{project}` already has {what}; --from-snapshot starts a fresh stack and never \
         overwrites data: run `iamstack down --volumes{project_flag}` first (deletes its data), \
         or pick another --project; nothing was created"
    )]
    DataExists {
        project: String,
        project_flag: String,
        what: String,
    },

    /// `snapshot save` needs both services running.
    #[error(
        "stack `{project}` is not running ({what}): start it with `iamstack up{project_flag}`, \
         then save"
    )]
    NotRunning {
        project: String,
        project_flag: String,
        what: String,
    },

    /// The cause is in the sentence (not chained), so it is said once.
    #[error("cannot write snapshot `{}`: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },

    #[error("failed to restore the data directory into container `{container}`: {cause}")]
    Upload { container: String, cause: String },
}

impl SnapshotError {
    pub fn kind(&self) -> Option<Kind> {
        match self {
            SnapshotError::Unreadable { .. }
            | SnapshotError::Corrupt { .. }
            | SnapshotError::DoesNotFit { .. }
            | SnapshotError::DataElsewhere { .. } => Some(Kind::InvalidConfig),
            SnapshotError::DataExists { .. } => Some(Kind::Conflict),
            SnapshotError::NotRunning { .. } => Some(Kind::NotReady),
            SnapshotError::Write { .. } | SnapshotError::Upload { .. } => None,
        }
    }
}

/// ` --project P` for a command shown in a message, empty for the default project.
pub fn project_flag(project: &str) -> String {
    if project == crate::names::DEFAULT_PROJECT {
        String::new()
    } else {
        format!(" --project {project}")
    }
}
