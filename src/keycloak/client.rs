//! Keycloak admin REST client: a master-realm `admin-cli` token from the bootstrap admin's
//! credentials (renewed before its 60 s expiry, and on a 401), `Accept: application/json` on
//! every call, retries with backoff only on connection errors and 5xx (Keycloak warming up)
//! within a budget, and typed errors that say what was refused and how to fix it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, LOCATION};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use url::Url;

use crate::config::AdminCredentials;
use crate::error::{Failure, Kind};

/// How long connection errors and 5xx answers are retried before giving up.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Renew the admin token this long before it expires (Keycloak's master tokens live 60 s).
const RENEW_MARGIN: Duration = Duration::from_secs(10);

/// Why Keycloak's admin API could not be used. Every variant but `Unreachable` is exit 6.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    #[error(
        "cannot reach Keycloak at {url}: {cause} (retried for {budget_s} s); is it running and is \
         the URL right? (`--keycloak-url`)"
    )]
    Unreachable {
        url: String,
        cause: String,
        budget_s: u64,
    },
    #[error(
        "Keycloak at {url} rejected the admin login of `{user}` (HTTP {status}: {message}). \
         Keycloak sets its bootstrap admin (KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD) only when its \
         database is first created; changing the password afterwards has no effect. Use the \
         password the database was created with (`--admin-password` or IAMSTACK_ADMIN_PASSWORD), \
         or start over with `iamstack down --volumes` (this deletes all Keycloak data)"
    )]
    LoginRejected {
        url: String,
        user: String,
        status: u16,
        message: String,
    },
    #[error("admin login to Keycloak at {url} failed: HTTP {status}: {message}")]
    LoginFailed {
        url: String,
        status: u16,
        message: String,
    },
    #[error(
        "Keycloak refused to {what}: 403 forbidden ({message}); the admin user `{user}` lacks \
         the permission: use an admin of the master realm (the bootstrap admin has it)"
    )]
    Forbidden {
        what: String,
        user: String,
        message: String,
    },
    #[error("Keycloak refused to {what}: 409 conflict: {message}")]
    Conflict { what: String, message: String },
    #[error("Keycloak refused to {what}: 400 bad request: {message}")]
    BadRequest { what: String, message: String },
    #[error("Keycloak could not {what}: 404 not found: {message}")]
    NotFound { what: String, message: String },
    #[error("Keycloak rejected the admin token while trying to {what} (401 twice, after a fresh login): {message}")]
    Unauthorized { what: String, message: String },
    #[error("Keycloak failed to {what}: HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("unexpected answer from Keycloak while trying to {what}: {message}")]
    Unexpected { what: String, message: String },
}

impl AdminError {
    pub fn kind(&self) -> Kind {
        match self {
            AdminError::Unreachable { .. } => Kind::NotReady,
            _ => Kind::AdminApi,
        }
    }
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Failure {
        Failure::new(e.kind(), e.to_string())
    }
}

/// One HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl ApiResponse {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    pub fn json(&self, what: &str) -> Result<Value, AdminError> {
        serde_json::from_str(&self.body).map_err(|e| AdminError::Unexpected {
            what: what.to_string(),
            message: format!("HTTP {} with a body that is not JSON ({e})", self.status),
        })
    }

    /// Keycloak's own message from any of its error shapes (keycloak-behaviour §0), else the raw body.
    pub fn keycloak_message(&self) -> String {
        keycloak_message(&self.body)
    }

    /// The OAuth2 `error` code (shape B/C), if any.
    pub fn error_code(&self) -> Option<String> {
        serde_json::from_str::<Value>(&self.body)
            .ok()?
            .get("error")?
            .as_str()
            .map(str::to_string)
    }

    /// The last path segment of `Location` (the id of a created object).
    pub fn created_id(&self) -> Option<String> {
        self.location
            .as_deref()
            .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
            .map(str::to_string)
    }
}

