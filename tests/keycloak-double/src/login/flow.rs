//! The login flow from the authorization request to the code: start (or SSO), required actions
//! and consent, then the SSO session, the code and the redirect to the client.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::cookies::{
    auth_session_cookie, expire_cookie, identity_cookies, identity_session, restart_cookie,
    set_cookie, tab_from_restart, KC_AUTH_SESSION_HASH, KC_RESTART,
};
use super::outcome::Outcome;
use super::pages::{action_url, login_page, msg};
use super::session::{root_id_of, store_in_root, AuthTab, LoginRequest, Stage};
use crate::model::{random_token, uuid, AuthCode, Client, Realm, User, UserSession};
use crate::token::issuer;

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
    let root_id = root_id_of(cookies)
        .filter(|id| realm.auth_sessions.contains_key(id))
        .unwrap_or_else(uuid);
    let tab = AuthTab::new(&req, now);

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

    store_in_root(realm, &root_id, tab.clone(), now);
    let mut cookies_out = vec![
        auth_session_cookie(&root_id, &realm.name),
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
pub(super) fn after_authentication(
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
        store_in_root(realm, root_id, tab, now);
        cookies.push(auth_session_cookie(root_id, &realm.name));
        return Outcome::Redirect { location, cookies };
    }
    complete(realm, root_id, &tab, user, sso, base, now, cookies)
}

/// The user is logged in: SSO session, code, and the redirect to the client.
#[allow(clippy::too_many_arguments)]
pub(super) fn complete(
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
        None => UserSession::new(&user.id, client.client_id(), now),
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
pub(super) fn find_tab(
    realm: &mut Realm,
    cookies: &HashMap<String, String>,
    q: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<(String, AuthTab), Outcome> {
    let root_id = root_id_of(cookies);
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
                    store_in_root(realm, &root_id, tab.clone(), now);
                    Err(Outcome::Page {
                        status: StatusCode::OK,
                        html: login_page(
                            realm,
                            base,
                            &tab,
                            None,
                            Some(("warning", msg::LOGIN_TIMEOUT)),
                        ),
                        cookies: vec![auth_session_cookie(&root_id, &realm.name)],
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

pub(super) fn store_tab(realm: &mut Realm, root_id: &str, tab: AuthTab) {
    if let Some(root) = realm.auth_sessions.get_mut(root_id) {
        root.tabs.insert(tab.tab_id.clone(), tab);
    }
}
