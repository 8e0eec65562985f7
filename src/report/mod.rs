//! Output: orchestration emits [`Event`]s and never prints; the [`Reporter`] renders them in
//! the mode picked once by [`resolve_mode`]. Humans read stderr; machines read stdout.

use std::io::Write;

use serde::Serialize;

use crate::cli::OutputFlag;

mod table;
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
    Pull {
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
    Check {
        name: String,
        passed: bool,
        elapsed_ms: u64,
        detail: Option<String>,
    },
    Warning {
        message: String,
    },
    /// `verify`'s closing summary, with every check again: the table on a terminal.
    VerifySummary {
        passed: usize,
        failed: usize,
        elapsed_ms: u64,
        checks: Vec<CheckRow>,
    },
}

/// One row of `verify`'s summary (the same fields as [`Event::Check`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRow {
    pub name: String,
    pub passed: bool,
    pub elapsed_ms: u64,
    pub detail: Option<String>,
}

pub struct Reporter {
    mode: Mode,
}

impl Reporter {
    pub fn new(mode: Mode) -> Self {
        Reporter { mode }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn emit(&self, event: Event) {
        match self.mode {
            Mode::Json => {
                let line = serde_json::to_string(&event).expect("events serialize");
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            // verify on a terminal: no line per check, the summary table instead (a result,
            // so on stdout).
            Mode::Human => match &event {
                Event::Check { .. } => {}
                Event::VerifySummary { checks, .. } => {
                    let _ = write!(std::io::stdout().lock(), "{}", check_table(checks));
                }
                other => {
                    if let Some(line) = plain_line(other) {
                        let _ = writeln!(std::io::stderr().lock(), "{line}");
                    }
                }
            },
            Mode::Plain => {
                if let Some(line) = plain_line(&event) {
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                }
            }
        }
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
        Event::Pull { .. } => return None,
        Event::Object {
            kind,
            name,
            action,
            changes,
        } => match action {
            Action::Updated => format!("  {kind} `{name}`: updated ({})", changes.join(", ")),
            Action::Created => format!("  {kind} `{name}`: created"),
            Action::Unchanged => format!("  {kind} `{name}`: unchanged"),
        },
        Event::Check {
            name,
            passed,
            elapsed_ms,
            detail,
        } => {
            let mark = if *passed { "PASS" } else { "FAIL" };
            let tail = detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!("{mark} {name} ({}){tail}", fmt_ms(*elapsed_ms))
        }
        Event::Warning { message } => format!("warning: {message}"),
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
