//! The [`Reporter`]: renders each event in the mode picked once: JSON lines on stdout, plain
//! lines or spinners on stderr, results (the final block, status lines, the check table) on
//! stdout.

use std::io::Write;

use super::render::{plain_line, stdout_block};
use super::{check_table, human, Event, Mode};

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
