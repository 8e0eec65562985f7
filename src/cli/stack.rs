//! Where and how the stack runs: the flags `up` (and the commands that find a stack) share.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{parse_duration, parse_label};

/// Which stack: shared by every command that talks to Docker.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// Name of the stack; namespaces containers, network and volume [default: iam].
    #[arg(long, env = "IAMSTACK_PROJECT")]
    pub project: Option<String>,

    /// A `vars.env` file as in the reference: POSTGRES_PASSWORD, KEYCLOAK_PASSWORD (values are literal).
    #[arg(long, env = "IAMSTACK_ENV_FILE")]
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PullPolicy {
    /// Pull only images that are not present locally.
    Missing,
    /// Always pull (refresh floating tags).
    Always,
    /// Never pull; fail if an image is missing.
    Never,
}

/// Where and how the stack runs.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    /// Postgres image [default: postgres:17.4].
    #[arg(long, env = "IAMSTACK_POSTGRES_IMAGE")]
    pub postgres_image: Option<String>,

    /// Keycloak image [default: keycloak/keycloak:26.2].
    #[arg(long, env = "IAMSTACK_KEYCLOAK_IMAGE")]
    pub keycloak_image: Option<String>,

    /// When to pull images [default: missing].
    #[arg(long, value_enum, env = "IAMSTACK_PULL")]
    pub pull: Option<PullPolicy>,

    /// Host address the ports are published on [default: 127.0.0.1]. Another address is refused
    /// while the default passwords are in use.
    #[arg(long, env = "IAMSTACK_BIND_ADDRESS")]
    pub bind_address: Option<std::net::IpAddr>,

    /// Host port for Postgres; 0 lets the engine choose [default: 5432].
    #[arg(long, env = "IAMSTACK_POSTGRES_PORT")]
    pub postgres_port: Option<u16>,

    /// Host port for Keycloak's HTTP listener; 0 lets the engine choose [default: 8080].
    #[arg(long, env = "IAMSTACK_KEYCLOAK_PORT")]
    pub keycloak_port: Option<u16>,

    /// Host port for Keycloak's management interface (health); 0 lets the engine choose [default: 9000].
    #[arg(long, env = "IAMSTACK_MANAGEMENT_PORT")]
    pub management_port: Option<u16>,

    /// Bind-mount this host directory as Postgres's data (as in the reference) instead of a named volume.
    #[arg(long, env = "IAMSTACK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Postgres database name [default: keycloak].
    #[arg(long, env = "IAMSTACK_POSTGRES_DB")]
    pub postgres_db: Option<String>,

    /// Postgres user [default: keycloak].
    #[arg(long, env = "IAMSTACK_POSTGRES_USER")]
    pub postgres_user: Option<String>,

    /// Postgres password, also Keycloak's KC_DB_PASSWORD [default: keycloak$123].
    #[arg(long, env = "IAMSTACK_POSTGRES_PASSWORD", hide_env_values = true)]
    pub postgres_password: Option<String>,

    /// KC_HOSTNAME: the host Keycloak puts in its issuer and URLs [default: localhost].
    #[arg(long, env = "IAMSTACK_HOSTNAME")]
    pub hostname: Option<String>,

    /// Readiness budget per service, e.g. `300s`, `5m` [default: 300s].
    #[arg(long, env = "IAMSTACK_TIMEOUT", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Extra label KEY=VALUE on every object created (repeatable).
    #[arg(long = "label", env = "IAMSTACK_LABELS", value_delimiter = ',', value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// Extra environment KEY=VALUE for Keycloak, e.g. KC_LOG_LEVEL=debug (repeatable; replaces a
    /// variable iamstack sets; the env twin takes one pair).
    #[arg(long = "keycloak-env", env = "IAMSTACK_KEYCLOAK_ENV", value_parser = parse_label)]
    pub keycloak_env: Vec<(String, String)>,

    /// Run Keycloak's image as it is (`start`, which rebuilds Keycloak inside every new
    /// container) instead of the optimized image `up` builds once and caches (`start --optimized`).
    #[arg(long, env = "IAMSTACK_NO_OPTIMIZE")]
    pub no_optimize: bool,

    /// A throwaway stack for CI: Postgres keeps its data in memory (tmpfs) with fsync off;
    /// nothing persists and `down` leaves nothing. Not with --data-dir.
    #[arg(long, env = "IAMSTACK_EPHEMERAL")]
    pub ephemeral: bool,
}
