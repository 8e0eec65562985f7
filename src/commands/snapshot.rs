//! `iamstack snapshot save FILE` and `iamstack snapshot key`.

use std::time::Instant;

use crate::cli::snapshot::{SnapshotArgs, SnapshotCommand, SnapshotKeyArgs, SnapshotSaveArgs};
use crate::config::{EngineConfig, ProjectConfig, StackConfig, DEFAULT_TIMEOUT};
use crate::docker::Engine;
use crate::error::exit;
use crate::keycloak::realm_file::realm_file_bytes;
use crate::report::{Event, Reporter};
use crate::snapshot::key::{cache_key, realm_digest, KeyInputs};
use crate::snapshot::restore::mib;
use crate::snapshot::save::{self, SaveRequest};
use crate::stack::lock::{self, StackLock};

pub async fn run(args: SnapshotArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    match args.command {
        SnapshotCommand::Save(args) => run_save(args, reporter).await,
        SnapshotCommand::Key(args) => run_key(*args, reporter).await,
    }
}

async fn run_save(args: SnapshotSaveArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let config = ProjectConfig::resolve(&args.project, EngineConfig::from_env())?;
    // Only realm files named here are recorded: a running Keycloak cannot tell which files
    // provisioned it.
    let realm_files_sha256 = if args.realm_files.is_empty() {
        None
    } else {
        Some(realm_digest(&realm_file_bytes(&args.realm_files)?))
    };
    let started = Instant::now();
    let engine = Engine::connect(&config.engine).await?;
    // No `up` or `down` of the project while its containers are stopped for the copy.
    let labels = lock::stack_user_labels(&engine, &config.project).await?;
    let budget = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let lock = StackLock::acquire(
        &engine,
        &config.project,
        "snapshot",
        &labels,
        budget,
        reporter,
    )
    .await?;
    let request = SaveRequest {
        project: &config.project,
        file: &args.file,
        realm_files_sha256,
        budget,
    };
    let saved = save::save(&engine, &request, reporter).await;
    crate::commands::up::release(Some(lock), &engine, reporter).await;
    let saved = saved?;
    reporter.emit(Event::StepFinished {
        step: "snapshot save".into(),
        elapsed_ms: started.elapsed().as_millis() as u64,
        detail: Some(format!(
            "wrote `{}`: {:.1} MiB ({:.1} MiB of data); the stack was stopped for {:.1} s and \
             is ready again",
            saved.file.display(),
            mib(saved.file_bytes),
            mib(saved.data_bytes),
            saved.stopped_for.as_secs_f64()
        )),
    });
    Ok(exit::OK)
}

/// The key on stdout, nothing else. Image IDs come from the engine when it answers and has
/// the images; without them the key names the references only.
async fn run_key(args: SnapshotKeyArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let config = StackConfig::resolve(&args.stack, &args.admin, EngineConfig::from_env())?;
    let realms = realm_digest(&realm_file_bytes(&args.realm.realm_files)?);
    let ids = match Engine::connect(&config.engine).await {
        Ok(engine) => (
            engine.image_id(&config.postgres_image).await?,
            engine.image_id(&config.keycloak_image).await?,
        ),
        Err(e) => {
            reporter.emit(Event::Warning {
                message: format!(
                    "{e}: the key names the images by reference only, not by their local IDs"
                ),
            });
            (None, None)
        }
    };
    println!("{}", cache_key(&KeyInputs::new(&config, ids, realms)));
    Ok(exit::OK)
}
