//! What a test runner would otherwise give the real-engine tests, given here so that plain
//! `cargo test` is enough:
//! - **at most [`SLOTS`] at once**, across every test process built in this target directory: a
//!   test holds one of the lock files `<target>/engine-test-slots/slot-<n>.lock` from the start of
//!   its first [`crate::TestRun`] until its last one is dropped (two cores carry two Keycloak
//!   boots; more only slows them all down past their readiness budgets);
//! - **a time limit per test** ([`DEFAULT_LIMIT`], or `IAMSTACK_TEST_TIME_LIMIT=<seconds>`),
//!   counted from the moment the slot is taken. Time spent building or pulling images in this
//!   process does not count: a cold stand-in build takes minutes and is not the test's fault.
//!
//! When a test overruns, a watchdog thread prints why, on stderr and uncaptured: the test's name
//! and the limit. It then removes the test's objects, so the test's own engine calls fail and the
//! test fails where it stands; the test's `TestRun` adds the same message to the failure. If the
//! test still runs [`GRACE`] later (stuck on something other than the engine), the watchdog ends
//! the test process, so the run fails but never hangs.
//!
//! Locks are `flock`s (`File::try_lock`). They conflict between separately opened files, both
//! between processes and within one, and the kernel drops them when a process dies, so a killed
//! test never keeps its slot.

use std::cell::RefCell;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::standin::Layout;

/// How many real-engine tests may run at once, across processes.
pub const SLOTS: usize = 2;
/// A test's time limit unless `IAMSTACK_TEST_TIME_LIMIT` sets another (the longest test, the
/// whole product on the official images, takes about 4 minutes on a loaded 2-core machine).
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(600);
/// How long an overrunning test gets to fail by itself once its objects are gone.
pub const GRACE: Duration = Duration::from_secs(30);
/// How often the watchdog looks at the clock.
const TICK: Duration = Duration::from_millis(250);
/// How often a test waiting for a slot tries again.
const RETRY: Duration = Duration::from_millis(200);

/// Builds or pulls of images now running in this process; while any runs, no limit counts.
static IMAGE_WORK: AtomicUsize = AtomicUsize::new(0);

/// Held while images are built or pulled: the time does not count against test time limits.
pub(crate) struct ImageWork(());

impl ImageWork {
    pub(crate) fn start() -> ImageWork {
        IMAGE_WORK.fetch_add(1, Ordering::SeqCst);
        ImageWork(())
    }
}

impl Drop for ImageWork {
    fn drop(&mut self) {
        IMAGE_WORK.fetch_sub(1, Ordering::SeqCst);
    }
}

fn image_work_running() -> bool {
    IMAGE_WORK.load(Ordering::SeqCst) > 0
}

thread_local! {
    /// The slot of the test running on this thread, so that a test holding several `TestRun`s
    /// takes one slot, not several (two tests doing so would otherwise wait on each other).
    static CURRENT: RefCell<Weak<Slot>> = const { RefCell::new(Weak::new()) };
}

/// What the test and its watchdog share.
struct Shared {
    test: String,
    limit: Duration,
    /// The labels of the test's `TestRun`s, swept when it overruns.
    labels: Mutex<Vec<String>>,
    overran: AtomicBool,
}

/// One test's slot: the lock file (released when this drops) and its watchdog.
pub(crate) struct Slot {
    shared: Arc<Shared>,
    /// Dropped with the slot, which stops the watchdog.
    _stop: Sender<()>,
    _lock: File,
}

