//! Running every check in order, reporting each as it ends, then the summary.

use std::time::Instant;

use crate::report::{CheckResult, Event, Reporter};

use super::verifier::Verifier;
use super::{Check, VerifyError, VerifyTarget};

/// All checks of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub checks: Vec<CheckResult>,
    pub elapsed_ms: u64,
}

impl VerifyReport {
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn check(&self, check: Check) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == check.name())
    }

    /// The checks that failed, in the order they ran.
    pub fn failed(&self) -> Vec<Check> {
        Check::ALL
            .into_iter()
            .filter(|c| self.check(*c).is_some_and(|r| !r.passed))
            .collect()
    }

    /// `Ok` when every check passed, else [`VerifyError::ChecksFailed`] (exit 8).
    pub fn ensure_passed(&self) -> Result<(), VerifyError> {
        let failed = self.failed();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(VerifyError::ChecksFailed { failed })
        }
    }

    /// 0 when every check passed, 8 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self.ensure_passed() {
            Ok(()) => crate::error::exit::OK,
            Err(e) => e.kind().exit_code(),
        }
    }
}

/// Run every check against `target`, emitting an [`Event::Check`] per check. Fails only if the
/// HTTP client cannot be built; every Keycloak problem is a failed check.
pub async fn run(target: &VerifyTarget, reporter: &Reporter) -> anyhow::Result<VerifyReport> {
    let started = Instant::now();
    let mut verifier = Verifier::new(target)?;
    let mut checks = Vec::with_capacity(Check::ALL.len());
    for check in Check::ALL {
        let t = Instant::now();
        let outcome = verifier.run(check).await;
        let result = CheckResult::new(check.name(), elapsed_ms(t), outcome);
        reporter.emit(Event::Check(result.clone()));
        checks.push(result);
    }
    let report = VerifyReport {
        checks,
        elapsed_ms: elapsed_ms(started),
    };
    let failed = report.checks.iter().filter(|c| !c.passed).count();
    reporter.emit(Event::VerifySummary {
        passed: report.checks.len() - failed,
        failed,
        elapsed_ms: report.elapsed_ms,
        checks: report.checks.clone(),
    });
    Ok(report)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_exits_8_unless_everything_passed() {
        let pass = |check: Check| CheckResult::new(check.name(), 1, Ok(String::new()));
        let mut r = VerifyReport {
            checks: Check::ALL.into_iter().map(pass).collect(),
            elapsed_ms: 7,
        };
        assert_eq!(r.exit_code(), 0);
        r.checks[3].passed = false;
        assert_eq!(r.exit_code(), 8);
        assert_eq!(r.failed(), [Check::AuthorizationCode]);
    }
}
