//! A step with its timing, always closed: `StepStarted` when it begins, then exactly one
//! `StepFinished` (with the elapsed time) or `StepFailed` (with the error). `stack`, `keycloak`
//! and `verify` report their steps through it.

use std::time::{Duration, Instant};

use super::{Event, Reporter};

/// What a step that was dropped without being closed reports (e.g. its work was cancelled by
/// Ctrl-C, or an error left it through `?` without [`Step::close`]).
const NOT_FINISHED: &str = "stopped before it finished";

pub struct Step<'a> {
    name: String,
    started: Instant,
    reporter: &'a Reporter,
    closed: bool,
}

impl<'a> Step<'a> {
    pub fn start(reporter: &'a Reporter, name: impl Into<String>) -> Step<'a> {
        let name = name.into();
        reporter.emit(Event::StepStarted { step: name.clone() });
        Step {
            name,
            started: Instant::now(),
            reporter,
            closed: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn progress(&self, message: impl Into<String>) {
        self.reporter.emit(Event::StepProgress {
            step: self.name.clone(),
            message: message.into(),
        });
    }

    /// Close the step as done.
    pub fn done(mut self, detail: Option<String>) -> Duration {
        let elapsed = self.started.elapsed();
        self.closed = true;
        self.reporter.emit(Event::StepFinished {
            step: std::mem::take(&mut self.name),
            elapsed_ms: elapsed.as_millis() as u64,
            detail,
        });
        elapsed
    }

    /// Close the step as failed, with the error (its whole chain) as the reason.
    pub fn fail(mut self, error: &anyhow::Error) {
        self.closed = true;
        self.failed(format!("{error:#}"));
    }

    /// Close the step by its work's result: done (without detail) or failed.
    pub fn close<T, E: Into<anyhow::Error>>(self, result: Result<T, E>) -> anyhow::Result<T> {
        self.close_with(result, |_| None)
    }

    /// Close the step by its work's result: done with the detail drawn from the value, or
    /// failed.
    pub fn close_with<T, E: Into<anyhow::Error>>(
        self,
        result: Result<T, E>,
        detail: impl FnOnce(&T) -> Option<String>,
    ) -> anyhow::Result<T> {
        match result {
            Ok(v) => {
                self.done(detail(&v));
                Ok(v)
            }
            Err(e) => {
                let e = e.into();
                self.fail(&e);
                Err(e)
            }
        }
    }

    fn failed(&mut self, error: String) {
        self.reporter.emit(Event::StepFailed {
            step: std::mem::take(&mut self.name),
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            error,
        });
    }
}

impl Drop for Step<'_> {
    /// No step is left open: one dropped unclosed is reported as failed.
    fn drop(&mut self) {
        if !self.closed {
            self.closed = true;
            self.failed(NOT_FINISHED.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_step_is_closed_with_its_error_and_a_dropped_one_too() {
        let reporter = Reporter::recording();
        let step = Step::start(&reporter, "wait postgres");
        let r: anyhow::Result<()> = step.close(Err(anyhow::anyhow!("exited with code 1")));
        assert!(r.is_err());
        drop(Step::start(&reporter, "wait keycloak"));
        let ok = Step::start(&reporter, "images");
        ok.done(None);
        let events: Vec<serde_json::Value> = reporter
            .recorded()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        let finished: Vec<_> = events
            .iter()
            .filter(|e| e["event"] == "step_finished")
            .collect();
        assert_eq!(finished.len(), 3, "{events:?}");
        assert_eq!(finished[0]["step"], "wait postgres");
        assert_eq!(finished[0]["error"], "exited with code 1");
        assert_eq!(finished[1]["step"], "wait keycloak");
        assert_eq!(finished[1]["error"], NOT_FINISHED);
        assert!(finished[2].get("error").is_none(), "{}", finished[2]);
    }
}
