//! Who may do what, as the realm file declares it: realm and client roles (`roles`), the
//! group tree (`groups`), and each user's `groups`, `realmRoles` and `clientRoles`. Read from
//! the validated fields (Keycloak's own shapes), so the realm POST still carries them as they
//! are, and `apply` reconciles them on an existing realm from these typed views.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::model::{RealmFile, UserSpec};

/// A role the file declares (`roles.realm[]` or `roles.client.<clientId>[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub name: String,
    /// The `RoleRepresentation` fields the file sets (`name`, `description`, `attributes`, ...).
    pub fields: Map<String, Value>,
}

/// A group of the file's tree, flattened: parents come before their children.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// Keycloak's path, `/parent/child`.
    pub path: String,
    pub name: String,
    /// The parent's path; `None` for a top-level group.
    pub parent: Option<String>,
    /// `attributes` as the file sets them (lists of strings).
    pub attributes: Map<String, Value>,
    /// Realm roles mapped to the group.
    pub realm_roles: Vec<String>,
}

/// Realm keys reconciled through their own endpoints (roles, groups), not the realm PUT.
pub const ACCESS_REALM_KEYS: &[&str] = &["roles", "groups"];

/// The keys of a file user that are memberships, not `UserRepresentation` fields Keycloak
/// gives back on a user GET (each has its own endpoint).
pub const USER_MEMBERSHIP_FIELDS: &[&str] = &["groups", "realmRoles", "clientRoles"];

/// Keycloak's path of a group named `name` under `parent` (`/a/b`). Keycloak 26 escapes a
/// `/` inside a name only when `escapeSlashesInGroupPath` is on, which it is not by default
/// (`KeycloakModelUtils#buildGroupPath`), so names are joined as they are.
pub fn group_path(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) => format!("{p}/{name}"),
        None => format!("/{name}"),
    }
}

impl RealmFile {
    /// `roles.realm`, in file order.
    pub fn realm_roles(&self) -> Vec<RoleSpec> {
        roles_in(self.fields.get("roles").and_then(|r| r.get("realm")))
    }

    /// `roles.client`, by clientId, in file order.
    pub fn client_roles(&self) -> Vec<(String, Vec<RoleSpec>)> {
        self.fields
            .get("roles")
            .and_then(|r| r.get("client"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(client, roles)| (client.clone(), roles_in(Some(roles))))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The group tree, flattened parents first.
    pub fn groups(&self) -> Vec<GroupSpec> {
        let mut out = Vec::new();
        flatten_groups(self.fields.get("groups"), None, &mut out);
        out
    }

    /// Does the file declare roles, groups, or any user membership?
    pub fn declares_access(&self) -> bool {
        !self.realm_roles().is_empty()
            || !self.client_roles().is_empty()
            || !self.groups().is_empty()
            || self.users.iter().any(UserSpec::declares_memberships)
    }
}

impl UserSpec {
    /// Group paths the user belongs to (`groups`).
    pub fn group_paths(&self) -> Vec<String> {
        strings(self.fields.get("groups"))
    }
    /// Realm roles mapped to the user (`realmRoles`).
    pub fn realm_role_names(&self) -> Vec<String> {
        strings(self.fields.get("realmRoles"))
    }
    /// Client roles mapped to the user (`clientRoles`), by clientId.
    pub fn client_role_names(&self) -> BTreeMap<String, Vec<String>> {
        self.fields
            .get("clientRoles")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(client, roles)| (client.clone(), strings(Some(roles))))
                    .filter(|(_, roles)| !roles.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Does the file set any of the user's memberships?
    pub fn declares_memberships(&self) -> bool {
        !self.group_paths().is_empty()
            || !self.realm_role_names().is_empty()
            || !self.client_role_names().is_empty()
    }
}

fn roles_in(list: Option<&Value>) -> Vec<RoleSpec> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let fields = r.as_object()?.clone();
            let name = fields.get("name")?.as_str()?.trim().to_string();
            Some(RoleSpec { name, fields })
        })
        .collect()
}

fn flatten_groups(list: Option<&Value>, parent: Option<&str>, out: &mut Vec<GroupSpec>) {
    for g in list.and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = g.get("name").and_then(Value::as_str) else {
            continue;
        };
        let path = group_path(parent, name);
        out.push(GroupSpec {
            path: path.clone(),
            name: name.to_string(),
            parent: parent.map(str::to_string),
            attributes: attribute_lists(g.get("attributes")),
            realm_roles: strings(g.get("realmRoles")),
        });
        flatten_groups(g.get("subGroups"), Some(&path), out);
    }
}

/// `attributes` as `name: [values]` (a single string becomes a one-item list).
fn attribute_lists(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let list = match v {
                        Value::Array(_) => v.clone(),
                        other => Value::Array(vec![other.clone()]),
                    };
                    (k.clone(), list)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}
