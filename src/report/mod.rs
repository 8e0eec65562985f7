//! Output: orchestration emits [`Event`]s and never prints; the [`Reporter`] renders them in
//! the mode picked once by [`resolve_mode`]. Humans read stderr; machines read stdout.

use std::io::Write;

use serde::Serialize;

use crate::cli::OutputFlag;

mod check;
mod human;
mod step;
mod table;
pub use check::{CheckFailure, CheckResult};
pub use step::Step;
pub use table::check_table;

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

pub struct Reporter {
    mode: Mode,
    /// Spinners and bars; `None` outside human mode or when stderr cannot show them.
    human: Option<human::Human>,
    /// Set by [`Reporter::recording`]: events are kept here instead of being rendered.
    recorded: Option<std::sync::Mutex<Vec<Event>>>,
}

impl Reporter {
    pub fn new(mode: Mode) -> Self {
        let human = (mode == Mode::Human)
            .then(human::Human::new)
            .filter(|h| !h.is_hidden());
        Reporter {
            mode,
            human,
            recorded: None,
        }
    }

    /// A reporter that renders nothing and keeps every event, for tests that check what a
    /// library call reported.
    pub fn recording() -> Self {
        Reporter {
            mode: Mode::Json,
            human: None,
            recorded: Some(std::sync::Mutex::new(Vec::new())),
        }
    }

    /// The events kept so far by a [`Reporter::recording`] (empty for any other reporter).
    pub fn recorded(&self) -> Vec<Event> {
        self.recorded
            .as_ref()
            .and_then(|r| r.lock().ok().map(|v| v.clone()))
            .unwrap_or_default()
    }

    pub fn emit(&self, event: Event) {
        if let Some(recorded) = &self.recorded {
            if let Ok(mut events) = recorded.lock() {
                events.push(event);
            }
            return;
        }
        if self.mode == Mode::Json {
            let line = serde_json::to_string(&event).expect("events serialize");
            let _ = writeln!(std::io::stdout().lock(), "{line}");
            return;
        }
        // verify on a terminal: no line per check, the summary table instead (a result, so on
        // stdout).
        if self.mode == Mode::Human {
            match &event {
                Event::Check(_) => return,
                Event::VerifySummary { checks, .. } => {
                    if let Some(h) = &self.human {
                        h.clear();
                    }
                    let _ = write!(std::io::stdout().lock(), "{}", check_table(checks));
                    return;
                }
                _ => {}
            }
        }
        // Results (the final block, status lines) go to stdout; progress to stderr.
        if let Some(block) = stdout_block(&event) {
            if let Some(h) = &self.human {
                h.clear();
            }
            let _ = writeln!(std::io::stdout().lock(), "{block}");
            return;
        }
        match &self.human {
            Some(h) => h.render(&event),
            None => {
                if let Some(line) = plain_line(&event) {
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                }
            }
        }
    }

    /// Stop spinners and bars (before the error is printed, or at exit).
    pub fn finish(&self) {
        if let Some(h) = &self.human {
            h.clear();
        }
    }
}

/// The stdout rendering of result events (human and plain modes), `None` for progress events.
pub fn stdout_block(event: &Event) -> Option<String> {
    match event {
        Event::StackReady {
            project,
            keycloak_url,
            admin_console_url,
            health_url,
            postgres_url,
            admin_user,
            admin_password,
            postgres_user,
            postgres_password,
            oidc,
            elapsed_ms,
        } => {
            let hidden = "(hidden: pass --show-secrets)";
            let oidc_lines: String = oidc
                .iter()
                .map(|v| format!("\n  {:<19} {}", v.key, v.value.as_deref().unwrap_or(hidden)))
                .collect();
            let admin_password = admin_password.as_deref().unwrap_or(hidden);
            let postgres_password = postgres_password.as_deref().unwrap_or(hidden);
            Some(format!(
                "\nStack `{project}` is ready ({}).\n  \
                 Keycloak        {keycloak_url}\n  \
                 Admin console   {admin_console_url}\n  \
                 Admin user      {admin_user}\n  \
                 Admin password  {admin_password}\n  \
                 Health          {health_url}\n  \
                 Postgres        {postgres_url}\n  \
                 Postgres user   {postgres_user}\n  \
                 Postgres pass   {postgres_password}{oidc_lines}",
                fmt_ms(*elapsed_ms)
            ))
        }
        Event::Service {
            service,
            container,
            state,
            ready,
            image,
            ports,
            detail,
        } => {
            let readiness = if *ready { "ready" } else { "not ready" };
            let ports = if ports.is_empty() {
                "-".to_string()
            } else {
                ports.join(", ")
            };
            let mut line = format!(
                "{service:<9} {container:<24} {state:<9} {readiness:<9} {:<28} {ports}",
                image.as_deref().unwrap_or("-")
            );
            if let Some(d) = detail {
                line.push_str(&format!("\n          {d}"));
            }
            Some(line)
        }
        _ => None,
    }
}

