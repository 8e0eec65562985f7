//! What orchestration reports: the output [`Mode`], and every [`Event`] with its JSON shape
//! (`{"event": "<snake_case variant>", ...fields}`, documented in the README).

use serde::Serialize;

use super::CheckResult;
use crate::cli::OutputFlag;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Spinners and progress bars on stderr (a terminal is watching).
    Human,
    /// One line per event on stderr (CI, pipes).
    Plain,
    /// Newline-delimited JSON on stdout.
    Json,
}

/// Pure: the flag wins; `auto` means human only on a terminal outside CI.
pub fn resolve_mode(flag: OutputFlag, stderr_is_terminal: bool, in_ci: bool) -> Mode {
    match flag {
        OutputFlag::Human => Mode::Human,
        OutputFlag::Plain => Mode::Plain,
        OutputFlag::Json => Mode::Json,
        OutputFlag::Auto if stderr_is_terminal && !in_ci => Mode::Human,
        OutputFlag::Auto => Mode::Plain,
    }
}

/// What happened to one provisioned object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    /// `down` removed it.
    Removed,
}

/// One `OIDC_*` value in `up`'s final block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OidcValue {
    pub key: String,
    /// `None`: a secret, hidden.
    pub value: Option<String>,
}

/// Everything the stack, the provisioner and the verifier report. The JSON shape
/// (`{"event": "<snake_case variant>", ...fields}`) is documented in the README.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    StepStarted {
        step: String,
    },
    StepProgress {
        step: String,
        message: String,
    },
    StepFinished {
        step: String,
        elapsed_ms: u64,
        detail: Option<String>,
    },
    /// A step that failed: the same `step_finished` event, with an `error` instead of a
    /// `detail`, so a consumer waiting for a step's end sees it end either way.
    #[serde(rename = "step_finished")]
    StepFailed {
        step: String,
        elapsed_ms: u64,
        error: String,
    },
    /// `up --dry-run`: a step of `up`'s list that would run (a wait, provisioning, verify).
    Planned {
        step: String,
    },
    /// Byte progress of the pull that step `step` runs.
    Pull {
        step: String,
        image: String,
        downloaded: u64,
        total: u64,
    },
    Object {
        kind: String,
        name: String,
        action: Action,
        changes: Vec<String>,
    },
    /// One `verify` check, as soon as it ended.
    Check(CheckResult),
    Warning {
        message: String,
    },
    /// `up`'s final block: where everything is. Secrets are `null` unless shown (a terminal or
    /// `--show-secrets`).
    StackReady {
        project: String,
        keycloak_url: String,
        admin_console_url: String,
        health_url: String,
        /// `postgres://user@host:port/db` (no password; the scheme `env` uses too).
        postgres_url: String,
        admin_user: String,
        admin_password: Option<String>,
        postgres_user: String,
        postgres_password: Option<String>,
        /// The provisioned realm's `OIDC_*` values (as `iamstack env` prints them); a secret's
        /// value is `null` unless secrets are shown.
        oidc: Vec<OidcValue>,
        elapsed_ms: u64,
    },
    /// One line of `status`: a service's container, readiness, image and published ports.
    Service {
        service: String,
        container: String,
        /// `running`, `exited`, `created`, ... or `missing` / `foreign` (our name, not our label).
        state: String,
        ready: bool,
        image: Option<String>,
        /// `127.0.0.1:8080->8080/tcp`
        ports: Vec<String>,
        detail: Option<String>,
    },
    /// `verify`'s closing summary, with every check again: the table on a terminal.
    VerifySummary {
        passed: usize,
        failed: usize,
        elapsed_ms: u64,
        checks: Vec<CheckResult>,
    },
}
