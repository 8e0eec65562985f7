//! The running stack of a project, as this machine reaches it: what `apply`, `verify` and `env`
//! use when no `--keycloak-url` is given. Values are read back from our own labelled containers
//! (published ports, their env), so a stack started with other ports or passwords is found as is.

use std::net::SocketAddr;

use url::Url;

use crate::config::EngineConfig;
use crate::docker::{ContainerInfo, Engine};
use crate::names::{self, Role};
use crate::stack::plan::{host_port, KEYCLOAK_HTTP_PORT, POSTGRES_CONTAINER_PORT};
use crate::stack::status::probe_addr;

/// Postgres as published by the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresAccess {
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    pub db: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// Keycloak's base URL through its published port.
    pub keycloak_url: Url,
    /// The container's `KC_HOSTNAME`: the host Keycloak puts in its issuer.
    pub hostname: Option<String>,
    pub postgres: Option<PostgresAccess>,
}

/// What looking for the project's stack found.
#[derive(Debug)]
pub enum Discovery {
    Found(Box<Discovered>),
    /// The engine answered, but the project's Keycloak is not running (or publishes no port).
    NotRunning,
    /// The engine could not be asked: the caller falls back to its default, after saying so.
    EngineFailed(anyhow::Error),
}

impl Discovery {
    /// The stack if found; the warning to show first when the engine failed.
    pub fn into_parts(self, project: &str, fallback: &str) -> (Option<Discovered>, Option<String>) {
        match self {
            Discovery::Found(found) => (Some(*found), None),
            Discovery::NotRunning => (None, None),
            Discovery::EngineFailed(e) => (
                None,
                Some(format!(
                    "could not look for stack `{project}` on the Docker engine ({e:#}); using \
                     {fallback}"
                )),
            ),
        }
    }
}

/// The project's stack if an engine answers and our Keycloak container publishes its port.
pub async fn discover(project: &str) -> Discovery {
    match find(project).await {
        Ok(Some(found)) => Discovery::Found(Box::new(found)),
        Ok(None) => Discovery::NotRunning,
        Err(e) => Discovery::EngineFailed(e),
    }
}

async fn find(project: &str) -> anyhow::Result<Option<Discovered>> {
    let engine = Engine::connect(&EngineConfig::from_env()).await?;
    let ours = |c: &ContainerInfo| c.label(names::LABEL_STACK) == Some(project) && c.running;
    let keycloak = engine
        .container(&names::container_name(project, Role::Keycloak))
        .await?
        .filter(ours);
    let Some((keycloak, kc_addr)) = keycloak.and_then(|c| {
        let addr = probe_addr(&c, KEYCLOAK_HTTP_PORT)?;
        Some((c, addr))
    }) else {
        return Ok(None);
    };
    let keycloak_url = Url::parse(&format!(
        "http://{}",
        host_port(kc_addr.ip(), kc_addr.port())
    ))?;
    let postgres = engine
        .container(&names::container_name(project, Role::Postgres))
        .await?
        .filter(ours)
        .and_then(|c| {
            let user = c
                .env_value("POSTGRES_USER")
                .unwrap_or("postgres")
                .to_string();
            Some(PostgresAccess {
                addr: probe_addr(&c, POSTGRES_CONTAINER_PORT)?,
                password: c
                    .env_value("POSTGRES_PASSWORD")
                    .unwrap_or_default()
                    .to_string(),
                db: c.env_value("POSTGRES_DB").unwrap_or(&user).to_string(),
                user,
            })
        });
    Ok(Some(Discovered {
        keycloak_url,
        hostname: keycloak.env_value("KC_HOSTNAME").map(str::to_string),
        postgres,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_failure_is_said_before_the_fallback() {
        let failed = Discovery::EngineFailed(
            anyhow::anyhow!("connection refused").context("cannot reach the Docker engine"),
        );
        let (found, warning) = failed.into_parts("iam", "http://localhost:8080");
        assert!(found.is_none());
        let warning = warning.expect("a warning");
        assert!(warning.contains("stack `iam`"), "{warning}");
        assert!(
            warning.contains("cannot reach the Docker engine: connection refused"),
            "{warning}"
        );
        assert!(warning.contains("using http://localhost:8080"), "{warning}");
        assert_eq!(
            Discovery::NotRunning.into_parts("iam", "http://localhost:8080"),
            (None, None)
        );
    }
}
