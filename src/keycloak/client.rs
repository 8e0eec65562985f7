//! Keycloak admin REST client: a master-realm `admin-cli` token from the bootstrap admin's
//! credentials (renewed before its 60 s expiry, and on a 401), `Accept: application/json` on
//! every call, retries with backoff only on connection errors and 5xx (Keycloak warming up)
//! within a budget, and typed errors that say what was refused and how to fix it.

//!
//! This file holds the client and its admin calls; `lookup` has the typed look-ups,
//! `transport` sends with retries, `token` keeps the admin token fresh.

mod error;
mod lookup;
mod response;
mod token;
mod transport;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::AdminCredentials;

pub use error::AdminError;
pub use response::{keycloak_message, ApiResponse};
use token::Token;

/// How long connection errors and 5xx answers are retried before giving up.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(30);
/// Requests in flight at once by default (`--concurrency`): enough to overlap round trips,
/// few enough not to queue inside Keycloak.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Password grants in flight at once: each costs Keycloak a deliberately slow password hash.
const PASSWORD_GRANTS_AT_ONCE: usize = 2;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take, unless the caller gives its own budget.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The admin client. One per `apply`; it holds the current token (no process-wide state).
pub struct AdminClient {
    http: reqwest::Client,
    base: Url,
    creds: AdminCredentials,
    token: tokio::sync::Mutex<Option<Token>>,
    retry_budget: Duration,
    /// How long one request may take (default [`REQUEST_TIMEOUT`]).
    request_timeout: Duration,
    requests: AtomicU32,
    /// Bounds the requests in flight (every attempt of every request holds a permit).
    in_flight: Semaphore,
    /// Bounds the password grants in flight.
    password_grants: Semaphore,
}

impl AdminClient {
    pub fn new(base: &Url, creds: &AdminCredentials) -> Result<AdminClient, AdminError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("iamstack/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AdminError::Unexpected {
                what: "build the HTTP client".into(),
                message: e.to_string(),
            })?;
        Ok(AdminClient {
            http,
            base: base.clone(),
            creds: creds.clone(),
            token: tokio::sync::Mutex::new(None),
            retry_budget: DEFAULT_RETRY_BUDGET,
            request_timeout: REQUEST_TIMEOUT,
            requests: AtomicU32::new(0),
            in_flight: Semaphore::new(DEFAULT_CONCURRENCY),
            password_grants: Semaphore::new(PASSWORD_GRANTS_AT_ONCE),
        })
    }

    /// How long one request may take (default 30 s); work that grows with its body gets more.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// At most `n` requests in flight at once (at least 1).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.in_flight = Semaphore::new(n.max(1));
        self.password_grants = Semaphore::new(PASSWORD_GRANTS_AT_ONCE.min(n.max(1)));
        self
    }

    /// How long connection errors and 5xx are retried (default 30 s).
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// HTTP requests sent so far (token requests and retries included).
    pub fn request_count(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `base` + path segments (each percent-encoded as needed).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().extend(segments);
        }
        url
    }

    /// An authenticated admin call. Returns any answer below 500 for the caller to judge
    /// (see [`AdminClient::check`]); 5xx and connection errors are retried within the budget.
    pub async fn admin(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<ApiResponse, AdminError> {
        self.admin_within(method, segments, query, body, what, self.request_timeout)
            .await
    }

    /// [`AdminClient::admin`] with its own time budget (work that grows with its body).
    pub async fn admin_within(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
        timeout: Duration,
    ) -> Result<ApiResponse, AdminError> {
        let url = self.url(segments);
        let mut relogged = false;
        loop {
            let token = self.bearer().await?;
            let build = || {
                let mut rb = self
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(&token)
                    .query(query);
                if let Some(b) = body {
                    rb = rb.json(b);
                }
                rb
            };
            let resp = self.send(build, &method, what, timeout).await?;
            if resp.status == StatusCode::UNAUTHORIZED {
                if relogged {
                    return Err(AdminError::Unauthorized {
                        what: what.to_string(),
                        message: resp.keycloak_message(),
                    });
                }
                // The token expired early (or the session was revoked): log in again, once.
                self.forget_token().await;
                relogged = true;
                continue;
            }
            return Ok(resp);
        }
    }

    /// GET a JSON document; 404 is `None`.
    pub async fn get_json(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Option<Value>, AdminError> {
        let resp = self.admin(Method::GET, segments, query, None, what).await?;
        if resp.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.check(resp, what)?;
        resp.json(what).map(Some)
    }

    /// Map a non-2xx answer to its typed error.
    pub fn check(&self, resp: ApiResponse, what: &str) -> Result<ApiResponse, AdminError> {
        if resp.is_success() {
            return Ok(resp);
        }
        let what = what.to_string();
        let message = resp.keycloak_message();
        Err(match resp.status.as_u16() {
            400 => AdminError::BadRequest { what, message },
            403 => AdminError::Forbidden {
                what,
                user: self.creds.username.clone(),
                message,
            },
            404 => AdminError::NotFound { what, message },
            409 => AdminError::Conflict { what, message },
            status => AdminError::Status {
                what,
                status,
                message,
            },
        })
    }

    /// An admin call whose answer must be 2xx (a write): anything else is its typed error.
    pub async fn admin_checked(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
        what: &str,
    ) -> Result<ApiResponse, AdminError> {
        let resp = self.admin(method, segments, &[], body, what).await?;
        self.check(resp, what)
    }

    /// The resource-owner password grant on `realm`'s `admin-cli` (a public client with
    /// direct grants on by default): the password check. The answer is returned as is.
    pub async fn password_grant(
        &self,
        realm: &str,
        username: &str,
        password: &str,
    ) -> Result<ApiResponse, AdminError> {
        let url = self.url(&["realms", realm, "protocol", "openid-connect", "token"]);
        let form = [
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", username),
            ("password", password),
        ];
        let _grant = self.password_grants.acquire().await.ok();
        self.send(
            || self.http.post(url.clone()).form(&form),
            &Method::POST,
            "check a user's password",
            self.request_timeout,
        )
        .await
    }

    /// End the user session a password grant opened: the logout endpoint with its refresh
    /// token (204; keycloak-behaviour §1). Not an admin write.
    pub async fn end_session(&self, realm: &str, refresh_token: &str) -> Result<(), AdminError> {
        let url = self.url(&["realms", realm, "protocol", "openid-connect", "logout"]);
        let form = [("client_id", "admin-cli"), ("refresh_token", refresh_token)];
        let what = "end the session of the password check";
        let resp = self
            .send(
                || self.http.post(url.clone()).form(&form),
                &Method::POST,
                what,
                self.request_timeout,
            )
            .await?;
        self.check(resp, what).map(|_| ())
    }
}

/// Check a Keycloak base URL given by the user: `http(s)://host[:port]`.
pub fn check_keycloak_url(url: &Url) -> Result<(), AdminError> {
    if matches!(url.scheme(), "http" | "https") && url.has_host() {
        Ok(())
    } else {
        Err(AdminError::InvalidUrl {
            url: url.to_string(),
        })
    }
}
