//! Roles, groups and memberships, the I/O half: read what the file declares or names
//! ([`observe_access`], [`observe_memberships`]), and write the [`AccessPlan`] and each user's
//! [`Grants`]. Keycloak maps roles by their id, so names are resolved to representations here
//! ([`Resolver`]), from what was read or, for what this run created, by one GET each
//! (keycloak-behaviour §13).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use reqwest::Method;
use serde_json::Value;

use crate::keycloak::client::{AdminClient, AdminError};
use crate::keycloak::diff::{AccessPlan, Grants, GroupPlan, Memberships, ObservedAccess, RolePlan};
use crate::keycloak::realm_file::{group_path, RealmFile};

const FULL: (&str, &str) = ("briefRepresentation", "false");

/// Read the realm roles, the client roles of the clients the file names in roles, and the
/// groups on the way to every path the file names. Nothing is read when the file declares
/// no role, group or membership.
pub async fn observe_access(
    client: &AdminClient,
    realm: &RealmFile,
) -> Result<ObservedAccess, AdminError> {
    if !realm.declares_access() {
        return Ok(ObservedAccess::default());
    }
    let name = realm.name();
    let realm_roles = client
        .all_at(
            &["admin", "realms", name, "roles"],
            &[FULL],
            &format!("read the roles of realm `{name}`"),
        )
        .await?;
    let mut client_ids: BTreeSet<String> =
        realm.client_roles().into_iter().map(|(c, _)| c).collect();
    for u in realm.users() {
        client_ids.extend(u.client_role_names().into_keys());
    }
    let mut client_roles = BTreeMap::new();
    for client_id in client_ids {
        let Some(rep) = client.find_client(name, &client_id).await? else {
            continue;
        };
        let roles = client
            .all_at(
                &["admin", "realms", name, "clients", id_of(&rep), "roles"],
                &[FULL],
                &format!("read the roles of client `{client_id}` in realm `{name}`"),
            )
            .await?;
        client_roles.insert(client_id, by_name(roles));
    }
    let mut wanted: BTreeSet<String> = realm.groups().into_iter().map(|g| g.path).collect();
    for u in realm.users() {
        wanted.extend(u.group_paths());
    }
    let groups = read_groups(client, name, &wanted).await?;
    Ok(ObservedAccess {
        realm_roles: by_name(realm_roles),
        client_roles,
        groups,
    })
}

/// The groups of `realm` by path: the top level, and the children of each group on the way to
/// a `wanted` path (so reads grow with the file's tree, not the realm's).
async fn read_groups(
    client: &AdminClient,
    realm: &str,
    wanted: &BTreeSet<String>,
) -> Result<BTreeMap<String, Value>, AdminError> {
    let mut out = BTreeMap::new();
    let mut level = client
        .all_at(
            &["admin", "realms", realm, "groups"],
            &[FULL],
            &format!("read the groups of realm `{realm}`"),
        )
        .await?
        .into_iter()
        .map(|g| (None, g))
        .collect::<Vec<(Option<String>, Value)>>();
    while !level.is_empty() {
        let mut next = Vec::new();
        for (parent, group) in level {
            let name = group
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let path = group
                .get("path")
                .and_then(Value::as_str)
                .map_or_else(|| group_path(parent.as_deref(), name), str::to_string);
            let prefix = format!("{path}/");
            if wanted.iter().any(|w| w.starts_with(&prefix)) {
                let children = client
                    .all_at(
                        &[
                            "admin",
                            "realms",
                            realm,
                            "groups",
                            id_of(&group),
                            "children",
                        ],
                        &[FULL],
                        &format!("read the subgroups of group `{path}` in realm `{realm}`"),
                    )
                    .await?;
                next.extend(children.into_iter().map(|c| (Some(path.clone()), c)));
            }
            out.insert(path, group);
        }
        level = next;
    }
    Ok(out)
}

/// A user's group paths and direct role mappings.
pub async fn observe_memberships(
    client: &AdminClient,
    realm: &str,
    user_id: &str,
) -> Result<Memberships, AdminError> {
    let groups = client
        .all_at(
            &["admin", "realms", realm, "users", user_id, "groups"],
            &[],
            &format!("read the groups of a user of realm `{realm}`"),
        )
        .await?;
    let mappings = client
        .get_json(
            &["admin", "realms", realm, "users", user_id, "role-mappings"],
            &[],
            &format!("read the role mappings of a user of realm `{realm}`"),
        )
        .await?
        .unwrap_or(Value::Null);
    let names = |list: Option<&Value>| -> BTreeSet<String> {
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("name")?.as_str().map(str::to_string))
            .collect()
    };
    let client_roles = mappings
        .get("clientMappings")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(client_id, v)| (client_id.clone(), names(v.get("mappings"))))
                .collect()
        })
        .unwrap_or_default();
    Ok(Memberships {
        groups: groups
            .iter()
            .filter_map(|g| g.get("path")?.as_str().map(str::to_string))
            .collect(),
        realm_roles: names(mappings.get("realmMappings")),
        client_roles,
    })
}