/// Keycloak's message from an error body: `errorMessage` (shape A, or a list of them),
/// `error` + `error_description` (B), `error` (C); else the body itself, shortened.
pub fn keycloak_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        if let Some(m) = s("errorMessage") {
            return match s("field") {
                Some(f) => format!("{m} (field `{f}`)"),
                None => m.to_string(),
            };
        }
        if let Some(list) = v.get("errors").and_then(Value::as_array) {
            let msgs: Vec<String> = list
                .iter()
                .filter_map(|e| e.get("errorMessage").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            if !msgs.is_empty() {
                return msgs.join("; ");
            }
        }
        match (s("error"), s("error_description")) {
            (Some(e), Some(d)) => return format!("{e}: {d}"),
            (Some(e), None) => return e.to_string(),
            _ => {}
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        "(empty body)".to_string()
    } else if trimmed.chars().count() > 300 {
        format!("{}…", trimmed.chars().take(300).collect::<String>())
    } else {
        trimmed.to_string()
    }
}

#[derive(Debug, Clone)]
struct Token {
    access: String,
    expires_at: Instant,
    refresh: Option<(String, Instant)>,
}

/// The admin client. One per `apply`; it holds the current token (no process-wide state).
pub struct AdminClient {
    http: reqwest::Client,
    base: Url,
    creds: AdminCredentials,
    token: tokio::sync::Mutex<Option<Token>>,
    retry_budget: Duration,
    requests: AtomicU32,
}

