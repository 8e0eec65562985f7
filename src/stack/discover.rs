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

/// The project's stack if an engine answers and our Keycloak container publishes its port;
/// `None` otherwise (the caller then falls back to its default URL).
pub async fn discover(project: &str) -> Option<Discovered> {
    let engine = Engine::connect(&EngineConfig::from_env()).await.ok()?;
    let ours = |c: &ContainerInfo| c.label(names::LABEL_STACK) == Some(project) && c.running;
    let keycloak = engine
        .container(&names::container_name(project, Role::Keycloak))
        .await
        .ok()
        .flatten()
        .filter(ours)?;
    let kc_addr = probe_addr(&keycloak, KEYCLOAK_HTTP_PORT)?;
    let keycloak_url = Url::parse(&format!(
        "http://{}",
        host_port(kc_addr.ip(), kc_addr.port())
    ))
    .ok()?;
    let postgres = engine
        .container(&names::container_name(project, Role::Postgres))
        .await
        .ok()
        .flatten()
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
    Some(Discovered {
        keycloak_url,
        hostname: keycloak.env_value("KC_HOSTNAME").map(str::to_string),
        postgres,
    })
}
