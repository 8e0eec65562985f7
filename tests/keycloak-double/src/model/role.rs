//! Roles: realm roles and client roles, their composites, a realm's built-in roles, and who
//! holds a role (direct mappings, groups, composites).
//!
//! Mappings are kept by role *name* on users and groups (realm roles in `realm_roles`, client
//! roles per internal client id in `client_roles`), so a role rename or delete updates them here.
//! Composites are kept by role id.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{uuid, Realm, User, MASTER};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Internal id of the client of a client role; `None` for a realm role.
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Ids of the roles this role is a composite of. `composite` in the representation is
    /// derived from it, as `RoleModel#isComposite` is (the flag in a request is never read).
    #[serde(default)]
    pub composites: Vec<String>,
}

impl Role {
    pub fn new(name: &str, description: Option<&str>, client: Option<&str>) -> Self {
        Role {
            id: uuid(),
            name: name.to_owned(),
            description: description.map(str::to_owned),
            client: client.map(str::to_owned),
            ..Role::default()
        }
    }

    pub fn composite(&self) -> bool {
        !self.composites.is_empty()
    }
}

/// A user's or group's direct mappings: realm role names, and client role names by client.
pub type MappingsMut<'a> = (&'a mut Vec<String>, &'a mut BTreeMap<String, Vec<String>>);

