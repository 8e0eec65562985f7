//! Logout: RP-initiated (with its confirmation page) and the legacy back-channel form with a
//! refresh token; ending sessions.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::bearer::verify_refresh;
use crate::http::{no_store, ApiError};
use crate::login::{self, Outcome, Stage};
use crate::model::{random_token, uuid, Client, Realm};
use crate::redirect::verify_redirect_uri;
use crate::server::{base_of, AppState};
use crate::token::{authenticate_client, decode_claims, issuer, parse_form};

/// Removes a client from a session; a session left without clients ends.
pub(super) fn detach_client(realm: &mut Realm, sid: &str, client_id: &str) {
    let empty = match realm.sessions.get_mut(sid) {
        Some(s) => {
            s.clients.retain(|c| c != client_id);
            s.clients.is_empty()
        }
        None => false,
    };
    if empty {
        end_session(realm, sid);
    }
}

/// Ends a user session and drops its unused codes.
pub fn end_session(realm: &mut Realm, sid: &str) {
    realm.sessions.remove(sid);
    realm.codes.retain(|_, c| c.session_id != sid);
}

#[derive(Default)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

pub(super) async fn logout_get(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let params = LogoutParams {
        id_token_hint: q.get("id_token_hint").cloned(),
        client_id: q.get("client_id").cloned(),
        post_logout_redirect_uri: q.get("post_logout_redirect_uri").cloned(),
        state: q.get("state").cloned(),
    };
    rp_logout(&app, &realm, &headers, params).await
}

pub(super) async fn logout_post(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    if form.contains_key("refresh_token") {
        return backchannel_logout(&app, &realm, &headers, &form).await;
    }
    let params = LogoutParams {
        id_token_hint: form.get("id_token_hint").cloned(),
        client_id: form.get("client_id").cloned(),
        post_logout_redirect_uri: form.get("post_logout_redirect_uri").cloned(),
        state: form.get("state").cloned(),
    };
    rp_logout(&app, &realm, &headers, params).await
}

/// The legacy form: `POST .../logout` with `refresh_token` and client authentication → 204.
async fn backchannel_logout(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let base = base_of(app, headers);
    let now = app.clock.now_secs();
    let answer = app
        .mutate_realm(realm_name, ApiError::realm_does_not_exist, |realm| {
            let client = authenticate_client(realm, headers, form)?;
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            let claims = verify_refresh(realm, &token, &base, now).ok_or_else(|| {
                ApiError::b(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                )
            })?;
            if claims.get("azp").and_then(Value::as_str) != Some(client.client_id()) {
                return Err(ApiError::b(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                ));
            }
            if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
                end_session(realm, sid);
            }
            Ok(())
        })
        .await;
    match answer {
        Ok(()) => no_store(StatusCode::NO_CONTENT.into_response()),
        Err(e) => no_store(e.into_response()),
    }
}

/// The ID token hint's claims if Keycloak would accept it: signed by the realm key, `typ` ID,
/// issued by this realm (expiry is not checked for a hint).
fn verify_id_token_hint(realm: &Realm, token: &str, base: &str) -> Option<Map<String, Value>> {
    let keys = realm.keys.as_ref()?;
    let key = DecodingKey::from_rsa_pem(keys.rsa_public_pem.as_bytes()).ok()?;
    let claims = decode_claims(token, &key, Algorithm::RS256)?;
    (claims.get("typ")?.as_str()? == "ID"
        && claims.get("iss")?.as_str()? == issuer(base, &realm.name))
    .then_some(claims)
}

/// The valid post-logout redirect URIs of a client (`post.logout.redirect.uris`, `##`-separated,
/// `+` = the valid redirect URIs). None set: none allowed.
pub(super) fn post_logout_uris(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for v in client
        .attribute("post.logout.redirect.uris")
        .unwrap_or_default()
        .split("##")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if v == "+" {
            out.extend(client.redirect_uris());
        } else {
            out.push(v.to_owned());
        }
    }
    out
}

async fn rp_logout(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    p: LogoutParams,
) -> Response {
    login::run_step(app, realm_name, headers, |realm, cookies, base, now| {
        logout_flow(realm, cookies, &p, base, now)
    })
    .await
}

