//! `up --from-snapshot FILE`: a fresh stack whose Postgres starts on the snapshot's data
//! directory, so Postgres skips initdb, Keycloak finds its schema, bootstrap admin and realms,
//! and provisioning only reads.
//!
//! `up` calls in at three points, each deciding with the pure functions of [`super::metadata`]
//! in the real run and the dry run alike: [`Restore::refuse_existing`] once it has looked
//! (before anything is created), [`Restore::check_images`] once the images are known (after
//! any pull, before the network, volume or containers), and [`Restore::restore_into`] between
//! creating the Postgres container and starting it. The file itself and the settings are
//! checked by [`Restore::open`] before `up` connects.
//!
//! The data goes in through the engine's archive API into the created, not yet started
//! container (its volume is mounted for the copy), keeping the archive's numeric owners; the
//! Postgres image's entrypoint, starting as root, also chowns PGDATA to `postgres` (the
//! official image's contract, which the test stand-in keeps).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_util::stream;

use super::error::{project_flag, SnapshotError};
use super::format::{self, Checked};
use super::metadata::{image_mismatches, settings_mismatches};
use crate::config::{DataSource, StackConfig};
use crate::docker::Engine;
use crate::names::Role;
use crate::report::{Reporter, Step};
use crate::stack::changes::{Change, Observed};
use crate::stack::plan::{DataPlan, StackPlan, PGDATA};

/// Chunks handed to the engine while the file is inflated.
const CHUNK: usize = 1024 * 1024;

/// A snapshot file checked whole and found to fit this `up`'s settings.
#[derive(Debug)]
pub struct Restore {
    pub path: PathBuf,
    pub checked: Checked,
    /// Set while the data is being extracted: a Ctrl-C then leaves a partial data directory,
    /// which [`Restore::remove_partial`] deletes.
    extracting: AtomicBool,
}

impl Restore {
    /// Check the configuration allows a restore, read the whole file (on a worker thread: it
    /// inflates every byte), and compare the settings baked into it with this `up`'s.
    pub async fn open(path: &Path, config: &StackConfig) -> Result<Restore, SnapshotError> {
        refuse_data_elsewhere(config)?;
        let owned = path.to_path_buf();
        let checked = tokio::task::spawn_blocking(move || format::check_file(&owned))
            .await
            .map_err(|e| SnapshotError::Corrupt {
                path: path.to_path_buf(),
                cause: format!("reading it stopped: {e}"),
            })??;
        let mismatches = settings_mismatches(&checked.metadata, config);
        if !mismatches.is_empty() {
            return Err(SnapshotError::DoesNotFit {
                path: path.to_path_buf(),
                mismatches,
            });
        }
        Ok(Restore {
            path: path.to_path_buf(),
            checked,
            extracting: AtomicBool::new(false),
        })
    }

    /// Pure: a restore makes a fresh stack; data already there (the volume, or a Postgres
    /// container that has a data directory) is never overwritten.
    pub fn refuse_existing(
        &self,
        plan: &StackPlan,
        observed: &Observed,
    ) -> Result<(), SnapshotError> {
        let what = match (&plan.data, observed.volume_exists, &observed.postgres) {
            (DataPlan::Volume { name, .. }, true, _) => format!("a data volume `{name}`"),
            (_, _, Some(pg)) => format!("a Postgres container `{}`", pg.name),
            _ => return Ok(()),
        };
        Err(SnapshotError::DataExists {
            project: plan.project.clone(),
            project_flag: project_flag(&plan.project),
            what,
        })
    }

    /// Pure: the images this `up` uses are the snapshot's (by ID, or the Keycloak image's
    /// base). An image not present yet (a dry run before its pull) is checked by the real run
    /// after its pull.
    pub fn check_images(&self, plan: &StackPlan, observed: &Observed) -> Result<(), SnapshotError> {
        let mismatches = image_mismatches(
            &self.checked.metadata,
            (&plan.postgres.image, observed.image_id(Role::Postgres)),
            (&plan.keycloak.image, observed.image_id(Role::Keycloak)),
        );
        if mismatches.is_empty() {
            return Ok(());
        }
        Err(SnapshotError::DoesNotFit {
            path: self.path.clone(),
            mismatches,
        })
    }

    /// What the dry run says, after the Postgres container's line, that `up` would do with
    /// the snapshot; `None` after any other change.
    pub fn planned_after(&self, change: &Change) -> Option<String> {
        let postgres = matches!(
            change,
            Change::Container {
                role: Role::Postgres,
                ..
            }
        );
        postgres.then(|| self.planned())
    }

    fn planned(&self) -> String {
        format!(
            "restore snapshot `{}` ({} entries, {:.1} MiB, made {}) into the new Postgres \
             container before its first start",
            self.path.display(),
            self.checked.entries,
            mib(self.checked.data_bytes),
            self.checked.metadata.created_at
        )
    }

    /// Extract the data directory into the created, not yet started Postgres container. On
    /// failure the container and the volume this run created are removed again, so no half
    /// restored data directory is left for a later `up` to start on.
    pub async fn restore_into(
        &self,
        engine: &Engine,
        plan: &StackPlan,
        reporter: &Reporter,
    ) -> anyhow::Result<()> {
        let step = Step::start(reporter, "restore snapshot");
        let container = &plan.postgres.name;
        self.extracting.store(true, Ordering::SeqCst);
        let result = self.extract(engine, container).await;
        if result.is_err() {
            let _ = engine.remove_container(container).await;
            remove_volume(engine, plan).await;
        }
        self.extracting.store(false, Ordering::SeqCst);
        step.close_with(result, |()| {
            Some(format!(
                "{:.1} MiB of data from `{}`",
                mib(self.checked.data_bytes),
                self.path.display()
            ))
        })
    }

