//! The browser login of the authorization-code flow, as Keycloak 26.2 serves it (keycloak-behaviour §7
//! "Browser login"): the login page (`form#kc-form-login` posting to an HTML-escaped
//! `/login-actions/authenticate?session_code=..&execution=..&client_id=..&tab_id=..&client_data=..`),
//! its cookies (`AUTH_SESSION_ID`, `KC_RESTART`, `KC_AUTH_SESSION_HASH`; after login
//! `KEYCLOAK_IDENTITY` and `KEYCLOAK_SESSION`), bad credentials (the page again, 200, "Invalid
//! username or password."), required actions (a 302 to `/login-actions/required-action`, then the
//! update-profile / update-password page), the consent screen, and the 302 to the redirect URI
//! with `state`, `session_state`, `iss` and `code`.
//!
//! Cookies follow `DefaultCookieProvider` over plain HTTP: `Version=1`, path `/realms/<realm>/`,
//! `SameSite=Lax` (None needs a secure context), no `Secure`.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::http::{html_escape, json_response, ApiError};
use crate::model::{
    random_token, uuid, AuthCode, Client, Realm, User, UserSession, UPDATE_PASSWORD, VERIFY_PROFILE,
};
use crate::server::AppState;
use crate::token::{active_session, decode_claims, frontend_base, issuer, parse_form};

pub const AUTH_SESSION_ID: &str = "AUTH_SESSION_ID";
pub const KC_RESTART: &str = "KC_RESTART";
pub const KC_AUTH_SESSION_HASH: &str = "KC_AUTH_SESSION_HASH";
pub const KEYCLOAK_IDENTITY: &str = "KEYCLOAK_IDENTITY";
pub const KEYCLOAK_SESSION: &str = "KEYCLOAK_SESSION";

/// Keycloak's login messages (theme `messages_en.properties`).
pub mod msg {
    pub const INVALID_USER: &str = "Invalid username or password.";
    pub const ACCOUNT_DISABLED: &str = "Account is disabled, contact your administrator.";
    pub const COOKIE_NOT_FOUND: &str =
        "Cookie not found. Please make sure cookies are enabled in your browser.";
    pub const LOGIN_TIMEOUT: &str =
        "Your login attempt timed out. Login will start from the beginning.";
    pub const UPDATE_PROFILE: &str =
        "You need to update your user profile to activate your account.";
    pub const UPDATE_PASSWORD: &str = "You need to change your password to activate your account.";
    pub const STALE_CODE: &str =
        "This page is no longer valid, please go back to your application and sign in again";
    pub const LOGGED_OUT: &str = "You are logged out.";
}

/// A browser's authentication session (Keycloak's root authentication session): one per
/// `AUTH_SESSION_ID` cookie, one tab per authorization request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RootAuthSession {
    pub id: String,
    pub created: u64,
    pub tabs: BTreeMap<String, AuthTab>,
}

/// Where a login stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Authenticate,
    /// A required action (`VERIFY_PROFILE`, `UPDATE_PASSWORD`, ...) of the authenticated user.
    RequiredAction(String),
    /// The consent screen of a client with `consentRequired`.
    Consent,
    /// RP-initiated logout waiting for the user's confirmation (`user_id` holds the session id).
    LoggingOut,
}

/// One authorization request being logged in (Keycloak's authentication session of a tab).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthTab {
    pub tab_id: String,
    /// `clientId` (not the internal id).
    pub client_id: String,
    /// The validated redirect URI.
    pub redirect_uri: String,
    /// The `redirect_uri` parameter as sent (the code exchange must repeat it).
    pub redirect_uri_param: Option<String>,
    /// `query` or `fragment`.
    pub response_mode: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    /// The execution id of the username/password form in the browser flow.
    pub execution: String,
    /// The active `session_code`; a form carrying another one is stale.
    pub session_code: String,
    pub stage: Stage,
    pub user_id: Option<String>,
    pub attempted_username: Option<String>,
    pub created: u64,
}

impl AuthTab {
    /// `client_data`: base64url JSON of the redirect URI, response type and mode, and state.
    pub fn client_data(&self) -> String {
        let mut v = json!({"ru": self.redirect_uri, "rt": "code"});
        if self.response_mode != "query" {
            v["rm"] = json!(self.response_mode);
        }
        if let Some(st) = &self.state {
            v["st"] = json!(st);
        }
        URL_SAFE_NO_PAD.encode(v.to_string())
    }
}

// ---------------------------------------------------------------- cookies

/// The cookies a request carries.
pub fn request_cookies(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                out.entry(k.trim().to_owned())
                    .or_insert_with(|| v.trim().to_owned());
            }
        }
    }
    out
}

pub fn cookie_path(realm: &str) -> String {
    format!("/realms/{realm}/")
}

