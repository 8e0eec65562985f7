//! The roles and groups of a realm import (`POST /admin/realms`): `roles` after the clients
//! (`RepresentationToModel#importRoles`), then `groups` (`#importGroup`), before the users
//! (`DefaultExportImportManager#importRealm`). Every failure here is a `RuntimeException` in
//! Keycloak: 500 `unknown_error`, and no realm is created.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::memberships::import_role_mappings;
use super::request::str_of;
use super::roles::attributes_of;
use crate::http::ApiError;
use crate::model::{string_list, Group, Mapper, Realm, Role};

/// `roles: {realm: [RoleRepresentation], client: {clientId: [RoleRepresentation]}}`.
pub fn import_roles(realm: &mut Realm, roles: Option<&Value>) -> Result<(), ApiError> {
    let Some(roles) = roles.and_then(Value::as_object) else {
        return Ok(());
    };
    let realm_roles: Vec<&Map<String, Value>> = roles
        .get("realm")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let default_role = realm.default_role_name();
    for rep in &realm_roles {
        let Some(name) = str_of(rep, "name") else {
            return Err(ApiError::server_error());
        };
        // The default role was already made with the realm ("default role was already
        // imported"); its composites are still applied below.
        if name != default_role {
            put_role(realm, None, rep, name);
        }
    }
    let client_roles: Vec<(String, Vec<&Map<String, Value>>)> = match roles.get("client") {
        Some(Value::Object(clients)) => clients
            .iter()
            .map(|(client_id, list)| {
                let reps = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .collect();
                (client_id.clone(), reps)
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut resolved = Vec::new();
    for (client_id, reps) in &client_roles {
        // "App doesn't exist in role definitions: <clientId>"
        let client = realm
            .client_by_client_id(client_id)
            .map(|c| c.id.clone())
            .ok_or_else(ApiError::server_error)?;
        for rep in reps {
            let name = str_of(rep, "name").ok_or_else(ApiError::server_error)?;
            put_role(realm, Some(&client), rep, name);
        }
        resolved.push((client, reps));
    }
    // Now that every role exists, the composites (RepresentationToModel#addComposites).
    for rep in &realm_roles {
        let id = str_of(rep, "name")
            .and_then(|n| realm.realm_role(n))
            .map(|r| r.id.clone());
        add_composites(realm, id, rep)?;
    }
    for (client, reps) in resolved {
        for rep in reps {
            let id = str_of(rep, "name")
                .and_then(|n| realm.client_role(&client, n))
                .map(|r| r.id.clone());
            add_composites(realm, id, rep)?;
        }
    }
    Ok(())
}

/// Creates a role (keeping a given `id`), or gives a built-in one of that name the imported
/// description and attributes.
fn put_role(realm: &mut Realm, client: Option<&str>, rep: &Map<String, Value>, name: &str) {
    let existing = match client {
        Some(c) => realm.client_role(c, name),
        None => realm.realm_role(name),
    }
    .map(|r| r.id.clone());
    let description = str_of(rep, "description").map(str::to_owned);
    let attributes = attributes_of(rep).unwrap_or_default();
    match existing.and_then(|id| realm.roles.iter_mut().find(|r| r.id == id)) {
        Some(role) => {
            role.description = description;
            role.attributes = attributes;
        }
        None => {
            let mut role = Role::new(name, description.as_deref(), client);
            if let Some(id) = str_of(rep, "id") {
                role.id = id.to_owned();
            }
            role.attributes = attributes;
            realm.roles.push(role);
        }
    }
}

/// `composites: {realm: [names], client: {clientId: [names]}}`; a name or client that does not
/// exist fails the import ("Unable to find composite realm role: …").
fn add_composites(
    realm: &mut Realm,
    role_id: Option<String>,
    rep: &Map<String, Value>,
) -> Result<(), ApiError> {
    let Some(composites) = rep.get("composites").and_then(Value::as_object) else {
        return Ok(());
    };
    let role_id = role_id.ok_or_else(ApiError::server_error)?;
    let mut ids = Vec::new();
    for name in string_list(composites.get("realm")) {
        let role = realm.realm_role(&name).ok_or_else(ApiError::server_error)?;
        ids.push(role.id.clone());
    }
    if let Some(Value::Object(clients)) = composites.get("client") {
        for (client_id, names) in clients {
            let client = realm
                .client_by_client_id(client_id)
                .ok_or_else(ApiError::server_error)?;
            for name in string_list(Some(names)) {
                let role = realm
                    .client_role(&client.id, &name)
                    .ok_or_else(ApiError::server_error)?;
                ids.push(role.id.clone());
            }
        }
    }
    if let Some(role) = realm.roles.iter_mut().find(|r| r.id == role_id) {
        for id in ids {
            if !role.composites.contains(&id) {
                role.composites.push(id);
            }
        }
    }
    Ok(())
}

/// `groups`: the tree, top-level groups first, each with its attributes, role mappings and
/// `subGroups`.
pub fn import_groups(realm: &mut Realm, groups: Option<&Value>) -> Result<(), ApiError> {
    for rep in groups
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        import_group(realm, None, rep)?;
    }
    Ok(())
}

fn import_group(
    realm: &mut Realm,
    parent: Option<&str>,
    rep: &Map<String, Value>,
) -> Result<(), ApiError> {
    let name = str_of(rep, "name").ok_or_else(ApiError::server_error)?;
    // Two siblings of one name: the model's ModelDuplicateException, a 409 from the realm
    // import (its exact message UNCONFIRMED).
    if realm.children_of(parent).iter().any(|g| g.name == name) {
        return Err(ApiError::a(
            StatusCode::CONFLICT,
            "Conflict detected. See logs for details",
        ));
    }
    let mut group = Group::new(name, parent, str_of(rep, "id"));
    group.attributes = attributes_of(rep).unwrap_or_default();
    let id = group.id.clone();
    realm.groups.push(group);
    import_role_mappings(realm, Mapper::Group(&id), rep)?;
    for sub in rep
        .get("subGroups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        import_group(realm, Some(&id), sub)?;
    }
    Ok(())
}
