//! The pure plan for roles, groups and memberships on an existing realm: create what the file
//! declares and Keycloak lacks, update what differs on the file's fields, and add each user's
//! missing group memberships and role mappings. Nothing is removed: as for every other field,
//! the file says what must be there, and what Keycloak has beyond it stays.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{covers, merge};
use crate::keycloak::realm_file::{GroupSpec, RealmFile, RoleSpec, UserSpec};

/// What Keycloak has of the roles and groups the file declares or names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedAccess {
    /// Realm roles by name (full representations).
    pub realm_roles: BTreeMap<String, Value>,
    /// Client roles, by clientId then role name.
    pub client_roles: BTreeMap<String, BTreeMap<String, Value>>,
    /// Groups by path (full representations: `id`, `attributes`, `realmRoles`).
    pub groups: BTreeMap<String, Value>,
}

/// A user's memberships as Keycloak has them (read only when the file sets some).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memberships {
    /// Group paths.
    pub groups: BTreeSet<String>,
    /// Directly mapped realm roles.
    pub realm_roles: BTreeSet<String>,
    /// Directly mapped client roles, by clientId.
    pub client_roles: BTreeMap<String, BTreeSet<String>>,
}

/// Memberships to add to a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub groups: Vec<String>,
    pub realm_roles: Vec<String>,
    pub client_roles: BTreeMap<String, Vec<String>>,
}

impl Grants {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.realm_roles.is_empty() && self.client_roles.is_empty()
    }

    /// The change names a report shows (`groups`, `realmRoles`, `clientRoles.<client>`).
    pub fn changes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.groups.is_empty() {
            out.push("groups".to_string());
        }
        if !self.realm_roles.is_empty() {
            out.push("realmRoles".to_string());
        }
        out.extend(self.client_roles.keys().map(|c| format!("clientRoles.{c}")));
        out
    }
}

/// What to add to a user: the file's memberships minus those Keycloak has (`None`: a new
/// user, so all of them).
pub fn grants(desired: &UserSpec, current: Option<&Memberships>) -> Grants {
    let empty = Memberships::default();
    let have = current.unwrap_or(&empty);
    let missing = |want: Vec<String>, have: &BTreeSet<String>| -> Vec<String> {
        let mut seen = BTreeSet::new();
        want.into_iter()
            .filter(|w| !have.contains(w) && seen.insert(w.clone()))
            .collect()
    };
    let client_roles = desired
        .client_role_names()
        .into_iter()
        .map(|(client, roles)| {
            let held = have.client_roles.get(&client).cloned().unwrap_or_default();
            (client, missing(roles, &held))
        })
        .filter(|(_, roles)| !roles.is_empty())
        .collect();
    Grants {
        groups: missing(desired.group_paths(), &have.groups),
        realm_roles: missing(desired.realm_role_names(), &have.realm_roles),
        client_roles,
    }
}

/// One role's plan; `client` is the clientId for a client role, `None` for a realm role.
#[derive(Debug, Clone, PartialEq)]
pub enum RolePlan {
    Create {
        client: Option<String>,
        name: String,
        body: Value,
    },
    /// PUT the current representation with the file's fields laid over it.
    Update {
        client: Option<String>,
        name: String,
        body: Value,
        changes: Vec<String>,
    },
    Unchanged {
        client: Option<String>,
        name: String,
    },
}

/// One group's plan (by path; parents are planned before their children).
#[derive(Debug, Clone, PartialEq)]
pub enum GroupPlan {
    Create {
        path: String,
        parent: Option<String>,
        body: Value,
        realm_roles: Vec<String>,
    },
    Update {
        path: String,
        id: String,
        /// The whole group to PUT when its attributes differ.
        put: Option<Value>,
        /// Realm roles to map to the group.
        realm_roles: Vec<String>,
        changes: Vec<String>,
    },
    Unchanged {
        path: String,
    },
}

/// Roles and groups to reconcile, in the order they must be written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessPlan {
    pub roles: Vec<RolePlan>,
    pub groups: Vec<GroupPlan>,
    /// What was read, to resolve names to Keycloak's ids when writing.
    pub known: ObservedAccess,
}