/// Names to Keycloak's representations (role mappings and group ids), from what was read and
/// what this run created.
pub struct Resolver<'a> {
    client: &'a AdminClient,
    realm: &'a str,
    realm_roles: Mutex<BTreeMap<String, Value>>,
    client_uuids: Mutex<BTreeMap<String, String>>,
    client_roles: Mutex<BTreeMap<(String, String), Value>>,
    groups: Mutex<BTreeMap<String, String>>,
}

impl<'a> Resolver<'a> {
    pub fn new(client: &'a AdminClient, realm: &'a str, observed: &ObservedAccess) -> Self {
        let client_roles = observed
            .client_roles
            .iter()
            .flat_map(|(c, roles)| {
                roles
                    .iter()
                    .map(move |(n, rep)| ((c.clone(), n.clone()), rep.clone()))
            })
            .collect();
        let groups = observed
            .groups
            .iter()
            .map(|(path, rep)| (path.clone(), id_of(rep).to_string()))
            .collect();
        Resolver {
            client,
            realm,
            realm_roles: Mutex::new(observed.realm_roles.clone()),
            client_uuids: Mutex::default(),
            client_roles: Mutex::new(client_roles),
            groups: Mutex::new(groups),
        }
    }

    /// Remember a client's Keycloak id (the file's clients, once observed or created).
    pub fn know_client(&self, client_id: &str, uuid: &str) {
        lock(&self.client_uuids).insert(client_id.to_string(), uuid.to_string());
    }

    async fn client_uuid(&self, client_id: &str) -> Result<String, AdminError> {
        if let Some(id) = lock(&self.client_uuids).get(client_id) {
            return Ok(id.clone());
        }
        let rep = self
            .client
            .find_client(self.realm, client_id)
            .await?
            .ok_or_else(|| AdminError::NotFound {
                what: format!(
                    "map roles of client `{client_id}` in realm `{}`",
                    self.realm
                ),
                message: format!(
                    "client `{client_id}` does not exist: add it to the realm file's `clients`"
                ),
            })?;
        let id = id_of(&rep).to_string();
        self.know_client(client_id, &id);
        Ok(id)
    }

    async fn realm_role(&self, name: &str) -> Result<Value, AdminError> {
        if let Some(rep) = lock(&self.realm_roles).get(name) {
            return Ok(rep.clone());
        }
        let rep = self
            .client
            .get_json(
                &["admin", "realms", self.realm, "roles", name],
                &[],
                &format!("read realm role `{name}` of realm `{}`", self.realm),
            )
            .await?
            .ok_or_else(|| role_missing(name, self.realm))?;
        lock(&self.realm_roles).insert(name.to_string(), rep.clone());
        Ok(rep)
    }

    async fn client_role(&self, client_id: &str, name: &str) -> Result<Value, AdminError> {
        let key = (client_id.to_string(), name.to_string());
        if let Some(rep) = lock(&self.client_roles).get(&key) {
            return Ok(rep.clone());
        }
        let uuid = self.client_uuid(client_id).await?;
        let label = format!("{client_id}/{name}");
        let rep = self
            .client
            .get_json(
                &[
                    "admin", "realms", self.realm, "clients", &uuid, "roles", name,
                ],
                &[],
                &format!("read client role `{label}` of realm `{}`", self.realm),
            )
            .await?
            .ok_or_else(|| role_missing(&label, self.realm))?;
        lock(&self.client_roles).insert(key, rep.clone());
        Ok(rep)
    }

    fn group_id(&self, path: &str, who: &str) -> Result<String, AdminError> {
        lock(&self.groups)
            .get(path)
            .cloned()
            .ok_or_else(|| AdminError::NotFound {
                what: format!("add {who} to group `{path}` in realm `{}`", self.realm),
                message: format!(
                    "group `{path}` does not exist: declare it under the realm file's `groups`"
                ),
            })
    }
}