    async fn extract(&self, engine: &Engine, container: &str) -> Result<(), SnapshotError> {
        let failed = |cause: String| SnapshotError::Upload {
            container: container.to_string(),
            cause,
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
        let path = self.path.clone();
        // Inflate on a worker thread, a chunk at a time, while the engine extracts.
        let reader = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let file = std::fs::File::open(&path)?;
            let mut tar = format::data_archive(std::io::BufReader::new(file))?;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = tar.read(&mut buf)?;
                if n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                if tx
                    .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                    .is_err()
                {
                    return Ok(()); // the engine stopped reading: its error says why
                }
            }
        });
        let chunks = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        let parent = Path::new(PGDATA)
            .parent()
            .and_then(Path::to_str)
            .unwrap_or("/");
        let extracted = engine.extract_into(container, parent, chunks).await;
        let read = reader.await.map_err(|e| failed(e.to_string()))?;
        read.map_err(|e| failed(format!("reading `{}`: {e}", self.path.display())))?;
        extracted.map_err(|e| failed(format!("{e:#}")))
    }
}

impl Restore {
    /// After a Ctrl-C (once `up`'s rollback removed the containers it created): a restore cut
    /// short leaves a partial data directory in the volume, which a later `up` would start
    /// Postgres on; it is removed. Nothing happens when no restore was under way.
    pub async fn remove_partial(&self, engine: &Engine, plan: &StackPlan, reporter: &Reporter) {
        if self.extracting.load(Ordering::SeqCst) {
            let _ = engine.remove_container(&plan.postgres.name).await;
            remove_volume(engine, plan).await;
            reporter.emit(crate::report::Event::Warning {
                message: format!(
                    "the restore of `{}` was cut short: its partly restored {} was removed",
                    self.path.display(),
                    plan.data.describe()
                ),
            });
        }
    }
}

async fn remove_volume(engine: &Engine, plan: &StackPlan) {
    if let DataPlan::Volume { name, .. } = &plan.data {
        let _ = engine.remove_volume(name).await;
    }
}

/// `--from-snapshot` restores into the stack's named volume only: a host directory may hold
/// data (and is never emptied by `down`), so it is refused rather than written into.
fn refuse_data_elsewhere(config: &StackConfig) -> Result<(), SnapshotError> {
    match config.data {
        DataSource::HostDir(_) => Err(SnapshotError::DataElsewhere { flag: "--data-dir" }),
        // A tmpfs exists only once the container runs: nothing to extract into before.
        DataSource::Ephemeral => Err(SnapshotError::DataElsewhere {
            flag: "--ephemeral",
        }),
        DataSource::Volume => Ok(()),
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::metadata::tests::meta_for;
    use crate::stack::changes::Observed;

    fn restore(config: &StackConfig) -> Restore {
        Restore {
            path: "snap.tar.gz".into(),
            checked: Checked {
                metadata: meta_for(config),
                entries: 3,
                data_bytes: 42,
            },
            extracting: AtomicBool::new(false),
        }
    }

    #[test]
    fn existing_data_is_a_conflict_and_a_data_dir_is_refused() {
        let config = crate::stack::plan::tests::config();
        let plan = crate::stack::plan::plan(&config);
        let r = restore(&config);
        assert!(r.refuse_existing(&plan, &Observed::default()).is_ok());
        let observed = Observed {
            volume_exists: true,
            ..Observed::default()
        };
        let err = anyhow::Error::from(r.refuse_existing(&plan, &observed).unwrap_err());
        assert_eq!(crate::error::exit_code(&err), 4);
        let msg = err.to_string();
        assert!(msg.contains("volume `iam-pgdata`"), "{msg}");
        assert!(msg.contains("`iamstack down --volumes` first"), "{msg}");

        let mut with_dir = config.clone();
        with_dir.data = DataSource::HostDir("/srv/pg".into());
        let err = anyhow::Error::from(refuse_data_elsewhere(&with_dir).unwrap_err());
        assert_eq!(crate::error::exit_code(&err), 7);
        assert!(err.to_string().contains("--data-dir"), "{err}");

        let mut ephemeral = config.clone();
        ephemeral.data = DataSource::Ephemeral;
        let err = anyhow::Error::from(refuse_data_elsewhere(&ephemeral).unwrap_err());
        assert_eq!(crate::error::exit_code(&err), 7);
        assert!(err.to_string().contains("--ephemeral"), "{err}");
    }

    #[test]
    fn another_image_is_refused_with_both_ids() {
        let config = crate::stack::plan::tests::config();
        let plan = crate::stack::plan::plan(&config);
        let r = restore(&config);
        let observed = |pg: &str, kc: &str| Observed {
            postgres_image: Some(pg.into()),
            keycloak_image: Some(kc.into()),
            ..Observed::default()
        };
        assert!(r
            .check_images(&plan, &observed("sha256:aaaa", "sha256:cccc"))
            .is_ok());
        let err = r
            .check_images(&plan, &observed("sha256:ffff", "sha256:cccc"))
            .unwrap_err();
        let err = anyhow::Error::from(err);
        assert_eq!(crate::error::exit_code(&err), 7);
        let msg = err.to_string();
        assert!(
            msg.contains("Postgres image: the snapshot has sha256:aaaa `postgres:17.4`"),
            "{msg}"
        );
        assert!(
            msg.contains("would use sha256:ffff `postgres:17.4`"),
            "{msg}"
        );
        assert!(!msg.contains("Keycloak image"), "{msg}");
    }
}
