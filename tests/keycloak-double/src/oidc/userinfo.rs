//! The userinfo endpoint: errors in `WWW-Authenticate` with an empty body; 403 without the
//! `openid` scope.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::bearer::{verify_bearer, TokenProblem};
use crate::http::{bearer_token, json_response, no_store, ApiError};
use crate::model::{Realm, User};
use crate::server::{base_of, AppState};
use crate::token::parse_form;

/// The user's claims for the token's scopes (userinfo).
fn user_claims(realm: &Realm, user: &User, scope: &str, azp: &str) -> Value {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id));
    if scopes.contains(&"email") {
        c.insert("email_verified".into(), json!(user.email_verified));
        if let Some(e) = &user.email {
            c.insert("email".into(), json!(e));
        }
    }
    if scopes.contains(&"profile") {
        let name: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !name.is_empty() {
            c.insert("name".into(), json!(name.join(" ")));
        }
        c.insert("preferred_username".into(), json!(user.username));
        if let Some(v) = &user.first_name {
            c.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &user.last_name {
            c.insert("family_name".into(), json!(v));
        }
    }
    if user.service_account_client.is_some() {
        // The service-account session-note mappers.
        c.insert("client_id".into(), json!(azp));
        c.insert("clientHost".into(), json!("127.0.0.1"));
        c.insert("clientAddress".into(), json!("127.0.0.1"));
    }
    let _ = realm;
    Value::Object(c)
}

/// OAuth2Error with `json(false)`: the error in `WWW-Authenticate`, an empty body.
fn bearer_error(status: StatusCode, realm: &str, error: &str, description: &str) -> Response {
    let mut r = status.into_response();
    let value =
        format!("Bearer realm=\"{realm}\", error=\"{error}\", error_description=\"{description}\"");
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// `GET|POST .../userinfo`.
pub(super) async fn userinfo(
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = if method == Method::POST {
        parse_form(&body)
    } else {
        HashMap::new()
    };
    let token = bearer_token(&headers).or_else(|| form.get("access_token").cloned());
    let base = base_of(&app, &headers);
    let now = app.clock.now_secs();
    let answer = app
        .read(|s| {
            let realm = s.realm(&realm_name)?;
            let Some(token) = token else {
                return Some(Err(bearer_error(
                    StatusCode::BAD_REQUEST,
                    &realm.name,
                    "invalid_request",
                    "Token not provided",
                )));
            };
            Some(match verify_bearer(realm, &token, base.as_str(), now) {
                Err(TokenProblem::Invalid) => Err(bearer_error(
                    StatusCode::UNAUTHORIZED,
                    &realm.name,
                    "invalid_token",
                    "Token verification failed",
                )),
                Err(TokenProblem::NoSession) => Err(bearer_error(
                    StatusCode::UNAUTHORIZED,
                    &realm.name,
                    "invalid_token",
                    "User session not found or doesn't have client attached on it",
                )),
                Err(TokenProblem::UserDisabled) => Err(bearer_error(
                    StatusCode::BAD_REQUEST,
                    &realm.name,
                    "invalid_request",
                    "User disabled",
                )),
                Ok(b) => {
                    let scope = b
                        .claims
                        .get("scope")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !scope.split_whitespace().any(|x| x == "openid") {
                        Err(bearer_error(
                            StatusCode::FORBIDDEN,
                            &realm.name,
                            "insufficient_scope",
                            "Missing openid scope",
                        ))
                    } else {
                        let azp = b
                            .claims
                            .get("azp")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        Ok(user_claims(realm, &b.user, scope, azp))
                    }
                }
            })
        })
        .await;
    match answer {
        None => ApiError::not_found("Realm does not exist").into_response(),
        Some(Err(r)) => r,
        Some(Ok(claims)) => no_store(json_response(StatusCode::OK, &claims)),
    }
}
