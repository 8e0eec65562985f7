//! `iamstack snapshot save FILE`: a consistent physical copy of the running stack's Postgres
//! data directory.
//!
//! Method: stop Keycloak, stop Postgres (its clean shutdown leaves a data directory that needs
//! no WAL replay; no replication permission or `pg_basebackup` needed, and a `--data-dir`
//! stack is read the same way), read PGDATA as a tar through the engine's archive API (which
//! works on a stopped container) into an unnamed temporary file, then restart Postgres and
//! Keycloak and wait until both are ready while the copy is compressed into a temporary file
//! beside FILE, renamed to FILE at the end. The stack is down only while the engine copies;
//! it is started again whatever happened to the file (also on Ctrl-C during the copy).

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use futures_util::StreamExt;

use super::error::{project_flag, SnapshotError};
use super::format;
use super::metadata::{now_rfc3339, sha256_hex, ImageRecord, Metadata, FORMAT_VERSION};
use super::restore::mib;
use crate::docker::{ContainerInfo, Engine};
use crate::error::Interrupted;
use crate::names::{self, Role};
use crate::report::{Reporter, Step};
use crate::stack::down::STOP_TIMEOUT;
use crate::stack::plan::{host_port, KEYCLOAK_MANAGEMENT_PORT, PGDATA, POSTGRES_CONTAINER_PORT};
use crate::stack::readiness::{current, wait_ready};
use crate::stack::status::probe_addr;
use crate::wait::{self, PgRefusal, Probe};

/// What `save` needs to know beyond the engine.
pub struct SaveRequest<'a> {
    pub project: &'a str,
    pub file: &'a Path,
    /// SHA-256 of the realm files the stack was provisioned with, when the caller knows them.
    pub realm_files_sha256: Option<String>,
    /// Readiness budget per service after the restart.
    pub budget: Duration,
}

/// What was written, for the final line.
#[derive(Debug, Clone)]
pub struct Saved {
    pub file: PathBuf,
    pub file_bytes: u64,
    pub data_bytes: u64,
    /// How long Postgres and Keycloak were stopped.
    pub stopped_for: Duration,
}

/// The stack's two running containers, ours, by role.
struct Running {
    postgres: ContainerInfo,
    keycloak: ContainerInfo,
}

pub async fn save(
    engine: &Engine,
    req: &SaveRequest<'_>,
    reporter: &Reporter,
) -> anyhow::Result<Saved> {
    let running = find_running(engine, req.project).await?;
    let metadata = metadata_of(engine, &running, req.realm_files_sha256.clone()).await?;
    // Both temporary files exist before anything is stopped: a directory we cannot write to
    // fails here, with the stack untouched.
    let dir = match req.file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let write_error = |cause| SnapshotError::Write {
        path: req.file.to_path_buf(),
        cause,
    };
    let raw = tempfile::tempfile_in(&dir).map_err(write_error)?;
    let partial = tempfile::Builder::new()
        .prefix(".iamstack-snapshot-")
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(write_error)?;

    let stopped_at = Instant::now();
    let copied = async {
        stop(engine, &running, reporter).await?;
        copy_data_dir(engine, &running.postgres.name, raw, reporter).await
    };
    let copied = tokio::select! {
        copied = copied => copied,
        _ = tokio::signal::ctrl_c() => Err(anyhow::Error::new(Interrupted)
            .context("stopped at Ctrl-C: the stack runs again; no snapshot was written")),
    };
    let (raw, data_bytes) = match copied {
        Ok(done) => done,
        Err(e) => {
            restart(engine, &running, req.budget, reporter).await?;
            return Err(e);
        }
    };

    // Compress while the stack starts again; a Ctrl-C now stops the compression, never the
    // restart.
    let cancel = Arc::new(AtomicBool::new(false));
    let compress = compress(raw, partial, metadata, cancel.clone());
    let both = async {
        let (written, restarted) = tokio::join!(compress, async {
            let r = restart(engine, &running, req.budget, reporter).await;
            (r, stopped_at.elapsed())
        });
        (written, restarted)
    };
    tokio::pin!(both);
    let (written, (restarted, stopped_for)) = tokio::select! {
        done = &mut both => done,
        _ = tokio::signal::ctrl_c() => {
            cancel.store(true, Ordering::Relaxed);
            let (_, (restarted, _)) = both.await;
            restarted?;
            return Err(anyhow::Error::new(Interrupted)
                .context("stopped at Ctrl-C: the stack runs again; no snapshot was written"));
        }
    };
    restarted?;
    let (partial, file_bytes) = written?;
    partial
        .persist(req.file)
        .map_err(|e| write_error(e.error))?;
    Ok(Saved {
        file: req.file.to_path_buf(),
        file_bytes,
        data_bytes,
        stopped_for,
    })
}

