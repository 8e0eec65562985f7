//! A user's groups (`UserResource#groupMembership`, `#getGroupMembershipCount`, `#joinGroup`,
//! `#removeMembership`), and the groups and roles a user representation brings when a user is
//! created (`RepresentationToModel#createGroups`, `#createRoleMappings`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::request::{no_content, realm_not_found, user_not_found, Admin};
use crate::http::{json_response, ApiError};
use crate::model::{string_list, Group, Mapper, Realm};
use crate::server::AppState;

/// Joins the groups named by path in `groups` (`RepresentationToModel#createGroups`, used by
/// `POST /users` and the realm import). An unknown path is a `RuntimeException("Unable to find
/// group specified by path: …")` that nothing catches: 500 `unknown_error`, and the
/// transaction (the user, or the whole realm) is rolled back.
pub fn join_groups_of(
    realm: &mut Realm,
    user_id: &str,
    rep: &Map<String, Value>,
) -> Result<(), ApiError> {
    for path in string_list(rep.get("groups")) {
        let group = realm
            .group_by_path(&path)
            .map(|g| g.id.clone())
            .ok_or_else(ApiError::server_error)?;
        if let Some(user) = realm.user_by_id_mut(user_id) {
            if !user.member_of(&group) {
                user.groups.push(group);
            }
        }
    }
    Ok(())
}

/// The role mappings of an imported user or group (`RepresentationToModel#createRoleMappings`,
/// `#importGroup`): `realmRoles` by name and `clientRoles` by `clientId`; a role name the realm
/// does not know is created on the spot, an unknown client is a `RuntimeException` (500).
pub fn import_role_mappings(
    realm: &mut Realm,
    mapper: Mapper,
    rep: &Map<String, Value>,
) -> Result<(), ApiError> {
    for name in string_list(rep.get("realmRoles")) {
        let id = realm.realm_role_or_create(name.trim());
        realm.grant_role(mapper, &id);
    }
    if let Some(Value::Object(clients)) = rep.get("clientRoles") {
        for (client_id, names) in clients {
            let client = realm
                .client_by_client_id(client_id)
                .map(|c| c.id.clone())
                .ok_or_else(ApiError::server_error)?;
            for name in string_list(Some(names)) {
                let id = realm.client_role_or_create(&client, name.trim());
                realm.grant_role(mapper, &id);
            }
        }
    }
    Ok(())
}

/// The user's direct groups matching `search` (case-insensitive), sorted by name.
fn groups_of<'a>(realm: &'a Realm, user_id: &str, search: Option<&str>) -> Vec<&'a Group> {
    let Some(user) = realm.user_by_id(user_id) else {
        return Vec::new();
    };
    let search = search.map(str::to_lowercase);
    let mut groups: Vec<&Group> = user
        .groups
        .iter()
        .filter_map(|id| realm.group_by_id(id))
        .filter(|g| {
            search
                .as_deref()
                .is_none_or(|s| g.name.to_lowercase().contains(s))
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    groups
}

/// `GET /users/{id}/groups`: direct memberships; `briefRepresentation` (default true) gives
/// `id`, `name`, `path`, `parentId`, `subGroups: []` (no `access`, no `subGroupCount`).
pub(super) async fn user_groups(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let full = q.get("briefRepresentation").map(String::as_str) == Some("false");
    let int = |k: &str| {
        q.get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|v| usize::try_from(v).ok())
    };
    let reps = app
        .read_realm(&realm, realm_not_found, |r| {
            r.user_by_id(&id).ok_or_else(user_not_found)?;
            Ok(groups_of(r, &id, q.get("search").map(String::as_str))
                .into_iter()
                .skip(int("first").unwrap_or(0))
                .take(int("max").unwrap_or(usize::MAX))
                .map(|g| r.group_representation(g, full))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(json_response(StatusCode::OK, &Value::Array(reps)))
}

pub(super) async fn user_groups_count(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let count = app
        .read_realm(&realm, realm_not_found, |r| {
            r.user_by_id(&id).ok_or_else(user_not_found)?;
            Ok(groups_of(r, &id, q.get("search").map(String::as_str)).len())
        })
        .await?;
    Ok(json_response(StatusCode::OK, &json!({ "count": count })))
}

/// `PUT` joins (when not already a direct member), `DELETE` leaves; 404 `Group not found`.
async fn membership(
    app: &AppState,
    realm: &str,
    user_id: &str,
    group_id: &str,
    join: bool,
) -> Result<Response, ApiError> {
    app.mutate_realm(realm, realm_not_found, |r| {
        r.user_by_id(user_id).ok_or_else(user_not_found)?;
        r.group_by_id(group_id)
            .ok_or_else(|| ApiError::not_found("Group not found"))?;
        if let Some(user) = r.user_by_id_mut(user_id) {
            if join && !user.member_of(group_id) {
                user.groups.push(group_id.to_owned());
            } else if !join {
                user.groups.retain(|g| g != group_id);
            }
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

pub(super) async fn join_group(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id, group)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    membership(&app, &realm, &id, &group, true).await
}

pub(super) async fn leave_group(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id, group)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    membership(&app, &realm, &id, &group, false).await
}
