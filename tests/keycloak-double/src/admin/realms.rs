//! Realms (keycloak-behaviour §3): list, import with embedded clients, roles, groups and users, read, update
//! (rename included), delete; the server info; and the realm's public information.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::clients::create_client_in;
use super::request::{
    created, no_content, parse_realm_import, parse_rep, realm_not_found, str_of, Admin,
};
use super::users::create_user_in;
use crate::http::{json_response, ApiError};
use crate::model::{Realm, State, KEYCLOAK_VERSION, MASTER};
use crate::schema;
use crate::server::{base_of, AppState, RealmConflict};

pub(super) async fn server_info(_admin: Admin, AxumState(app): AxumState<AppState>) -> Response {
    let now = app.clock.now_ms();
    let uptime = now.saturating_sub(app.started_ms);
    json_response(
        StatusCode::OK,
        &json!({
            "systemInfo": {
                "version": KEYCLOAK_VERSION,
                "serverTime": now.to_string(),
                "uptime": format!("{} seconds", uptime / 1000),
                "uptimeMillis": uptime,
                "javaVersion": "21",
                "javaVendor": "keycloak-double (not a JVM)",
                "osName": "Linux",
                "fileEncoding": "UTF-8"
            },
            "profileInfo": {"name": "community", "disabledFeatures": [], "previewFeatures": [],
                            "experimentalFeatures": []},
            "features": [],
            "themes": {},
            "providers": {},
            "protocolMapperTypes": {},
            "builtinProtocolMappers": {},
            "clientInstallations": {},
            "componentTypes": {},
            "passwordPolicies": [],
            "enums": {}
        }),
    )
}

pub(super) async fn list_realms(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let brief = q.get("briefRepresentation").map(String::as_str) == Some("true");
    let list: Vec<Value> = app
        .read(|s| {
            s.realms
                .iter()
                .map(|r| {
                    if brief {
                        json!({"id": r.id, "realm": r.name, "enabled": r.enabled()})
                    } else {
                        r.to_representation()
                    }
                })
                .collect()
        })
        .await;
    json_response(StatusCode::OK, &Value::Array(list))
}

/// ReservedCharValidator: `Character '<c>' not allowed.`
fn check_reserved_chars(name: &str) -> Result<(), ApiError> {
    const RESERVED: &[char] = &[
        ':', '/', '?', '#', '@', '!', '$', '&', '(', ')', '*', '+', ',', ';', '=', '[', ']', '\\',
    ];
    match name.chars().find(|c| RESERVED.contains(c)) {
        Some(c) => Err(ApiError::c(
            StatusCode::BAD_REQUEST,
            format!("Character '{c}' not allowed."),
        )),
        None => Ok(()),
    }
}

pub(super) async fn create_realm(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rep = parse_realm_import(&headers, &body)?;
    // The import hashes every embedded user's password in its one transaction.
    let hashes = rep
        .get("users")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(super::users::password_hashes)
        .sum();
    app.hash(hashes).await;
    let conflict = app.config.realm_conflict;
    let now = app.clock.now_ms();
    let name = app
        .mutate(|state| import_realm(state, &rep, conflict, now))
        .await?;
    Ok(created(format!(
        "{}/admin/realms/{name}",
        base_of(&app, &headers)
    )))
}

/// `POST /admin/realms`: creates the realm with everything embedded in it, or nothing.
pub fn import_realm(
    state: &mut State,
    rep: &Map<String, Value>,
    conflict: RealmConflict,
    now_ms: u64,
) -> Result<String, ApiError> {
    let name = str_of(rep, "realm").unwrap_or("").to_owned();
    if name.trim().is_empty() {
        return Err(ApiError::a(
            StatusCode::BAD_REQUEST,
            "Realm name cannot be empty",
        ));
    }
    check_reserved_chars(&name)?;
    if state.realm(&name).is_some() {
        let status = match conflict {
            RealmConflict::Status409 => StatusCode::CONFLICT,
            RealmConflict::Status400 => StatusCode::BAD_REQUEST,
        };
        return Err(ApiError::a(status, format!("Realm {name} already exists")));
    }
    let mut realm = Realm::new(&name, str_of(rep, "id").map(str::to_owned), now_ms);
    apply_realm_settings(&mut realm, rep);
    realm.user_profile = crate::model::user_profile::from_realm_import(rep);
    if let Some(Value::Array(clients)) = rep.get("clients") {
        for client in clients {
            if let Value::Object(client) = client {
                create_client_in(&mut realm, client, now_ms)?;
            }
        }
    }
    // DefaultExportImportManager#importRealm: clients, roles, groups, then users.
    super::import_access::import_roles(&mut realm, rep.get("roles"))?;
    super::import_access::import_groups(&mut realm, rep.get("groups"))?;
    if let Some(Value::Array(users)) = rep.get("users") {
        for user in users {
            if let Value::Object(user) = user {
                create_user_in(&mut realm, user, now_ms, true)?;
            }
        }
    }
    state.realms.push(realm);
    state.add_realm_admin_client(&name);
    Ok(name)
}

