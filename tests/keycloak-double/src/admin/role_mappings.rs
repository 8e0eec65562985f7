//! Role mappings of users and groups (`RoleMapperResource`, `ClientRoleMappingsResource`):
//! `/users/{id}/role-mappings...` and `/groups/{id}/role-mappings...`.
//!
//! Adding or removing a mapping names the role by `name` *and* `id`: the role is looked up by
//! name in the container and must have that id, else the whole request fails with
//! `404 {"error":"Role not found"}` and nothing is changed.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::request::{
    group_not_found, no_content, parse_rep_list, realm_not_found, str_of, user_not_found, Admin,
};
use crate::http::{json_response, ApiError};
use crate::model::{Mapper, Realm, Role};
use crate::schema;
use crate::server::AppState;

/// The path's parameters and whose mappings it names: `/admin/realms/{realm}/users/{id}/...`
/// or `/admin/realms/{realm}/groups/{id}/...`.
struct Target {
    realm: String,
    groups: bool,
    id: String,
    client: Option<String>,
    view: Option<String>,
}

impl Target {
    fn new(uri: &Uri, mut p: HashMap<String, String>) -> Self {
        Target {
            realm: p.remove("realm").unwrap_or_default(),
            groups: uri.path().split('/').nth(4) == Some("groups"),
            id: p.remove("id").unwrap_or_default(),
            client: p.remove("client"),
            view: p.remove("view"),
        }
    }

    fn mapper(&self) -> Mapper<'_> {
        if self.groups {
            Mapper::Group(&self.id)
        } else {
            Mapper::User(&self.id)
        }
    }
}

fn check_mapper(realm: &Realm, m: Mapper) -> Result<(), ApiError> {
    match m {
        Mapper::User(id) => realm.user_by_id(id).map(|_| ()).ok_or_else(user_not_found),
        Mapper::Group(id) => realm
            .group_by_id(id)
            .map(|_| ())
            .ok_or_else(group_not_found),
    }
}

/// `RoleMapperResource#getUserClientRoleMappingsResource`: 404 `Client not found`.
fn check_client(realm: &Realm, client: Option<&str>) -> Result<(), ApiError> {
    match client {
        Some(id) => realm
            .client_by_id(id)
            .map(|_| ())
            .ok_or_else(|| ApiError::not_found("Client not found")),
        None => Ok(()),
    }
}

fn brief_list<'a>(realm: &Realm, roles: impl Iterator<Item = &'a Role>, full: bool) -> Value {
    let mut roles: Vec<&Role> = roles.collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    Value::Array(
        roles
            .into_iter()
            .map(|r| realm.role_representation(r, full))
            .collect(),
    )
}

/// `GET .../role-mappings`: the direct mappings as a `MappingsRepresentation`; `realmMappings`
/// and `clientMappings` (by `clientId`: `{id, client, mappings}`) only when not empty.
fn all_mappings(realm: &Realm, m: Mapper) -> Value {
    let direct: Vec<&Role> = realm
        .direct_role_ids(m)
        .iter()
        .filter_map(|id| realm.role_by_id(id))
        .collect();
    let mut rep = Map::new();
    let realm_roles: Vec<&Role> = direct
        .iter()
        .copied()
        .filter(|r| r.client.is_none())
        .collect();
    if !realm_roles.is_empty() {
        rep.insert(
            "realmMappings".into(),
            brief_list(realm, realm_roles.into_iter(), false),
        );
    }
    let mut clients = Map::new();
    for client in &realm.clients {
        let roles: Vec<&Role> = direct
            .iter()
            .copied()
            .filter(|r| r.client.as_deref() == Some(client.id.as_str()))
            .collect();
        if !roles.is_empty() {
            clients.insert(
                client.client_id().to_owned(),
                json!({"id": client.id, "client": client.client_id(),
                       "mappings": brief_list(realm, roles.into_iter(), false)}),
            );
        }
    }
    if !clients.is_empty() {
        rep.insert("clientMappings".into(), Value::Object(clients));
    }
    Value::Object(rep)
}