/// A `Set-Cookie` value as Keycloak writes it over plain HTTP.
pub fn set_cookie(
    name: &str,
    value: &str,
    realm: &str,
    max_age: Option<i64>,
    http_only: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Version=1; Path={}", cookie_path(realm));
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
        if age <= 0 {
            c.push_str("; Expires=Thu, 01 Jan 1970 00:00:10 GMT");
        }
    }
    c.push_str("; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

pub fn expire_cookie(name: &str, realm: &str) -> HeaderValue {
    set_cookie(name, "", realm, Some(0), false)
}

// ---------------------------------------------------------------- outcomes

/// What a login step answers; turned into a response after the state is saved.
#[derive(Debug)]
pub enum Outcome {
    Page {
        status: StatusCode,
        html: String,
        cookies: Vec<HeaderValue>,
    },
    Redirect {
        location: String,
        cookies: Vec<HeaderValue>,
    },
    /// Keycloak's error page (`error.ftl`), or `{"error": message}` for JSON requests.
    Error { status: StatusCode, message: String },
}

impl Outcome {
    pub fn error(status: StatusCode, message: impl Into<String>) -> Outcome {
        Outcome::Error {
            status,
            message: message.into(),
        }
    }

    pub fn into_response(self, headers: &HeaderMap) -> Response {
        match self {
            Outcome::Page {
                status,
                html,
                cookies,
            } => {
                let mut r = (status, html).into_response();
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html;charset=utf-8"),
                );
                no_cache(h);
                for c in cookies {
                    h.append(header::SET_COOKIE, c);
                }
                r
            }
            Outcome::Redirect { location, cookies } => {
                let mut r = StatusCode::FOUND.into_response();
                let h = r.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&location) {
                    h.insert(header::LOCATION, v);
                }
                no_cache(h);
                for c in cookies {
                    h.append(header::SET_COOKIE, c);
                }
                r
            }
            Outcome::Error { status, message } => error_page(headers, status, &message),
        }
    }
}

fn no_cache(h: &mut HeaderMap) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, must-revalidate, max-age=0"),
    );
}

/// `LoginFormsProvider#createErrorPage`: JSON `{"error": message}` when the request accepts an
/// explicit JSON type, else the HTML error page (even for `*/*`).
pub fn error_page(headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
    if accepts_json(headers) {
        return json_response(status, &json!({ "error": message }));
    }
    let html = layout("We are sorry...", None, &format!(
        "<div id=\"kc-error-message\" style=\"font-size: 1rem;\">\n<p class=\"instruction\">{}</p>\n</div>",
        html_escape(message)
    ));
    Outcome::Page {
        status,
        html,
        cookies: vec![],
    }
    .into_response(headers)
}

fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|r| {
            r.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .any(|t| t == "application/json")
}

// ---------------------------------------------------------------- pages

/// The keycloak.v2 page frame: title, header and an optional alert.
fn layout(title: &str, alert: Option<(&str, &str)>, body: &str) -> String {
    let alert = alert
        .map(|(kind, text)| {
            format!(
                "<div class=\"pf-v5-c-alert pf-m-inline pf-m-{kind}\"><span class=\"pf-v5-c-alert__title kc-feedback-text\">{}</span></div>\n",
                html_escape(text)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html class=\"login-pf\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>{t}</title>\n</head>\n<body id=\"keycloak-bg\">\n<div class=\"pf-v5-c-login\"><div class=\"pf-v5-c-login__container\">\n<main class=\"pf-v5-c-login__main\">\n<div class=\"pf-v5-c-login__main-header\"><h1 class=\"pf-v5-c-title pf-m-3xl\" id=\"kc-page-title\">{t}</h1></div>\n<div class=\"pf-v5-c-login__main-body\">\n{alert}{body}\n</div>\n</main>\n</div></div>\n</body>\n</html>\n",
        t = html_escape(title)
    )
}

fn realm_title(realm: &Realm) -> String {
    let name = realm
        .settings
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(&realm.name);
    format!("Sign in to {name}")
}

fn action_url(
    base: &str,
    realm: &str,
    path: &str,
    tab: &AuthTab,
    with_code: bool,
    execution: Option<&str>,
) -> String {
    let mut u = format!("{base}/realms/{realm}/login-actions/{path}?");
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if with_code {
        q.append_pair("session_code", &tab.session_code);
    }
    if let Some(e) = execution {
        q.append_pair("execution", e);
    }
    q.append_pair("client_id", &tab.client_id);
    q.append_pair("tab_id", &tab.tab_id);
    q.append_pair("client_data", &tab.client_data());
    u.push_str(&q.finish());
    u
}

/// `login.ftl` (keycloak.v2): the username/password form; `error` under the username field.
pub fn login_page(
    realm: &Realm,
    base: &str,
    tab: &AuthTab,
    error: Option<&str>,
    alert: Option<(&str, &str)>,
) -> String {
    let action = action_url(
        base,
        &realm.name,
        "authenticate",
        tab,
        true,
        Some(&tab.execution),
    );
    let username = tab
        .attempted_username
        .clone()
        .or_else(|| tab.login_hint.clone())
        .unwrap_or_default();
    let invalid = if error.is_some() { "true" } else { "" };
    let error_html = error
        .map(|e| {
            format!(
                "<div class=\"pf-v5-c-helper-text\" aria-live=\"polite\"><div class=\"pf-v5-c-helper-text__item pf-m-error\" id=\"input-error-username\"><span class=\"pf-v5-c-helper-text__item-text\">\n{}\n</span></div></div>",
                html_escape(e)
            )
        })
        .unwrap_or_default();
    let label = if realm.bool_setting("loginWithEmailAllowed") {
        "Username or email"
    } else {
        "Username"
    };
    let form = format!(
        "<div id=\"kc-form\"><div id=\"kc-form-wrapper\">\n<form id=\"kc-form-login\" class=\"pf-v5-c-form pf-m-horizontal\" onsubmit=\"login.disabled = true; return true;\" action=\"{action}\" method=\"post\" novalidate=\"novalidate\">\n<div class=\"pf-v5-c-form__group\"><label for=\"username\" class=\"pf-v5-c-form__label\"><span class=\"pf-v5-c-form__label-text\">{label}</span></label>\n<span class=\"pf-v5-c-form-control\"><input id=\"username\" name=\"username\" value=\"{username}\" type=\"text\" autocomplete=\"username\" autofocus aria-invalid=\"{invalid}\"/></span>\n<div id=\"input-error-container-username\">{error_html}</div></div>\n<div class=\"pf-v5-c-form__group\"><label for=\"password\" class=\"pf-v5-c-form__label\"><span class=\"pf-v5-c-form__label-text\">Password</span></label>\n<span class=\"pf-v5-c-form-control\"><input id=\"password\" name=\"password\" value=\"\" type=\"password\" autocomplete=\"current-password\" aria-invalid=\"{invalid}\"/></span></div>\n<input type=\"hidden\" id=\"id-hidden-input\" name=\"credentialId\"/>\n<div class=\"pf-v5-c-form__group\"><div class=\"pf-v5-c-form__actions\"><button class=\"pf-v5-c-button pf-m-primary pf-m-block\" name=\"login\" id=\"kc-login\" type=\"submit\">Sign In</button></div></div>\n</form>\n</div></div>",
        action = html_escape(&action),
        username = html_escape(&username),
    );
    layout(&realm_title(realm), alert, &form).replacen(
        &format!(
            "id=\"kc-page-title\">{}</h1>",
            html_escape(&realm_title(realm))
        ),
        "id=\"kc-page-title\">Sign in to your account</h1>",
        1,
    )
}

/// `login-update-profile.ftl`: the profile form with the user's current values.
fn update_profile_page(
    realm: &Realm,
    base: &str,
    tab: &AuthTab,
    user: &User,
    errors: &[(&str, &str)],
) -> String {
    let action = action_url(
        base,
        &realm.name,
        "required-action",
        tab,
        true,
        Some(VERIFY_PROFILE),
    );
    let mut fields = String::new();
    for (name, label, value) in [
        ("email", "Email", user.email.as_deref()),
        ("firstName", "First name", user.first_name.as_deref()),
        ("lastName", "Last name", user.last_name.as_deref()),
    ] {
        let err = errors
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, e)| format!("<div class=\"pf-v5-c-helper-text__item pf-m-error\" id=\"input-error-{name}\"><span>{}</span></div>", html_escape(e)))
            .unwrap_or_default();
        fields.push_str(&format!(
            "<div class=\"pf-v5-c-form__group\"><label for=\"{name}\">{label} <span class=\"pf-v5-c-form__label-required\">*</span></label>\n<span class=\"pf-v5-c-form-control\"><input type=\"text\" id=\"{name}\" name=\"{name}\" value=\"{}\" aria-invalid=\"\"/></span>{err}</div>\n",
            html_escape(value.unwrap_or_default())
        ));
    }
    let form = format!(
        "<form id=\"kc-update-profile-form\" class=\"pf-v5-c-form pf-m-horizontal\" action=\"{}\" method=\"post\">\n{fields}<div class=\"pf-v5-c-form__group\"><button class=\"pf-v5-c-button pf-m-primary\" id=\"kc-submit\" type=\"submit\">Submit</button></div>\n</form>",
        html_escape(&action)
    );
    let alert = if errors.is_empty() {
        Some(("warning", msg::UPDATE_PROFILE))
    } else {
        None
    };
    layout("Update Account Information", alert, &form)
}