impl Slot {
    /// The slot the test on this thread already holds, or a free one (waiting for it).
    pub(crate) async fn for_this_test() -> anyhow::Result<Arc<Slot>> {
        if let Some(slot) = CURRENT.with(|c| c.borrow().upgrade()) {
            return Ok(slot);
        }
        let limit = limit_from_env()?;
        let dir = slot_dir();
        let test = test_name();
        let started = Instant::now();
        let mut told = false;
        let lock = loop {
            if let Some(lock) = try_take(&dir, SLOTS)? {
                break lock;
            }
            if !told {
                eprintln!("{test}: waiting for one of the {SLOTS} real-engine test slots");
                told = true;
            }
            tokio::time::sleep(RETRY).await;
        };
        if told {
            eprintln!(
                "{test}: got a slot after {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        let slot = Arc::new(Slot::watched(test, limit, lock));
        CURRENT.with(|c| *c.borrow_mut() = Arc::downgrade(&slot));
        Ok(slot)
    }

    fn watched(test: String, limit: Duration, lock: File) -> Slot {
        let (shared, stop) = start_watchdog(test, limit, GRACE, OVERRUN_ACTIONS);
        Slot {
            shared,
            _stop: stop,
            _lock: lock,
        }
    }

    /// Remember a label to sweep if the test overruns.
    pub(crate) fn track(&self, label: String) {
        if let Ok(mut labels) = self.shared.labels.lock() {
            labels.push(label);
        }
    }

    /// `Some(message)` once the test has overrun its limit.
    pub(crate) fn overrun(&self) -> Option<String> {
        self.shared
            .overran
            .load(Ordering::SeqCst)
            .then(|| overrun_message(&self.shared.test, self.shared.limit))
    }
}

fn overrun_message(test: &str, limit: Duration) -> String {
    format!(
        "test `{test}` exceeded its time limit of {} (real-engine tests; image builds and \
         pulls not counted; IAMSTACK_TEST_TIME_LIMIT=<seconds> sets it)",
        seconds(limit)
    )
}

fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A watchdog thread for one test; dropping the returned sender stops it.
fn start_watchdog(
    test: String,
    limit: Duration,
    grace: Duration,
    act: OverrunActions,
) -> (Arc<Shared>, Sender<()>) {
    let shared = Arc::new(Shared {
        test,
        limit,
        labels: Mutex::new(Vec::new()),
        overran: AtomicBool::new(false),
    });
    let (stop, stopped) = channel();
    let watched = Arc::clone(&shared);
    std::thread::spawn(move || watchdog(&watched, &stopped, grace, act));
    (shared, stop)
}

/// What the watchdog does when a test overruns (the unit tests record instead).
#[derive(Clone, Copy)]
struct OverrunActions {
    /// Tell the person watching the run.
    say: fn(&str),
    /// The test still runs after the grace period: end it, with this message.
    end: fn(&str),
}

const OVERRUN_ACTIONS: OverrunActions = OverrunActions {
    say,
    end: end_process,
};

/// Counts the time the test runs, except while images are built or pulled; at the limit, says
/// so, sweeps the test's objects and, if the test still runs after `grace`, ends it.
/// Returns as soon as the slot is dropped (`stopped` disconnects).
fn watchdog(shared: &Shared, stopped: &Receiver<()>, grace: Duration, act: OverrunActions) {
    let mut counted = Duration::ZERO;
    let mut last = Instant::now();
    while counted < shared.limit {
        if !matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout)) {
            return;
        }
        let now = Instant::now();
        if !image_work_running() {
            counted += now - last;
        }
        last = now;
    }
    shared.overran.store(true, Ordering::SeqCst);
    let message = overrun_message(&shared.test, shared.limit);
    (act.say)(&format!(
        "TIME LIMIT: {message}; removing its containers so that it fails (the process ends in \
         {} if it still runs)",
        seconds(grace)
    ));
    let labels = shared.labels.lock().map(|l| l.clone()).unwrap_or_default();
    for label in labels {
        if let Err(e) = crate::run::sweep_on_own_thread(&label) {
            (act.say)(&format!("warning: sweeping `{label}` failed: {e:#}"));
        }
    }
    if matches!(stopped.recv_timeout(grace), Err(RecvTimeoutError::Timeout)) {
        (act.end)(&format!(
            "TIME LIMIT: {message}; it still runs {} later: ending the test process",
            seconds(grace)
        ));
    }
}

/// On stderr directly: the test harness captures `eprintln!` of the test's threads, and that
/// output is lost if the process ends.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn end_process(message: &str) {
    say(message);
    std::process::exit(101);
}

/// Take the first free slot file of `count` in `dir`, or `None` when all are held.
fn try_take(dir: &Path, count: usize) -> anyhow::Result<Option<File>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for n in 0..count {
        let path = dir.join(format!("slot-{n}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open `{}`", path.display()))?;
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock `{}`", path.display()))
            }
        }
    }
    Ok(None)
}

/// `<target>/engine-test-slots`: shared by every test binary of this target directory.
fn slot_dir() -> PathBuf {
    let standin = Layout::discover().root;
    standin
        .parent()
        .unwrap_or(&standin)
        .join("engine-test-slots")
}