/// Plan the file's roles and groups against what Keycloak has. Realm roles that users or
/// groups name without declaring them are created too, as Keycloak's realm import does
/// (`RepresentationToModel#createRoleMappings`, keycloak-behaviour §13), so a realm reached by
/// `apply` matches one made by import from the same file.
pub fn plan_access(desired: &RealmFile, observed: &ObservedAccess) -> AccessPlan {
    let mut roles: Vec<RolePlan> = desired
        .realm_roles()
        .iter()
        .map(|r| plan_role(None, r, observed.realm_roles.get(&r.name)))
        .collect();
    for (client, declared) in desired.client_roles() {
        let have = observed.client_roles.get(&client);
        roles.extend(
            declared
                .iter()
                .map(|r| plan_role(Some(&client), r, have.and_then(|h| h.get(&r.name)))),
        );
    }
    let declared: BTreeSet<String> = desired.realm_roles().into_iter().map(|r| r.name).collect();
    let named = desired
        .users()
        .iter()
        .flat_map(UserSpec::realm_role_names)
        .chain(desired.groups().into_iter().flat_map(|g| g.realm_roles));
    let mut implicit = BTreeSet::new();
    for name in named {
        if !declared.contains(&name)
            && !observed.realm_roles.contains_key(&name)
            && implicit.insert(name.clone())
        {
            roles.push(RolePlan::Create {
                client: None,
                body: serde_json::json!({ "name": name }),
                name,
            });
        }
    }
    let groups = desired
        .groups()
        .iter()
        .map(|g| plan_group(g, observed.groups.get(&g.path)))
        .collect();
    AccessPlan {
        roles,
        groups,
        known: observed.clone(),
    }
}

fn plan_role(client: Option<&str>, desired: &RoleSpec, current: Option<&Value>) -> RolePlan {
    let client = client.map(str::to_string);
    let name = desired.name.clone();
    // Composites have their own endpoints and are applied when the role is created.
    let mut fields = desired.fields.clone();
    fields.remove("composites");
    fields.remove("id");
    fields.remove("containerId");
    fields.remove("clientRole");
    let Some(current) = current else {
        return RolePlan::Create {
            client,
            name,
            body: Value::Object(fields),
        };
    };
    let changes: Vec<String> = fields
        .iter()
        .filter(|(k, v)| !covers(v, current.get(k.as_str())))
        .map(|(k, _)| k.clone())
        .collect();
    if changes.is_empty() {
        return RolePlan::Unchanged { client, name };
    }
    RolePlan::Update {
        client,
        name,
        body: merge(current, &fields),
        changes,
    }
}

fn plan_group(desired: &GroupSpec, current: Option<&Value>) -> GroupPlan {
    let path = desired.path.clone();
    let Some(current) = current else {
        let mut body = Map::new();
        body.insert("name".into(), Value::from(desired.name.clone()));
        if !desired.attributes.is_empty() {
            body.insert(
                "attributes".into(),
                Value::Object(desired.attributes.clone()),
            );
        }
        return GroupPlan::Create {
            path,
            parent: desired.parent.clone(),
            body: Value::Object(body),
            realm_roles: desired.realm_roles.clone(),
        };
    };
    let mut changes: Vec<String> = desired
        .attributes
        .iter()
        .filter(|(k, v)| !covers(v, current.get("attributes").and_then(|a| a.get(k.as_str()))))
        .map(|(k, _)| format!("attributes.{k}"))
        .collect();
    let put = (!changes.is_empty()).then(|| {
        let mut fields = Map::new();
        fields.insert(
            "attributes".into(),
            Value::Object(desired.attributes.clone()),
        );
        merge(current, &fields)
    });
    let held: BTreeSet<&str> = current
        .get("realmRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let realm_roles: Vec<String> = desired
        .realm_roles
        .iter()
        .filter(|r| !held.contains(r.as_str()))
        .cloned()
        .collect();
    if !realm_roles.is_empty() {
        changes.push("realmRoles".into());
    }
    if changes.is_empty() {
        return GroupPlan::Unchanged { path };
    }
    GroupPlan::Update {
        path,
        id: current
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        put,
        realm_roles,
        changes,
    }
}

impl RolePlan {
    /// How a report names the role: `name`, or `clientId/name` for a client role.
    pub fn label(&self) -> String {
        let (client, name) = match self {
            RolePlan::Create { client, name, .. }
            | RolePlan::Update { client, name, .. }
            | RolePlan::Unchanged { client, name } => (client, name),
        };
        match client {
            Some(c) => format!("{c}/{name}"),
            None => name.clone(),
        }
    }
}

impl GroupPlan {
    pub fn path(&self) -> &str {
        match self {
            GroupPlan::Create { path, .. }
            | GroupPlan::Update { path, .. }
            | GroupPlan::Unchanged { path } => path,
        }
    }
}
