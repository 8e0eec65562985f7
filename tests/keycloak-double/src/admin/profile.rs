//! A realm's user profile, a user's sessions and credentials (keycloak-behaviour §5):
//! `GET`/`PUT /admin/realms/{realm}/users/profile` (`UserProfileResource`),
//! `GET /admin/realms/{realm}/users/{id}/sessions` (`UserResource#getSessions`) and
//! `GET /admin/realms/{realm}/users/{id}/credentials` (`UserResource#credentials`).

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::request::{parse_rep, realm_not_found, user_not_found, Admin};
use crate::http::{json_response, ApiError};
use crate::schema;
use crate::server::AppState;

/// The profile in force: the realm's own, else Keycloak's default.
pub(super) async fn get_profile(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
) -> Result<Response, ApiError> {
    let config = app
        .read_realm(&realm, realm_not_found, |r| Ok(r.user_profile()))
        .await?;
    Ok(json_response(StatusCode::OK, &config))
}

/// Replaces the profile (no merge) and answers it, 200. (Keycloak also validates the
/// configuration; the double stores it as given.)
pub(super) async fn put_profile(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let config = Value::Object(parse_rep(&headers, &body, &schema::UP_CONFIG)?);
    let stored = config.clone();
    app.mutate_realm(&realm, realm_not_found, move |r| {
        r.user_profile = Some(stored);
        Ok(())
    })
    .await?;
    Ok(json_response(StatusCode::OK, &config))
}

/// The user's active SSO sessions (`UserSessionRepresentation`), start and last access in
/// milliseconds.
pub(super) async fn user_sessions(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let now = app.clock.now_secs();
    let list = app
        .read_realm(&realm, realm_not_found, |r| {
            let user = r.user_by_id(&id).ok_or_else(user_not_found)?;
            Ok(r.sessions
                .values()
                .filter(|s| s.user_id == user.id)
                .filter(|s| crate::token::active_session(r, &s.id, now).is_some())
                .map(|s| {
                    let clients: serde_json::Map<String, Value> = s
                        .clients
                        .iter()
                        .filter_map(|cid| r.client_by_client_id(cid))
                        .map(|c| (c.id.clone(), json!(c.client_id())))
                        .collect();
                    json!({"id": s.id, "username": user.username, "userId": user.id,
                           "ipAddress": "127.0.0.1", "start": s.started * 1000,
                           "lastAccess": s.last_refresh * 1000, "rememberMe": false,
                           "clients": clients, "transientUser": false})
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

/// The user's credentials as metadata (`CredentialRepresentation` without secrets): the
/// password's id, type and `createdDate` (ms), which changes whenever a password is set.
pub(super) async fn user_credentials(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let list = app
        .read_realm(&realm, realm_not_found, |r| {
            let user = r.user_by_id(&id).ok_or_else(user_not_found)?;
            Ok(user
                .password
                .iter()
                .map(|p| {
                    json!({"id": p.id, "type": "password", "userLabel": "My password",
                           "createdDate": p.created_date,
                           "credentialData": "{\"hashIterations\":5,\"algorithm\":\"argon2\",\"additionalParameters\":{\"hashLength\":[\"32\"],\"memory\":[\"7168\"],\"type\":[\"id\"],\"version\":[\"1.3\"],\"parallelism\":[\"1\"]}}"})
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}
