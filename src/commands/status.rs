//! `iamstack status`: one line per service; exit 0 only when every service is running and ready.

use crate::cli::StatusArgs;
use crate::config::{EngineConfig, ProjectConfig};
use crate::docker::Engine;
use crate::error::exit;
use crate::report::{Event, Reporter};
use crate::stack::status;

pub async fn run(args: StatusArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let config = ProjectConfig::resolve(&args.project, EngineConfig::from_env())?;
    let engine = Engine::connect(&config.engine).await?;
    let services = status::status(&engine, &config.project).await?;
    let all_ready = services.iter().all(|s| s.ready);
    for s in services {
        reporter.emit(Event::Service {
            service: s.service,
            container: s.container,
            state: s.state,
            ready: s.ready,
            image: s.image,
            ports: s.ports,
            detail: s.detail,
        });
    }
    Ok(if all_ready { exit::OK } else { exit::NOT_READY })
}
