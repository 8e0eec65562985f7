//! Sending: retries with backoff on connection errors and 5xx (Keycloak warming up) within
//! the client's budget, each answer read whole.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::header::LOCATION;
use reqwest::{Method, RequestBuilder};

use super::{AdminClient, AdminError, ApiResponse};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

impl AdminClient {
    /// Send with retries: connection errors (any error for idempotent methods) and 5xx are
    /// retried with exponential backoff until the budget is spent.
    /// `timeout` bounds each attempt: a timed-out request reached Keycloak, so it is `Slow`,
    /// never `Unreachable`, and a timed-out POST is never resent (it may have been carried out).
    pub(super) async fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
        method: &Method,
        what: &str,
        timeout: Duration,
    ) -> Result<ApiResponse, AdminError> {
        let deadline = Instant::now() + self.retry_budget;
        let mut backoff = FIRST_BACKOFF;
        let idempotent = matches!(
            *method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD
        );
        loop {
            self.requests.fetch_add(1, Ordering::Relaxed);
            // Held for this attempt only, not during the backoff below.
            let permit = self.in_flight.acquire().await.ok();
            let outcome = match build().timeout(timeout).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let location = resp
                        .headers()
                        .get(LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .map(str::to_string);
                    match resp.text().await {
                        Ok(body) => Ok(ApiResponse {
                            status,
                            location,
                            body,
                        }),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            drop(permit);
            let retry_at = Instant::now() + backoff;
            match outcome {
                Ok(resp) if resp.status.is_server_error() => {
                    if retry_at >= deadline {
                        return Err(AdminError::Status {
                            what: what.to_string(),
                            status: resp.status.as_u16(),
                            message: resp.keycloak_message(),
                        });
                    }
                }
                Ok(resp) => return Ok(resp),
                Err(e) if e.is_timeout() && !e.is_connect() => {
                    if !idempotent || retry_at >= deadline {
                        return Err(AdminError::Slow {
                            what: what.to_string(),
                            after_s: timeout.as_secs(),
                            hint: String::new(),
                        });
                    }
                }
                Err(e) => {
                    let retriable = e.is_connect() || idempotent;
                    if !retriable || retry_at >= deadline {
                        return Err(AdminError::Unreachable {
                            url: self.base.to_string(),
                            cause: transport_cause(&e),
                            budget_s: self.retry_budget.as_secs(),
                        });
                    }
                }
            }
            // Backoff between attempts (Keycloak warming up), not a wait for a state.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// The deepest cause of a transport error ("Connection refused (os error 111)"), which says
/// more than reqwest's "error sending request for url (...)".
fn transport_cause(e: &reqwest::Error) -> String {
    let mut deepest: &dyn std::error::Error = e;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest.to_string()
}
