//! Why a configuration cannot be used (exit 7). Each variant names the setting and the fix.

use std::path::PathBuf;

use crate::error::Kind;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}:{line}: expected KEY=value, found `{text}`")]
    EnvFileSyntax {
        origin: String,
        line: usize,
        text: String,
    },
    #[error("cannot read env file `{}`: {source}", path.display())]
    EnvFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    InvalidProject(String),
    #[error("invalid --data-dir `{}`: {source}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--data-dir `{}` {problem}; nothing was created", path.display())]
    DataDirUnusable { path: PathBuf, problem: String },
    #[error("the {what} is empty: set {flag}")]
    Empty {
        what: &'static str,
        flag: &'static str,
    },
    #[error("--timeout must be more than 0")]
    ZeroTimeout,
    #[error(
        "{flag_a} and {flag_b} are both {port}: each service needs its own host port (0 lets the \
         engine choose)"
    )]
    SamePort {
        flag_a: &'static str,
        flag_b: &'static str,
        port: u16,
    },
    #[error("--keycloak-env `{0}` is not a valid variable name (letters, digits, `_`)")]
    KeycloakEnvName(String),
    #[error("--label `{0}` is reserved: iamstack sets it to track what it owns")]
    ReservedLabel(String),
    #[error(
        "refusing to publish ports on {address} while default passwords are in use: they are \
         public; set {}, or keep the default --bind-address 127.0.0.1",
        defaults.join(" and ")
    )]
    PublicWithDefaultPasswords {
        address: std::net::IpAddr,
        defaults: Vec<&'static str>,
    },
    #[error(
        "--ephemeral keeps Postgres's data in memory and --data-dir keeps it in a host directory: \
         choose one"
    )]
    EphemeralWithDataDir,
    /// A setting that is not one of the above (a command's own flag combination).
    #[error("{0}")]
    Other(String),
}

impl ConfigError {
    pub fn kind(&self) -> Kind {
        Kind::InvalidConfig
    }
}
