//! Groups (`GroupsResource`, `GroupResource`): list (with the hierarchy down to the matches),
//! count, create (top level and children), read, update, delete. Role mappings of groups are in
//! `role_mappings`, memberships in `memberships`.

use std::collections::{BTreeSet, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::request::{
    created, group_not_found, no_content, parse_rep, realm_not_found, str_of, Admin,
};
use super::roles::attributes_of;
use crate::http::{json_response, ApiError};
use crate::model::{Group, Realm};
use crate::schema;
use crate::server::{base_of, AppState};

/// What `GroupPermissions#getAccess` gives an administrator of the realm.
fn access() -> Value {
    json!({"view": true, "viewMembers": true, "manageMembers": true, "manage": true,
           "manageMembership": true})
}

/// `GroupUtils#toRepresentation` (the representation with `access`), plus `subGroupCount`
/// (`GroupUtils#populateSubGroupCount`) when `count`.
fn admin_rep(realm: &Realm, group: &Group, full: bool, count: bool) -> Value {
    let mut rep = realm.group_representation(group, full);
    if let Value::Object(map) = &mut rep {
        if count {
            map.insert(
                "subGroupCount".into(),
                json!(realm.subgroup_count(&group.id)),
            );
        }
        map.insert("access".into(), access());
    }
    rep
}

fn flag(q: &HashMap<String, String>, key: &str, default: bool) -> bool {
    match q.get(key).map(String::as_str) {
        Some("true") => true,
        Some("false") => false,
        _ => default,
    }
}

fn int(q: &HashMap<String, String>, key: &str) -> Option<usize> {
    q.get(key)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|v| usize::try_from(v).ok())
}

/// `search` (case-insensitive substring, or equality with `exact=true`) on a group's name.
fn name_matches(group: &Group, search: &str, exact: bool) -> bool {
    if exact {
        group.name == search
    } else {
        group.name.to_lowercase().contains(&search.to_lowercase())
    }
}

/// `q=key:value key2:value2`: groups having every attribute value (`SearchQueryUtils#getFields`,
/// `searchGroupModelsByAttributes`).
fn attributes_match(group: &Group, q: &str) -> bool {
    q.split_whitespace().all(|pair| match pair.split_once(':') {
        Some((k, v)) => group
            .attributes
            .get(k)
            .is_some_and(|values| values.iter().any(|x| x == v)),
        None => true,
    })
}

/// The representation of `group` with `subGroups` holding its children in `keep` (the groups
/// on the way to a match), as `GroupUtils#populateGroupHierarchyFromSubGroups` builds them.
fn hierarchy_rep(realm: &Realm, group: &Group, keep: &BTreeSet<String>, full: bool) -> Value {
    let mut rep = admin_rep(realm, group, full, true);
    let children: Vec<Value> = realm
        .children_of(Some(&group.id))
        .into_iter()
        .filter(|c| keep.contains(&c.id))
        .map(|c| hierarchy_rep(realm, c, keep, full))
        .collect();
    if let Value::Object(map) = &mut rep {
        map.insert("subGroups".into(), Value::Array(children));
    }
    rep
}

/// `GET /groups`: `q`, else `search` (any depth), else the top-level groups; `first`/`max` page
/// the matches; with `populateHierarchy` (default) each match comes inside its ancestors, roots
/// sorted by name. `briefRepresentation` defaults to true. `subGroupCount` is always given.
fn list(realm: &Realm, q: &HashMap<String, String>) -> Vec<Value> {
    let full = !flag(q, "briefRepresentation", true);
    let exact = flag(q, "exact", false);
    let mut matched: Vec<&Group> = if let Some(query) = q.get("q") {
        realm
            .groups
            .iter()
            .filter(|g| attributes_match(g, query))
            .collect()
    } else if let Some(search) = q.get("search") {
        let search = search.trim();
        realm
            .groups
            .iter()
            .filter(|g| name_matches(g, search, exact))
            .collect()
    } else {
        realm.children_of(None)
    };
    matched.sort_by(|a, b| a.name.cmp(&b.name));
    let matched: Vec<&Group> = matched
        .into_iter()
        .skip(int(q, "first").unwrap_or(0))
        .take(int(q, "max").unwrap_or(usize::MAX))
        .collect();
    if !flag(q, "populateHierarchy", true) {
        return matched
            .into_iter()
            .map(|g| admin_rep(realm, g, full, true))
            .collect();
    }
    let mut keep = BTreeSet::new();
    for g in &matched {
        let mut current = Some(*g);
        while let Some(c) = current {
            if !keep.insert(c.id.clone()) {
                break;
            }
            current = c.parent.as_deref().and_then(|p| realm.group_by_id(p));
        }
    }
    realm
        .children_of(None)
        .into_iter()
        .filter(|g| keep.contains(&g.id))
        .map(|g| hierarchy_rep(realm, g, &keep, full))
        .collect()
}

