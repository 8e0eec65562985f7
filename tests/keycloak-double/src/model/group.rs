//! Groups: kept flat with a parent id, addressed by path (`/a/b`), with attributes and role
//! mappings; users hold the ids of the groups they are direct members of.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{uuid, Realm};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    /// The parent group's id; `None` for a top-level group.
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Direct realm role mappings (role names).
    #[serde(default)]
    pub realm_roles: Vec<String>,
    /// Direct client role mappings: internal client id -> role names.
    #[serde(default)]
    pub client_roles: BTreeMap<String, Vec<String>>,
}

impl Group {
    pub fn new(name: &str, parent: Option<&str>, id: Option<&str>) -> Self {
        Group {
            id: id.map(str::to_owned).unwrap_or_else(uuid),
            name: name.to_owned(),
            parent: parent.map(str::to_owned),
            ..Group::default()
        }
    }
}

/// The segments of a path (`KeycloakModelUtils#findGroupByPath` / `#splitPath`): one leading
/// and one trailing `/` are optional. Names are not escaped: `escapeSlashesInGroupPath` is off by
/// default (`GroupProvider.DEFAULT_ESCAPE_SLASHES = false`), so a `/` in a name is matched by
/// trying joined segments ([`Realm::group_by_path`]).
fn split_path(path: &str) -> Vec<&str> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Vec::new();
    }
    path.split('/').collect()
}

impl Realm {
    pub fn group_by_id(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    pub fn group_by_id_mut(&mut self, id: &str) -> Option<&mut Group> {
        self.groups.iter_mut().find(|g| g.id == id)
    }

    /// The groups under `parent` (`None`: the top level), sorted by name as Keycloak's
    /// queries return them.
    pub fn children_of(&self, parent: Option<&str>) -> Vec<&Group> {
        let mut groups: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| g.parent.as_deref() == parent)
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        groups
    }

    pub fn subgroup_count(&self, id: &str) -> usize {
        self.groups
            .iter()
            .filter(|g| g.parent.as_deref() == Some(id))
            .count()
    }

    /// `/a/b` from the root down to the group (`KeycloakModelUtils#buildGroupPath`, names as
    /// they are).
    pub fn group_path(&self, group: &Group) -> String {
        let mut names = vec![group.name.as_str()];
        let mut parent = group.parent.as_deref();
        while let Some(p) = parent.and_then(|id| self.group_by_id(id)) {
            if names.len() > self.groups.len() {
                break;
            }
            names.push(p.name.as_str());
            parent = p.parent.as_deref();
        }
        names.reverse();
        format!("/{}", names.join("/"))
    }

    /// The group at `path`, or `None` (`KeycloakModelUtils#findGroupByPath`: at each level the
    /// next one or more segments, joined with `/`, name a child).
    pub fn group_by_path(&self, path: &str) -> Option<&Group> {
        self.find_path(None, &split_path(path))
    }

    fn find_path(&self, parent: Option<&str>, segments: &[&str]) -> Option<&Group> {
        if segments.is_empty() {
            return None;
        }
        for take in 1..=segments.len() {
            let name = segments[..take].join("/");
            let Some(group) = self
                .groups
                .iter()
                .find(|g| g.parent.as_deref() == parent && g.name == name)
            else {
                continue;
            };
            if take == segments.len() {
                return Some(group);
            }
            if let Some(found) = self.find_path(Some(&group.id), &segments[take..]) {
                return Some(found);
            }
        }
        None
    }

    /// `ModelToRepresentation#toRepresentation(GroupModel, full)`: `id`, `name`, `path`,
    /// `parentId` (subgroups), `subGroups` (always present, empty: the getter creates the list);
    /// `full` adds `attributes`, `realmRoles` and `clientRoles` (by `clientId`).
    pub fn group_representation(&self, group: &Group, full: bool) -> Value {
        let mut rep = Map::new();
        rep.insert("id".into(), json!(group.id));
        rep.insert("name".into(), json!(group.name));
        rep.insert("path".into(), json!(self.group_path(group)));
        if let Some(parent) = &group.parent {
            rep.insert("parentId".into(), json!(parent));
        }
        rep.insert("subGroups".into(), json!([]));
        if full {
            rep.insert("attributes".into(), json!(group.attributes));
            rep.insert("realmRoles".into(), json!(group.realm_roles));
            let clients: Map<String, Value> = group
                .client_roles
                .iter()
                .filter(|(_, names)| !names.is_empty())
                .filter_map(|(id, names)| {
                    self.client_by_id(id)
                        .map(|c| (c.client_id().to_owned(), json!(names)))
                })
                .collect();
            rep.insert("clientRoles".into(), Value::Object(clients));
        }
        Value::Object(rep)
    }

    /// The group and all its descendants' ids.
    fn group_subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_owned()];
        let mut i = 0;
        while i < out.len() {
            let current = out[i].clone();
            out.extend(
                self.groups
                    .iter()
                    .filter(|g| g.parent.as_deref() == Some(current.as_str()))
                    .map(|g| g.id.clone()),
            );
            i += 1;
        }
        out
    }

    /// Removes a group with its subgroups and their memberships (`RealmModel#removeGroup`).
    pub fn remove_group(&mut self, id: &str) {
        let removed = self.group_subtree(id);
        self.groups.retain(|g| !removed.contains(&g.id));
        for u in &mut self.users {
            u.groups.retain(|g| !removed.contains(g));
        }
    }
}
