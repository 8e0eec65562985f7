//! `iamstack logs [postgres|keycloak]`: the stack's output through the engine API, both
//! services interleaved in time order with a service prefix (`--follow`: as it comes).

use std::io::Write;

use futures_util::stream::{select_all, StreamExt};

use crate::cli::{LogsArgs, ServiceArg};
use crate::config::{EngineConfig, ProjectConfig};
use crate::docker::{Engine, LogQuery};
use crate::names::{self, Role};
use crate::stack::error::StackError;
use crate::stack::logs::{format_line, merge, services, since_unix};

pub async fn run(args: LogsArgs) -> anyhow::Result<u8> {
    let config = ProjectConfig::resolve(&args.project, EngineConfig::from_env())?;
    let project = config.project.clone();
    let since = match &args.since {
        None => None,
        Some(s) => Some(since_unix(s, unix_now()).ok_or_else(|| {
            crate::config::ConfigError::Other(format!(
                "--since `{s}`: expected a duration such as 90s, 10m, 2h, 1d, or a Unix time"
            ))
        })?),
    };
    let engine = Engine::connect(&config.engine).await?;
    let only = args.service.map(|s| match s {
        ServiceArg::Postgres => Role::Postgres,
        ServiceArg::Keycloak => Role::Keycloak,
    });
    let roles = services(only);
    // Only the stack's own containers: never another one that has its name.
    let mut names_of = Vec::new();
    for role in &roles {
        let name = names::container_name(&project, *role);
        match engine.container(&name).await? {
            None => {
                return Err(StackError::NoContainer {
                    service: role.as_str(),
                    name,
                }
                .into())
            }
            Some(c) if c.label(names::LABEL_STACK) != Some(project.as_str()) => {
                return Err(StackError::NotOurs {
                    object: "container",
                    name,
                    project,
                }
                .into())
            }
            Some(_) => names_of.push((*role, name)),
        }
    }
    let query = LogQuery {
        follow: args.follow,
        since,
        tail: args.tail,
    };
    let mut out = std::io::stdout().lock();
    if args.follow {
        // As it comes: each service's lines in order, the services interleaved by arrival.
        let streams = names_of.iter().map(|(role, name)| {
            let role = *role;
            engine
                .log_lines(name, &query)
                .map(move |l| (role, l))
                .boxed()
        });
        let mut all = select_all(streams);
        while let Some((role, line)) = all.next().await {
            writeln!(out, "{}", format_line(role, &line?, args.timestamps))?;
        }
    } else {
        let mut per_service = Vec::new();
        for (role, name) in &names_of {
            let lines: Vec<_> = engine.log_lines(name, &query).collect().await;
            per_service.push((*role, lines.into_iter().collect::<Result<Vec<_>, _>>()?));
        }
        for (role, line) in merge(per_service) {
            writeln!(out, "{}", format_line(role, &line, args.timestamps))?;
        }
    }
    Ok(crate::error::exit::OK)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