async fn find_running(engine: &Engine, project: &str) -> anyhow::Result<Running> {
    let mut found = Vec::new();
    for role in [Role::Postgres, Role::Keycloak] {
        let name = names::container_name(project, role);
        let c = engine
            .container(&name)
            .await?
            .filter(|c| c.label(names::LABEL_STACK) == Some(project));
        match c {
            Some(c) if c.running => found.push(c),
            other => {
                let state = other.map_or("missing".to_string(), |c| c.status);
                return Err(SnapshotError::NotRunning {
                    project: project.to_string(),
                    project_flag: project_flag(project),
                    what: format!("container `{name}` is {state}"),
                }
                .into());
            }
        }
    }
    let keycloak = found.pop().expect("two containers");
    let postgres = found.pop().expect("two containers");
    Ok(Running { postgres, keycloak })
}

/// The metadata, from what the containers run: their images (and an optimized image's base,
/// from its labels), the admin and the Postgres settings from their environment.
async fn metadata_of(
    engine: &Engine,
    running: &Running,
    realm_files_sha256: Option<String>,
) -> anyhow::Result<Metadata> {
    let (pg, kc) = (&running.postgres, &running.keycloak);
    let env = |c: &ContainerInfo, key: &str| c.env_value(key).unwrap_or_default().to_string();
    let postgres_user = pg
        .env_value("POSTGRES_USER")
        .unwrap_or("postgres")
        .to_string();
    Ok(Metadata {
        format: FORMAT_VERSION,
        iamstack_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now_rfc3339(),
        postgres: image_record(engine, pg).await?,
        keycloak: image_record(engine, kc).await?,
        admin_user: env(kc, "KC_BOOTSTRAP_ADMIN_USERNAME"),
        admin_password_sha256: sha256_hex(env(kc, "KC_BOOTSTRAP_ADMIN_PASSWORD").as_bytes()),
        postgres_db: pg
            .env_value("POSTGRES_DB")
            .unwrap_or(&postgres_user)
            .to_string(),
        postgres_user,
        postgres_password_sha256: sha256_hex(env(pg, "POSTGRES_PASSWORD").as_bytes()),
        realm_files_sha256,
    })
}

async fn image_record(engine: &Engine, c: &ContainerInfo) -> anyhow::Result<ImageRecord> {
    let labels: BTreeMap<String, String> =
        engine.image_labels(&c.image_id).await?.unwrap_or_default();
    Ok(ImageRecord {
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        base_image: labels.get(names::LABEL_BASE_IMAGE).cloned(),
        base_image_id: labels.get(names::LABEL_BASE_IMAGE_ID).cloned(),
    })
}

