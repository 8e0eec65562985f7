//! Realm roles (`/roles`) and client roles (`/clients/{id}/roles`): list, create, read, update,
//! delete (`RoleContainerResource`, `RoleResource`). A role container is the realm (`None`) or a
//! client (its internal id).

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value};

use super::request::{
    client_not_found, created, no_content, parse_rep, realm_not_found, role_not_found, str_of,
    Admin,
};
use crate::http::{json_response, ApiError};
use crate::model::{string_list, Realm, Role};
use crate::schema;
use crate::server::{base_of, AppState};

/// The container exists: the realm always does here; a client is looked up (404 `Could not find
/// client`, `ClientsResource#getClient`).
fn check_container(realm: &Realm, client: Option<&str>) -> Result<(), ApiError> {
    match client {
        Some(id) => realm
            .client_by_id(id)
            .map(|_| ())
            .ok_or_else(client_not_found),
        None => Ok(()),
    }
}

fn find_role<'a>(realm: &'a Realm, client: Option<&str>, name: &str) -> Option<&'a Role> {
    match client {
        Some(c) => realm.client_role(c, name),
        None => realm.realm_role(name),
    }
}

/// `attributes` of a representation: a map of string lists (`Map<String, List<String>>`).
pub fn attributes_of(rep: &Map<String, Value>) -> Option<BTreeMap<String, Vec<String>>> {
    let attrs = rep.get("attributes")?.as_object()?;
    Some(
        attrs
            .iter()
            .map(|(k, v)| (k.clone(), string_list(Some(v))))
            .collect(),
    )
}

fn int_param(q: &HashMap<String, String>, key: &str) -> Option<usize> {
    q.get(key)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|v| usize::try_from(v).ok())
}

/// `GET`: `search` matches name or description (case-insensitive, `searchForRolesStream`) and
/// is paged by whichever of `first`/`max` is given; without it, paging applies only when both are
/// given (`getRolesStream(first, max)`). `briefRepresentation` (default true) leaves out
/// `attributes`.
fn list(realm: &Realm, client: Option<&str>, q: &HashMap<String, String>) -> Vec<Value> {
    let brief = q.get("briefRepresentation").map(String::as_str) != Some("false");
    let search = q
        .get("search")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    let roles = realm.roles_of(client);
    let (first, max) = (int_param(q, "first"), int_param(q, "max"));
    let selected: Vec<&Role> = if !search.is_empty() {
        roles
            .into_iter()
            .filter(|r| {
                r.name.to_lowercase().contains(&search)
                    || r.description
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(&search))
            })
            .skip(first.unwrap_or(0))
            .take(max.unwrap_or(usize::MAX))
            .collect()
    } else if let (Some(first), Some(max)) = (first, max) {
        roles.into_iter().skip(first).take(max).collect()
    } else {
        roles
    };
    selected
        .into_iter()
        .map(|r| realm.role_representation(r, !brief))
        .collect()
}

/// The ids of the roles a new composite role is made of (`RoleContainerResource#createRole`
/// with `composite: true`): realm roles by name, client roles by `clientId` then name; a
/// missing role is a 404, a missing client is skipped.
fn composites_of(realm: &Realm, rep: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    if rep.get("composite").and_then(Value::as_bool) != Some(true) {
        return Ok(ids);
    }
    let Some(composites) = rep.get("composites") else {
        return Ok(ids);
    };
    for name in string_list(composites.get("realm")) {
        let role = realm.realm_role(&name).ok_or_else(|| {
            ApiError::not_found(&format!("Realm Role with name {name} does not exist"))
        })?;
        ids.push(role.id.clone());
    }
    if let Some(Value::Object(clients)) = composites.get("client") {
        for (client_id, names) in clients {
            let Some(client) = realm.client_by_client_id(client_id) else {
                continue;
            };
            for name in string_list(Some(names)) {
                let role = realm.client_role(&client.id, &name).ok_or_else(|| {
                    ApiError::not_found(&format!("Client Role with name {name} does not exist"))
                })?;
                ids.push(role.id.clone());
            }
        }
    }
    Ok(ids)
}

fn create(
    realm: &mut Realm,
    client: Option<&str>,
    rep: &Map<String, Value>,
) -> Result<String, ApiError> {
    let Some(name) = str_of(rep, "name") else {
        return Err(ApiError::c(StatusCode::BAD_REQUEST, "role has no name"));
    };
    if find_role(realm, client, name).is_some() {
        return Err(ApiError::a(
            StatusCode::CONFLICT,
            format!("Role with name {name} already exists"),
        ));
    }
    let mut role = Role::new(name, str_of(rep, "description"), client);
    role.attributes = attributes_of(rep).unwrap_or_default();
    role.composites = composites_of(realm, rep)?;
    let name = role.name.clone();
    realm.roles.push(role);
    Ok(name)
}

