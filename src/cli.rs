//! Command-line definitions (clap derive). Every flag has an `IAMSTACK_*` environment twin.
//!
//! Values are `Option`s without clap defaults on purpose: `config.rs` resolves
//! flag/env > `--env-file` > built-in default, and clap cannot tell "not given" from a default.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod snapshot;
mod stack;
pub use stack::{ProjectArgs, PullPolicy, StackArgs};

#[derive(Debug, Parser)]
#[command(
    name = "iamstack",
    version,
    about = "A working OAuth2/OpenID Connect stack (Keycloak 26.2 on PostgreSQL 17.4) in one command",
    propagate_version = true
)]
pub struct Cli {
    /// How to report progress: `auto` picks `human` on a terminal, `plain` otherwise (CI, pipes).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "IAMSTACK_OUTPUT",
        default_value = "auto"
    )]
    pub output: OutputFlag,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub target: KeycloakTarget,
    #[command(flatten)]
    pub realm: RealmArgs,

    #[command(flatten)]
    pub who: ChoiceArgs,

    /// Port on 127.0.0.1; the client's redirect URIs must allow http://localhost:<port>/callback.
    #[arg(long, env = "IAMSTACK_DEMO_PORT", default_value_t = crate::demo::DEFAULT_PORT)]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub target: KeycloakTarget,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub realm: RealmArgs,

    /// Realm to export [default: the first realm in the realm files].
    #[arg(value_name = "REALM")]
    pub realm_name: Option<String>,

    /// Write the realm file here (owner-only: it holds client secrets) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// A service of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceArg {
    Postgres,
    Keycloak,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    /// Only this service [default: both, interleaved in time order].
    #[arg(value_enum)]
    pub service: Option<ServiceArg>,

    /// Keep printing new output until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// Only output since then: a duration back from now (`90s`, `10m`, `2h`, `1d`) or a Unix time.
    #[arg(long)]
    pub since: Option<String>,

    /// Only the last N lines of each service.
    #[arg(long)]
    pub tail: Option<usize>,

    /// Start each line with the engine's timestamp.
    #[arg(long, short = 't')]
    pub timestamps: bool,
}

/// Which grant `token` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrantArg {
    /// The client's service account.
    ClientCredentials,
    /// Resource owner password credentials, as the user.
    Password,
    /// Authorization code with PKCE through Keycloak's login page (a scripted browser).
    Code,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub target: KeycloakTarget,
    #[command(flatten)]
    pub realm: RealmArgs,

    #[command(flatten)]
    pub who: ChoiceArgs,

    /// How to get the token.
    #[arg(long, value_enum, default_value_t = GrantArg::ClientCredentials)]
    pub grant: GrantArg,

    /// The scope to ask for (space-separated).
    #[arg(long, default_value = "openid")]
    pub scope: String,

    /// Print the ID token instead of the access token.
    #[arg(long, conflicts_with_all = ["refresh_token", "full"])]
    pub id_token: bool,

    /// Print the refresh token instead of the access token.
    #[arg(long, conflicts_with_all = ["full", "decode"])]
    pub refresh_token: bool,

    /// Print the whole token response as JSON.
    #[arg(long, conflicts_with = "decode")]
    pub full: bool,

    /// Print the token's header and claims as JSON, once its signature verifies with the realm's keys.
    #[arg(long)]
    pub decode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFlag {
    Auto,
    /// Spinners and progress bars on stderr.
    Human,
    /// One line per step on stderr.
    Plain,
    /// Newline-delimited JSON events on stdout.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start Postgres and Keycloak, wait until ready, provision the realm, print the endpoints.
    Up(UpArgs),
    /// Remove the stack's containers (and its network if iamstack created it); keep data unless --volumes.
    Down(DownArgs),
    /// Show each service's container state, readiness, image and ports (exit 0 only when all are ready).
    Status(StatusArgs),
    /// Provision the realm files into a running Keycloak (any Keycloak: no Docker needed).
    Apply(ApplyArgs),
    /// Run the OAuth2/OIDC flows end to end against the provisioned realm.
    Verify(VerifyArgs),
    /// Print an access token (or the whole token response, or its claims) for curl and scripts.
    Token(TokenArgs),
    /// Show the stack's logs: both services interleaved in time order, or one.
    Logs(LogsArgs),
    /// Serve the reference's three client apps on http://localhost:5000 (loopback only).
    Demo(DemoArgs),
    /// Print endpoints and credentials as environment variables.
    Env(EnvArgs),
    /// Write a realm of a running Keycloak as a realm file (secrets included; passwords as ${VARS}).
    Export(ExportArgs),
    /// Check that `up` would succeed here (engine, names, ports, images, disk), with the fix for each problem.
    Doctor(DoctorArgs),
    /// Print the JSON Schema of realm files (Keycloak 26.2's RealmRepresentation), for editors.
    Schema,
    /// Save the stack's data to a file, or print a cache key for one (`up --from-snapshot` starts from it).
    Snapshot(snapshot::SnapshotArgs),
}