/// The harness names each test's thread after the test.
fn test_name() -> String {
    std::thread::current()
        .name()
        .map_or_else(|| "a test on an unnamed thread".to_string(), str::to_string)
}

fn limit_from_env() -> anyhow::Result<Duration> {
    match std::env::var("IAMSTACK_TEST_TIME_LIMIT") {
        Err(_) => Ok(DEFAULT_LIMIT),
        Ok(v) => parse_limit(&v),
    }
}

/// Seconds, with or without a trailing `s`; empty means the default.
fn parse_limit(value: &str) -> anyhow::Result<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(DEFAULT_LIMIT);
    }
    match v.strip_suffix('s').unwrap_or(v).parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => bail!("IAMSTACK_TEST_TIME_LIMIT=`{value}` is not a positive number of seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("iamstack-slot-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn two_slots_then_none_until_one_is_released() {
        let dir = scratch("slots");
        let a = try_take(&dir, 2).expect("take").expect("first slot");
        let b = try_take(&dir, 2).expect("take").expect("second slot");
        assert!(try_take(&dir, 2).expect("take").is_none(), "a third slot");
        drop(a);
        assert!(try_take(&dir, 2).expect("take").is_some(), "a freed slot");
        drop(b);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn limits_parse_as_seconds() {
        assert_eq!(parse_limit("").expect("empty"), DEFAULT_LIMIT);
        assert_eq!(parse_limit(" 90 ").expect("90"), Duration::from_secs(90));
        assert_eq!(parse_limit("90s").expect("90s"), Duration::from_secs(90));
        for bad in ["0", "ten", "-5", "1m"] {
            let e = parse_limit(bad).expect_err(bad).to_string();
            assert!(e.contains("IAMSTACK_TEST_TIME_LIMIT"), "{e}");
        }
    }

    static STUCK: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn record_stuck(message: &str) {
        STUCK.lock().expect("lock").push(message.to_string());
    }

    /// Test output stays quiet: a `TIME LIMIT` line in a passing run would mislead.
    const RECORD: OverrunActions = OverrunActions {
        say: |_| {},
        end: record_stuck,
    };

    fn watch(test: &str, limit: Duration, grace: Duration) -> (Arc<Shared>, Sender<()>) {
        start_watchdog(test.to_string(), limit, grace, RECORD)
    }

    fn wait_for(what: impl Fn() -> bool, within: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < within {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        what()
    }

    #[test]
    fn an_overrunning_test_is_named_with_its_limit_and_its_process_ended() {
        let (shared, _stop) = watch(
            "slow_test",
            Duration::from_millis(300),
            Duration::from_millis(200),
        );
        let stuck = || {
            STUCK
                .lock()
                .expect("lock")
                .iter()
                .any(|m| m.contains("slow_test"))
        };
        // Image work elsewhere in this binary may pause the clock for a while: allow for it.
        assert!(wait_for(stuck, Duration::from_secs(20)), "never ended");
        assert!(shared.overran.load(Ordering::SeqCst));
        let message = STUCK.lock().expect("lock").join("\n");
        assert!(
            message.contains("test `slow_test` exceeded its time limit of 0.3 s"),
            "{message}"
        );
    }

    #[test]
    fn a_test_that_finishes_in_time_is_left_alone() {
        let (shared, stop) = watch(
            "quick_test",
            Duration::from_secs(2),
            Duration::from_millis(100),
        );
        std::thread::sleep(Duration::from_millis(300));
        drop(stop);
        std::thread::sleep(Duration::from_secs(3));
        assert!(!shared.overran.load(Ordering::SeqCst));
        assert!(!STUCK
            .lock()
            .expect("lock")
            .iter()
            .any(|m| m.contains("quick_test")));
    }

    #[test]
    fn image_work_does_not_count_against_the_limit() {
        let work = ImageWork::start();
        let (shared, _stop) = watch(
            "building_test",
            Duration::from_millis(300),
            Duration::from_secs(60),
        );
        std::thread::sleep(Duration::from_secs(1));
        assert!(
            !shared.overran.load(Ordering::SeqCst),
            "the limit ran out while images were being built"
        );
        drop(work);
        assert!(
            wait_for(
                || shared.overran.load(Ordering::SeqCst),
                Duration::from_secs(20)
            ),
            "the limit never ran out after the build"
        );
    }
}