/// `RoleResource#updateRole`: the name (409 when another role of the container has it), the
/// description (absent clears it) and, when sent, the attributes (replaced). Composites are not
/// touched. A missing `name` keeps the current one (UNCONFIRMED: Keycloak may reject it).
fn update(
    realm: &mut Realm,
    client: Option<&str>,
    name: &str,
    rep: &Map<String, Value>,
) -> Result<(), ApiError> {
    let role = find_role(realm, client, name).ok_or_else(role_not_found)?;
    let id = role.id.clone();
    if let Some(new_name) = str_of(rep, "name").filter(|n| *n != name) {
        if find_role(realm, client, new_name).is_some() {
            return Err(ApiError::a(
                StatusCode::CONFLICT,
                format!("Role with name {new_name} already exists"),
            ));
        }
        realm.rename_role(&id, new_name);
    }
    let attributes = attributes_of(rep);
    if let Some(role) = realm.roles.iter_mut().find(|r| r.id == id) {
        role.description = str_of(rep, "description").map(str::to_owned);
        if let Some(attributes) = attributes {
            role.attributes = attributes;
        }
    }
    Ok(())
}

/// `RoleResource#deleteRole`: the realm's default role cannot go.
fn delete(realm: &mut Realm, client: Option<&str>, name: &str) -> Result<(), ApiError> {
    let role = find_role(realm, client, name).ok_or_else(role_not_found)?;
    if client.is_none() && role.name == realm.default_role_name() {
        return Err(ApiError::a(
            StatusCode::BAD_REQUEST,
            format!(
                "{} is default role of the realm and cannot be removed.",
                role.name
            ),
        ));
    }
    let id = role.id.clone();
    realm.remove_role(&id);
    Ok(())
}

/// `Location` of a new role: the request URL plus the (encoded) role name.
fn role_location(base: &str, uri: &Uri, name: &str) -> String {
    let raw = format!("{base}{}", uri.path());
    match url::Url::parse(&raw) {
        Ok(mut url) => {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().push(name);
            }
            url.to_string()
        }
        Err(_) => format!("{raw}/{name}"),
    }
}

async fn list_in(
    app: &AppState,
    realm: &str,
    client: Option<&str>,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let reps = app
        .read_realm(realm, realm_not_found, |r| {
            check_container(r, client)?;
            Ok(list(r, client, q))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &Value::Array(reps)))
}

async fn create_in(
    app: &AppState,
    realm: &str,
    client: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    app.read_realm(realm, realm_not_found, |r| check_container(r, client))
        .await?;
    let rep = parse_rep(headers, body, &schema::ROLE)?;
    let name = app
        .mutate_realm(realm, realm_not_found, |r| create(r, client, &rep))
        .await?;
    Ok(created(role_location(&base_of(app, headers), uri, &name)))
}

async fn get_in(
    app: &AppState,
    realm: &str,
    client: Option<&str>,
    name: &str,
) -> Result<Response, ApiError> {
    let rep = app
        .read_realm(realm, realm_not_found, |r| {
            check_container(r, client)?;
            let role = find_role(r, client, name).ok_or_else(role_not_found)?;
            Ok(r.role_representation(role, true))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

async fn update_in(
    app: &AppState,
    realm: &str,
    client: Option<&str>,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    app.read_realm(realm, realm_not_found, |r| {
        check_container(r, client)?;
        find_role(r, client, name)
            .map(|_| ())
            .ok_or_else(role_not_found)
    })
    .await?;
    let rep = parse_rep(headers, body, &schema::ROLE)?;
    app.mutate_realm(realm, realm_not_found, |r| update(r, client, name, &rep))
        .await?;
    Ok(no_content())
}

async fn delete_in(
    app: &AppState,
    realm: &str,
    client: Option<&str>,
    name: &str,
) -> Result<Response, ApiError> {
    app.mutate_realm(realm, realm_not_found, |r| {
        check_container(r, client)?;
        delete(r, client, name)
    })
    .await?;
    Ok(no_content())
}

pub(super) async fn list_realm_roles(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    list_in(&app, &realm, None, &q).await
}

pub(super) async fn create_realm_role(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    create_in(&app, &realm, None, &uri, &headers, &body).await
}

pub(super) async fn get_realm_role(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    get_in(&app, &realm, None, &name).await
}

pub(super) async fn update_realm_role(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    update_in(&app, &realm, None, &name, &headers, &body).await
}

pub(super) async fn delete_realm_role(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    delete_in(&app, &realm, None, &name).await
}

pub(super) async fn list_client_roles(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, client)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    list_in(&app, &realm, Some(&client), &q).await
}

pub(super) async fn create_client_role(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, client)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    create_in(&app, &realm, Some(&client), &uri, &headers, &body).await
}

pub(super) async fn get_client_role(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, client, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    get_in(&app, &realm, Some(&client), &name).await
}

pub(super) async fn update_client_role(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, client, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    update_in(&app, &realm, Some(&client), &name, &headers, &body).await
}

pub(super) async fn delete_client_role(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, client, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    delete_in(&app, &realm, Some(&client), &name).await
}