/// LogoutEndpoint#logout (GET/POST without a refresh token).
fn logout_flow(
    realm: &mut Realm,
    cookies: &HashMap<String, String>,
    p: &LogoutParams,
    base: &str,
    now: u64,
) -> Outcome {
    if p.post_logout_redirect_uri.is_some() && p.id_token_hint.is_none() && p.client_id.is_none() {
        return Outcome::error(StatusCode::BAD_REQUEST, "Missing parameters: id_token_hint");
    }
    let mut confirmation_needed = true;
    let mut forced_confirmation = false;
    let mut client = p
        .client_id
        .as_deref()
        .and_then(|c| realm.client_by_client_id(c))
        .cloned();
    if p.client_id.is_some() && client.is_none() {
        forced_confirmation = true;
    }
    let id_token = match &p.id_token_hint {
        Some(t) => match verify_id_token_hint(realm, t, base) {
            Some(c) => Some(c),
            None => {
                return Outcome::error(StatusCode::BAD_REQUEST, "Invalid parameter: id_token_hint")
            }
        },
        None => None,
    };
    let azp = id_token
        .as_ref()
        .and_then(|c| c.get("azp"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match &p.client_id {
        None => {
            client = azp
                .as_deref()
                .and_then(|a| realm.client_by_client_id(a))
                .cloned();
            if client.is_some() {
                confirmation_needed = false;
            }
        }
        Some(cid) => {
            if let Some(a) = &azp {
                if a != cid {
                    return Outcome::error(
                        StatusCode::BAD_REQUEST,
                        "Invalid parameter: id_token_hint",
                    );
                }
                confirmation_needed = false;
            }
        }
    }
    let mut validated = None;
    if let Some(uri) = &p.post_logout_redirect_uri {
        validated = client.as_ref().and_then(|c| {
            verify_redirect_uri(
                Some(uri),
                &post_logout_uris(c),
                c.str_field("rootUrl"),
                base,
            )
        });
        if validated.is_none() {
            return Outcome::error(StatusCode::BAD_REQUEST, "Invalid redirect uri");
        }
    }
    let hinted_sid = id_token
        .as_ref()
        .and_then(|c| c.get("sid"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let browser = login::identity_session(realm, cookies, base, now);
    match &browser {
        Some(b) => {
            if hinted_sid.as_ref().is_some_and(|sid| sid != &b.id) {
                forced_confirmation = true;
            }
        }
        None => {
            if p.id_token_hint.is_none() && client.is_some() && validated.is_some() {
                confirmation_needed = false;
            }
        }
    }
    let session_id = browser
        .map(|b| b.id)
        .or_else(|| hinted_sid.filter(|sid| realm.sessions.contains_key(sid)));

    if confirmation_needed || forced_confirmation {
        let root_id = uuid();
        let code = random_token(43);
        let tab = login::AuthTab {
            tab_id: random_token(11),
            client_id: client
                .as_ref()
                .map(|c| c.client_id().to_owned())
                .unwrap_or_default(),
            redirect_uri: validated.clone().unwrap_or_default(),
            response_mode: "query".into(),
            state: p.state.clone(),
            execution: "logout".into(),
            session_code: code.clone(),
            stage: Stage::LoggingOut,
            user_id: session_id.clone(),
            created: now,
            ..login::AuthTab::default()
        };
        login::store_in_root(realm, &root_id, tab, now);
        return Outcome::Page {
            status: StatusCode::OK,
            html: login::logout_confirm_page(base, &realm.name, &code),
            cookies: vec![login::auth_session_cookie(&root_id, &realm.name)],
        };
    }
    finish_logout(
        realm,
        session_id.as_deref(),
        validated.as_deref(),
        p.state.as_deref(),
    )
}

fn finish_logout(
    realm: &mut Realm,
    session_id: Option<&str>,
    redirect: Option<&str>,
    state: Option<&str>,
) -> Outcome {
    if let Some(sid) = session_id {
        end_session(realm, sid);
    }
    let cookies = login::expire_identity(&realm.name);
    match redirect {
        Some(uri) => {
            let params: Vec<(&str, String)> = state
                .map(|s| vec![("state", s.to_owned())])
                .unwrap_or_default();
            Outcome::Redirect {
                location: if params.is_empty() {
                    uri.to_owned()
                } else {
                    login::with_params(uri, "query", &params)
                },
                cookies,
            }
        }
        None => Outcome::Page {
            status: StatusCode::OK,
            html: login::info_page(login::msg::LOGGED_OUT),
            cookies,
        },
    }
}

/// `POST .../logout/logout-confirm` (the confirmation page's form).
pub(super) async fn logout_confirm(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    login::run_step(&app, &realm, &headers, |realm, cookies, base, now| {
        let _ = (base, now);
        let root_id = login::root_id_of(cookies);
        let code = form.get("session_code").cloned().unwrap_or_default();
        let tab = root_id
            .as_ref()
            .and_then(|id| realm.auth_sessions.get(id))
            .and_then(|root| {
                root.tabs
                    .values()
                    .find(|t| t.session_code == code && t.stage == Stage::LoggingOut)
            })
            .cloned();
        let Some(tab) = tab else {
            return Outcome::error(StatusCode::BAD_REQUEST, login::msg::COOKIE_NOT_FOUND);
        };
        if let Some(id) = &root_id {
            realm.auth_sessions.remove(id);
        }
        if !form.contains_key("confirmLogout") {
            return Outcome::error(StatusCode::BAD_REQUEST, login::msg::STALE_CODE);
        }
        let redirect = (!tab.redirect_uri.is_empty()).then_some(tab.redirect_uri.as_str());
        finish_logout(
            realm,
            tab.user_id.as_deref(),
            redirect,
            tab.state.as_deref(),
        )
    })
    .await
}
