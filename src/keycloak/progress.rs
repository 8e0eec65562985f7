//! Progress of a long apply: "checked 300/1000 passwords" as the step's progress (a spinner
//! message on a terminal, a `step_progress` event in JSON). Small realms stay quiet.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many objects a phase reports nothing: it is over before anyone reads it.
const QUIET_BELOW: usize = 50;

/// Where progress messages go (the running step).
pub type Report<'a> = &'a (dyn Fn(String) + Sync);

/// One phase's counter, reporting each tenth and the end.
pub struct Progress<'a> {
    report: Report<'a>,
    what: String,
    total: usize,
    done: AtomicUsize,
}

impl<'a> Progress<'a> {
    /// `what` is the message's verb phrase: `checked` gives "checked 100/1000 users".
    pub fn new(report: Report<'a>, what: impl Into<String>, total: usize) -> Progress<'a> {
        Progress {
            report,
            what: what.into(),
            total,
            done: AtomicUsize::new(0),
        }
    }

    /// One more done.
    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(message) = message_at(&self.what, done, self.total) {
            (self.report)(message);
        }
    }
}

/// Pure: the message after `done` of `total`, if one is due (each tenth, and the end).
pub fn message_at(what: &str, done: usize, total: usize) -> Option<String> {
    if total < QUIET_BELOW || done == 0 || done > total {
        return None;
    }
    let tenth = |n: usize| n * 10 / total;
    (tenth(done) != tenth(done - 1) || done == total).then(|| format!("{what} {done}/{total}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_phase_reports_each_tenth_and_a_short_one_nothing() {
        let said: Vec<_> = (1..=1000)
            .filter_map(|d| message_at("checked users", d, 1000))
            .collect();
        assert_eq!(said.len(), 10);
        assert_eq!(said[0], "checked users 100/1000");
        assert_eq!(said[9], "checked users 1000/1000");
        assert!((1..=20).all(|d| message_at("x", d, 20).is_none()));
    }
}