/// The roles of a container (`None`: the realm) held directly (`direct`), effectively
/// (`composite`, through composites and groups) or not at all (`available`).
fn container_roles(
    realm: &Realm,
    m: Mapper,
    client: Option<&str>,
    view: &str,
    full: bool,
) -> Value {
    let effective = realm.effective_role_ids(m);
    let direct = realm.direct_role_ids(m);
    let roles = realm
        .roles
        .iter()
        .filter(|r| r.client.as_deref() == client)
        .filter(|r| match view {
            "composite" => effective.contains(&r.id),
            "available" => !effective.contains(&r.id),
            _ => direct.contains(&r.id),
        });
    brief_list(realm, roles, full)
}

/// Resolves each representation to a role of the container by name and checks its id.
fn resolve(
    realm: &Realm,
    client: Option<&str>,
    reps: &[Map<String, Value>],
) -> Result<Vec<String>, ApiError> {
    reps.iter()
        .map(|rep| {
            let role = str_of(rep, "name").and_then(|name| match client {
                Some(c) => realm.client_role(c, name),
                None => realm.realm_role(name),
            });
            match role {
                Some(role) if str_of(rep, "id") == Some(role.id.as_str()) => Ok(role.id.clone()),
                _ => Err(ApiError::not_found("Role not found")),
            }
        })
        .collect()
}

async fn read(
    app: &AppState,
    realm: &str,
    m: Mapper<'_>,
    client: Option<&str>,
    view: &str,
    full: bool,
) -> Result<Response, ApiError> {
    let rep = app
        .read_realm(realm, realm_not_found, |r| {
            check_mapper(r, m)?;
            check_client(r, client)?;
            Ok(container_roles(r, m, client, view, full))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

/// `POST` (grant) or `DELETE` (revoke) of a list of roles; a `DELETE` without a body revokes
/// every direct mapping of the container.
async fn change(
    app: &AppState,
    realm: &str,
    m: Mapper<'_>,
    client: Option<&str>,
    grant: bool,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    app.read_realm(realm, realm_not_found, |r| {
        check_mapper(r, m)?;
        check_client(r, client)
    })
    .await?;
    let reps = parse_rep_list(headers, body, &schema::ROLE_SHAPE)?;
    app.mutate_realm(realm, realm_not_found, |r| {
        let ids = match &reps {
            Some(reps) => resolve(r, client, reps)?,
            // A null list: the POST fails on it (NullPointerException, a 500).
            None if grant => return Err(ApiError::server_error()),
            None => r
                .direct_role_ids(m)
                .into_iter()
                .filter(|id| {
                    r.role_by_id(id)
                        .is_some_and(|role| role.client.as_deref() == client)
                })
                .collect(),
        };
        for id in ids {
            if grant {
                r.grant_role(m, &id);
            } else {
                r.revoke_role(m, &id);
            }
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

fn full_of(q: &HashMap<String, String>) -> bool {
    q.get("briefRepresentation").map(String::as_str) == Some("false")
}

type Params = Path<HashMap<String, String>>;

/// `GET .../role-mappings`.
pub(super) async fn get_all(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let t = Target::new(&uri, p);
    let m = t.mapper();
    let rep = app
        .read_realm(&t.realm, realm_not_found, |r| {
            check_mapper(r, m)?;
            Ok(all_mappings(r, m))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

/// `GET .../role-mappings/realm[/composite|/available]` and
/// `GET .../role-mappings/clients/{client}[/composite|/available]`.
pub(super) async fn get_roles(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(p): Params,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let t = Target::new(&uri, p);
    let view = t.view.as_deref().unwrap_or("direct");
    if !matches!(view, "direct" | "composite" | "available") {
        return Err(ApiError::not_found("HTTP 404 Not Found"));
    }
    let full = view != "direct" && full_of(&q);
    read(&app, &t.realm, t.mapper(), t.client.as_deref(), view, full).await
}

/// `POST .../role-mappings/realm` and `.../role-mappings/clients/{client}`.
pub(super) async fn add_roles(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(p): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = Target::new(&uri, p);
    let (m, client) = (t.mapper(), t.client.as_deref());
    change(&app, &t.realm, m, client, true, &headers, &body).await
}

/// `DELETE .../role-mappings/realm` and `.../role-mappings/clients/{client}`.
pub(super) async fn remove_roles(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(p): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = Target::new(&uri, p);
    let (m, client) = (t.mapper(), t.client.as_deref());
    change(&app, &t.realm, m, client, false, &headers, &body).await
}
