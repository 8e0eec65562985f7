//! Configuration resolution: built-in defaults (the reference setup) <- `--env-file` <- env <-
//! flags, validated once. The only module that reads the process environment (besides clap).

use std::collections::BTreeMap;

use crate::cli::{AdminArgs, ProjectArgs};
use crate::names;

mod data_dir;
mod env_file;
mod error;
#[cfg(test)]
mod tests;
mod validate;

pub use env_file::EnvFile;
pub use error::ConfigError;

pub const DEFAULT_ADMIN_USER: &str = "admin";
pub const DEFAULT_ADMIN_PASSWORD: &str = "kc_admin$123";
pub const DEFAULT_POSTGRES_PASSWORD: &str = "keycloak$123";

/// The validated project name.
pub fn project_name(project: &ProjectArgs) -> Result<String, ConfigError> {
    let name = project
        .project
        .clone()
        .unwrap_or_else(|| names::DEFAULT_PROJECT.to_string());
    names::validate_project(&name).map_err(ConfigError::InvalidProject)?;
    Ok(name)
}

/// Keycloak's bootstrap admin: flag/env > env file's `KEYCLOAK_PASSWORD` > default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    pub username: String,
    pub password: String,
}

impl AdminCredentials {
    pub fn resolve(args: &AdminArgs, env_file: &EnvFile) -> AdminCredentials {
        AdminCredentials {
            username: args
                .admin_user
                .clone()
                .unwrap_or_else(|| DEFAULT_ADMIN_USER.to_string()),
            password: args
                .admin_password
                .clone()
                .or_else(|| env_file.get("KEYCLOAK_PASSWORD").map(str::to_string))
                .unwrap_or_else(|| DEFAULT_ADMIN_PASSWORD.to_string()),
        }
    }
}

/// Where the Docker engine is: `DOCKER_HOST`, else the default Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    pub host: String,
}

pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

impl EngineConfig {
    pub fn from_env() -> EngineConfig {
        EngineConfig::from_value(std::env::var("DOCKER_HOST").ok())
    }

    pub fn from_value(docker_host: Option<String>) -> EngineConfig {
        EngineConfig {
            host: docker_host
                .filter(|h| !h.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string()),
        }
    }

    /// Whether the engine runs on this machine, so that its published ports are this machine's
    /// ports (the port pre-flight only makes sense then).
    pub fn is_local(&self) -> bool {
        self.host.starts_with("unix://")
            || self.host.starts_with("npipe://")
            || [
                "tcp://127.",
                "tcp://localhost",
                "http://127.",
                "http://localhost",
            ]
            .iter()
            .any(|p| self.host.starts_with(p))
    }
}

/// Whether we run in CI: `CI` set to anything but empty, `0` or `false` (any case). The one
/// place that decides it: secrets stay out of logs and output is plain there.
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

/// Pure: what a `CI` value means. CI services set `true` (or `1`); people switch it off with
/// `false` or `0`.
pub fn ci_value_means_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// Where Postgres keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The labelled named volume `<project>-pgdata`.
    Volume,
    /// A host directory bind-mounted as in the reference (absolute path).
    HostDir(std::path::PathBuf),
    /// `--ephemeral`: memory (tmpfs) inside the Postgres container; gone with the container.
    Ephemeral,
}

/// Everything `up` needs, resolved once: defaults (the reference setup) <- `--env-file` <-
/// env (`IAMSTACK_*`) <- flags, then validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackConfig {
    pub project: String,
    pub engine: EngineConfig,
    pub postgres_image: String,
    pub keycloak_image: String,
    pub pull: crate::cli::PullPolicy,
    pub bind_address: std::net::IpAddr,
    pub postgres_port: u16,
    pub keycloak_port: u16,
    pub management_port: u16,
    pub data: DataSource,
    pub postgres_db: String,
    pub postgres_user: String,
    pub postgres_password: String,
    pub hostname: String,
    pub timeout: std::time::Duration,
    /// Extra labels from `--label`, put on every object created.
    pub labels: BTreeMap<String, String>,
    /// Extra Keycloak environment from `--keycloak-env`, in order; replaces planned values.
    pub keycloak_env: Vec<(String, String)>,
    pub admin: AdminCredentials,
    /// Run an optimized Keycloak image that `up` builds and caches (`--no-optimize`: off).
    pub optimize: bool,
}

