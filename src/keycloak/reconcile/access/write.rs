//! Writing roles, groups and memberships, by Keycloak's ids: [`Resolver`] turns the names a
//! plan holds into representations (from what was read, else one GET each), and
//! [`execute_access`] / [`execute_grants`] send the writes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::Method;
use serde_json::Value;

use super::id_of;
use crate::keycloak::client::{AdminClient, AdminError};
use crate::keycloak::diff::{AccessPlan, Grants, GroupPlan, ObservedAccess, RolePlan};

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
