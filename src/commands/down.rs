//! `iamstack down`: remove the stack's containers and network; data only with `--volumes`.

use std::time::Instant;

use crate::cli::DownArgs;
use crate::config::{EngineConfig, ProjectConfig};
use crate::docker::Engine;
use crate::error::exit;
use crate::report::{Event, Reporter};
use crate::stack::down::{self, DownOptions};

pub async fn run(args: DownArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let config = ProjectConfig::resolve(&args.project, EngineConfig::from_env())?;
    let started = Instant::now();
    let engine = Engine::connect(&config.engine).await?;
    let outcome = down::down(
        &engine,
        &config.project,
        DownOptions {
            volumes: args.volumes,
        },
        reporter,
    )
    .await?;
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