impl AdminClient {
    pub fn new(base: &Url, creds: &AdminCredentials) -> Result<AdminClient, AdminError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("iamstack/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
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
            requests: AtomicU32::new(0),
        })
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
            let resp = self.send(build, &method, what).await?;
            if resp.status == StatusCode::UNAUTHORIZED {
                if relogged {
                    return Err(AdminError::Unauthorized {
                        what: what.to_string(),
                        message: resp.keycloak_message(),
                    });
                }
                // The token expired early (or the session was revoked): log in again, once.
                *self.token.lock().await = None;
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
        self.send(
            || self.http.post(url.clone()).form(&form),
            &Method::POST,
            "check a user's password",
        )
        .await
    }

    /// A valid admin access token, renewed when close to expiry.
    async fn bearer(&self) -> Result<String, AdminError> {
        let mut guard = self.token.lock().await;
        let now = Instant::now();
        if let Some(t) = guard.as_ref() {
            if t.expires_at > now + RENEW_MARGIN {
                return Ok(t.access.clone());
            }
        }
        let refresh = guard
            .as_ref()
            .and_then(|t| t.refresh.clone())
            .filter(|(_, until)| *until > now + RENEW_MARGIN)
            .map(|(rt, _)| rt);
        let fresh = match refresh {
            Some(rt) => match self
                .token_request(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", "admin-cli"),
                    ("refresh_token", &rt),
                ])
                .await
            {
                Ok(t) => t,
                Err(e @ AdminError::Unreachable { .. }) => return Err(e),
                // A refused refresh (session gone): log in again.
                Err(_) => self.login().await?,
            },
            None => self.login().await?,
        };
        let access = fresh.access.clone();
        *guard = Some(fresh);
        Ok(access)
    }

    async fn login(&self) -> Result<Token, AdminError> {
        self.token_request(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", &self.creds.username),
            ("password", &self.creds.password),
        ])
        .await
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<Token, AdminError> {
        let url = self.url(&["realms", "master", "protocol", "openid-connect", "token"]);
        let started = Instant::now();
        let resp = self
            .send(
                || self.http.post(url.clone()).form(form),
                &Method::POST,
                "log in to the admin API",
            )
            .await?;
        let status = resp.status.as_u16();
        let is_password = form
            .iter()
            .any(|(k, v)| *k == "grant_type" && *v == "password");
        if !resp.is_success() {
            let message = resp.keycloak_message();
            // 401 wrong password, 400 unknown/disabled user: both `invalid_grant` (keycloak-behaviour §1).
            if is_password
                && matches!(status, 400 | 401)
                && resp.error_code().as_deref() == Some("invalid_grant")
            {
                return Err(AdminError::LoginRejected {
                    url: self.base.to_string(),
                    user: self.creds.username.clone(),
                    status,
                    message,
                });
            }
            return Err(AdminError::LoginFailed {
                url: self.base.to_string(),
                status,
                message,
            });
        }
        let v = resp.json("log in to the admin API")?;
        let access = v
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| AdminError::Unexpected {
                what: "log in to the admin API".into(),
                message: "the token response has no access_token".into(),
            })?
            .to_string();
        let secs = |k: &str| v.get(k).and_then(Value::as_u64).map(Duration::from_secs);
        let expires_in = secs("expires_in").unwrap_or(Duration::from_secs(60));
        let refresh = v.get("refresh_token").and_then(Value::as_str).map(|rt| {
            let lifetime = secs("refresh_expires_in").unwrap_or(Duration::ZERO);
            (rt.to_string(), started + lifetime)
        });
        Ok(Token {
            access,
            expires_at: started + expires_in,
            refresh,
        })
    }

    /// Send with retries: connection errors (any error for idempotent methods) and 5xx are
    /// retried with exponential backoff until the budget is spent.
    async fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
        method: &Method,
        what: &str,
    ) -> Result<ApiResponse, AdminError> {
        let deadline = Instant::now() + self.retry_budget;
        let mut backoff = FIRST_BACKOFF;
        let idempotent = matches!(
            *method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD
        );
        loop {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = match build().send().await {
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
    if e.is_timeout() {
        return format!("no answer within {} s", REQUEST_TIMEOUT.as_secs());
    }
    let mut deepest: &dyn std::error::Error = e;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keycloak_messages_from_every_shape() {
        assert_eq!(
            keycloak_message(r#"{"errorMessage":"User exists with same username"}"#),
            "User exists with same username"
        );
        assert_eq!(
            keycloak_message(
                r#"{"field":"email","errorMessage":"invalidEmailMessage","params":[]}"#
            ),
            "invalidEmailMessage (field `email`)"
        );
        assert_eq!(
            keycloak_message(
                r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#
            ),
            "invalid_grant: Invalid user credentials"
        );
        assert_eq!(
            keycloak_message(r#"{"error":"Invalid json representation for RealmRepresentation. Unrecognized field \"x\" at line 1 column 6."}"#),
            "Invalid json representation for RealmRepresentation. Unrecognized field \"x\" at line 1 column 6."
        );
        assert_eq!(
            keycloak_message(r#"{"errors":[{"errorMessage":"a"},{"errorMessage":"b"}]}"#),
            "a; b"
        );
        assert_eq!(keycloak_message(""), "(empty body)");
        assert_eq!(keycloak_message("<html>oops</html>"), "<html>oops</html>");
    }

    #[test]
    fn urls_are_built_by_segment() {
        let creds = AdminCredentials {
            username: "admin".into(),
            password: "pw".into(),
        };
        for base in ["http://localhost:8080", "http://localhost:8080/"] {
            let c = AdminClient::new(&Url::parse(base).unwrap(), &creds).unwrap();
            assert_eq!(
                c.url(&["admin", "realms", "my realm"]).as_str(),
                "http://localhost:8080/admin/realms/my%20realm"
            );
        }
        let c = AdminClient::new(&Url::parse("http://h/auth/").unwrap(), &creds).unwrap();
        assert_eq!(
            c.url(&["admin", "realms"]).as_str(),
            "http://h/auth/admin/realms"
        );
    }

    #[test]
    fn login_rejection_explains_the_bootstrap_admin() {
        let e = AdminError::LoginRejected {
            url: "http://localhost:8080/".into(),
            user: "admin".into(),
            status: 401,
            message: "invalid_grant: Invalid user credentials".into(),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("only when its database is first created"),
            "{msg}"
        );
        assert!(msg.contains("down --volumes"), "{msg}");
        assert_eq!(Failure::from(e).kind, Kind::AdminApi);
    }

    #[test]
    fn created_id_is_the_last_location_segment() {
        let r = ApiResponse {
            status: StatusCode::CREATED,
            location: Some("http://h/admin/realms/r/clients/abc-123".into()),
            body: String::new(),
        };
        assert_eq!(r.created_id().as_deref(), Some("abc-123"));
    }
}
