//! `verify`: the reference's OAuth2/OpenID Connect flows, run end to end as checks.
//!
//! Each check is reported as an [`Event::Check`] as soon as it ends, with its time; a failure
//! names the step, the request, Keycloak's status and body, and the likely cause. The checks:
//!
//! | check | what it proves |
//! |---|---|
//! | `discovery` | the realm's discovery document; issuer `http://<KC_HOSTNAME>:<port>/realms/<realm>`; endpoints present |
//! | `client_credentials` | a service-account token with `scope=openid`; userinfo says `service-account-<clientId>` |
//! | `password` | resource owner password grant; userinfo has the user's email; the refresh grant works |
//! | `authorization_code` | a scripted browser login with PKCE S256, `state`, `nonce`; the code exchange; userinfo email |
//! | `id_token` | every ID token obtained: RS256 signature with the JWKS key, `iss`, `aud`, `exp`, `nonce` |
//! | `introspection` | an access token obtained is active at the introspection endpoint |
//! | `logout` | RP-initiated logout of the browser session redirects back; its refresh token then fails |
//!
//! A check that needs the result of a failed one fails too, saying which one it needed.
//! Secrets (client secret, password, tokens) never appear in reports.

pub mod diagnose;
pub mod html;
pub mod jwt;
pub mod pkce;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::redirect::Policy;
use reqwest::{Client, RequestBuilder};
use serde_json::Value;
use url::Url;

use crate::report::{CheckRow, Event, Reporter};
use diagnose::{likely_cause, userinfo_cause, OAuthError, Subject};
use html::Page;

/// Everything `verify` needs to know about the realm under test. The values come from the realm
/// file (the configured secret and password, never ones read back from Keycloak).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyTarget {
    /// Where Keycloak is reached, e.g. `http://localhost:8080`.
    pub keycloak_url: Url,
    pub realm: String,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    /// Where the authorization code is sent; `verify` never connects to it.
    pub redirect_uri: String,
    /// Where RP-initiated logout must send the browser back to.
    pub post_logout_redirect_uri: String,
    /// The host Keycloak must put in its issuer (`KC_HOSTNAME`). `None`: any host; scheme,
    /// port and path are still checked.
    pub expected_hostname: Option<String>,
}

/// The check names, in the order they run.
pub const CHECKS: [&str; 7] = [
    "discovery",
    "client_credentials",
    "password",
    "authorization_code",
    "id_token",
    "introspection",
    "logout",
];

/// One check's outcome, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: &'static str,
    pub passed: bool,
    pub elapsed_ms: u64,
    /// On success, what was seen; on failure, the explanation.
    pub detail: Option<String>,
}

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

    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// 0 when every check passed, 8 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.all_passed() {
            crate::error::exit::OK
        } else {
            crate::error::exit::VERIFY_FAILED
        }
    }
}

/// Per-request budget: a hung Keycloak fails the check instead of the whole run hanging.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed inside Keycloak during the browser login (required actions etc.).
const MAX_REDIRECTS: usize = 10;
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const JSON: &str = "application/json";

/// Run every check against `target`, emitting an [`Event::Check`] per check. Fails only if the
/// HTTP client cannot be built; every Keycloak problem is a failed check.
pub async fn run(target: &VerifyTarget, reporter: &Reporter) -> anyhow::Result<VerifyReport> {
    let started = Instant::now();
    let mut v = Verifier::new(target)?;
    let mut checks = Vec::with_capacity(CHECKS.len());
    for name in CHECKS {
        let t = Instant::now();
        let outcome = v.run_check(name).await;
        let result = CheckResult {
            name,
            passed: outcome.is_ok(),
            elapsed_ms: elapsed_ms(t),
            detail: Some(match outcome {
                Ok(seen) => seen,
                Err(failure) => failure.to_string(),
            }),
        };
        reporter.emit(Event::Check {
            name: result.name.to_string(),
            passed: result.passed,
            elapsed_ms: result.elapsed_ms,
            detail: result.detail.clone(),
        });
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
        checks: report
            .checks
            .iter()
            .map(|c| CheckRow {
                name: c.name.to_string(),
                passed: c.passed,
                elapsed_ms: c.elapsed_ms,
                detail: c.detail.clone(),
            })
            .collect(),
    });
    Ok(report)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Why a check failed: the step, the request, Keycloak's answer, the likely cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepFailure {
    pub step: String,
    pub message: String,
    pub request: Option<String>,
    pub answer: Option<String>,
    pub cause: Option<String>,
}

impl StepFailure {
    fn new(step: &str, message: impl Into<String>) -> StepFailure {
        StepFailure {
            step: step.to_string(),
            message: message.into(),
            ..StepFailure::default()
        }
    }

    fn needs(check: &str) -> StepFailure {
        StepFailure::new("not run", format!("it needs `{check}`, which failed"))
    }

    fn request(mut self, r: &str) -> Self {
        self.request = Some(r.to_string());
        self
    }
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.message)?;
        if let Some(r) = &self.request {
            write!(f, "; request: {r}")?;
        }
        if let Some(a) = &self.answer {
            write!(f, "; Keycloak answered {a}")?;
        }
        if let Some(c) = &self.cause {
            write!(f, "; likely cause: {c}")?;
        }
        Ok(())
    }
}

type Step<T> = Result<T, StepFailure>;