fn name_missing() -> ApiError {
    ApiError::a(StatusCode::BAD_REQUEST, "Group name is missing")
}

fn sibling_exists(realm: &Realm, parent: Option<&str>, name: &str, except: &str) -> bool {
    realm
        .children_of(parent)
        .iter()
        .any(|g| g.name == name && g.id != except)
}

/// Creates a group from a representation (`RealmModel#createGroup`, then
/// `GroupResource#updateGroup`: name and attributes; roles and subgroups are not read), or,
/// when the representation has an `id`, moves that group (`RealmModel#moveGroup`). Returns the
/// new group's id, `None` for a move.
fn create_or_move(
    realm: &mut Realm,
    parent: Option<&str>,
    rep: &Map<String, Value>,
) -> Result<Option<String>, ApiError> {
    let name = str_of(rep, "name").unwrap_or("");
    if name.trim().is_empty() {
        return Err(name_missing());
    }
    let conflict = || match parent {
        None => ApiError::a(
            StatusCode::CONFLICT,
            format!("Top level group named '{name}' already exists."),
        ),
        Some(_) => ApiError::a(
            StatusCode::CONFLICT,
            format!("Sibling group named '{name}' already exists."),
        ),
    };
    if let Some(id) = str_of(rep, "id") {
        let child = realm
            .group_by_id(id)
            .ok_or_else(|| ApiError::not_found("Could not find child by id"))?;
        if child.parent.as_deref() == parent || Some(id) == parent {
            return Ok(None);
        }
        let moved_name = child.name.clone();
        if sibling_exists(realm, parent, &moved_name, id) {
            return Err(conflict());
        }
        if let Some(child) = realm.group_by_id_mut(id) {
            child.parent = parent.map(str::to_owned);
        }
        return Ok(None);
    }
    if sibling_exists(realm, parent, name, "") {
        return Err(conflict());
    }
    let mut group = Group::new(name, parent, None);
    group.attributes = attributes_of(rep).unwrap_or_default();
    let id = group.id.clone();
    realm.groups.push(group);
    Ok(Some(id))
}

/// `PUT /groups/{id}` (`GroupResource#updateGroup`).
fn update(realm: &mut Realm, id: &str, rep: &Map<String, Value>) -> Result<(), ApiError> {
    let group = realm.group_by_id(id).ok_or_else(group_not_found)?;
    let name = str_of(rep, "name").unwrap_or("");
    if name.trim().is_empty() {
        return Err(name_missing());
    }
    if str_of(rep, "id").is_some_and(|i| i != id) {
        return Err(ApiError::a(StatusCode::BAD_REQUEST, "Invalid group id"));
    }
    if name != group.name && sibling_exists(realm, group.parent.as_deref(), name, id) {
        return Err(ApiError::a(
            StatusCode::CONFLICT,
            format!("Sibling group named '{name}' already exists."),
        ));
    }
    let attributes = attributes_of(rep);
    let name = name.to_owned();
    if let Some(group) = realm.group_by_id_mut(id) {
        group.name = name;
        if let Some(attributes) = attributes {
            group.attributes = attributes;
        }
    }
    Ok(())
}

pub(super) async fn list_groups(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let reps = app
        .read_realm(&realm, realm_not_found, |r| Ok(list(r, &q)))
        .await?;
    Ok(json_response(StatusCode::OK, &Value::Array(reps)))
}

