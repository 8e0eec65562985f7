//! The grants the token endpoint delegates here: `authorization_code` (with PKCE) and
//! `client_credentials`.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::authorize::valid_pkce_value;
use crate::http::ApiError;
use crate::model::{Client, Realm, UserSession};
use crate::server::AppState;
use crate::token::{
    active_session, authenticate_client, issue_tokens_with, token_scope, TokenOptions,
};

/// The `authorization_code` grant, in Keycloak's order: client authentication; the code parsed
/// and consumed (single use, even if the exchange then fails; a second use detaches the client
/// from the session); expiry; session and user; redirect URI; client; standard flow; PKCE.
pub async fn authorization_code_grant(
    app: &AppState,
    realm_name: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    let client = app
        .read_realm(realm_name, ApiError::realm_does_not_exist, |realm| {
            if !realm.enabled() {
                return Err(ApiError::b(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "Realm not enabled",
                ));
            }
            authenticate_client(realm, headers, form)
        })
        .await?;
    let Some(code) = form.get("code").cloned() else {
        return Err(ApiError::b(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing parameter: code",
        ));
    };
    // Consuming the code is committed before the exchange is checked further: `None` is an
    // unknown or already used code.
    let consumed = app
        .mutate_realm(realm_name, ApiError::realm_does_not_exist, |realm| {
            // Used codes are remembered for their lifespan (reuse detection), then dropped.
            realm.codes.retain(|_, c| c.expires_at + 60 > now);
            Ok(match realm.codes.get_mut(&code) {
                Some(c) if !c.used => {
                    c.used = true;
                    Some(c.clone())
                }
                Some(c) => {
                    // Attempt to use the same code twice invalidates the client session.
                    let (sid, cid) = (c.session_id.clone(), c.client_id.clone());
                    if let Some(session) = realm.sessions.get_mut(&sid) {
                        session.clients.retain(|x| x != &cid);
                    }
                    None
                }
                None => None,
            })
        })
        .await?;
    let Some(code) = consumed else {
        return Err(ApiError::b(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Code not valid",
        ));
    };
    app.mutate_realm(realm_name, ApiError::realm_does_not_exist, |realm| {
        exchange_code(realm, &client, &code, form, base, now)
    })
    .await
}

fn exchange_code(
    realm: &mut Realm,
    client: &Client,
    code: &crate::model::AuthCode,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    let grant_err = |d: &str| ApiError::b(StatusCode::BAD_REQUEST, "invalid_grant", d);
    if code.expires_at < now {
        return Err(grant_err("Code is expired"));
    }
    let session = realm
        .sessions
        .get(&code.session_id)
        .filter(|s| s.clients.iter().any(|c| c == &code.client_id))
        .cloned()
        .ok_or_else(|| grant_err("User session not found"))?;
    let user = realm
        .user_by_id(&session.user_id)
        .cloned()
        .ok_or_else(|| grant_err("User not found"))?;
    if !user.enabled {
        return Err(grant_err("User disabled"));
    }
    if !code.redirect_uri.is_empty() && form.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(grant_err("Incorrect redirect_uri"));
    }
    if client.client_id() != code.client_id {
        return Err(grant_err(
            "Auth error: Found different client_id in clientSession",
        ));
    }
    if !client.standard_flow_enabled() {
        return Err(grant_err("Client not allowed to exchange code"));
    }
    let session =
        active_session(realm, &session.id, now).ok_or_else(|| grant_err("Session not active"))?;
    check_code_verifier(client, code, form.get("code_verifier").map(String::as_str))?;
    if let Some(s) = realm.sessions.get_mut(&session.id) {
        s.last_refresh = now;
    }
    let scope = token_scope(client, Some(&code.scope));
    let opts = TokenOptions {
        nonce: code.nonce.clone(),
        auth_time: Some(session.started),
        transient: false,
    };
    issue_tokens_with(realm, client, &user, &session, &scope, base, now, &opts)
}

/// PkceUtils: enforced clients need a verifier; otherwise a verifier needs a challenge and vice
/// versa; the verifier's format, then its match.
fn check_code_verifier(
    client: &Client,
    code: &crate::model::AuthCode,
    verifier: Option<&str>,
) -> Result<(), ApiError> {
    let grant_err = |d: &str| ApiError::b(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let challenge = code.code_challenge.as_deref();
    let method = code
        .code_challenge_method
        .as_deref()
        .filter(|m| !m.is_empty());
    let enforced = client
        .attribute("pkce.code.challenge.method")
        .is_some_and(|m| !m.is_empty());
    match (verifier, challenge) {
        (None, _) if enforced || method.is_some() => {
            Err(grant_err("PKCE code verifier not specified"))
        }
        (None, Some(_)) => Err(grant_err("PKCE code verifier not specified")),
        (Some(_), None) if !enforced && method.is_none() => Err(grant_err(
            "PKCE code verifier specified but challenge not present in authorization",
        )),
        (None, None) => Ok(()),
        (Some(v), challenge) => {
            if !valid_pkce_value(v) {
                return Err(grant_err("PKCE verification failed: Invalid code verifier"));
            }
            let encoded = if method == Some("S256") {
                use base64::Engine;
                use sha2::{Digest, Sha256};
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(v.as_bytes()))
            } else {
                v.to_owned()
            };
            if challenge != Some(encoded.as_str()) {
                return Err(grant_err("PKCE verification failed: Code mismatch"));
            }
            Ok(())
        }
    }
}

/// ClientCredentialsGrantType#process.
pub fn client_credentials_grant(
    realm: &mut Realm,
    client: &Client,
    form: &HashMap<String, String>,
    base: &str,
    now: u64,
) -> Result<Value, ApiError> {
    let unauthorized = |d: &str| ApiError::b(StatusCode::UNAUTHORIZED, "unauthorized_client", d);
    if client.is_bearer_only() {
        return Err(unauthorized(
            "Bearer-only client not allowed to retrieve service account",
        ));
    }
    if client.is_public() {
        return Err(unauthorized(
            "Public client not allowed to retrieve service account",
        ));
    }
    if !client.service_accounts_enabled() {
        return Err(unauthorized(
            "Client not enabled to retrieve service account",
        ));
    }
    let user = realm
        .service_account_of(&client.id)
        .cloned()
        .ok_or_else(|| {
            ApiError::b(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "The associated service account for the client does not exist",
            )
        })?;
    if !user.enabled {
        return Err(ApiError::b(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("User '{}' disabled", user.username),
        ));
    }
    let scope = token_scope(client, form.get("scope").map(String::as_str));
    // A transient session: nothing is stored, no refresh token.
    let session = UserSession::new(&user.id, client.client_id(), now);
    let opts = TokenOptions {
        transient: true,
        ..TokenOptions::default()
    };
    issue_tokens_with(realm, client, &user, &session, &scope, base, now, &opts)
}