/// The plain-mode rendering of an event, or `None` for events too chatty for a log.
pub fn plain_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::StepStarted { step } => format!("- {step} ..."),
        Event::StepProgress { step, message } => format!("  {step}: {message}"),
        Event::StepFinished {
            step,
            elapsed_ms,
            detail,
        } => match detail {
            Some(d) => format!("✓ {step} ({}) {d}", fmt_ms(*elapsed_ms)),
            None => format!("✓ {step} ({})", fmt_ms(*elapsed_ms)),
        },
        // The first line only: the whole error (e.g. a log tail) is printed once, at exit.
        Event::StepFailed {
            step,
            elapsed_ms,
            error,
        } => format!(
            "✗ {step} ({}) failed: {}",
            fmt_ms(*elapsed_ms),
            error.lines().next().unwrap_or_default()
        ),
        Event::Planned { step } => format!("  would run: {step}"),
        Event::Pull { .. } => return None,
        Event::Object {
            kind,
            name,
            action,
            changes,
        } => match action {
            Action::Updated => format!("  {kind} `{name}`: updated ({})", changes.join(", ")),
            Action::Created => format!("  {kind} `{name}`: created"),
            Action::Unchanged if changes.is_empty() => format!("  {kind} `{name}`: unchanged"),
            Action::Unchanged => format!("  {kind} `{name}`: unchanged ({})", changes.join(", ")),
            Action::Removed => format!("  {kind} `{name}`: removed"),
        },
        Event::Check(check) => {
            let mark = if check.passed { "PASS" } else { "FAIL" };
            let tail = check
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!("{mark} {} ({}){tail}", check.name, fmt_ms(check.elapsed_ms))
        }
        Event::Warning { message } => format!("warning: {message}"),
        Event::StackReady { .. } | Event::Service { .. } => return None,
        Event::VerifySummary {
            passed,
            failed,
            elapsed_ms,
            checks,
        } => {
            let total = passed + failed;
            if *failed == 0 {
                format!(
                    "verify: all {total} checks passed ({})",
                    fmt_ms(*elapsed_ms)
                )
            } else {
                let names: Vec<&str> = checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.name.as_str())
                    .collect();
                format!(
                    "verify: {failed} of {total} checks failed ({}): {}",
                    fmt_ms(*elapsed_ms),
                    names.join(", ")
                )
            }
        }
    })
}

pub fn fmt_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_mode_is_human_only_on_a_terminal_outside_ci() {
        assert_eq!(resolve_mode(OutputFlag::Auto, true, false), Mode::Human);
        assert_eq!(resolve_mode(OutputFlag::Auto, true, true), Mode::Plain);
        assert_eq!(resolve_mode(OutputFlag::Auto, false, false), Mode::Plain);
        assert_eq!(resolve_mode(OutputFlag::Json, true, false), Mode::Json);
    }

    #[test]
    fn the_final_block_hides_secrets_unless_given() {
        let ready = |pw: Option<&str>| Event::StackReady {
            project: "iam".into(),
            keycloak_url: "http://localhost:8080".into(),
            admin_console_url: "http://localhost:8080/admin/".into(),
            health_url: "http://127.0.0.1:9000/health/ready".into(),
            postgres_url: "postgres://keycloak@127.0.0.1:5432/keycloak".into(),
            admin_user: "admin".into(),
            admin_password: pw.map(str::to_string),
            postgres_user: "keycloak".into(),
            postgres_password: pw.map(str::to_string),
            oidc: vec![
                OidcValue {
                    key: "OIDC_CLIENT_ID".into(),
                    value: Some("test-client".into()),
                },
                OidcValue {
                    key: "OIDC_CLIENT_SECRET".into(),
                    value: pw.map(|_| "g9YAmxsq".to_string()),
                },
            ],
            elapsed_ms: 1200,
        };
        let hidden = stdout_block(&ready(None)).unwrap();
        assert!(hidden.contains("http://localhost:8080/admin/"), "{hidden}");
        assert!(hidden.contains("--show-secrets"), "{hidden}");
        assert!(!hidden.contains("kc_admin"), "{hidden}");
        assert!(
            hidden.contains("OIDC_CLIENT_ID      test-client"),
            "{hidden}"
        );
        assert!(!hidden.contains("g9YAmxsq"), "{hidden}");
        let shown = stdout_block(&ready(Some("kc_admin$123"))).unwrap();
        assert!(shown.contains("kc_admin$123"), "{shown}");
        assert!(shown.contains("g9YAmxsq"), "{shown}");
        let v = serde_json::to_value(ready(None)).unwrap();
        assert_eq!(v["event"], "stack_ready");
        assert!(v["admin_password"].is_null());
        assert_eq!(plain_line(&ready(None)), None);
    }

    #[test]
    fn status_lines_show_state_readiness_image_ports() {
        let e = Event::Service {
            service: "keycloak".into(),
            container: "iam-keycloak".into(),
            state: "running".into(),
            ready: false,
            image: Some("keycloak/keycloak:26.2".into()),
            ports: vec!["127.0.0.1:8080->8080/tcp".into()],
            detail: Some("health: 503".into()),
        };
        let line = stdout_block(&e).unwrap();
        for part in [
            "keycloak",
            "iam-keycloak",
            "running",
            "not ready",
            "keycloak/keycloak:26.2",
            "127.0.0.1:8080->8080/tcp",
            "health: 503",
        ] {
            assert!(line.contains(part), "{part} missing in {line}");
        }
        assert_eq!(serde_json::to_value(&e).unwrap()["event"], "service");
    }

    #[test]
    fn a_failed_step_finishes_with_an_error_and_a_failure_mark() {
        let e = Event::StepFailed {
            step: "wait keycloak".into(),
            elapsed_ms: 3100,
            error: "container `iam-keycloak` exited with code 1\n  | log line".into(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], "step_finished");
        assert_eq!(v["step"], "wait keycloak");
        assert!(v["error"].as_str().unwrap().contains("log line"));
        assert_eq!(
            plain_line(&e).unwrap(),
            "✗ wait keycloak (3.1 s) failed: container `iam-keycloak` exited with code 1"
        );
    }

    #[test]
    fn events_serialize_with_a_tag() {
        let e = Event::Object {
            kind: "client".into(),
            name: "test-client".into(),
            action: Action::Updated,
            changes: vec!["redirectUris".into()],
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], "object");
        assert_eq!(v["action"], "updated");
        assert_eq!(
            plain_line(&e).unwrap(),
            "  client `test-client`: updated (redirectUris)"
        );
    }
}