/// `login-update-password.ftl`.
fn update_password_page(realm: &Realm, base: &str, tab: &AuthTab) -> String {
    let action = action_url(
        base,
        &realm.name,
        "required-action",
        tab,
        true,
        Some(UPDATE_PASSWORD),
    );
    let form = format!(
        "<form id=\"kc-passwd-update-form\" class=\"pf-v5-c-form\" action=\"{}\" method=\"post\">\n<input type=\"password\" id=\"password-new\" name=\"password-new\" autocomplete=\"new-password\"/>\n<input type=\"password\" id=\"password-confirm\" name=\"password-confirm\" autocomplete=\"new-password\"/>\n<button class=\"pf-v5-c-button pf-m-primary\" type=\"submit\">Submit</button>\n</form>",
        html_escape(&action)
    );
    layout(
        "Update password",
        Some(("warning", msg::UPDATE_PASSWORD)),
        &form,
    )
}

/// `login-oauth-grant.ftl`: the consent screen.
fn consent_page(realm: &Realm, base: &str, tab: &AuthTab, client: &Client) -> String {
    let action = format!(
        "{base}/realms/{}/login-actions/consent?client_id={}&tab_id={}",
        realm.name,
        url::form_urlencoded::byte_serialize(tab.client_id.as_bytes()).collect::<String>(),
        tab.tab_id
    );
    let name = client
        .str_field("name")
        .filter(|n| !n.is_empty())
        .unwrap_or(client.client_id());
    let form = format!(
        "<div id=\"kc-oauth\" class=\"content-area\">\n<h3>Do you grant these access privileges?</h3>\n<ul><li><span>User profile</span></li><li><span>Email address</span></li></ul>\n<form class=\"pf-v5-c-form\" action=\"{}\" method=\"POST\">\n<input type=\"hidden\" name=\"code\" value=\"{}\">\n<button id=\"kc-login\" name=\"accept\" type=\"submit\">Yes</button>\n<button id=\"kc-cancel\" name=\"cancel\" type=\"submit\">No</button>\n</form>\n</div>",
        html_escape(&action),
        html_escape(&tab.session_code)
    );
    layout(&format!("Grant Access to {name}"), None, &form)
}