/// `GET /groups/count`: `search` counts name matches at any depth, `top=true` the top level,
/// else every group (`RealmModel#getGroupsCount`).
pub(super) async fn count_groups(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let count = app
        .read_realm(&realm, realm_not_found, |r| {
            Ok(match q.get("search") {
                Some(s) => r
                    .groups
                    .iter()
                    .filter(|g| name_matches(g, s, false))
                    .count(),
                None if flag(&q, "top", false) => r.children_of(None).len(),
                None => r.groups.len(),
            })
        })
        .await?;
    Ok(json_response(StatusCode::OK, &json!({ "count": count })))
}

/// `POST /groups`: 201 with `Location` and no body, or 204 for a move.
pub(super) async fn create_group(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path(realm): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.read_realm(&realm, realm_not_found, |_| Ok(())).await?;
    let rep = parse_rep(&headers, &body, &schema::GROUP)?;
    let id = app
        .mutate_realm(&realm, realm_not_found, |r| create_or_move(r, None, &rep))
        .await?;
    Ok(match id {
        Some(id) => created(format!("{}{}/{id}", base_of(&app, &headers), uri.path())),
        None => no_content(),
    })
}

pub(super) async fn get_group(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let rep = app
        .read_realm(&realm, realm_not_found, |r| {
            let group = r.group_by_id(&id).ok_or_else(group_not_found)?;
            Ok(admin_rep(r, group, true, true))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &rep))
}

pub(super) async fn update_group(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.read_realm(&realm, realm_not_found, |r| {
        r.group_by_id(&id).map(|_| ()).ok_or_else(group_not_found)
    })
    .await?;
    let rep = parse_rep(&headers, &body, &schema::GROUP)?;
    app.mutate_realm(&realm, realm_not_found, |r| update(r, &id, &rep))
        .await?;
    Ok(no_content())
}

pub(super) async fn delete_group(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    app.mutate_realm(&realm, realm_not_found, |r| {
        r.group_by_id(&id).ok_or_else(group_not_found)?;
        r.remove_group(&id);
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// `GET /groups/{id}/children`: direct children, `search`/`exact`, `first` (default 0), `max`
/// (default **10**), `briefRepresentation` (default **false**).
pub(super) async fn list_children(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let full = !flag(&q, "briefRepresentation", false);
    let exact = flag(&q, "exact", false);
    let first = int(&q, "first").unwrap_or(0);
    let max = match q.get("max").and_then(|v| v.parse::<i64>().ok()) {
        Some(m) if m < 0 => usize::MAX,
        Some(m) => usize::try_from(m).unwrap_or(usize::MAX),
        None => 10,
    };
    let reps = app
        .read_realm(&realm, realm_not_found, |r| {
            r.group_by_id(&id).ok_or_else(group_not_found)?;
            Ok(r.children_of(Some(&id))
                .into_iter()
                .filter(|g| q.get("search").is_none_or(|s| name_matches(g, s, exact)))
                .skip(first)
                .take(max)
                .map(|g| admin_rep(r, g, full, true))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(json_response(StatusCode::OK, &Value::Array(reps)))
}

/// `POST /groups/{id}/children`: 201 with `Location` and the new group's full representation
/// (`GroupResource#addChild`), or 204 for a move.
pub(super) async fn create_child(
    _admin: Admin,
    AxumState(app): AxumState<AppState>,
    Path((realm, parent)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    app.read_realm(&realm, realm_not_found, |r| {
        r.group_by_id(&parent)
            .map(|_| ())
            .ok_or_else(group_not_found)
    })
    .await?;
    let rep = parse_rep(&headers, &body, &schema::GROUP)?;
    let made = app
        .mutate_realm(&realm, realm_not_found, |r| {
            let id = create_or_move(r, Some(&parent), &rep)?;
            Ok(id.and_then(|id| {
                r.group_by_id(&id)
                    .map(|g| (id, admin_rep(r, g, true, false)))
            }))
        })
        .await?;
    let Some((id, rep)) = made else {
        return Ok(no_content());
    };
    let location = format!(
        "{}/admin/realms/{realm}/groups/{id}",
        base_of(&app, &headers)
    );
    let mut response = json_response(StatusCode::CREATED, &rep).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}
