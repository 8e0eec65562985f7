//! Human mode: a spinner per running step (with its elapsed time and latest message) and a
//! byte bar per image pull, on stderr via indicatif. Finished steps become plain lines above.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{plain_line, Event};

pub(super) struct Human {
    multi: MultiProgress,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    steps: HashMap<String, ProgressBar>,
    /// Byte bars by the step that runs the pull.
    pulls: HashMap<String, ProgressBar>,
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix:30} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Human {
    pub(super) fn new() -> Human {
        Human {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            state: Mutex::new(State::default()),
        }
    }

    /// True when stderr is no terminal: indicatif would draw nothing, so plain lines are used.
    pub(super) fn is_hidden(&self) -> bool {
        self.multi.is_hidden()
    }

    fn println(&self, line: &str) {
        if self.multi.println(line).is_err() {
            eprintln!("{line}");
        }
    }

    pub(super) fn clear(&self) {
        if let Ok(mut state) = self.state.lock() {
            let state = &mut *state;
            for (_, bar) in state.steps.drain().chain(state.pulls.drain()) {
                bar.finish_and_clear();
            }
        }
        let _ = self.multi.clear();
    }

    pub(super) fn render(&self, event: &Event) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match event {
            Event::StepStarted { step } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(spinner_style());
                bar.set_prefix(step.clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                if let Some(old) = state.steps.insert(step.clone(), bar) {
                    old.finish_and_clear();
                }
            }
            Event::StepProgress { step, message } => match state.steps.get(step) {
                Some(bar) => bar.set_message(message.clone()),
                None => self.println(&format!("  {step}: {message}")),
            },
            // A finished or failed step ends its spinner, and its byte bar if it pulled.
            Event::StepFinished { step, .. } | Event::StepFailed { step, .. } => {
                for bar in [state.steps.remove(step), state.pulls.remove(step)]
                    .into_iter()
                    .flatten()
                {
                    bar.finish_and_clear();
                }
                if let Some(line) = plain_line(event) {
                    self.println(&line);
                }
            }
            Event::Pull {
                step,
                image,
                downloaded,
                total,
            } => {
                let bar = state.pulls.entry(step.clone()).or_insert_with(|| {
                    let bar = self.multi.add(ProgressBar::new(0));
                    bar.set_style(bar_style());
                    bar.set_prefix(image.clone());
                    bar
                });
                bar.set_length(*total);
                bar.set_position(*downloaded);
            }
            other => {
                if let Some(line) = plain_line(other) {
                    self.println(&line);
                }
            }
        }
    }
}

impl Drop for Human {
    /// No spinner is left drawn when the command ends (e.g. before `main` prints an error).
    fn drop(&mut self) {
        self.clear();
    }
}
