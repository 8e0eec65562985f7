//! The `/login-actions/...` endpoints: the login form, the required-action pages and the consent
//! form, each run against the realm as one transaction.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::cookies::{identity_session, request_cookies};
use super::flow::{after_authentication, complete, error_redirect, find_tab, store_tab};
use super::outcome::Outcome;
use super::pages::{
    consent_page, layout, login_page, msg, page_expired, update_password_page, update_profile_page,
};
use super::session::{AuthTab, Stage};
use crate::http::ApiError;
use crate::model::{Realm, UPDATE_PASSWORD, VERIFY_PROFILE};
use crate::server::{base_of, AppState};
use crate::token::parse_form;

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
        return Outcome::page(page_expired(realm, base, &tab));
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
            Outcome::page(html)
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
        return Outcome::page(page_expired(realm, base, &tab));
    };
    let client = realm.client_by_client_id(&tab.client_id).cloned();
    let action = match &tab.stage {
        Stage::RequiredAction(a) => a.clone(),
        Stage::Consent => "OAUTH_GRANT".into(),
        Stage::Authenticate | Stage::LoggingOut => {
            return Outcome::page(page_expired(realm, base, &tab))
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
        return Outcome::page(html);
    };
    if q.get("session_code") != Some(&tab.session_code) {
        return Outcome::page(page_expired(realm, base, &tab));
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
                return Outcome::page(html);
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
                return Outcome::page(html);
            }
            if let Some(u) = realm.user_by_id_mut(&user.id) {
                u.password = Some(crate::model::PasswordCredential::new(&new, now * 1000));
                u.required_actions.retain(|a| a != UPDATE_PASSWORD);
            }
        }
        _ => return Outcome::page(page_expired(realm, base, &tab)),
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
        return Outcome::page(page_expired(realm, base, &tab));
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

/// Runs one login step against the realm as one transaction, with the browser's cookies, the
/// request's frontend base URL and the time; shared by the login actions, the authorization
/// endpoint and logout.
pub async fn run_step(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    step: impl FnOnce(&mut Realm, &HashMap<String, String>, &str, u64) -> Outcome,
) -> Response {
    if let Err(e) = app.ensure_keys(realm_name).await {
        return e.into_response();
    }
    let cookies = request_cookies(headers);
    let base = base_of(app, headers);
    let now = app.clock.now_secs();
    let outcome = app
        .mutate_realm(realm_name, ApiError::realm_does_not_exist, |realm| {
            Ok(step(realm, &cookies, &base, now))
        })
        .await;
    match outcome {
        Ok(o) => o.into_response(headers),
        Err(e) => e.into_response(),
    }
}

/// One request to `/login-actions/...`: the realm, the query naming the tab, the headers
/// (cookies, `Accept`) and the form (empty for a GET).
struct LoginAction {
    app: AppState,
    realm: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    form: HashMap<String, String>,
}

impl FromRequest<AppState> for LoginAction {
    type Rejection = Response;

    async fn from_request(request: Request, app: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Path(realm) = Path::<String>::from_request_parts(&mut parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(query) = Query::<HashMap<String, String>>::from_request_parts(&mut parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let form = if parts.method == Method::POST {
            let body = Bytes::from_request(Request::from_parts(parts, body), app)
                .await
                .map_err(IntoResponse::into_response)?;
            parse_form(&body)
        } else {
            HashMap::new()
        };
        Ok(LoginAction {
            app: app.clone(),
            realm,
            query,
            headers,
            form,
        })
    }
}

impl LoginAction {
    async fn run(
        &self,
        step: impl FnOnce(&mut Realm, &HashMap<String, String>, &str, u64) -> Outcome,
    ) -> Response {
        run_step(&self.app, &self.realm, &self.headers, step).await
    }
}

async fn authenticate_get(a: LoginAction) -> Response {
    a.run(
        |r, cookies, base, now| match find_tab(r, cookies, &a.query, base, now) {
            Ok((_, tab)) if tab.stage == Stage::Authenticate => {
                Outcome::page(login_page(r, base, &tab, None, None))
            }
            Ok((_, tab)) => Outcome::page(page_expired(r, base, &tab)),
            Err(o) => o,
        },
    )
    .await
}

async fn authenticate_post(a: LoginAction) -> Response {
    a.run(|r, cookies, base, now| authenticate(r, cookies, &a.query, &a.form, base, now))
        .await
}

async fn required_action_get(a: LoginAction) -> Response {
    a.run(|r, cookies, base, now| required_action(r, cookies, &a.query, None, base, now))
        .await
}

async fn required_action_post(a: LoginAction) -> Response {
    a.run(|r, cookies, base, now| required_action(r, cookies, &a.query, Some(&a.form), base, now))
        .await
}

async fn consent_post(a: LoginAction) -> Response {
    a.run(|r, cookies, base, now| consent(r, cookies, &a.query, &a.form, base, now))
        .await
}
