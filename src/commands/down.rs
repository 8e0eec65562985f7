//! `iamstack down`: remove the stack's containers and network; data only with `--volumes`,
//! iamstack's built images only with `--images`.

use std::time::Instant;

use crate::cli::DownArgs;
use crate::config::{EngineConfig, ProjectConfig};
use crate::docker::Engine;
use crate::error::exit;
use crate::report::{Event, Reporter};
use crate::stack::down::{self, DownOptions};
use crate::stack::lock::{self, StackLock};

/// How long `down` waits for another run on the project (an `up` waits up to its --timeout).
pub const DOWN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

pub async fn run(args: DownArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let config = ProjectConfig::resolve(&args.project, EngineConfig::from_env())?;
    let started = Instant::now();
    let engine = Engine::connect(&config.engine).await?;
    // Wait for an `up` of the project to finish rather than pull its containers from under it.
    let labels = lock::stack_user_labels(&engine, &config.project).await?;
    let lock = StackLock::acquire(
        &engine,
        &config.project,
        "down",
        &labels,
        DOWN_LOCK_WAIT,
        reporter,
    )
    .await?;
    let outcome = down::down(
        &engine,
        &config.project,
        DownOptions {
            volumes: args.volumes,
            images: args.images,
        },
        reporter,
    )
    .await;
    crate::commands::up::release(Some(lock), &engine, reporter).await;
    let outcome = outcome?;
    let detail = if outcome.found_anything {
        format!("stack `{}` is down", config.project)
    } else {
        format!(
            "nothing to remove: stack `{}` does not exist",
            config.project
        )
    };
    reporter.emit(Event::StepFinished {
        step: "down".into(),
        elapsed_ms: started.elapsed().as_millis() as u64,
        detail: Some(detail),
    });
    Ok(exit::OK)
}
