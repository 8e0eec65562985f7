//! Tokens: the token endpoint's `password` and `refresh_token` grants (keycloak-behaviour §1), RS256 access and
//! ID tokens signed with the realm key, HS512 refresh tokens (as Keycloak issues them), and
//! bearer-token verification for the admin API.
//!
//! The OIDC module adds its grants in [`grant`]'s match and reuses [`issue_tokens`],
//! [`authenticate_client`] and [`verify_access_token`].

//!
//! [`issue`] makes the tokens, [`verify`] reads them; this module serves the endpoint.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::http::{no_store, ApiError};
use crate::model::{Client, Realm, UserSession};
use crate::server::{base_of, AppState};

mod issue;
mod verify;

pub use issue::{
    issue_tokens, issue_tokens_with, sign_rs256, token_hash, token_scope, TokenOptions,
};
pub use verify::{decode_claims, is_master_admin, peek_claims, verify_access_token, TokenSubject};

/// `http://<KC_HOSTNAME>[:<request port>]`: the request's base URL with the host forced to the
/// configured hostname (hostname v2; the port is kept, default ports dropped).
pub fn frontend_base(headers: &HeaderMap, hostname: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let port = if host.starts_with('[') {
        host.rsplit_once("]:").map(|(_, p)| p)
    } else {
        host.rsplit_once(':').map(|(_, p)| p)
    };
    match port.and_then(|p| p.parse::<u16>().ok()) {
        Some(p) if p != 80 => format!("http://{hostname}:{p}"),
        _ => format!("http://{hostname}"),
    }
}

pub fn issuer(base: &str, realm: &str) -> String {
    format!("{base}/realms/{realm}")
}

/// Form parameters (first value wins).
pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> ApiError {
    ApiError::b(status, error, description)
}

/// `POST /realms/{realm}/protocol/openid-connect/token`.
pub async fn token_endpoint(
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = app.ensure_keys(&realm_name).await {
        return e.into_response();
    }
    let form = parse_form(&body);
    if form.get("grant_type").map(String::as_str) == Some("password") {
        // Checking the password costs Keycloak one hash.
        app.hash(1).await;
    }
    let base = base_of(&app, &headers);
    let now = app.clock.now_secs();
    let result = if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
        // Keycloak consumes the code before checking the rest: see oidc::authorization_code_grant.
        crate::oidc::authorization_code_grant(&app, &realm_name, &headers, &form, &base, now).await
    } else {
        app.mutate_realm(&realm_name, ApiError::realm_does_not_exist, |realm| {
            grant(realm, &headers, &form, &base, now)
        })
        .await
    };
    no_store(match result {
        Ok(body) => crate::http::json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    })
}

/// Dispatches one token request against a realm (state already locked).
pub fn grant(
    realm: &mut Realm,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    if !realm.enabled() {
        return Err(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "Realm not enabled",
        ));
    }
    let Some(grant_type) = form.get("grant_type") else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing form parameter: grant_type",
        ));
    };
    let client = authenticate_client(realm, headers, form)?;
    match grant_type.as_str() {
        "password" => password_grant(realm, &client, form, base, now),
        "refresh_token" => refresh_grant(realm, &client, form, base, now),
        "client_credentials" => {
            crate::oidc::client_credentials_grant(realm, &client, form, base, now)
        }
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        )),
    }
}

/// Client authentication: HTTP Basic or form `client_id` (+ `client_secret` for confidential
/// clients). Returns a copy of the client.
pub fn authenticate_client(
    realm: &Realm,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, ApiError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            pair.split_once(':').map(|(id, secret)| {
                let decode = |s: &str| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                (decode(id), decode(secret))
            })
        });
    let (client_id, secret) = match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    };
    let Some(client_id) = client_id else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Missing client_id parameter",
        ));
    };
    let invalid = "Invalid client or Invalid client credentials";
    let client = realm
        .client_by_client_id(&client_id)
        .filter(|c| c.enabled())
        .ok_or_else(|| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", invalid))?;
    if client.is_bearer_only() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Bearer-only not allowed",
        ));
    }
    if client.is_confidential() {
        let ok = matches!((client.secret(), secret.as_deref()), (Some(a), Some(b)) if a == b);
        if !ok {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                invalid,
            ));
        }
    }
    Ok(client.clone())
}