/// What an HTTP exchange returned, kept whole for explanations.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn is_html(&self) -> bool {
        self.header(CONTENT_TYPE)
            .is_some_and(|c| c.starts_with("text/html"))
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// `400 {"error":...}`, `400 (HTML: an error page saying "...")`, `403 (empty body)`.
    fn summary(&self) -> String {
        let body = self.body.trim();
        let shown = if body.is_empty() {
            "(empty body)".to_string()
        } else if self.is_html() {
            format!("(HTML: {})", html::classify(body).describe())
        } else {
            truncate(body, 300)
        };
        match self.header(WWW_AUTHENTICATE) {
            Some(h) => format!("{} {shown} [WWW-Authenticate: {h}]", self.status),
            None => format!("{} {shown}", self.status),
        }
    }

    /// The OAuth2 error in a JSON body, or the message of an HTML error/login page.
    fn oauth_error(&self) -> Option<OAuthError> {
        if let Some(e) = OAuthError::from_body(&self.body) {
            return Some(e);
        }
        if self.is_html() {
            return match html::classify(&self.body) {
                Page::Error { message } => Some(OAuthError::page(&message)),
                Page::Login {
                    error: Some(message),
                    ..
                } => Some(OAuthError::page(&message)),
                _ => None,
            };
        }
        None
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Tokens from one token response.
#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: Option<String>,
    id: Option<String>,
}

/// The endpoints and issuer from discovery.
#[derive(Debug, Clone)]
struct Endpoints {
    issuer: String,
    authorization: Url,
    token: Url,
    userinfo: Url,
    end_session: Url,
    jwks: Url,
    introspection: Url,
    iss_in_auth_response: bool,
}

/// The browser session left by the authorization-code check, for logout.
#[derive(Debug, Clone)]
struct BrowserSession {
    tokens: Tokens,
    nonce: String,
}

struct Verifier<'a> {
    t: &'a VerifyTarget,
    api: Client,
    browser: Client,
    endpoints: Option<Endpoints>,
    /// Origin Keycloak advertises (issuer's), and where we really reach it.
    advertised_origin: Option<url::Origin>,
    client_credentials: Option<Tokens>,
    password: Option<Tokens>,
    session: Option<BrowserSession>,
}

impl<'a> Verifier<'a> {
    fn new(t: &'a VerifyTarget) -> anyhow::Result<Verifier<'a>> {
        let ua = concat!("iamstack-verify/", env!("CARGO_PKG_VERSION"));
        let build = |cookies: bool| {
            let mut b = Client::builder()
                .redirect(Policy::none())
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(ua);
            if cookies {
                b = b.cookie_provider(Arc::new(reqwest::cookie::Jar::default()));
            }
            b.build()
        };
        Ok(Verifier {
            t,
            api: build(false)?,
            browser: build(true)?,
            endpoints: None,
            advertised_origin: None,
            client_credentials: None,
            password: None,
            session: None,
        })
    }

    fn who(&self) -> Subject<'_> {
        Subject {
            realm: &self.t.realm,
            client_id: &self.t.client_id,
            username: &self.t.username,
        }
    }

    async fn run_check(&mut self, name: &str) -> Step<String> {
        if name != "discovery" && self.endpoints.is_none() {
            return Err(StepFailure::needs("discovery"));
        }
        match name {
            "discovery" => self.discovery().await,
            "client_credentials" => self.client_credentials().await,
            "password" => self.password_grant().await,
            "authorization_code" => self.authorization_code().await,
            "id_token" => self.id_tokens().await,
            "introspection" => self.introspection().await,
            "logout" => self.logout().await,
            other => Err(StepFailure::new(
                "internal",
                format!("unknown check `{other}`"),
            )),
        }
    }

    fn endpoints(&self) -> Step<&Endpoints> {
        self.endpoints
            .as_ref()
            .ok_or_else(|| StepFailure::needs("discovery"))
    }

    /// Keycloak's URLs carry its advertised host (KC_HOSTNAME); requests go where the user
    /// said Keycloak is. Other URLs are left alone.
    fn reach(&self, url: &Url) -> Url {
        let Some(adv) = &self.advertised_origin else {
            return url.clone();
        };
        if &url.origin() != adv || url.origin() == self.t.keycloak_url.origin() {
            return url.clone();
        }
        let mut out = url.clone();
        let base = &self.t.keycloak_url;
        // Same scheme family (http/https) on both sides: these setters cannot fail then.
        let _ = out.set_scheme(base.scheme());
        let _ = out.set_host(base.host_str());
        let _ = out.set_port(base.port());
        out
    }

