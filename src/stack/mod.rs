//! The stack's lifecycle over the engine: a pure [`plan`], then the ordered steps of
//! [`up`], [`down`] and [`status`]. Steps emit events; they never print.

pub mod discover;
pub mod down;
pub mod plan;
pub mod ports;
pub mod status;
pub mod up;

use std::time::Instant;

use crate::report::{Event, Reporter};

/// A step with its timing: `StepStarted` now, `StepFinished` (with the elapsed time) on `done`.
pub(crate) struct Step<'a> {
    name: String,
    started: Instant,
    reporter: &'a Reporter,
}

impl<'a> Step<'a> {
    pub(crate) fn start(reporter: &'a Reporter, name: impl Into<String>) -> Step<'a> {
        let name = name.into();
        reporter.emit(Event::StepStarted { step: name.clone() });
        Step {
            name,
            started: Instant::now(),
            reporter,
        }
    }

    pub(crate) fn progress(&self, message: impl Into<String>) {
        self.reporter.emit(Event::StepProgress {
            step: self.name.clone(),
            message: message.into(),
        });
    }

    pub(crate) fn done(self, detail: Option<String>) -> std::time::Duration {
        let elapsed = self.started.elapsed();
        self.reporter.emit(Event::StepFinished {
            step: self.name,
            elapsed_ms: elapsed.as_millis() as u64,
            detail,
        });
        elapsed
    }
}