fn role_missing(label: &str, realm: &str) -> AdminError {
    AdminError::NotFound {
        what: format!("map role `{label}` in realm `{realm}`"),
        message: format!(
            "role `{label}` does not exist: declare it under the realm file's `roles`"
        ),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Write the roles, then the groups (parents first), as planned.
pub async fn execute_access(plan: &AccessPlan, ids: &Resolver<'_>) -> Result<(), AdminError> {
    let (client, realm) = (ids.client, ids.realm);
    for role in &plan.roles {
        match role {
            RolePlan::Create {
                client: c,
                name,
                body,
            } => {
                let (segments, what) = role_home(ids, c.as_deref(), None).await?;
                let what = format!("create {what} role `{name}` in realm `{realm}`");
                client
                    .admin_checked(Method::POST, &as_strs(&segments), Some(body), &what)
                    .await?;
            }
            RolePlan::Update {
                client: c,
                name,
                body,
                ..
            } => {
                let (segments, what) = role_home(ids, c.as_deref(), Some(name)).await?;
                let what = format!("update {what} role `{name}` in realm `{realm}`");
                client
                    .admin_checked(Method::PUT, &as_strs(&segments), Some(body), &what)
                    .await?;
            }
            RolePlan::Unchanged { .. } => {}
        }
    }
    for group in &plan.groups {
        match group {
            GroupPlan::Create {
                path,
                parent,
                body,
                realm_roles,
            } => {
                let what = format!("create group `{path}` in realm `{realm}`");
                let resp = match parent {
                    None => {
                        let segments = ["admin", "realms", realm, "groups"];
                        client
                            .admin_checked(Method::POST, &segments, Some(body), &what)
                            .await?
                    }
                    Some(parent) => {
                        let pid = ids.group_id(parent, &format!("group `{path}`"))?;
                        let segments = ["admin", "realms", realm, "groups", &pid, "children"];
                        client
                            .admin_checked(Method::POST, &segments, Some(body), &what)
                            .await?
                    }
                };
                let id = match resp.created_id() {
                    Some(id) => id,
                    None => resp
                        .json(&what)?
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                };
                lock(&ids.groups).insert(path.clone(), id.clone());
                map_group_roles(ids, path, &id, realm_roles).await?;
            }
            GroupPlan::Update {
                path,
                id,
                put,
                realm_roles,
                ..
            } => {
                if let Some(body) = put {
                    let what = format!("update group `{path}` in realm `{realm}`");
                    let segments = ["admin", "realms", realm, "groups", id];
                    client
                        .admin_checked(Method::PUT, &segments, Some(body), &what)
                        .await?;
                }
                map_group_roles(ids, path, id, realm_roles).await?;
            }
            GroupPlan::Unchanged { .. } => {}
        }
    }
    Ok(())
}

/// Where a role lives (`.../roles` or `.../clients/{id}/roles`, plus `/{name}`), and how to
/// say which kind it is.
async fn role_home(
    ids: &Resolver<'_>,
    client_id: Option<&str>,
    name: Option<&str>,
) -> Result<(Vec<String>, String), AdminError> {
    let mut segments = vec!["admin".to_string(), "realms".into(), ids.realm.into()];
    let what = match client_id {
        None => "realm".to_string(),
        Some(c) => {
            segments.extend(["clients".to_string(), ids.client_uuid(c).await?]);
            format!("client `{c}`")
        }
    };
    segments.push("roles".into());
    segments.extend(name.map(str::to_string));
    Ok((segments, what))
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

async fn map_group_roles(
    ids: &Resolver<'_>,
    path: &str,
    group_id: &str,
    roles: &[String],
) -> Result<(), AdminError> {
    if roles.is_empty() {
        return Ok(());
    }
    let mut reps = Vec::new();
    for r in roles {
        reps.push(ids.realm_role(r).await?);
    }
    let realm = ids.realm;
    let segments = [
        "admin",
        "realms",
        realm,
        "groups",
        group_id,
        "role-mappings",
        "realm",
    ];
    let what = format!("map realm roles to group `{path}` in realm `{realm}`");
    ids.client
        .admin_checked(Method::POST, &segments, Some(&Value::Array(reps)), &what)
        .await
        .map(|_| ())
}

/// Add a user's missing groups and role mappings.
pub async fn execute_grants(
    ids: &Resolver<'_>,
    username: &str,
    user_id: &str,
    grants: &Grants,
) -> Result<(), AdminError> {
    let (client, realm) = (ids.client, ids.realm);
    let who = format!("user `{username}`");
    for path in &grants.groups {
        let gid = ids.group_id(path, &who)?;
        let what = format!("add {who} to group `{path}` in realm `{realm}`");
        let segments = ["admin", "realms", realm, "users", user_id, "groups", &gid];
        client
            .admin_checked(Method::PUT, &segments, None, &what)
            .await?;
    }
    if !grants.realm_roles.is_empty() {
        let mut reps = Vec::new();
        for r in &grants.realm_roles {
            reps.push(ids.realm_role(r).await?);
        }
        let what = format!("map realm roles to {who} in realm `{realm}`");
        let segments = [
            "admin",
            "realms",
            realm,
            "users",
            user_id,
            "role-mappings",
            "realm",
        ];
        client
            .admin_checked(Method::POST, &segments, Some(&Value::Array(reps)), &what)
            .await?;
    }
    for (client_id, roles) in &grants.client_roles {
        let mut reps = Vec::new();
        for r in roles {
            reps.push(ids.client_role(client_id, r).await?);
        }
        let uuid = ids.client_uuid(client_id).await?;
        let what = format!("map roles of client `{client_id}` to {who} in realm `{realm}`");
        let segments = [
            "admin",
            "realms",
            realm,
            "users",
            user_id,
            "role-mappings",
            "clients",
            &uuid,
        ];
        client
            .admin_checked(Method::POST, &segments, Some(&Value::Array(reps)), &what)
            .await?;
    }
    Ok(())
}

fn by_name(list: Vec<Value>) -> BTreeMap<String, Value> {
    list.into_iter()
        .filter_map(|r| Some((r.get("name")?.as_str()?.to_string(), r)))
        .collect()
}

fn id_of(rep: &Value) -> &str {
    rep.get("id").and_then(Value::as_str).unwrap_or_default()
}