    async fn send(&self, step: &str, described: &str, req: RequestBuilder) -> Step<Answer> {
        let resp = req.send().await.map_err(|e| {
            let mut msg = format!("cannot reach Keycloak: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            StepFailure::new(step, msg).request(described)
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.map_err(|e| {
            StepFailure::new(step, format!("reading the response failed: {e}")).request(described)
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A failure for an answer Keycloak gave, with its likely cause.
    fn refused(&self, step: &str, described: &str, answer: &Answer, message: &str) -> StepFailure {
        let cause = answer
            .oauth_error()
            .and_then(|e| likely_cause(answer.status, &e, self.who()));
        StepFailure {
            step: step.to_string(),
            message: message.to_string(),
            request: Some(described.to_string()),
            answer: Some(answer.summary()),
            cause,
        }
    }

    // ---- discovery -------------------------------------------------------------------------

    fn discovery_url(&self) -> Url {
        let mut url = self.t.keycloak_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().extend([
                "realms",
                self.t.realm.as_str(),
                ".well-known",
                "openid-configuration",
            ]);
        }
        url
    }

    /// The issuer Keycloak must announce when reached at `keycloak_url`: host forced to
    /// KC_HOSTNAME, scheme and port kept (default ports dropped).
    fn expected_issuer(&self, host: &str) -> String {
        let base = &self.t.keycloak_url;
        let mut s = format!("{}://{host}", base.scheme());
        if let Some(p) = base.port() {
            s.push_str(&format!(":{p}"));
        }
        s.push_str(base.path().trim_end_matches('/'));
        s.push_str(&format!("/realms/{}", self.t.realm));
        s
    }

    async fn discovery(&mut self) -> Step<String> {
        const STEP: &str = "discovery request";
        let url = self.discovery_url();
        let described = format!("GET {url}");
        let answer = self
            .send(
                STEP,
                &described,
                self.api.get(url.clone()).header(ACCEPT, JSON),
            )
            .await?;
        if answer.status != 200 {
            return Err(self.refused(STEP, &described, &answer, "no discovery document"));
        }
        let doc = answer.json().ok_or_else(|| {
            let mut f =
                StepFailure::new(STEP, "the discovery document is not JSON").request(&described);
            f.answer = Some(answer.summary());
            f
        })?;
        let bad = |msg: String| StepFailure::new("discovery document", msg).request(&described);

        let issuer = doc
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`issuer` is missing".into()))?
            .to_string();
        let issuer_url = Url::parse(&issuer)
            .map_err(|e| bad(format!("issuer `{issuer}` is not a URL ({e})")))?;
        let host = match &self.t.expected_hostname {
            Some(h) => h.clone(),
            None => issuer_url.host_str().unwrap_or_default().to_string(),
        };
        let expected = self.expected_issuer(&host);
        if issuer != expected {
            let mut f = bad(format!("issuer is `{issuer}`, expected `{expected}`"));
            f.cause = Some(match &self.t.expected_hostname {
                Some(h) => format!(
                    "Keycloak's KC_HOSTNAME is not `{h}`, or Keycloak is reached through a proxy that changes the port or path"
                ),
                None => "Keycloak is reached through a proxy that changes the port or path".into(),
            });
            return Err(f);
        }

        let mut missing = Vec::new();
        let mut endpoint = |key: &str, suffix: &str| -> Option<Url> {
            let found = doc
                .get(key)
                .and_then(Value::as_str)
                .and_then(|s| Url::parse(s).ok());
            match found {
                Some(u) if u.as_str() == format!("{issuer}/protocol/openid-connect/{suffix}") => {
                    Some(u)
                }
                Some(u) => {
                    missing.push(format!("{key} (unexpected: {u})"));
                    None
                }
                None => {
                    missing.push(key.to_string());
                    None
                }
            }
        };
        let authorization = endpoint("authorization_endpoint", "auth");
        let token = endpoint("token_endpoint", "token");
        let userinfo = endpoint("userinfo_endpoint", "userinfo");
        let end_session = endpoint("end_session_endpoint", "logout");
        let jwks = endpoint("jwks_uri", "certs");
        let introspection = endpoint("introspection_endpoint", "token/introspect");
        let s256 = doc
            .get("code_challenge_methods_supported")
            .and_then(Value::as_array)
            .map(|m| m.iter().any(|x| x == "S256"));
        if s256 == Some(false) {
            missing.push("S256 in code_challenge_methods_supported".into());
        }
        let (
            Some(authorization),
            Some(token),
            Some(userinfo),
            Some(end_session),
            Some(jwks),
            Some(introspection),
        ) = (
            authorization,
            token,
            userinfo,
            end_session,
            jwks,
            introspection,
        )
        else {
            return Err(bad(format!("missing or wrong: {}", missing.join(", "))));
        };
        if !missing.is_empty() {
            return Err(bad(format!("missing or wrong: {}", missing.join(", "))));
        }
        let iss_in_auth_response = doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.advertised_origin = Some(issuer_url.origin());
        self.endpoints = Some(Endpoints {
            issuer: issuer.clone(),
            authorization,
            token,
            userinfo,
            end_session,
            jwks,
            introspection,
            iss_in_auth_response,
        });
        Ok(format!("issuer {issuer}"))
    }

    // ---- token endpoint --------------------------------------------------------------------

    /// Client authentication per RFC 6749 §2.3.1: form-urlencode id and secret, then Basic.
    fn basic_auth(&self, req: RequestBuilder) -> RequestBuilder {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        req.basic_auth(enc(&self.t.client_id), Some(enc(&self.t.client_secret)))
    }

    /// POST the token endpoint. `post_auth`: client_secret_post instead of Basic.
    /// `shown` are the parameters safe to quote (never secrets, codes or tokens).
    async fn token(
        &self,
        step: &str,
        params: &[(&str, &str)],
        shown: &str,
        post_auth: bool,
    ) -> Step<(Answer, String)> {
        let e = self.endpoints()?;
        let url = self.reach(&e.token);
        let auth = if post_auth {
            "client_secret_post"
        } else {
            "client_secret_basic"
        };
        let described = format!("POST {} ({shown}; {auth})", e.token);
        let mut form: Vec<(&str, &str)> = params.to_vec();
        if post_auth {
            form.push(("client_id", &self.t.client_id));
            form.push(("client_secret", &self.t.client_secret));
        }
        let mut req = self.api.post(url).header(ACCEPT, JSON).form(&form);
        if !post_auth {
            req = self.basic_auth(req);
        }
        let answer = self.send(step, &described, req).await?;
        Ok((answer, described))
    }

    fn tokens_from(&self, step: &str, described: &str, answer: &Answer) -> Step<Tokens> {
        if answer.status != 200 {
            return Err(self.refused(step, described, answer, "no tokens"));
        }
        let json = answer.json().unwrap_or(Value::Null);
        let get = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
        let access = get("access_token").ok_or_else(|| {
            StepFailure::new(step, "200 without an access_token").request(described)
        })?;
        Ok(Tokens {
            access,
            refresh: get("refresh_token"),
            id: get("id_token"),
        })
    }

    async fn userinfo(&self, access: &str) -> Step<Value> {
        const STEP: &str = "userinfo request";
        let e = self.endpoints()?;
        let described = format!("GET {} (Bearer access token)", e.userinfo);
        let req = self
            .api
            .get(self.reach(&e.userinfo))
            .header(ACCEPT, JSON)
            .bearer_auth(access);
        let answer = self.send(STEP, &described, req).await?;
        if answer.status != 200 {
            let mut f = self.refused(STEP, &described, &answer, "no user info");
            if f.cause.is_none() {
                f.cause = userinfo_cause(answer.status, answer.header(WWW_AUTHENTICATE));
            }
            return Err(f);
        }
        answer.json().ok_or_else(|| {
            let mut f = StepFailure::new(STEP, "the answer is not JSON").request(&described);
            f.answer = Some(answer.summary());
            f
        })
    }

    fn email_of(&self, info: &Value) -> Step<String> {
        match info.get("email").and_then(Value::as_str) {
            Some(e) if !e.is_empty() => Ok(e.to_string()),
            _ => {
                let mut f = StepFailure::new(
                    "userinfo",
                    format!("no `email` claim for user `{}`", self.t.username),
                );
                f.cause = Some(
                    "the user has no email, or the `email` client scope is not assigned to the client"
                        .into(),
                );
                Err(f)
            }
        }
    }

    // ---- the flows -------------------------------------------------------------------------

    async fn client_credentials(&mut self) -> Step<String> {
        const STEP: &str = "token request";
        let (answer, described) = self
            .token(
                STEP,
                &[("grant_type", "client_credentials"), ("scope", "openid")],
                "grant_type=client_credentials, scope=openid",
                false,
            )
            .await?;
        let tokens = self.tokens_from(STEP, &described, &answer)?;
        let info = self.userinfo(&tokens.access).await?;
        let expected = format!("service-account-{}", self.t.client_id.to_lowercase());
        let got = info.get("preferred_username").and_then(Value::as_str);
        if got != Some(expected.as_str()) {
            return Err(StepFailure::new(
                "userinfo",
                format!(
                    "preferred_username is {}, expected `{expected}`",
                    got.map(|g| format!("`{g}`"))
                        .unwrap_or_else(|| "missing".into())
                ),
            ));
        }
        self.client_credentials = Some(tokens);
        Ok(format!("preferred_username {expected}"))
    }

    async fn password_grant(&mut self) -> Step<String> {
        const STEP: &str = "token request";
        let shown = format!(
            "grant_type=password, username={}, scope=openid",
            self.t.username
        );
        let (answer, described) = self
            .token(
                STEP,
                &[
                    ("grant_type", "password"),
                    ("username", &self.t.username),
                    ("password", &self.t.password),
                    ("scope", "openid"),
                ],
                &shown,
                true,
            )
            .await?;
        let tokens = self.tokens_from(STEP, &described, &answer)?;
        let email = self.email_of(&self.userinfo(&tokens.access).await?)?;

        const REFRESH: &str = "refresh request";
        let refresh = tokens.refresh.clone().ok_or_else(|| {
            StepFailure::new(STEP, "the password grant returned no refresh_token")
        })?;
        let (answer, described) = self
            .token(
                REFRESH,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
                "grant_type=refresh_token",
                false,
            )
            .await?;
        let refreshed = self.tokens_from(REFRESH, &described, &answer)?;
        self.password = Some(Tokens {
            // The ID token of the password grant is checked by `id_token`.
            id: tokens.id.or(refreshed.id.clone()),
            ..refreshed
        });
        Ok(format!("email {email}; refresh grant ok"))
    }

    async fn authorization_code(&mut self) -> Step<String> {
        let e = self.endpoints()?.clone();
        let state = pkce::random_token();
        let nonce = pkce::random_token();
        let pkce = pkce::Pkce::generate();
        let mut auth_url = e.authorization.clone();
        auth_url
            .query_pairs_mut()
            .append_pair("client_id", &self.t.client_id)
            .append_pair("redirect_uri", &self.t.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        let described = format!(
            "GET {} (client_id={}, redirect_uri={}, response_type=code, scope=openid, state, nonce, PKCE S256)",
            e.authorization, self.t.client_id, self.t.redirect_uri
        );

        // 1. The login page.
        const LOGIN: &str = "login page";
        let stop = self.browse(LOGIN, &described, auth_url, None).await?;
        let (page_url, answer) = match stop {
            Browsed::Callback(cb) => {
                return Err(self.callback_without_login(LOGIN, &described, &cb));
            }
            Browsed::Page(url, answer) => (url, answer),
        };
        let page = html::classify(&answer.body);
        let Page::Login { action, hidden, .. } = page else {
            return Err(self.unexpected_page(LOGIN, &described, &answer, &page));
        };
        let action = page_url.join(&action).map_err(|err| {
            StepFailure::new(
                LOGIN,
                format!("the login form's action `{action}` is not a URL ({err})"),
            )
            .request(&described)
        })?;

        // 2. Submit the credentials with the session cookies; catch the redirect.
        const SUBMIT: &str = "login form submission";
        let mut form: Vec<(String, String)> = hidden;
        form.push(("username".into(), self.t.username.clone()));
        form.push(("password".into(), self.t.password.clone()));
        let described = format!(
            "POST {} (username={}, password; cookies from the login page)",
            strip_query(&action),
            self.t.username
        );
        let callback = match self.browse(SUBMIT, &described, action, Some(form)).await? {
            Browsed::Callback(cb) => cb,
            Browsed::Page(_, answer) => {
                let page = html::classify(&answer.body);
                return Err(self.unexpected_page(SUBMIT, &described, &answer, &page));
            }
        };

        // 3. The callback: code, state, iss.
        const CALLBACK: &str = "redirect to the callback";
        let q = |k: &str| {
            callback
                .query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(err) = q("error") {
            let oauth = OAuthError {
                error: err.clone(),
                description: q("error_description").unwrap_or_default(),
            };
            let mut f = StepFailure::new(
                CALLBACK,
                format!(
                    "Keycloak redirected with error={err} ({})",
                    oauth.description
                ),
            )
            .request(&described);
            f.cause = likely_cause(302, &oauth, self.who());
            return Err(f);
        }
        let cb_fail = |msg: String| StepFailure::new(CALLBACK, msg).request(&described);
        if q("state").as_deref() != Some(state.as_str()) {
            return Err(cb_fail(
                "the state parameter is missing or differs from the one sent".into(),
            ));
        }
        match q("iss") {
            Some(iss) if iss == e.issuer => {}
            Some(iss) => {
                return Err(cb_fail(format!(
                    "iss is `{iss}`, expected the issuer `{}` (mix-up attack protection, RFC 9207)",
                    e.issuer
                )))
            }
            None if e.iss_in_auth_response => {
                return Err(cb_fail(
                    "iss is missing although discovery announces authorization_response_iss_parameter_supported"
                        .into(),
                ))
            }
            None => {}
        }
        let code = q("code").ok_or_else(|| cb_fail("no code in the redirect".into()))?;

        // 4. Exchange the code with the secret and the PKCE verifier.
        const EXCHANGE: &str = "code exchange";
        let (answer, described) = self
            .token(
                EXCHANGE,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &self.t.redirect_uri),
                    ("code_verifier", &pkce.verifier),
                ],
                &format!(
                    "grant_type=authorization_code, code, redirect_uri={}, code_verifier",
                    self.t.redirect_uri
                ),
                false,
            )
            .await?;
        let tokens = self.tokens_from(EXCHANGE, &described, &answer)?;
        if tokens.id.is_none() {
            return Err(
                StepFailure::new(EXCHANGE, "no id_token although scope=openid was asked")
                    .request(&described),
            );
        }
        let email = self.email_of(&self.userinfo(&tokens.access).await?)?;
        self.session = Some(BrowserSession { tokens, nonce });
        Ok(format!("logged in through the login form; email {email}"))
    }

    /// A 302 straight to the callback without a login form: an SSO session already existed
    /// or Keycloak refused the request with an error redirect.
    fn callback_without_login(&self, step: &str, described: &str, cb: &Url) -> StepFailure {
        let q = |k: &str| {
            cb.query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        match q("error") {
            Some(err) => {
                let oauth = OAuthError {
                    error: err.clone(),
                    description: q("error_description").unwrap_or_default(),
                };
                let mut f = StepFailure::new(
                    step,
                    format!(
                        "Keycloak redirected to the callback with error={err} ({})",
                        oauth.description
                    ),
                )
                .request(described);
                f.cause = likely_cause(302, &oauth, self.who());
                f
            }
            None => StepFailure::new(
                step,
                "Keycloak redirected to the callback without showing the login form",
            )
            .request(described),
        }
    }

    fn unexpected_page(
        &self,
        step: &str,
        described: &str,
        answer: &Answer,
        page: &Page,
    ) -> StepFailure {
        let mut f = self.refused(
            step,
            described,
            answer,
            &format!("Keycloak showed {}", page.describe()),
        );
        f.answer = Some(answer.status.to_string());
        let who = self.who();
        f.cause = f.cause.or(match page {
            Page::UpdateProfile { empty_fields, .. } => Some(format!(
                "user `{}`'s profile is incomplete{}: fill email, firstName and lastName in the realm file",
                who.username,
                if empty_fields.is_empty() {
                    String::new()
                } else {
                    format!(" ({} missing)", empty_fields.join(", "))
                }
            )),
            Page::UpdatePassword => Some(format!(
                "user `{}`'s password is temporary: set temporary: false on its credential",
                who.username
            )),
            Page::Consent => Some(format!(
                "client `{}` requires user consent (consentRequired: true)",
                who.client_id
            )),
            Page::Login { error: None, .. } => Some(
                "the login form came back without a message: the session cookies were not accepted"
                    .into(),
            ),
            _ => None,
        });
        f
    }

    /// Act as a browser: send, follow redirects that stay inside Keycloak (with cookies), and
    /// stop at a page or at the redirect to the client's callback, which is never requested.
    async fn browse(
        &self,
        step: &str,
        described: &str,
        mut url: Url,
        mut form: Option<Vec<(String, String)>>,
    ) -> Step<Browsed> {
        let callback = Url::parse(&self.t.redirect_uri).ok();
        for _ in 0..MAX_REDIRECTS {
            let target = self.reach(&url);
            let req = match form.take() {
                Some(f) => self.browser.post(target).form(&f),
                None => self.browser.get(target),
            };
            let answer = self
                .send(step, described, req.header(ACCEPT, BROWSER_ACCEPT))
                .await?;
            if !(300..400).contains(&answer.status) {
                return Ok(Browsed::Page(url, answer));
            }
            let location = answer.header(LOCATION).unwrap_or_default().to_string();
            let next = url.join(&location).map_err(|e| {
                StepFailure::new(
                    step,
                    format!("redirect to an invalid URL `{location}` ({e})"),
                )
                .request(described)
            })?;
            if callback.as_ref().is_some_and(|cb| same_endpoint(cb, &next)) {
                return Ok(Browsed::Callback(next));
            }
            let inside_keycloak = Some(next.origin()) == self.advertised_origin
                || next.origin() == self.t.keycloak_url.origin();
            if !inside_keycloak {
                return Err(StepFailure::new(
                    step,
                    format!(
                        "Keycloak redirected to `{}`, which is neither Keycloak nor the redirect URI",
                        strip_query(&next)
                    ),
                )
                .request(described));
            }
            url = next;
        }
        Err(
            StepFailure::new(step, format!("more than {MAX_REDIRECTS} redirects"))
                .request(described),
        )
    }

    async fn id_tokens(&mut self) -> Step<String> {
        const STEP: &str = "JWKS request";
        let e = self.endpoints()?.clone();
        let mut to_check: Vec<(&str, &str, Option<&str>)> = Vec::new();
        if let Some(s) = &self.session {
            if let Some(id) = &s.tokens.id {
                to_check.push(("authorization_code", id, Some(&s.nonce)));
            }
        }
        for (flow, tokens) in [
            ("password", &self.password),
            ("client_credentials", &self.client_credentials),
        ] {
            if let Some(id) = tokens.as_ref().and_then(|t| t.id.as_deref()) {
                to_check.push((flow, id, None));
            }
        }
        if to_check.is_empty() {
            return Err(StepFailure::new(
                "not run",
                "no ID token to check: every flow that issues one failed",
            ));
        }
        let described = format!("GET {}", e.jwks);
        let answer = self
            .send(
                STEP,
                &described,
                self.api.get(self.reach(&e.jwks)).header(ACCEPT, JSON),
            )
            .await?;
        if answer.status != 200 {
            return Err(self.refused(STEP, &described, &answer, "no JWKS"));
        }
        let jwks = answer.json().unwrap_or(Value::Null);
        let mut kids = Vec::new();
        for (flow, token, nonce) in &to_check {
            let expected = jwt::Expected {
                issuer: &e.issuer,
                client_id: &self.t.client_id,
                nonce: *nonce,
            };
            let kid = jwt::verify_id_token(token, &jwks, expected).map_err(|msg| {
                StepFailure::new(&format!("ID token from `{flow}`"), msg).request(&described)
            })?;
            if !kids.contains(&kid) {
                kids.push(kid);
            }
        }
        let flows: Vec<&str> = to_check.iter().map(|(f, _, _)| *f).collect();
        Ok(format!(
            "RS256 signature (key {}), iss, aud, exp{} ok for: {}",
            kids.join(", "),
            if self.session.is_some() {
                ", nonce"
            } else {
                ""
            },
            flows.join(", ")
        ))
    }

    async fn introspection(&mut self) -> Step<String> {
        const STEP: &str = "introspection request";
        let e = self.endpoints()?.clone();
        let candidate = [
            (
                "authorization_code",
                self.session.as_ref().map(|s| &s.tokens),
            ),
            ("password", self.password.as_ref()),
            ("client_credentials", self.client_credentials.as_ref()),
        ]
        .into_iter()
        .find_map(|(flow, t)| t.map(|t| (flow, t.access.clone())));
        let Some((flow, access)) = candidate else {
            return Err(StepFailure::new(
                "not run",
                "no access token to introspect: every token request failed",
            ));
        };
        let described = format!(
            "POST {} (token=<access token from `{flow}`>; client_secret_basic)",
            e.introspection
        );
        let req = self.basic_auth(
            self.api
                .post(self.reach(&e.introspection))
                .header(ACCEPT, JSON)
                .form(&[("token", access.as_str())]),
        );
        let answer = self.send(STEP, &described, req).await?;
        if answer.status != 200 {
            return Err(self.refused(STEP, &described, &answer, "introspection refused"));
        }
        match answer
            .json()
            .and_then(|j| j.get("active").and_then(Value::as_bool))
        {
            Some(true) => Ok(format!("access token from `{flow}` is active")),
            Some(false) => Err(StepFailure {
                answer: Some(answer.summary()),
                ..StepFailure::new(
                    STEP,
                    format!("the access token from `{flow}` is not active"),
                )
                .request(&described)
            }),
            None => Err(StepFailure {
                answer: Some(answer.summary()),
                ..StepFailure::new(STEP, "no `active` field in the answer").request(&described)
            }),
        }
    }

    async fn logout(&mut self) -> Step<String> {
        const STEP: &str = "logout request";
        let e = self.endpoints()?.clone();
        let Some(session) = self.session.clone() else {
            return Err(StepFailure::needs("authorization_code"));
        };
        let id_token = session.tokens.id.clone().unwrap_or_default();
        let state = pkce::random_token();
        let mut url = e.end_session.clone();
        url.query_pairs_mut()
            .append_pair("id_token_hint", &id_token)
            .append_pair("post_logout_redirect_uri", &self.t.post_logout_redirect_uri)
            .append_pair("state", &state);
        let described = format!(
            "GET {} (id_token_hint, post_logout_redirect_uri={}, state; the login's cookies)",
            e.end_session, self.t.post_logout_redirect_uri
        );
        let answer = self
            .send(
                STEP,
                &described,
                self.browser
                    .get(self.reach(&url))
                    .header(ACCEPT, BROWSER_ACCEPT),
            )
            .await?;
        if !(300..400).contains(&answer.status) {
            let page = html::classify(&answer.body);
            let mut f = self.refused(
                STEP,
                &described,
                &answer,
                &format!("no redirect back: Keycloak showed {}", page.describe()),
            );
            if f.cause.is_none() && page == Page::LogoutConfirm {
                f.cause = Some(
                    "Keycloak did not accept the id_token_hint for this browser session, so it asks for confirmation"
                        .into(),
                );
            }
            return Err(f);
        }
        let location = answer.header(LOCATION).unwrap_or_default();
        let back = Url::parse(location).ok();
        let expected = Url::parse(&self.t.post_logout_redirect_uri).ok();
        let matches = matches!((&back, &expected), (Some(b), Some(x)) if same_endpoint(x, b));
        if !matches {
            return Err(StepFailure::new(
                STEP,
                format!(
                    "redirected to `{location}`, not to the post_logout_redirect_uri `{}`",
                    self.t.post_logout_redirect_uri
                ),
            )
            .request(&described));
        }
        let back_state = back.as_ref().and_then(|b| {
            b.query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
        });
        if back_state.as_deref() != Some(state.as_str()) {
            return Err(
                StepFailure::new(STEP, "the redirect back does not carry the state sent")
                    .request(&described),
            );
        }

        // The session is over: its refresh token must be refused.
        const AFTER: &str = "refresh after logout";
        let Some(refresh) = session.tokens.refresh.clone() else {
            return Err(StepFailure::new(
                AFTER,
                "the code exchange returned no refresh_token",
            ));
        };
        let (answer, described) = self
            .token(
                AFTER,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
                "grant_type=refresh_token with the logged-out session's refresh token",
                false,
            )
            .await?;
        match answer.oauth_error() {
            Some(err) if answer.status == 400 && err.error == "invalid_grant" => Ok(format!(
                "redirected back to {}; the session's refresh token is refused ({})",
                self.t.post_logout_redirect_uri, err.description
            )),
            _ if answer.status == 200 => Err(StepFailure::new(
                AFTER,
                "the refresh token still works after logout: the session was not ended",
            )
            .request(&described)),
            _ => Err(self.refused(
                AFTER,
                &described,
                &answer,
                "expected 400 invalid_grant for the ended session",
            )),
        }
    }
}

/// Where the browser stopped.
enum Browsed {
    /// The redirect to the client's redirect URI (not requested).
    Callback(Url),
    /// A page (any non-redirect answer) and the URL it came from.
    Page(Url, Answer),
}

/// Same scheme, host, port and path: a redirect "to" this endpoint, whatever its query.
fn same_endpoint(endpoint: &Url, candidate: &Url) -> bool {
    endpoint.scheme() == candidate.scheme()
        && endpoint.host_str() == candidate.host_str()
        && endpoint.port_or_known_default() == candidate.port_or_known_default()
        && endpoint.path() == candidate.path()
}

/// A URL without its query (session codes are not worth quoting).
fn strip_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

/// The concrete redirect URI to use for a client's valid redirect URI pattern: a trailing `*`
/// becomes `callback` (`http://localhost:5000/*` → `http://localhost:5000/callback`).
pub fn redirect_uri_from_pattern(pattern: &str) -> String {
    match pattern.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') => format!("{prefix}callback"),
        Some(prefix) => format!("{prefix}/callback"),
        None => pattern.to_string(),
    }
}

/// The post-logout redirect URI for a client: from `post.logout.redirect.uris` (`##`-separated;
/// `+` means "the valid redirect URIs"), else none. Patterns become concrete as above, with a
/// trailing `*` mapped to the site root (`http://localhost:5000/*` → `http://localhost:5000/`).
pub fn post_logout_redirect_uri(
    attribute: Option<&str>,
    redirect_uris: &[String],
) -> Option<String> {
    let first = attribute?
        .split("##")
        .map(str::trim)
        .find(|s| !s.is_empty())?;
    let pattern = if first == "+" {
        redirect_uris.first()?.as_str()
    } else {
        first
    };
    Some(match pattern.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') => prefix.to_string(),
        Some(prefix) => format!("{prefix}/"),
        None => pattern.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> VerifyTarget {
        VerifyTarget {
            keycloak_url: Url::parse(url).unwrap(),
            realm: "testing".into(),
            client_id: "test-client".into(),
            client_secret: "s3cret".into(),
            username: "test-user".into(),
            password: "test-user$123".into(),
            redirect_uri: "http://localhost:5000/callback".into(),
            post_logout_redirect_uri: "http://localhost:5000/".into(),
            expected_hostname: Some("localhost".into()),
        }
    }

    #[test]
    fn discovery_url_and_expected_issuer() {
        let t = target("http://127.0.0.1:8080");
        let v = Verifier::new(&t).unwrap();
        assert_eq!(
            v.discovery_url().as_str(),
            "http://127.0.0.1:8080/realms/testing/.well-known/openid-configuration"
        );
        assert_eq!(
            v.expected_issuer("localhost"),
            "http://localhost:8080/realms/testing"
        );
        let t = target("https://sso.example.com/auth/");
        let v = Verifier::new(&t).unwrap();
        assert_eq!(
            v.discovery_url().as_str(),
            "https://sso.example.com/auth/realms/testing/.well-known/openid-configuration"
        );
        // Default ports are normalised away, as Keycloak does.
        assert_eq!(
            v.expected_issuer("sso.example.com"),
            "https://sso.example.com/auth/realms/testing"
        );
    }

    #[test]
    fn keycloak_urls_are_reached_where_keycloak_is() {
        let t = target("http://127.0.0.1:41234");
        let mut v = Verifier::new(&t).unwrap();
        v.advertised_origin = Some(Url::parse("http://localhost:41234").unwrap().origin());
        let action = Url::parse(
            "http://localhost:41234/realms/testing/login-actions/authenticate?session_code=a&tab_id=b",
        )
        .unwrap();
        assert_eq!(
            v.reach(&action).as_str(),
            "http://127.0.0.1:41234/realms/testing/login-actions/authenticate?session_code=a&tab_id=b"
        );
        let elsewhere = Url::parse("http://localhost:5000/callback?code=x").unwrap();
        assert_eq!(v.reach(&elsewhere), elsewhere);
    }

    #[test]
    fn callback_detection_ignores_the_query() {
        let cb = Url::parse("http://localhost:5000/callback").unwrap();
        assert!(same_endpoint(
            &cb,
            &Url::parse("http://localhost:5000/callback?state=s&code=c&iss=x").unwrap()
        ));
        assert!(!same_endpoint(
            &cb,
            &Url::parse("http://localhost:5000/callback2?code=c").unwrap()
        ));
        assert!(!same_endpoint(
            &cb,
            &Url::parse("http://localhost:5001/callback").unwrap()
        ));
    }

    #[test]
    fn failures_read_as_step_request_answer_cause() {
        let f = StepFailure {
            step: "token request".into(),
            message: "no tokens".into(),
            request: Some("POST http://localhost:8080/realms/testing/protocol/openid-connect/token (grant_type=password)".into()),
            answer: Some(r#"400 {"error":"unauthorized_client"}"#.into()),
            cause: Some("direct access grants are off".into()),
        };
        assert_eq!(
            f.to_string(),
            "token request: no tokens; request: POST http://localhost:8080/realms/testing/protocol/openid-connect/token (grant_type=password); Keycloak answered 400 {\"error\":\"unauthorized_client\"}; likely cause: direct access grants are off"
        );
    }

    #[test]
    fn answers_summarise_html_and_empty_bodies() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "text/html;charset=utf-8".parse().unwrap());
        let a = Answer {
            status: 400,
            headers,
            body: r#"<html><body><div id="kc-error-message"><p class="instruction">Invalid parameter: redirect_uri</p></div></body></html>"#.into(),
        };
        assert_eq!(
            a.summary(),
            "400 (HTML: an error page saying \"Invalid parameter: redirect_uri\")"
        );
        assert_eq!(
            a.oauth_error(),
            Some(OAuthError::page("Invalid parameter: redirect_uri"))
        );
        let empty = Answer {
            status: 403,
            headers: HeaderMap::new(),
            body: String::new(),
        };
        assert_eq!(empty.summary(), "403 (empty body)");
    }

    #[test]
    fn redirect_uris_from_realm_file_patterns() {
        assert_eq!(
            redirect_uri_from_pattern("http://localhost:5000/*"),
            "http://localhost:5000/callback"
        );
        assert_eq!(
            redirect_uri_from_pattern("http://localhost:5000/cb"),
            "http://localhost:5000/cb"
        );
        let redirects = vec!["http://localhost:5000/*".to_string()];
        assert_eq!(
            post_logout_redirect_uri(Some("+"), &redirects).as_deref(),
            Some("http://localhost:5000/")
        );
        assert_eq!(
            post_logout_redirect_uri(Some("http://localhost:5000/bye##+"), &redirects).as_deref(),
            Some("http://localhost:5000/bye")
        );
        assert_eq!(post_logout_redirect_uri(None, &redirects), None);
    }

    #[test]
    fn a_report_exits_8_unless_everything_passed() {
        let pass = |name| CheckResult {
            name,
            passed: true,
            elapsed_ms: 1,
            detail: None,
        };
        let mut r = VerifyReport {
            checks: CHECKS.iter().map(|n| pass(*n)).collect(),
            elapsed_ms: 7,
        };
        assert_eq!(r.exit_code(), 0);
        r.checks[3].passed = false;
        assert_eq!(r.exit_code(), 8);
    }
}