fn password_grant(
    realm: &mut Realm,
    client: &Client,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    if client.consent_required() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Client requires user consent",
        ));
    }
    if !client.direct_access_grants_enabled() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "Client not allowed for direct access grants",
        ));
    }
    let Some(username) = form.get("username") else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Missing parameter: username",
        ));
    };
    let invalid = "Invalid user credentials";
    let user = realm
        .user_by_username(username)
        .or_else(|| {
            realm
                .bool_setting("loginWithEmailAllowed")
                .then(|| realm.user_by_email(username))
                .flatten()
        })
        .filter(|u| u.service_account_client.is_none())
        .ok_or_else(|| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", invalid))?
        .clone();
    if !user.enabled {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Account disabled",
        ));
    }
    let password_ok = match (&user.password, form.get("password")) {
        (Some(cred), Some(given)) => cred.verify(given),
        _ => false,
    };
    if !password_ok {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            invalid,
        ));
    }
    if !user.pending_actions(realm).is_empty() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Account is not fully set up",
        ));
    }
    let scope = token_scope(client, form.get("scope").map(String::as_str));
    let session = UserSession::new(&user.id, client.client_id(), now);
    realm.sessions.insert(session.id.clone(), session.clone());
    issue_tokens(realm, client, &user, &session, &scope, base, now)
}

fn refresh_grant(
    realm: &mut Realm,
    client: &Client,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    let Some(token) = form.get("refresh_token") else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing parameter: refresh_token",
        ));
    };
    let invalid = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid refresh token",
        )
    };
    let keys = realm.keys.clone().ok_or_else(invalid)?;
    let claims = decode_claims(
        token,
        &DecodingKey::from_secret(&keys.hmac_secret_bytes()),
        Algorithm::HS512,
    )
    .ok_or_else(invalid)?;
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if exp <= now
        || claims.get("typ").and_then(Value::as_str) != Some("Refresh")
        || claims.get("iss").and_then(Value::as_str) != Some(issuer(base, &realm.name).as_str())
    {
        return Err(invalid());
    }
    if claims.get("azp").and_then(Value::as_str) != Some(client.client_id()) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid refresh token. Token client and authorized client don't match",
        ));
    }
    let sid = claims.get("sid").and_then(Value::as_str).unwrap_or("");
    let session = active_session(realm, sid, now).ok_or_else(|| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Session not active",
        )
    })?;
    if !session.clients.iter().any(|c| c == client.client_id()) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Session doesn't have required client",
        ));
    }
    let user = realm
        .user_by_id(&session.user_id)
        .filter(|u| u.enabled)
        .cloned()
        .ok_or_else(invalid)?;
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let session = {
        let stored = realm.sessions.get_mut(&session.id).ok_or_else(invalid)?;
        stored.last_refresh = now;
        stored.clone()
    };
    issue_tokens(realm, client, &user, &session, &scope, base, now)
}

/// The session if it exists and has neither idled out nor exceeded its maximum lifespan.
pub fn active_session(realm: &Realm, sid: &str, now: u64) -> Option<UserSession> {
    let session = realm.sessions.get(sid)?;
    let idle_ok = now < session.last_refresh + realm.sso_idle_timeout();
    let max_ok = now < session.started + realm.sso_max_lifespan();
    (idle_ok && max_ok).then(|| session.clone())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn frontend_base_forces_the_hostname_and_keeps_the_port() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("keycloak:8080"));
        assert_eq!(frontend_base(&h, "localhost"), "http://localhost:8080");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:80"));
        assert_eq!(frontend_base(&h, "localhost"), "http://localhost");
        h.insert(header::HOST, HeaderValue::from_static("[::1]:41234"));
        assert_eq!(frontend_base(&h, "localhost"), "http://localhost:41234");
    }
}
