//! The double's notion of "now": wall-clock time plus an offset that tests can advance, so token
//! expiry is testable without sleeping. One clock per running double (no process-wide state).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A cloneable handle on one double's clock.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicU64>,
}

impl Clock {
    /// Moves this clock forward by `by` (it never goes back).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        real.saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Now, in whole seconds since the Unix epoch (what JWT `iat`/`exp` use).
    pub fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward_by_the_given_amount() {
        let clock = Clock::default();
        let before = clock.now_secs();
        clock.advance(Duration::from_secs(3600));
        let after = clock.now_secs();
        assert!(after >= before + 3600, "{before} -> {after}");
        assert!(after < before + 3700, "{before} -> {after}");
    }
}
