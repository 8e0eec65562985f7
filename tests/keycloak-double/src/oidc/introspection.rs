//! Token introspection (RFC 7662) and revocation (RFC 7009).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::bearer::{verify_bearer, verify_refresh};
use super::logout::detach_client;
use crate::http::{json_response, no_store, ApiError};
use crate::model::{Client, Realm};
use crate::server::{base_of, AppState};
use crate::token::{authenticate_client, parse_form};

/// Introspection's client check: any failure is 401 "Authentication failed.", a public client 403.
fn introspection_client(
    realm: &Realm,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, ApiError> {
    let client = authenticate_client(realm, headers, form).map_err(|_| {
        ApiError::b(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Authentication failed.",
        )
    })?;
    if client.is_public() {
        return Err(ApiError::b(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "Client not allowed.",
        ));
    }
    Ok(client)
}

/// `POST .../token/introspect`.
pub(super) async fn introspect(
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let base = base_of(&app, &headers);
    let now = app.clock.now_secs();
    let answer = app
        .read_realm(&realm_name, ApiError::realm_does_not_exist, |realm| {
            introspection_client(realm, &headers, &form)?;
            let token = form.get("token").ok_or_else(|| {
                ApiError::b(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Token not provided.",
                )
            })?;
            let hint = form.get("token_type_hint").map(String::as_str);
            let as_access = || {
                verify_bearer(realm, token, &base, now).ok().map(|b| {
                    let mut c = b.claims.clone();
                    if let Some(azp) = c.get("azp").cloned() {
                        c.insert("client_id".into(), azp);
                    }
                    c.insert("username".into(), json!(b.user.username));
                    c.insert("token_type".into(), json!("Bearer"));
                    c.insert("active".into(), json!(true));
                    Value::Object(c)
                })
            };
            let as_refresh = || {
                verify_refresh(realm, token, &base, now).map(|mut c| {
                    if let Some(azp) = c.get("azp").cloned() {
                        c.insert("client_id".into(), azp);
                    }
                    c.insert("token_type".into(), json!("Refresh"));
                    c.insert("active".into(), json!(true));
                    Value::Object(c)
                })
            };
            let found = if hint == Some("refresh_token") {
                as_refresh().or_else(as_access)
            } else {
                as_access().or_else(as_refresh)
            };
            Ok::<Value, ApiError>(found.unwrap_or_else(|| json!({"active": false})))
        })
        .await;
    match answer {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

/// `POST .../revoke` (RFC 7009).
pub(super) async fn revoke(
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let base = base_of(&app, &headers);
    let now = app.clock.now_secs();
    let answer = app
        .mutate_realm(&realm_name, ApiError::realm_does_not_exist, |realm| {
            let client = authenticate_client(realm, &headers, &form)?;
            let token = form.get("token").ok_or_else(|| {
                ApiError::b(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Token not provided",
                )
            })?;
            let invalid = json!({"error": "invalid_token", "error_description": "Invalid token"});
            let claims = if let Some(c) = verify_refresh(realm, token, &base, now) {
                Some(c)
            } else {
                verify_bearer(realm, token, &base, now)
                    .ok()
                    .map(|b| b.claims)
            };
            let Some(claims) = claims else {
                return Ok(Some(invalid));
            };
            if claims.get("azp").and_then(Value::as_str) != Some(client.client_id()) {
                return Err(ApiError::b(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Unmatching clients",
                ));
            }
            if claims.get("typ").and_then(Value::as_str) == Some("Refresh") {
                // Revoking a refresh token ends the client's part of the session.
                if let Some(sid) = claims.get("sid").and_then(Value::as_str) {
                    detach_client(realm, sid, client.client_id());
                }
            } else {
                let jti = claims
                    .get("jti")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(now);
                realm.revoked_tokens.retain(|_, e| *e > now);
                realm.revoked_tokens.insert(jti, exp);
            }
            Ok(None)
        })
        .await;
    match answer {
        Ok(None) => no_store(StatusCode::OK.into_response()),
        Ok(Some(body)) => json_response(StatusCode::OK, &body),
        Err(e) => no_store(e.into_response()),
    }
}
