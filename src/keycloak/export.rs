//! `iamstack export`: a realm as it is in a running Keycloak, as a realm file in our format.
//!
//! Read ([`read_realm`]: the realm, its clients with their secrets, roles, the group tree,
//! users with their groups and direct role mappings; reads only) -> a realm document in
//! Keycloak's own shape -> [`prune`] (drop what Keycloak fills in by itself) -> [`render`]
//! (YAML, with a `${...}` placeholder and a comment for each password, which Keycloak never
//! gives back). Built-in clients and roles are left out: every realm has them.

mod prune;
mod render;

use std::collections::BTreeMap;

use futures_util::future::try_join_all;
use serde_json::{json, Map, Value};

use super::client::{AdminClient, AdminError};
use super::realm_file::RealmFile;

pub use prune::{is_built_in_role, prune, BUILT_IN_CLIENTS};
pub use render::{password_variable, render, Rendered};

const FULL: (&str, &str) = ("briefRepresentation", "false");

/// Read realm `name` from Keycloak into a realm document (Keycloak's `RealmRepresentation`
/// with `roles`, `groups`, `clients` and `users` embedded, not yet pruned); `None` when the
/// realm does not exist.
pub async fn read_realm(client: &AdminClient, name: &str) -> Result<Option<Value>, AdminError> {
    let Some(realm) = client
        .get_json(
            &["admin", "realms", name],
            &[],
            &format!("read realm `{name}`"),
        )
        .await?
    else {
        return Ok(None);
    };
    let clients = async {
        let all = client.all_clients(name).await?;
        let own = all.into_iter().filter(|c| {
            c.get("clientId")
                .and_then(Value::as_str)
                .is_some_and(|id| !BUILT_IN_CLIENTS.contains(&id))
        });
        try_join_all(own.map(|c| read_client(client, name, c))).await
    };
    let roles_what = format!("read the roles of realm `{name}`");
    let roles_at = ["admin", "realms", name, "roles"];
    let roles = client.all_at(&roles_at, &[FULL], &roles_what);
    let groups = read_group_tree(client, name, None);
    let users = async {
        let all = client.all_users(name).await?;
        try_join_all(all.into_iter().map(|u| read_user(client, name, u))).await
    };
    let (clients, realm_roles, groups, users) =
        futures_util::try_join!(clients, roles, groups, users)?;

    let mut doc = realm.as_object().cloned().unwrap_or_default();
    let mut client_roles = Map::new();
    let mut client_reps = Vec::new();
    for (rep, roles) in clients {
        if !roles.is_empty() {
            let id = rep["clientId"].as_str().unwrap_or_default().to_string();
            client_roles.insert(id, Value::Array(roles));
        }
        client_reps.push(rep);
    }
    let realm_roles: Vec<Value> = realm_roles
        .into_iter()
        .filter(|r| {
            r.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| !is_built_in_role(name, n))
        })
        .collect();
    doc.insert(
        "roles".into(),
        json!({"realm": realm_roles, "client": client_roles}),
    );
    doc.insert("groups".into(), Value::Array(groups));
    doc.insert("clients".into(), Value::Array(client_reps));
    doc.insert("users".into(), Value::Array(users));
    Ok(Some(Value::Object(doc)))
}

/// A client and its roles. Keycloak 26.2 shows a confidential client's secret to admins in
/// its representation (keycloak-behaviour §4), as `apply` relies on too; a masked one is
/// dropped (the loader refuses masks), with a warning from [`masked_secrets`].
async fn read_client(
    client: &AdminClient,
    realm: &str,
    mut rep: Value,
) -> Result<(Value, Vec<Value>), AdminError> {
    let id = rep["id"].as_str().unwrap_or_default().to_string();
    let client_id = rep["clientId"].as_str().unwrap_or_default().to_string();
    if rep["secret"].as_str().is_some_and(is_mask) {
        rep["secret"] = Value::Null;
    }
    let roles = client
        .all_at(
            &["admin", "realms", realm, "clients", &id, "roles"],
            &[FULL],
            &format!("read the roles of client `{client_id}` in realm `{realm}`"),
        )
        .await?;
    Ok((rep, roles))
}