/// `logout-confirm.ftl`.
pub fn logout_confirm_page(base: &str, realm: &str, session_code: &str) -> String {
    let form = format!(
        "<div id=\"kc-logout-confirm\" class=\"content-area\">\n<p class=\"instruction\">Do you want to log out?</p>\n<form class=\"form-actions\" action=\"{}\" onsubmit=\"confirmLogout.disabled = true; return true;\" method=\"POST\">\n<input type=\"hidden\" name=\"session_code\" value=\"{}\">\n<input name=\"confirmLogout\" id=\"kc-logout\" type=\"submit\" value=\"Logout\"/>\n</form>\n</div>",
        html_escape(&format!("{base}/realms/{realm}/protocol/openid-connect/logout/logout-confirm")),
        html_escape(session_code)
    );
    layout("Logging out", None, &form)
}

/// `info.ftl` with a message (e.g. after a confirmed logout without a redirect).
pub fn info_page(message: &str) -> String {
    layout(
        message,
        None,
        &format!(
            "<div id=\"kc-info-message\"><p class=\"instruction\">{}</p></div>",
            html_escape(message)
        ),
    )
}

/// `login-page-expired.ftl`.
fn page_expired(realm: &Realm, base: &str, tab: &AuthTab) -> String {
    let restart = action_url(base, &realm.name, "restart", tab, false, None);
    let cont = action_url(base, &realm.name, "authenticate", tab, false, None);
    layout(
        "Page has expired",
        None,
        &format!(
            "<p id=\"instruction1\" class=\"instruction\">To restart the login process <a id=\"loginRestartLink\" href=\"{}\">Click here</a> . To continue the login process <a id=\"loginContinueLink\" href=\"{}\">Click here</a> .</p>",
            html_escape(&restart),
            html_escape(&cont)
        ),
    )
}

// ---------------------------------------------------------------- identity (SSO) cookie

fn hmac_key(realm: &Realm) -> Option<(EncodingKey, DecodingKey, String)> {
    let keys = realm.keys.as_ref()?;
    let secret = keys.hmac_secret_bytes();
    Some((
        EncodingKey::from_secret(&secret),
        DecodingKey::from_secret(&secret),
        keys.hmac_kid.clone(),
    ))
}

fn sign_hs512(realm: &Realm, claims: &Value) -> Option<String> {
    let (enc, _, kid) = hmac_key(realm)?;
    let mut h = Header::new(Algorithm::HS512);
    h.kid = Some(kid);
    jsonwebtoken::encode(&h, claims, &enc).ok()
}

/// The SSO session named by a valid `KEYCLOAK_IDENTITY` cookie.
pub fn identity_session(
    realm: &Realm,
    cookies: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Option<UserSession> {
    let token = cookies.get(KEYCLOAK_IDENTITY).filter(|t| !t.is_empty())?;
    let (_, dec, _) = hmac_key(realm)?;
    let claims = decode_claims(token, &dec, Algorithm::HS512)?;
    if claims.get("typ")?.as_str()? != "Serialized-ID"
        || claims.get("iss")?.as_str()? != issuer(base, &realm.name)
    {
        return None;
    }
    let session = active_session(realm, claims.get("sid")?.as_str()?, now)?;
    realm.user_by_id(&session.user_id).filter(|u| u.enabled)?;
    Some(session)
}

fn identity_cookies(realm: &Realm, session: &UserSession, base: &str) -> Vec<HeaderValue> {
    let claims = json!({
        "exp": session.started + realm.sso_max_lifespan(),
        "iat": session.started,
        "jti": uuid(),
        "iss": issuer(base, &realm.name),
        "sub": session.user_id,
        "typ": "Serialized-ID",
        "sid": session.id,
        "state_checker": random_token(43),
    });
    let mut out = Vec::new();
    if let Some(token) = sign_hs512(realm, &claims) {
        out.push(set_cookie(
            KEYCLOAK_IDENTITY,
            &token,
            &realm.name,
            None,
            true,
        ));
    }
    let hash = URL_SAFE_NO_PAD.encode(Sha256::digest(session.id.as_bytes()));
    out.push(set_cookie(
        KEYCLOAK_SESSION,
        &hash,
        &realm.name,
        None,
        false,
    ));
    out
}

/// Cookies ending the browser's SSO session (logout).
pub fn expire_identity(realm: &str) -> Vec<HeaderValue> {
    vec![
        expire_cookie(KEYCLOAK_IDENTITY, realm),
        expire_cookie(KEYCLOAK_SESSION, realm),
    ]
}

// ---------------------------------------------------------------- the flow

/// The request a login starts from (validated by the authorization endpoint).
#[derive(Clone, Debug)]
pub struct LoginRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_param: Option<String>,
    pub response_mode: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub prompt: Option<String>,
}