pub const DEFAULT_POSTGRES_DB: &str = "keycloak";
pub const DEFAULT_POSTGRES_USER: &str = "keycloak";
pub const DEFAULT_HOSTNAME: &str = "localhost";
pub const DEFAULT_POSTGRES_PORT: u16 = 5432;
/// Loopback only: the reference's passwords are public (see [`StackConfig::validate`]).
pub const DEFAULT_BIND_ADDRESS: std::net::IpAddr =
    std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
pub const DEFAULT_KEYCLOAK_PORT: u16 = 8080;
pub const DEFAULT_MANAGEMENT_PORT: u16 = 9000;
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl StackConfig {
    /// Resolve from the parsed flags (clap has already merged the `IAMSTACK_*` env twins), the
    /// env file and the engine location, then validate. Errors are `InvalidConfig` (exit 7).
    pub fn resolve(
        args: &crate::cli::StackArgs,
        admin: &AdminArgs,
        engine: EngineConfig,
    ) -> Result<StackConfig, ConfigError> {
        let env_file = EnvFile::from_args(&args.project)?;
        let project = project_name(&args.project)?;
        let data = match &args.data_dir {
            Some(_) if args.ephemeral => return Err(ConfigError::EphemeralWithDataDir),
            None if args.ephemeral => DataSource::Ephemeral,
            None => DataSource::Volume,
            Some(dir) => {
                let absolute = std::path::absolute(dir).map_err(|source| ConfigError::DataDir {
                    path: dir.clone(),
                    source,
                })?;
                // The path is the engine's: only a local engine shares this file system.
                let seen = if engine.is_local() {
                    data_dir::look(&absolute)
                } else {
                    data_dir::Seen::default()
                };
                if let Some(problem) = data_dir::problem(&absolute, &seen) {
                    return Err(ConfigError::DataDirUnusable {
                        path: absolute,
                        problem,
                    });
                }
                DataSource::HostDir(absolute)
            }
        };
        let config = StackConfig {
            project,
            engine,
            postgres_image: args
                .postgres_image
                .clone()
                .unwrap_or_else(|| names::DEFAULT_POSTGRES_IMAGE.to_string()),
            keycloak_image: args
                .keycloak_image
                .clone()
                .unwrap_or_else(|| names::DEFAULT_KEYCLOAK_IMAGE.to_string()),
            pull: args.pull.unwrap_or(crate::cli::PullPolicy::Missing),
            bind_address: args.bind_address.unwrap_or(DEFAULT_BIND_ADDRESS),
            postgres_port: args.postgres_port.unwrap_or(DEFAULT_POSTGRES_PORT),
            keycloak_port: args.keycloak_port.unwrap_or(DEFAULT_KEYCLOAK_PORT),
            management_port: args.management_port.unwrap_or(DEFAULT_MANAGEMENT_PORT),
            data,
            postgres_db: args
                .postgres_db
                .clone()
                .unwrap_or_else(|| DEFAULT_POSTGRES_DB.to_string()),
            postgres_user: args
                .postgres_user
                .clone()
                .unwrap_or_else(|| DEFAULT_POSTGRES_USER.to_string()),
            postgres_password: args
                .postgres_password
                .clone()
                .or_else(|| env_file.get("POSTGRES_PASSWORD").map(str::to_string))
                .unwrap_or_else(|| DEFAULT_POSTGRES_PASSWORD.to_string()),
            hostname: args
                .hostname
                .clone()
                .unwrap_or_else(|| DEFAULT_HOSTNAME.to_string()),
            timeout: args.timeout.unwrap_or(DEFAULT_TIMEOUT),
            labels: args.labels.iter().cloned().collect(),
            keycloak_env: args.keycloak_env.clone(),
            admin: AdminCredentials::resolve(admin, &env_file),
            optimize: !args.no_optimize,
        };
        config.validate()?;
        Ok(config)
    }
}

/// The engine location plus the project: what `down` and `status` need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectConfig {
    pub project: String,
    pub engine: EngineConfig,
}

impl ProjectConfig {
    pub fn resolve(args: &ProjectArgs, engine: EngineConfig) -> Result<ProjectConfig, ConfigError> {
        // Read the env file too, so a broken one is reported the same way by every command.
        EnvFile::from_args(args)?;
        Ok(ProjectConfig {
            project: project_name(args)?,
            engine,
        })
    }
}