fn apply_realm_settings(realm: &mut Realm, rep: &Map<String, Value>) {
    for (k, v) in rep {
        if v.is_null()
            || k == "id"
            || k == "realm"
            || schema::REALM_COLLECTIONS.contains(&k.as_str())
        {
            continue;
        }
        if k == "attributes" {
            if let (Some(Value::Object(current)), Value::Object(new)) =
                (realm.settings.get_mut("attributes"), v)
            {
                for (ak, av) in new {
                    current.insert(ak.clone(), av.clone());
                }
                continue;
            }
        }
        realm.settings.insert(k.clone(), v.clone());
    }
}

pub(super) async fn get_realm(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
) -> Result<Response, ApiError> {
    let rep = app
        .read_realm(&realm, realm_not_found, |r| Ok(r.to_representation()))
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

pub(super) async fn update_realm(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.read_realm(&realm_name, realm_not_found, |_| Ok(()))
        .await?;
    let rep = parse_rep(&headers, &body, &schema::REALM)?;
    app.mutate(|state| {
        if let Some(new_name) = str_of(&rep, "realm").filter(|n| *n != realm_name) {
            check_reserved_chars(new_name)?;
            if state.realm(new_name).is_some() {
                return Err(ApiError::a(
                    StatusCode::CONFLICT,
                    "Realm with same name exists",
                ));
            }
            let new_name = new_name.to_owned();
            if let Some(master) = state.realm_mut(MASTER) {
                let old_client = format!("{realm_name}-realm");
                let new_client = format!("{new_name}-realm");
                for c in master
                    .clients
                    .iter_mut()
                    .filter(|c| c.client_id() == old_client)
                {
                    c.fields.insert("clientId".into(), json!(new_client));
                    c.fields
                        .insert("name".into(), json!(format!("{new_name} Realm")));
                }
            }
            let realm = state.realm_mut(&realm_name).ok_or_else(realm_not_found)?;
            realm.name = new_name;
            apply_realm_settings(realm, &rep);
            return Ok(());
        }
        let realm = state.realm_mut(&realm_name).ok_or_else(realm_not_found)?;
        apply_realm_settings(realm, &rep);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

pub(super) async fn delete_realm(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm_name): Path<String>,
) -> Result<Response, ApiError> {
    app.mutate(|state| {
        if state.realm(&realm_name).is_none() {
            return Err(realm_not_found());
        }
        if realm_name == MASTER {
            return Err(ApiError::forbidden());
        }
        state.realms.retain(|r| r.name != realm_name);
        if let Some(master) = state.realm_mut(MASTER) {
            let admin_client = format!("{realm_name}-realm");
            master.clients.retain(|c| c.client_id() != admin_client);
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /realms/{realm}`: the realm's public information (no authentication).
pub async fn realm_public_info(
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app.ensure_keys(&realm).await?;
    let base = base_of(&app, &headers);
    let public_key = app
        .read_realm(&realm, ApiError::realm_does_not_exist, |r| {
            r.keys
                .as_ref()
                .map(|k| k.public_key_spki_b64())
                .ok_or_else(ApiError::realm_does_not_exist)
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "realm": realm,
            "public_key": public_key,
            "token-service": format!("{base}/realms/{realm}/protocol/openid-connect"),
            "account-service": format!("{base}/realms/{realm}/account"),
            "tokens-not-before": 0
        }),
    ))
}