fn is_mask(secret: &str) -> bool {
    !secret.is_empty() && secret.chars().all(|c| c == '*')
}

/// The confidential clients of a realm document whose secret Keycloak did not show: the
/// export has none for them, which the user should hear.
pub fn masked_secrets(doc: &Value) -> Vec<String> {
    doc["clients"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["publicClient"] != json!(true)
                && c["bearerOnly"] != json!(true)
                && c["secret"].as_str().is_none_or(str::is_empty)
        })
        .filter_map(|c| c["clientId"].as_str().map(str::to_string))
        .collect()
}

/// The groups under `parent` (the top level when `None`), each with its `subGroups`.
async fn read_group_tree(
    client: &AdminClient,
    realm: &str,
    parent: Option<String>,
) -> Result<Vec<Value>, AdminError> {
    let list = match &parent {
        None => {
            client
                .all_at(
                    &["admin", "realms", realm, "groups"],
                    &[FULL],
                    &format!("read the groups of realm `{realm}`"),
                )
                .await?
        }
        Some(id) => {
            client
                .all_at(
                    &["admin", "realms", realm, "groups", id, "children"],
                    &[FULL],
                    &format!("read the subgroups of a group of realm `{realm}`"),
                )
                .await?
        }
    };
    let mut out = Vec::new();
    for mut g in list {
        // Only groups that have children are asked for them; a count of 0 saves the read,
        // and without a count (older 26.2 releases) the children are read.
        let has_children = g.get("subGroupCount").and_then(Value::as_u64) != Some(0);
        let children = if has_children {
            let id = g["id"].as_str().unwrap_or_default().to_string();
            Box::pin(read_group_tree(client, realm, Some(id))).await?
        } else {
            Vec::new()
        };
        g["subGroups"] = Value::Array(children);
        out.push(g);
    }
    Ok(out)
}

/// A user with its group paths, direct role mappings, and whether it has a password.
async fn read_user(client: &AdminClient, realm: &str, mut rep: Value) -> Result<Value, AdminError> {
    let id = rep["id"].as_str().unwrap_or_default().to_string();
    let memberships = super::reconcile::observe_memberships(client, realm, &id);
    let credentials = client.credentials(realm, &id);
    let (memberships, credentials) = futures_util::try_join!(memberships, credentials)?;
    rep["groups"] = json!(memberships.groups);
    rep["realmRoles"] = json!(memberships.realm_roles);
    let client_roles: BTreeMap<String, Vec<String>> = memberships
        .client_roles
        .into_iter()
        .map(|(c, r)| (c, r.into_iter().collect()))
        .collect();
    rep["clientRoles"] = json!(client_roles);
    let has_password = credentials
        .iter()
        .any(|c| c.get("type").and_then(Value::as_str) == Some("password"));
    if has_password {
        // Keycloak never gives a password back: `render` writes a placeholder.
        let temporary = rep["requiredActions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == super::realm_file::UPDATE_PASSWORD));
        rep["credentials"] = json!([{"type": "password", "temporary": temporary}]);
    }
    Ok(rep)
}

/// A loaded realm file as a pruned realm document without passwords: what it asks of
/// Keycloak beyond Keycloak's own defaults, comparable with an export's (also without
/// passwords) to tell whether two files want the same realm.
pub fn desired_state(realm: &RealmFile) -> Value {
    without_credentials(prune(&realm.creation_body()))
}

/// A pruned document without its users' credentials.
pub fn without_credentials(mut doc: Value) -> Value {
    if let Some(users) = doc.get_mut("users").and_then(Value::as_array_mut) {
        for u in users {
            if let Some(m) = u.as_object_mut() {
                m.remove("credentials");
            }
        }
    }
    doc
}