/// Whose role mappings: a user's or a group's (`RoleMapperModel`).
#[derive(Clone, Copy, Debug)]
pub enum Mapper<'a> {
    User(&'a str),
    Group(&'a str),
}

/// `${role_<name>}`: the message key Keycloak gives its built-in roles as description.
fn key(name: &str) -> String {
    format!("${{role_{name}}}")
}

/// Roles of the `account` client (`AccountRoles`, `RealmManager#setupAccountManagement`):
/// (name, composites, in the default role).
const ACCOUNT_ROLES: &[(&str, &[&str], bool)] = &[
    ("view-profile", &[], true),
    ("manage-account-links", &[], false),
    ("manage-account", &["manage-account-links"], true),
    ("view-applications", &[], false),
    ("view-consent", &[], false),
    ("manage-consent", &["view-consent"], false),
    ("delete-account", &[], false),
    ("view-groups", &[], false),
];

/// Roles of `realm-management` (`AdminRoles.ALL_REALM_ROLES`, `RealmManager#setupRealmAdminManagement`,
/// `ImpersonationConstants#setupImpersonationService`): (name, composites).
const ADMIN_ROLES: &[(&str, &[&str])] = &[
    ("create-client", &[]),
    ("query-users", &[]),
    ("query-groups", &[]),
    ("query-clients", &[]),
    ("query-realms", &[]),
    ("view-realm", &[]),
    ("view-users", &["query-users", "query-groups"]),
    ("view-clients", &["query-clients"]),
    ("view-events", &[]),
    ("view-identity-providers", &[]),
    ("view-authorization", &[]),
    ("manage-realm", &[]),
    ("manage-users", &[]),
    ("manage-clients", &[]),
    ("manage-events", &[]),
    ("manage-identity-providers", &[]),
    ("manage-authorization", &[]),
    ("impersonation", &[]),
];

impl Realm {
    /// The built-in roles of a new realm: `offline_access`, `uma_authorization` and the default
    /// role `default-roles-<realm>` composed of them and of `account`'s `view-profile` and
    /// `manage-account` (`KeycloakModelUtils#setupDefaultRole`, `RealmManager#setupOfflineTokens`,
    /// `#setupAuthorizationServices`, `#setupAccountManagement`); `broker`'s `read-token`;
    /// `realm-management`'s admin roles with `realm-admin` over them all; and in master the
    /// `admin` and `create-realm` roles (`RealmManager#setupMasterAdminManagement`).
    pub(super) fn add_builtin_roles(&mut self) {
        let default_name = self.default_role_name();
        let mut default_role = Role::new(&default_name, Some("${role_default-roles}"), None);
        for (name, description) in [
            ("offline_access", "${role_offline-access}"),
            ("uma_authorization", "${role_uma_authorization}"),
        ] {
            let role = Role::new(name, Some(description), None);
            default_role.composites.push(role.id.clone());
            self.roles.push(role);
        }
        if let Some(account) = self.client_by_client_id("account").map(|c| c.id.clone()) {
            let ids =
                self.add_client_roles(&account, ACCOUNT_ROLES.iter().map(|(n, c, _)| (*n, *c)));
            for ((_, _, default), id) in ACCOUNT_ROLES.iter().zip(ids) {
                if *default {
                    default_role.composites.push(id);
                }
            }
        }
        self.roles.push(default_role);
        if let Some(broker) = self.client_by_client_id("broker").map(|c| c.id.clone()) {
            self.add_client_roles(&broker, [("read-token", &[][..])].into_iter());
        }
        if let Some(management) = self
            .client_by_client_id("realm-management")
            .map(|c| c.id.clone())
        {
            let ids = self.add_client_roles(&management, ADMIN_ROLES.iter().copied());
            let mut realm_admin =
                Role::new("realm-admin", Some(&key("realm-admin")), Some(&management));
            realm_admin.composites = ids;
            self.roles.push(realm_admin);
        }
        if self.name == MASTER {
            let create_realm = Role::new("create-realm", Some(&key("create-realm")), None);
            let mut admin = Role::new("admin", Some(&key("admin")), None);
            admin.composites.push(create_realm.id.clone());
            self.roles.push(create_realm);
            self.roles.push(admin);
        }
    }

    /// Adds client roles with `${role_<name>}` descriptions and composites among themselves;
    /// returns their ids in order.
    fn add_client_roles<'a>(
        &mut self,
        client: &str,
        roles: impl Iterator<Item = (&'a str, &'a [&'a str])>,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        for (name, composites) in roles {
            let mut role = Role::new(name, Some(&key(name)), Some(client));
            role.composites = composites
                .iter()
                .filter_map(|c| self.client_role(client, c).map(|r| r.id.clone()))
                .collect();
            ids.push(role.id.clone());
            self.roles.push(role);
        }
        ids
    }

    /// The name of the realm's default role (`RealmModel#getDefaultRole`).
    pub fn default_role_name(&self) -> String {
        self.settings
            .get("defaultRole")
            .and_then(|r| r.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("default-roles-{}", self.name.to_lowercase()))
    }

    pub fn realm_role(&self, name: &str) -> Option<&Role> {
        self.roles
            .iter()
            .find(|r| r.client.is_none() && r.name == name)
    }

    pub fn client_role(&self, client: &str, name: &str) -> Option<&Role> {
        self.roles
            .iter()
            .find(|r| r.client.as_deref() == Some(client) && r.name == name)
    }

    pub fn role_by_id(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// The roles of a container (`None`: the realm), sorted by name.
    pub fn roles_of(&self, client: Option<&str>) -> Vec<&Role> {
        let mut roles: Vec<&Role> = self
            .roles
            .iter()
            .filter(|r| r.client.as_deref() == client)
            .collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        roles
    }

    /// The realm role `name`, created without a description when missing: what the realm
    /// import does with a role name it does not know (`RepresentationToModel#createRoleMappings`,
    /// `#importGroup`).
    pub fn realm_role_or_create(&mut self, name: &str) -> String {
        if let Some(role) = self.realm_role(name) {
            return role.id.clone();
        }
        let role = Role::new(name, None, None);
        let id = role.id.clone();
        self.roles.push(role);
        id
    }

    /// Same for a client role (`RepresentationToModel#createClientRoleMappings`).
    pub fn client_role_or_create(&mut self, client: &str, name: &str) -> String {
        if let Some(role) = self.client_role(client, name) {
            return role.id.clone();
        }
        let role = Role::new(name, None, Some(client));
        let id = role.id.clone();
        self.roles.push(role);
        id
    }

    /// `ModelToRepresentation#toBriefRepresentation(RoleModel)`; `full` adds the attributes
    /// (`#toRepresentation`). `containerId` is the realm id or the client's internal id.
    pub fn role_representation(&self, role: &Role, full: bool) -> Value {
        let mut rep = Map::new();
        rep.insert("id".into(), json!(role.id));
        rep.insert("name".into(), json!(role.name));
        if let Some(d) = &role.description {
            rep.insert("description".into(), json!(d));
        }
        rep.insert("composite".into(), json!(role.composite()));
        rep.insert("clientRole".into(), json!(role.client.is_some()));
        let container = role.client.clone().unwrap_or_else(|| self.id.clone());
        rep.insert("containerId".into(), json!(container));
        if full {
            rep.insert("attributes".into(), json!(role.attributes));
        }
        Value::Object(rep)
    }

    /// The role ids mapped directly to a user or group.
    pub fn direct_role_ids(&self, mapper: Mapper) -> Vec<String> {
        let (realm_roles, client_roles) = match mapper {
            Mapper::User(id) => match self.user_by_id(id) {
                Some(u) => (&u.realm_roles, &u.client_roles),
                None => return Vec::new(),
            },
            Mapper::Group(id) => match self.group_by_id(id) {
                Some(g) => (&g.realm_roles, &g.client_roles),
                None => return Vec::new(),
            },
        };
        let mut ids: Vec<String> = realm_roles
            .iter()
            .filter_map(|n| self.realm_role(n).map(|r| r.id.clone()))
            .collect();
        for (client, names) in client_roles {
            ids.extend(
                names
                    .iter()
                    .filter_map(|n| self.client_role(client, n).map(|r| r.id.clone())),
            );
        }
        ids
    }

    /// Every role a user or group has: direct mappings, the mappings of the user's groups and
    /// of their parents, and everything those are composites of (`UserModel#hasRole`,
    /// `RoleUtils#hasRoleFromGroup`, `KeycloakModelUtils#searchFor`).
    pub fn effective_role_ids(&self, mapper: Mapper) -> BTreeSet<String> {
        let mut todo = self.direct_role_ids(mapper);
        let mut groups: Vec<String> = match mapper {
            Mapper::User(id) => self
                .user_by_id(id)
                .map(|u| u.groups.clone())
                .unwrap_or_default(),
            Mapper::Group(id) => self
                .group_by_id(id)
                .and_then(|g| g.parent.clone())
                .into_iter()
                .collect(),
        };
        let mut seen_groups = BTreeSet::new();
        while let Some(gid) = groups.pop() {
            if !seen_groups.insert(gid.clone()) {
                continue;
            }
            todo.extend(self.direct_role_ids(Mapper::Group(&gid)));
            if let Some(parent) = self.group_by_id(&gid).and_then(|g| g.parent.clone()) {
                groups.push(parent);
            }
        }
        let mut found = BTreeSet::new();
        while let Some(id) = todo.pop() {
            if found.insert(id.clone()) {
                if let Some(role) = self.role_by_id(&id) {
                    todo.extend(role.composites.iter().cloned());
                }
            }
        }
        found
    }

    /// The direct role-name lists of a user or group, to change them.
    pub fn mappings_mut(&mut self, mapper: Mapper) -> Option<MappingsMut<'_>> {
        match mapper {
            Mapper::User(id) => self
                .user_by_id_mut(id)
                .map(|u| (&mut u.realm_roles, &mut u.client_roles)),
            Mapper::Group(id) => self
                .groups
                .iter_mut()
                .find(|g| g.id == id)
                .map(|g| (&mut g.realm_roles, &mut g.client_roles)),
        }
    }

    /// Maps a role (by id) to a user or group; mapping it twice is no change.
    pub fn grant_role(&mut self, mapper: Mapper, role_id: &str) {
        let Some(role) = self.role_by_id(role_id).cloned() else {
            return;
        };
        if let Some((realm_roles, client_roles)) = self.mappings_mut(mapper) {
            let list = match &role.client {
                None => realm_roles,
                Some(client) => client_roles.entry(client.clone()).or_default(),
            };
            if !list.contains(&role.name) {
                list.push(role.name);
            }
        }
    }

    pub fn revoke_role(&mut self, mapper: Mapper, role_id: &str) {
        let Some(role) = self.role_by_id(role_id).cloned() else {
            return;
        };
        if let Some((realm_roles, client_roles)) = self.mappings_mut(mapper) {
            match &role.client {
                None => realm_roles.retain(|n| *n != role.name),
                Some(client) => {
                    if let Some(list) = client_roles.get_mut(client) {
                        list.retain(|n| *n != role.name);
                        if list.is_empty() {
                            client_roles.remove(client);
                        }
                    }
                }
            }
        }
    }

    /// Renames a role and every mapping of it.
    pub fn rename_role(&mut self, role_id: &str, new_name: &str) {
        let Some(role) = self.role_by_id(role_id).cloned() else {
            return;
        };
        let rename = |list: &mut Vec<String>| {
            for n in list.iter_mut().filter(|n| **n == role.name) {
                *n = new_name.to_owned();
            }
        };
        for_each_mapping(self, &role, rename);
        if let Some(r) = self.roles.iter_mut().find(|r| r.id == role_id) {
            r.name = new_name.to_owned();
        }
    }

    /// Removes a role, its mappings and its place in composites (`RoleProvider#removeRole`).
    pub fn remove_role(&mut self, role_id: &str) {
        let Some(role) = self.role_by_id(role_id).cloned() else {
            return;
        };
        for_each_mapping(self, &role, |list| list.retain(|n| *n != role.name));
        for u in &mut self.users {
            u.client_roles.retain(|_, l| !l.is_empty());
        }
        for g in &mut self.groups {
            g.client_roles.retain(|_, l| !l.is_empty());
        }
        self.roles.retain(|r| r.id != role_id);
        for r in &mut self.roles {
            r.composites.retain(|c| c != role_id);
        }
    }

    /// Removes a client's roles (the client is being deleted).
    pub fn remove_client_roles(&mut self, client: &str) {
        let ids: Vec<String> = self
            .roles
            .iter()
            .filter(|r| r.client.as_deref() == Some(client))
            .map(|r| r.id.clone())
            .collect();
        for id in ids {
            self.remove_role(&id);
        }
    }

    /// The direct realm role of a user created through `UserProvider#addUser(realm, username)`,
    /// which grants the realm's default role (admin API users, service accounts, the bootstrap
    /// admin); the realm import passes `addDefaultRoles=false`.
    pub fn grant_default_role(&mut self, user_id: &str) {
        let name = self.default_role_name();
        if let Some(id) = self.realm_role(&name).map(|r| r.id.clone()) {
            self.grant_role(Mapper::User(user_id), &id);
        }
    }
}

/// Applies `f` to every list of names that can hold `role` (users' and groups' mappings).
fn for_each_mapping(realm: &mut Realm, role: &Role, f: impl Fn(&mut Vec<String>)) {
    let apply = |realm_roles: &mut Vec<String>,
                 client_roles: &mut BTreeMap<String, Vec<String>>| {
        match &role.client {
            None => f(realm_roles),
            Some(client) => {
                if let Some(list) = client_roles.get_mut(client) {
                    f(list);
                }
            }
        }
    };
    for u in &mut realm.users {
        apply(&mut u.realm_roles, &mut u.client_roles);
    }
    for g in &mut realm.groups {
        apply(&mut g.realm_roles, &mut g.client_roles);
    }
}

impl User {
    /// Whether the user is a direct member of a group.
    pub fn member_of(&self, group_id: &str) -> bool {
        self.groups.iter().any(|g| g == group_id)
    }
}
