//! Roles, groups and memberships, the I/O half: read what the file declares or names
//! ([`observe_access`], [`observe_memberships`]) here; write the plan and each user's grants
//! in `write` ([`execute_access`], [`execute_grants`]), where names become Keycloak's ids
//! ([`Resolver`]) (keycloak-behaviour §13).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::keycloak::client::{AdminClient, AdminError};
use crate::keycloak::diff::{Memberships, ObservedAccess};
use crate::keycloak::realm_file::{group_path, RealmFile};

mod write;

pub use write::{execute_access, execute_grants, Resolver};

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

fn by_name(list: Vec<Value>) -> BTreeMap<String, Value> {
    list.into_iter()
        .filter_map(|r| Some((r.get("name")?.as_str()?.to_string(), r)))
        .collect()
}

fn id_of(rep: &Value) -> &str {
    rep.get("id").and_then(Value::as_str).unwrap_or_default()
}