/// Starts (or, with an SSO session, completes) a browser login: the authorization endpoint's
/// last step.
pub fn begin(
    realm: &mut Realm,
    req: LoginRequest,
    cookies: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Outcome {
    let prompt = req.prompt.clone().unwrap_or_default();
    let prompts: Vec<&str> = prompt.split_whitespace().collect();
    let sso = if prompts.contains(&"login") {
        None
    } else {
        identity_session(realm, cookies, base, now)
    };
    // Root session from the cookie, or a new one.
    let root_id = cookies
        .get(AUTH_SESSION_ID)
        .map(|v| v.split('.').next().unwrap_or_default().to_owned())
        .filter(|id| realm.auth_sessions.contains_key(id))
        .unwrap_or_else(uuid);
    let tab = AuthTab {
        tab_id: random_token(11),
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_param: req.redirect_uri_param.clone(),
        response_mode: req.response_mode.clone(),
        state: req.state.clone(),
        nonce: req.nonce.clone(),
        scope: req.scope.clone(),
        code_challenge: req.code_challenge.clone(),
        code_challenge_method: req.code_challenge_method.clone(),
        login_hint: req.login_hint.clone(),
        execution: uuid(),
        session_code: random_token(43),
        stage: Stage::Authenticate,
        user_id: None,
        attempted_username: None,
        created: now,
    };

    if let Some(session) = sso {
        let user = realm.user_by_id(&session.user_id).cloned();
        if let Some(user) = user {
            return after_authentication(
                realm,
                &root_id,
                tab,
                &user,
                Some(session),
                base,
                now,
                vec![],
            );
        }
    }
    if prompts.contains(&"none") {
        return error_redirect(&tab, base, &realm.name, "login_required", None);
    }

    let root = realm
        .auth_sessions
        .entry(root_id.clone())
        .or_insert_with(|| RootAuthSession {
            id: root_id.clone(),
            created: now,
            tabs: BTreeMap::new(),
        });
    root.tabs.insert(tab.tab_id.clone(), tab.clone());
    let mut cookies_out = vec![
        set_cookie(
            AUTH_SESSION_ID,
            &format!("{root_id}.keycloak-0"),
            &realm.name,
            None,
            true,
        ),
        set_cookie(
            KC_AUTH_SESSION_HASH,
            &URL_SAFE_NO_PAD.encode(Sha256::digest(root_id.as_bytes())),
            &realm.name,
            Some(60),
            false,
        ),
    ];
    if let Some(restart) = restart_cookie(realm, &tab, base, now) {
        cookies_out.push(set_cookie(KC_RESTART, &restart, &realm.name, None, true));
    }
    Outcome::Page {
        status: StatusCode::OK,
        html: login_page(realm, base, &tab, None, None),
        cookies: cookies_out,
    }
}

/// `KC_RESTART`: the request, signed, so an expired login can start over.
fn restart_cookie(realm: &Realm, tab: &AuthTab, base: &str, now: u64) -> Option<String> {
    sign_hs512(
        realm,
        &json!({
            "cid": tab.client_id, "pty": "openid-connect", "ruri": tab.redirect_uri,
            "act": "AUTHENTICATE", "iss": issuer(base, &realm.name), "iat": now,
            "notes": {
                "redirect_uri": tab.redirect_uri_param, "response_mode": tab.response_mode,
                "state": tab.state, "nonce": tab.nonce, "scope": tab.scope,
                "code_challenge": tab.code_challenge, "code_challenge_method": tab.code_challenge_method
            }
        }),
    )
}

fn tab_from_restart(realm: &Realm, token: &str, base: &str, now: u64) -> Option<AuthTab> {
    let (_, dec, _) = hmac_key(realm)?;
    let c = decode_claims(token, &dec, Algorithm::HS512)?;
    if c.get("iss")?.as_str()? != issuer(base, &realm.name) {
        return None;
    }
    let notes = c.get("notes")?;
    let note = |k: &str| notes.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(AuthTab {
        tab_id: random_token(11),
        client_id: c.get("cid")?.as_str()?.to_owned(),
        redirect_uri: c.get("ruri")?.as_str()?.to_owned(),
        redirect_uri_param: note("redirect_uri"),
        response_mode: note("response_mode").unwrap_or_else(|| "query".into()),
        state: note("state"),
        nonce: note("nonce"),
        scope: note("scope"),
        code_challenge: note("code_challenge"),
        code_challenge_method: note("code_challenge_method"),
        login_hint: None,
        execution: uuid(),
        session_code: random_token(43),
        stage: Stage::Authenticate,
        user_id: None,
        attempted_username: None,
        created: now,
    })
}

/// A redirect to the client with `error` (and `state`, `iss`), in the tab's response mode.
pub fn error_redirect(
    tab: &AuthTab,
    base: &str,
    realm: &str,
    error: &str,
    description: Option<&str>,
) -> Outcome {
    let mut params = vec![("error", error.to_owned())];
    if let Some(d) = description {
        params.push(("error_description", d.to_owned()));
    }
    if let Some(s) = &tab.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", issuer(base, realm)));
    Outcome::Redirect {
        location: with_params(&tab.redirect_uri, &tab.response_mode, &params),
        cookies: vec![],
    }
}

/// The redirect URI with parameters appended in the response mode (`?`/`&` or `#`).
pub fn with_params(uri: &str, mode: &str, params: &[(&str, String)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let q = ser.finish();
    if mode == "fragment" {
        format!("{uri}#{q}")
    } else if uri.contains('?') {
        format!("{uri}&{q}")
    } else {
        format!("{uri}?{q}")
    }
}

/// After the user is known: required actions, consent, then the code.
#[allow(clippy::too_many_arguments)]
fn after_authentication(
    realm: &mut Realm,
    root_id: &str,
    mut tab: AuthTab,
    user: &User,
    sso: Option<UserSession>,
    base: &str,
    now: u64,
    mut cookies: Vec<HeaderValue>,
) -> Outcome {
    tab.user_id = Some(user.id.clone());
    let pending = user.pending_actions(realm);
    let consent = realm
        .client_by_client_id(&tab.client_id)
        .is_some_and(Client::consent_required);
    let next = if let Some(action) = pending.first() {
        Some(Stage::RequiredAction(action.clone()))
    } else if consent {
        Some(Stage::Consent)
    } else {
        None
    };
    if let Some(stage) = next {
        let execution = match &stage {
            Stage::RequiredAction(a) => a.clone(),
            _ => "OAUTH_GRANT".to_owned(),
        };
        tab.stage = stage;
        tab.session_code = random_token(43);
        let location = action_url(
            base,
            &realm.name,
            "required-action",
            &tab,
            false,
            Some(&execution),
        );
        let root = realm
            .auth_sessions
            .entry(root_id.to_owned())
            .or_insert_with(|| RootAuthSession {
                id: root_id.to_owned(),
                created: now,
                tabs: BTreeMap::new(),
            });
        root.tabs.insert(tab.tab_id.clone(), tab);
        cookies.push(set_cookie(
            AUTH_SESSION_ID,
            &format!("{root_id}.keycloak-0"),
            &realm.name,
            None,
            true,
        ));
        return Outcome::Redirect { location, cookies };
    }
    complete(realm, root_id, &tab, user, sso, base, now, cookies)
}

/// The user is logged in: SSO session, code, and the redirect to the client.
#[allow(clippy::too_many_arguments)]
fn complete(
    realm: &mut Realm,
    root_id: &str,
    tab: &AuthTab,
    user: &User,
    sso: Option<UserSession>,
    base: &str,
    now: u64,
    mut cookies: Vec<HeaderValue>,
) -> Outcome {
    let Some(client) = realm.client_by_client_id(&tab.client_id).cloned() else {
        return Outcome::error(StatusCode::BAD_REQUEST, "Client not found.");
    };
    let session = match sso.filter(|s| s.user_id == user.id) {
        Some(mut s) => {
            if !s.clients.iter().any(|c| c == client.client_id()) {
                s.clients.push(client.client_id().to_owned());
            }
            s
        }
        None => UserSession {
            id: uuid(),
            user_id: user.id.clone(),
            clients: vec![client.client_id().to_owned()],
            started: now,
            last_refresh: now,
        },
    };
    realm.sessions.insert(session.id.clone(), session.clone());
    let code = format!("{}.{}.{}", uuid(), session.id, client.id);
    realm.codes.insert(
        code.clone(),
        AuthCode {
            code: code.clone(),
            client_id: client.client_id().to_owned(),
            user_id: user.id.clone(),
            session_id: session.id.clone(),
            redirect_uri: tab.redirect_uri_param.clone().unwrap_or_default(),
            scope: tab.scope.clone().unwrap_or_default(),
            nonce: tab.nonce.clone(),
            code_challenge: tab.code_challenge.clone(),
            code_challenge_method: tab.code_challenge_method.clone(),
            expires_at: now + realm.int_setting("accessCodeLifespan", 60),
            used: false,
        },
    );
    if let Some(root) = realm.auth_sessions.get_mut(root_id) {
        root.tabs.remove(&tab.tab_id);
        if root.tabs.is_empty() {
            realm.auth_sessions.remove(root_id);
        }
    }
    let mut params = Vec::new();
    if let Some(s) = &tab.state {
        params.push(("state", s.clone()));
    }
    if client.attribute("exclude.session.state.from.auth.response") != Some("true") {
        params.push(("session_state", session.id.clone()));
    }
    if client.attribute("exclude.issuer.from.auth.response") != Some("true") {
        params.push(("iss", issuer(base, &realm.name)));
    }
    params.push(("code", code));
    cookies.extend(identity_cookies(realm, &session, base));
    cookies.push(expire_cookie(KC_RESTART, &realm.name));
    Outcome::Redirect {
        location: with_params(&tab.redirect_uri, &tab.response_mode, &params),
        cookies,
    }
}

/// Finds the tab a login-actions request is about. `Err` is the answer to give instead.
fn find_tab(
    realm: &mut Realm,
    cookies: &HashMap<String, String>,
    q: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<(String, AuthTab), Outcome> {
    let root_id = cookies
        .get(AUTH_SESSION_ID)
        .map(|v| v.split('.').next().unwrap_or_default().to_owned());
    let lifespan = realm.int_setting("accessCodeLifespanLogin", 1800);
    let found = root_id.as_ref().and_then(|id| {
        let root = realm.auth_sessions.get(id)?;
        let tab = root.tabs.get(q.get("tab_id")?)?;
        Some((id.clone(), tab.clone()))
    });
    match found {
        Some((id, tab))
            if tab.created + lifespan > now && q.get("client_id") == Some(&tab.client_id) =>
        {
            Ok((id, tab))
        }
        other => {
            if let Some((id, tab)) = other {
                if let Some(root) = realm.auth_sessions.get_mut(&id) {
                    root.tabs.remove(&tab.tab_id);
                }
            }
            // Restart from KC_RESTART if the browser still has it.
            let restarted = cookies
                .get(KC_RESTART)
                .and_then(|t| tab_from_restart(realm, t, base, now));
            match restarted {
                Some(tab) => {
                    let root_id = uuid();
                    realm.auth_sessions.insert(
                        root_id.clone(),
                        RootAuthSession {
                            id: root_id.clone(),
                            created: now,
                            tabs: BTreeMap::from([(tab.tab_id.clone(), tab.clone())]),
                        },
                    );
                    Err(Outcome::Page {
                        status: StatusCode::OK,
                        html: login_page(
                            realm,
                            base,
                            &tab,
                            None,
                            Some(("warning", msg::LOGIN_TIMEOUT)),
                        ),
                        cookies: vec![set_cookie(
                            AUTH_SESSION_ID,
                            &format!("{root_id}.keycloak-0"),
                            &realm.name,
                            None,
                            true,
                        )],
                    })
                }
                None => Err(Outcome::error(
                    StatusCode::BAD_REQUEST,
                    msg::COOKIE_NOT_FOUND,
                )),
            }
        }
    }
}

fn store_tab(realm: &mut Realm, root_id: &str, tab: AuthTab) {
    if let Some(root) = realm.auth_sessions.get_mut(root_id) {
        root.tabs.insert(tab.tab_id.clone(), tab);
    }
}

/// POST the login form.
fn authenticate(
    realm: &mut Realm,
    cookies: &HashMap<String, String>,
    q: &HashMap<String, String>,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Outcome {
    let (root_id, mut tab) = match find_tab(realm, cookies, q, base, now) {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    if tab.stage != Stage::Authenticate
        || q.get("session_code") != Some(&tab.session_code)
        || q.get("execution").is_some_and(|e| e != &tab.execution)
    {
        return Outcome::Page {
            status: StatusCode::OK,
            html: page_expired(realm, base, &tab),
            cookies: vec![],
        };
    }
    let username = form
        .get("username")
        .map(|u| u.trim().to_owned())
        .unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    tab.attempted_username = (!username.is_empty()).then(|| username.clone());
    let user = (!username.is_empty())
        .then(|| {
            realm.user_by_username(&username).or_else(|| {
                realm
                    .bool_setting("loginWithEmailAllowed")
                    .then(|| realm.user_by_email(&username))
                    .flatten()
            })
        })
        .flatten()
        .filter(|u| u.service_account_client.is_none())
        .cloned();
    let again =
        |realm: &mut Realm, tab: AuthTab, error: Option<&str>, alert: Option<(&str, &str)>| {
            let html = login_page(realm, base, &tab, error, alert);
            store_tab(realm, &root_id, tab);
            Outcome::Page {
                status: StatusCode::OK,
                html,
                cookies: vec![],
            }
        };
    let Some(user) = user else {
        return again(realm, tab, Some(msg::INVALID_USER), None);
    };
    let ok = !password.is_empty() && user.password.as_ref().is_some_and(|c| c.verify(&password));
    if !ok {
        return again(realm, tab, Some(msg::INVALID_USER), None);
    }
    if !user.enabled {
        return again(realm, tab, None, Some(("danger", msg::ACCOUNT_DISABLED)));
    }
    let sso = identity_session(realm, cookies, base, now);
    after_authentication(realm, &root_id, tab, &user, sso, base, now, vec![])
}

/// GET the required-action page (after the 302), or POST its form.
fn required_action(
    realm: &mut Realm,
    cookies: &HashMap<String, String>,
    q: &HashMap<String, String>,
    form: Option<&HashMap<String, String>>,
    base: &str,
    now: u64,
) -> Outcome {
    let (root_id, mut tab) = match find_tab(realm, cookies, q, base, now) {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let Some(user) = tab
        .user_id
        .as_deref()
        .and_then(|id| realm.user_by_id(id))
        .cloned()
    else {
        return Outcome::Page {
            status: StatusCode::OK,
            html: page_expired(realm, base, &tab),
            cookies: vec![],
        };
    };
    let client = realm.client_by_client_id(&tab.client_id).cloned();
    let action = match &tab.stage {
        Stage::RequiredAction(a) => a.clone(),
        Stage::Consent => "OAUTH_GRANT".into(),
        Stage::Authenticate | Stage::LoggingOut => {
            return Outcome::Page {
                status: StatusCode::OK,
                html: page_expired(realm, base, &tab),
                cookies: vec![],
            }
        }
    };
    let Some(form) = form else {
        // GET: show the page of the current action.
        let html = match action.as_str() {
            VERIFY_PROFILE | "UPDATE_PROFILE" => update_profile_page(realm, base, &tab, &user, &[]),
            UPDATE_PASSWORD => update_password_page(realm, base, &tab),
            "OAUTH_GRANT" => match &client {
                Some(c) => consent_page(realm, base, &tab, c),
                None => return Outcome::error(StatusCode::BAD_REQUEST, "Client not found."),
            },
            other => layout(
                &format!("Required action {other}"),
                None,
                "<p class=\"instruction\">This action is not modelled by the double.</p>",
            ),
        };
        return Outcome::Page {
            status: StatusCode::OK,
            html,
            cookies: vec![],
        };
    };
    if q.get("session_code") != Some(&tab.session_code) {
        return Outcome::Page {
            status: StatusCode::OK,
            html: page_expired(realm, base, &tab),
            cookies: vec![],
        };
    }
    match action.as_str() {
        VERIFY_PROFILE | "UPDATE_PROFILE" => {
            let value = |k: &str| {
                form.get(k)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            };
            let mut errors = Vec::new();
            for (k, m) in [
                ("email", "Please specify email."),
                ("firstName", "Please specify first name."),
                ("lastName", "Please specify last name."),
            ] {
                if value(k).is_none() {
                    errors.push((k, m));
                }
            }
            if !errors.is_empty() {
                let html = update_profile_page(realm, base, &tab, &user, &errors);
                return Outcome::Page {
                    status: StatusCode::OK,
                    html,
                    cookies: vec![],
                };
            }
            if let Some(u) = realm.user_by_id_mut(&user.id) {
                u.email = value("email").map(|e| e.to_lowercase());
                u.first_name = value("firstName");
                u.last_name = value("lastName");
                u.required_actions
                    .retain(|a| a != VERIFY_PROFILE && a != "UPDATE_PROFILE");
            }
        }
        UPDATE_PASSWORD => {
            let new = form.get("password-new").cloned().unwrap_or_default();
            if new.is_empty() || form.get("password-confirm") != Some(&new) {
                let html = update_password_page(realm, base, &tab);
                return Outcome::Page {
                    status: StatusCode::OK,
                    html,
                    cookies: vec![],
                };
            }
            if let Some(u) = realm.user_by_id_mut(&user.id) {
                u.password = Some(crate::model::PasswordCredential::new(&new, now * 1000));
                u.required_actions.retain(|a| a != UPDATE_PASSWORD);
            }
        }
        _ => {
            return Outcome::Page {
                status: StatusCode::OK,
                html: page_expired(realm, base, &tab),
                cookies: vec![],
            }
        }
    }
    let Some(user) = realm.user_by_id(&user.id).cloned() else {
        return Outcome::error(StatusCode::BAD_REQUEST, msg::STALE_CODE);
    };
    tab.stage = Stage::Authenticate;
    let sso = identity_session(realm, cookies, base, now);
    after_authentication(realm, &root_id, tab, &user, sso, base, now, vec![])
}

/// POST the consent form: `accept` continues, `cancel` sends `access_denied` to the client.
fn consent(
    realm: &mut Realm,
    cookies: &HashMap<String, String>,
    q: &HashMap<String, String>,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Outcome {
    let (root_id, tab) = match find_tab(realm, cookies, q, base, now) {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    if tab.stage != Stage::Consent || form.get("code") != Some(&tab.session_code) {
        return Outcome::Page {
            status: StatusCode::OK,
            html: page_expired(realm, base, &tab),
            cookies: vec![],
        };
    }
    if form.contains_key("cancel") || !form.contains_key("accept") {
        if let Some(root) = realm.auth_sessions.get_mut(&root_id) {
            root.tabs.remove(&tab.tab_id);
        }
        return error_redirect(&tab, base, &realm.name, "access_denied", None);
    }
    let Some(user) = tab
        .user_id
        .as_deref()
        .and_then(|id| realm.user_by_id(id))
        .cloned()
    else {
        return Outcome::error(StatusCode::BAD_REQUEST, msg::STALE_CODE);
    };
    let sso = identity_session(realm, cookies, base, now);
    complete(realm, &root_id, &tab, &user, sso, base, now, vec![])
}

// ---------------------------------------------------------------- routes

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/realms/{realm}/login-actions/authenticate",
            get(authenticate_get).post(authenticate_post),
        )
        .route(
            "/realms/{realm}/login-actions/required-action",
            get(required_action_get).post(required_action_post),
        )
        .route("/realms/{realm}/login-actions/consent", post(consent_post))
}

async fn run(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    step: impl FnOnce(&mut Realm, &HashMap<String, String>, &str, u64) -> Outcome,
) -> Response {
    if let Err(e) = app.ensure_keys(realm_name).await {
        return e.into_response();
    }
    let cookies = request_cookies(headers);
    let base = frontend_base(headers, &app.config.hostname);
    let now = app.clock.now_secs();
    let outcome = app
        .mutate(|state| {
            let realm = state
                .realm_mut(realm_name)
                .ok_or_else(|| ApiError::not_found("Realm does not exist"))?;
            Ok(step(realm, &cookies, &base, now))
        })
        .await;
    match outcome {
        Ok(o) => o.into_response(headers),
        Err(e) => e.into_response(),
    }
}

async fn authenticate_get(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    run(
        &app,
        &realm,
        &headers,
        |r, cookies, base, now| match find_tab(r, cookies, &q, base, now) {
            Ok((_, tab)) if tab.stage == Stage::Authenticate => Outcome::Page {
                status: StatusCode::OK,
                html: login_page(r, base, &tab, None, None),
                cookies: vec![],
            },
            Ok((_, tab)) => Outcome::Page {
                status: StatusCode::OK,
                html: page_expired(r, base, &tab),
                cookies: vec![],
            },
            Err(o) => o,
        },
    )
    .await
}

async fn authenticate_post(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    run(&app, &realm, &headers, |r, cookies, base, now| {
        authenticate(r, cookies, &q, &form, base, now)
    })
    .await
}

async fn required_action_get(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    run(&app, &realm, &headers, |r, cookies, base, now| {
        required_action(r, cookies, &q, None, base, now)
    })
    .await
}

async fn required_action_post(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    run(&app, &realm, &headers, |r, cookies, base, now| {
        required_action(r, cookies, &q, Some(&form), base, now)
    })
    .await
}

async fn consent_post(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    run(&app, &realm, &headers, |r, cookies, base, now| {
        consent(r, cookies, &q, &form, base, now)
    })
    .await
}

/// Used by the authorization endpoint and logout (they share the realm lookup and cookies).
pub(crate) async fn run_step(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    step: impl FnOnce(&mut Realm, &HashMap<String, String>, &str, u64) -> Outcome,
) -> Response {
    run(app, realm_name, headers, step).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_append_in_the_response_mode() {
        let p = [("state", "s 1".to_owned()), ("code", "c".to_owned())];
        assert_eq!(
            with_params("http://a/cb", "query", &p),
            "http://a/cb?state=s+1&code=c"
        );
        assert_eq!(
            with_params("http://a/cb?x=1", "query", &p),
            "http://a/cb?x=1&state=s+1&code=c"
        );
        assert_eq!(
            with_params("http://a/cb", "fragment", &p),
            "http://a/cb#state=s+1&code=c"
        );
    }

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("AUTH_SESSION_ID=abc.keycloak-0; KC_RESTART=r"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("KEYCLOAK_IDENTITY=i"),
        );
        let c = request_cookies(&h);
        assert_eq!(c["AUTH_SESSION_ID"], "abc.keycloak-0");
        assert_eq!(c["KC_RESTART"], "r");
        assert_eq!(c["KEYCLOAK_IDENTITY"], "i");
    }

    #[test]
    fn set_cookie_matches_keycloak_over_http() {
        let v = set_cookie(AUTH_SESSION_ID, "x", "testing", None, true);
        assert_eq!(
            v.to_str().unwrap(),
            "AUTH_SESSION_ID=x; Version=1; Path=/realms/testing/; SameSite=Lax; HttpOnly"
        );
        let e = expire_cookie(KC_RESTART, "testing");
        assert!(e.to_str().unwrap().contains("Max-Age=0"));
    }
}
