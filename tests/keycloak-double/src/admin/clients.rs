//! Clients (keycloak-behaviour §4): the admin endpoints; what a representation does to a client
//! is in `client_rules`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

pub use super::client_rules::{create_client_in, update_client_in};
use super::request::{
    client_not_found, create_in_realm, no_content, realm_not_found, update_in_realm, Admin,
};
use crate::http::{json_response, ApiError};
use crate::model::{random_token, Client, Realm};
use crate::schema;
use crate::server::AppState;

pub(super) async fn list_clients(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let search = q.get("search").map(String::as_str) == Some("true");
    let first: usize = q.get("first").and_then(|v| v.parse().ok()).unwrap_or(0);
    let max: usize = q
        .get("max")
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let list = app
        .read_realm(&realm, realm_not_found, |realm| {
            let reps: Vec<Value> = realm
                .clients
                .iter()
                .filter(|c| match q.get("clientId") {
                    None => true,
                    Some(wanted) if search => c
                        .client_id()
                        .to_lowercase()
                        .contains(&wanted.to_lowercase()),
                    Some(wanted) => c.client_id() == wanted,
                })
                .skip(first)
                .take(max)
                .map(|c| realm.client_representation(c))
                .collect();
            Ok(reps)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

pub(super) async fn create_client(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    create_in_realm(
        &app,
        &realm,
        &uri,
        &headers,
        &body,
        &schema::CLIENT,
        create_client_in,
    )
    .await
}

pub(super) async fn get_client(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .read_realm(&realm, realm_not_found, |realm| {
            let client = realm.client_by_id(&id).ok_or_else(client_not_found)?;
            Ok::<_, ApiError>(realm.client_representation(client))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

pub(super) async fn update_client(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let exists = |r: &Realm| r.client_by_id(&id).map(|_| ()).ok_or_else(client_not_found);
    let update = |r: &mut Realm, rep: &Map<String, Value>, now| update_client_in(r, &id, rep, now);
    update_in_realm(
        &app,
        &realm,
        &headers,
        &body,
        &schema::CLIENT,
        exists,
        update,
    )
    .await
}

pub(super) async fn delete_client(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.mutate_realm(&realm, realm_not_found, |realm| {
        realm.client_by_id(&id).ok_or_else(client_not_found)?;
        realm.remove_service_account(&id);
        realm.remove_client_roles(&id);
        realm.clients.retain(|c| c.id != id);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

fn secret_rep(client: &Client) -> Value {
    match client.secret() {
        Some(secret) => json!({"type": "secret", "value": secret}),
        None => json!({"type": "secret"}),
    }
}

pub(super) async fn get_client_secret(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .read_realm(&realm, realm_not_found, |realm| {
            realm
                .client_by_id(&id)
                .map(secret_rep)
                .ok_or_else(client_not_found)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

pub(super) async fn regenerate_client_secret(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .mutate_realm(&realm, realm_not_found, |realm| {
            let client = realm.client_by_id_mut(&id).ok_or_else(client_not_found)?;
            if client.is_confidential() {
                client
                    .fields
                    .insert("secret".into(), json!(random_token(32)));
            }
            Ok(secret_rep(client))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

pub(super) async fn service_account_user(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let now = app.clock.now_ms();
    let rep = app
        .mutate_realm(&realm, realm_not_found, |realm| {
            let client = realm.client_by_id(&id).ok_or_else(client_not_found)?;
            if !client.service_accounts_enabled() {
                return Err(ApiError::c(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Service account not enabled for the client '{}'",
                        client.client_id()
                    ),
                ));
            }
            realm.ensure_service_account(&id, now);
            let user = realm
                .service_account_of(&id)
                .ok_or_else(ApiError::server_error)?;
            Ok(realm.user_representation(user))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}
