//! One `verify` check's result: the single type behind the `check` event, the rows of the
//! closing summary and what `verify::run` returns. A failure keeps its parts (step, request,
//! Keycloak's status and body, likely cause), so renderers never take the text apart again.

use std::fmt;

use serde::Serialize;

/// One check's outcome, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub elapsed_ms: u64,
    /// On success, what was seen; on failure, the whole explanation on one line.
    pub detail: Option<String>,
    /// On failure, the explanation's parts; `None` when the check passed.
    pub failure: Option<CheckFailure>,
}

impl CheckResult {
    /// The result of a check that ended with `outcome`: what was seen, or why it failed.
    pub fn new(
        name: impl Into<String>,
        elapsed_ms: u64,
        outcome: Result<String, CheckFailure>,
    ) -> CheckResult {
        let name = name.into();
        match outcome {
            Ok(seen) => CheckResult {
                name,
                passed: true,
                elapsed_ms,
                detail: Some(seen),
                failure: None,
            },
            Err(failure) => CheckResult {
                name,
                passed: false,
                elapsed_ms,
                detail: Some(failure.to_string()),
                failure: Some(failure),
            },
        }
    }
}

/// Why a check failed: the step, the request, Keycloak's answer, the likely cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckFailure {
    /// Which step of the check broke (`token request`, `login page`, ...).
    pub step: String,
    pub message: String,
    /// The request sent, without secrets, codes or tokens.
    pub request: Option<String>,
    /// Keycloak's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Keycloak's body, summarised: `{"error":...}`, `(HTML: an error page saying "...")`,
    /// `(empty body)`, with its `WWW-Authenticate` header when it sent one.
    pub body: Option<String>,
    /// What is probably wrong, with the fix.
    pub cause: Option<String>,
}

impl CheckFailure {
    pub fn new(step: &str, message: impl Into<String>) -> CheckFailure {
        CheckFailure {
            step: step.to_string(),
            message: message.into(),
            ..CheckFailure::default()
        }
    }

    pub fn request(mut self, described: &str) -> CheckFailure {
        self.request = Some(described.to_string());
        self
    }

    pub fn answered(mut self, status: u16, body: Option<String>) -> CheckFailure {
        self.status = Some(status);
        self.body = body;
        self
    }

    pub fn cause(mut self, cause: Option<String>) -> CheckFailure {
        self.cause = cause;
        self
    }

    /// The explanation, one part per line: what broke, the request, the answer, the cause.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("{}: {}", self.step, self.message)];
        if let Some(r) = &self.request {
            lines.push(format!("request: {r}"));
        }
        match (self.status, &self.body) {
            (Some(status), Some(body)) => lines.push(format!("Keycloak answered {status} {body}")),
            (Some(status), None) => lines.push(format!("Keycloak answered {status}")),
            (None, _) => {}
        }
        if let Some(c) = &self.cause {
            lines.push(format!("likely cause: {c}"));
        }
        lines
    }
}

/// The explanation on one line, its parts separated by `; `.
impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_step_request_answer_cause() {
        let f = CheckFailure {
            step: "token request".into(),
            message: "no tokens".into(),
            request: Some("POST http://localhost:8080/realms/testing/protocol/openid-connect/token (grant_type=password)".into()),
            status: Some(400),
            body: Some(r#"{"error":"unauthorized_client"}"#.into()),
            cause: Some("direct access grants are off".into()),
        };
        assert_eq!(
            f.to_string(),
            "token request: no tokens; request: POST http://localhost:8080/realms/testing/protocol/openid-connect/token (grant_type=password); Keycloak answered 400 {\"error\":\"unauthorized_client\"}; likely cause: direct access grants are off"
        );
    }

    #[test]
    fn a_result_carries_the_failure_and_its_text() {
        let failed = CheckResult::new(
            "logout",
            3,
            Err(CheckFailure::new(
                "not run",
                "it needs `authorization_code`, which failed",
            )),
        );
        assert!(!failed.passed);
        assert_eq!(
            failed.detail.as_deref(),
            Some("not run: it needs `authorization_code`, which failed")
        );
        let v = serde_json::to_value(&failed).unwrap();
        assert_eq!(v["failure"]["step"], "not run");
        assert!(v["failure"]["status"].is_null());
        let passed = CheckResult::new("discovery", 1, Ok("issuer x".into()));
        assert!(passed.passed && passed.failure.is_none());
    }
}