/// Keycloak first (it would fail without its database), then Postgres.
async fn stop(engine: &Engine, running: &Running, reporter: &Reporter) -> anyhow::Result<()> {
    for c in [&running.keycloak, &running.postgres] {
        let step = Step::start(reporter, format!("stop {}", c.name));
        step.close(engine.stop_container(&c.name, STOP_TIMEOUT).await)?;
    }
    let pg = current(engine, &running.postgres.name).await?;
    if pg.exit_code.is_some_and(|code| code != 0) {
        reporter.emit(crate::report::Event::Warning {
            message: format!(
                "Postgres did not shut down cleanly (exit code {}): the snapshot is a crash-safe \
                 copy, which Postgres recovers from its WAL at restore",
                pg.exit_code.unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// The engine's tar of PGDATA into `raw`; returns it rewound, and the bytes read.
async fn copy_data_dir(
    engine: &Engine,
    postgres: &str,
    raw: std::fs::File,
    reporter: &Reporter,
) -> anyhow::Result<(std::fs::File, u64)> {
    let step = Step::start(reporter, "copy data directory");
    let result = async {
        let mut out = tokio::fs::File::from_std(raw);
        let mut archive = std::pin::pin!(engine.archive_of(postgres, PGDATA));
        let mut bytes = 0u64;
        while let Some(chunk) = archive.next().await {
            let chunk = chunk?;
            bytes += chunk.len() as u64;
            tokio::io::AsyncWriteExt::write_all(&mut out, &chunk).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut out).await?;
        let mut raw = out.into_std().await;
        raw.rewind()?;
        anyhow::Ok((raw, bytes))
    }
    .await;
    step.close_with(result, |(_, bytes)| {
        Some(format!("{:.1} MiB read from `{postgres}`", mib(*bytes)))
    })
}

/// Metadata entry, then the engine's tar, gzip'd into `partial`; returns it and its size.
async fn compress(
    mut raw: std::fs::File,
    partial: tempfile::NamedTempFile,
    metadata: Metadata,
    cancel: Arc<AtomicBool>,
) -> anyhow::Result<(tempfile::NamedTempFile, u64)> {
    let path = partial.path().to_path_buf();
    let written = tokio::task::spawn_blocking(move || {
        let out = std::io::BufWriter::new(partial.as_file());
        let mut gz = GzEncoder::new(out, flate2::Compression::default());
        format::write_metadata_entry(&mut gz, &metadata)?;
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "interrupted",
                ));
            }
            let n = raw.read(&mut buf)?;
            if n == 0 {
                break;
            }
            gz.write_all(&buf[..n])?;
        }
        let mut out = gz.finish()?;
        out.flush()?;
        drop(out);
        partial.as_file().sync_all()?;
        let size = partial.as_file().metadata()?.len();
        Ok((partial, size))
    })
    .await?;
    written.map_err(|cause| SnapshotError::Write { path, cause }.into())
}

/// Start what is stopped, Postgres first, and wait until each is ready, as `up` does.
async fn restart(
    engine: &Engine,
    running: &Running,
    budget: Duration,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let (pg, kc) = (&running.postgres, &running.keycloak);
    start_if_stopped(engine, &pg.name).await?;
    let step = Step::start(reporter, "wait postgres");
    let waited = async {
        let started = current(engine, &pg.name).await?;
        let addr = probe_addr(&started, POSTGRES_CONTAINER_PORT)
            .ok_or_else(|| anyhow::anyhow!("`{}` publishes no port for 5432/tcp", pg.name))?;
        let env = |key: &str| pg.env_value(key).unwrap_or_default().to_string();
        let (user, password, db) = (
            env("POSTGRES_USER"),
            env("POSTGRES_PASSWORD"),
            env("POSTGRES_DB"),
        );
        let (user, password, db) = (&user, &password, &db);
        wait_ready(
            engine,
            &pg.name,
            Role::Postgres,
            budget,
            &step,
            || async move {
                match wait::postgres_login(addr, user, password, db).await {
                    Ok(()) => Ok(()),
                    Err((PgRefusal::Transient, text)) => Err(Probe::NotYet(text)),
                    Err((_, text)) => Err(Probe::Failed(anyhow::anyhow!(
                        "Postgres refused the login it accepted before the snapshot: {text}"
                    ))),
                }
            },
        )
        .await
    }
    .await;
    step.close(waited)?;

    start_if_stopped(engine, &kc.name).await?;
    let step = Step::start(reporter, "wait keycloak");
    let waited = async {
        let started = current(engine, &kc.name).await?;
        let addr = probe_addr(&started, KEYCLOAK_MANAGEMENT_PORT)
            .ok_or_else(|| anyhow::anyhow!("`{}` publishes no port for 9000/tcp", kc.name))?;
        let url = format!("http://{}/health/ready", host_port(addr.ip(), addr.port()));
        let client = wait::http_client()?;
        let (client, url) = (&client, &url);
        wait_ready(
            engine,
            &kc.name,
            Role::Keycloak,
            budget,
            &step,
            || async move {
                wait::keycloak_health(client, url)
                    .await
                    .map_err(Probe::NotYet)
            },
        )
        .await
    }
    .await;
    step.close(waited)
}

async fn start_if_stopped(engine: &Engine, name: &str) -> anyhow::Result<()> {
    if !current(engine, name).await?.running {
        engine.start_container(name).await?;
    }
    Ok(())
}