/// Keycloak's bootstrap admin, used to log in to the admin API.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Bootstrap admin user [default: admin].
    #[arg(long, env = "IAMSTACK_ADMIN_USER")]
    pub admin_user: Option<String>,

    /// Bootstrap admin password (KC_BOOTSTRAP_ADMIN_PASSWORD) [default: kc_admin$123].
    #[arg(long, env = "IAMSTACK_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

/// Which realm files to provision.
#[derive(Debug, Clone, Args)]
pub struct RealmArgs {
    /// A realm file or a directory of them (repeatable); replaces the built-in realm/testing.yaml.
    #[arg(long = "realm", env = "IAMSTACK_REALM", value_delimiter = ',')]
    pub realm_files: Vec<PathBuf>,
}

/// How realm files are applied.
#[derive(Debug, Clone, Args)]
pub struct ProvisionArgs {
    /// Requests to Keycloak in flight at once (password checks: at most 2).
    #[arg(long, env = "IAMSTACK_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Check every user's password by a login, even when the local password ledger proves it
    /// unchanged since iamstack set it.
    #[arg(long, env = "IAMSTACK_VERIFY_PASSWORDS")]
    pub verify_passwords: bool,
}

impl ProvisionArgs {
    /// The options for `apply`, with the password ledger in the user's state directory.
    pub fn options(&self) -> crate::keycloak::ApplyOptions {
        crate::keycloak::ApplyOptions {
            concurrency: usize::from(self.concurrency),
            password_ledger: crate::keycloak::password_proof::default_path(),
            verify_passwords: self.verify_passwords,
        }
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub realm: RealmArgs,
    #[command(flatten)]
    pub provisioning: ProvisionArgs,
    #[command(flatten)]
    pub snapshot: snapshot::FromSnapshotArgs,

    /// Show what would be created or changed; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Run `verify` before reporting success.
    #[arg(long)]
    pub verify: bool,

    /// Print passwords and the client secret in the final block even when not on a terminal.
    #[arg(long, env = "IAMSTACK_SHOW_SECRETS")]
    pub show_secrets: bool,

    /// Start the containers but do not provision any realm.
    #[arg(long)]
    pub no_provision: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    /// Also remove the named data volume (never a --data-dir host directory).
    #[arg(long)]
    pub volumes: bool,

    /// Also remove the optimized Keycloak images iamstack built (`iamstack-local/keycloak:*`).
    #[arg(long)]
    pub images: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

/// Which realm, client and user `verify`, `token` and `demo` work with.
#[derive(Debug, Clone, Args)]
pub struct ChoiceArgs {
    /// Realm [default: the first realm in the realm files].
    #[arg(long = "realm-name", env = "IAMSTACK_VERIFY_REALM")]
    pub realm_name: Option<String>,

    /// Client [default: the realm's first confidential client].
    #[arg(long, env = "IAMSTACK_VERIFY_CLIENT")]
    pub client: Option<String>,

    /// User, for flows that log a user in [default: the realm's first user with a password].
    #[arg(long, env = "IAMSTACK_VERIFY_USER")]
    pub user: Option<String>,
}

/// Where Keycloak is, for commands that can work on any Keycloak.
#[derive(Debug, Clone, Args)]
pub struct KeycloakTarget {
    /// Base URL of Keycloak, e.g. http://localhost:8080 [default: the running stack's published port].
    #[arg(long, env = "IAMSTACK_KEYCLOAK_URL")]
    pub keycloak_url: Option<url::Url>,

    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: KeycloakTarget,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub realm: RealmArgs,
    #[command(flatten)]
    pub provisioning: ProvisionArgs,

    /// Show what would be created or changed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: KeycloakTarget,
    #[command(flatten)]
    pub realm: RealmArgs,

    #[command(flatten)]
    pub who: ChoiceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvFormat {
    /// `export KEY='value'` lines for `eval "$(iamstack env)"`.
    Shell,
    /// `KEY=value` lines for a .env file.
    Dotenv,
    /// One JSON object.
    Json,
    /// Append to $GITHUB_ENV and $GITHUB_OUTPUT, masking secrets with ::add-mask::.
    Github,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub target: KeycloakTarget,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub realm: RealmArgs,

    #[arg(long, value_enum, default_value = "shell", env = "IAMSTACK_ENV_FORMAT")]
    pub format: EnvFormat,
}

/// `300`, `300s`, `5m`, `1h`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration `{s}`: expected e.g. 300s, 5m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("invalid duration `{s}`: units are ms, s, m, h")),
    }
}

/// `KEY=VALUE` for `--label`.
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("invalid label `{s}`: expected KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn labels_need_a_key() {
        assert_eq!(parse_label("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_label("=x").is_err());
        assert!(parse_label("novalue").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
