//! Reconcile, the pure half: what Keycloak has ([`Observed`]) against what the file wants
//! ([`RealmFile`]) gives a [`RealmPlan`]; no I/O here, so the plan is unit-tested and a dry
//! run is the plan reported without being executed.
//!
//! "Differs" is judged only on the fields the file sets (Keycloak fills defaults for the
//! rest): objects are compared key by key on the file's keys, attributes on the file's
//! attribute names, set-like lists (redirect URIs, web origins, ...) ignoring order, usernames
//! and emails ignoring case (Keycloak lower-cases them).

use serde_json::{Map, Value};

mod access;

pub use access::{
    grants, plan_access, AccessPlan, Grants, GroupPlan, Memberships, ObservedAccess, RolePlan,
};

use super::realm_file::{
    ClientSpec, Password, RealmFile, UserSpec, ACCESS_REALM_KEYS, CLIENT_SET_FIELDS,
    IMPORT_ONLY_REALM_KEYS, UPDATE_PASSWORD, USER_MEMBERSHIP_FIELDS, USER_SET_FIELDS,
};
use super::user_profile::{keeps_attribute, profile_of_new_realm};
use crate::report::Action;

/// What Keycloak has for one realm file, as read by GETs (and the password check).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// `GET /admin/realms/{realm}`, or `None` when absent.
    pub realm: Option<Value>,
    /// Per file client, in file order: the client's representation and its secret.
    pub clients: Vec<Option<ObservedClient>>,
    /// Per file user, in file order.
    pub users: Vec<Option<ObservedUser>>,
    /// `GET .../users/profile` of an existing realm (read when the file has users; `None`
    /// when not read or this Keycloak has none).
    pub user_profile: Option<Value>,
    /// The roles and groups the file declares or names (read when it has some).
    pub access: ObservedAccess,
}

impl Observed {
    /// The user profile the file's users meet: the realm's, or for a realm still to be
    /// created the one the file brings (else Keycloak's default). `None`: unknown.
    pub fn profile_in_force(&self, desired: &RealmFile) -> Option<Value> {
        match &self.realm {
            None => Some(profile_of_new_realm(desired)),
            Some(_) => self.user_profile.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ObservedClient {
    pub rep: Value,
    /// From `GET .../client-secret`, read only when the file sets a secret.
    pub secret: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ObservedUser {
    pub rep: Value,
    pub password: PasswordCheck,
    /// The user's groups and role mappings, read when the file sets some.
    pub memberships: Option<Memberships>,
}

/// What the password grant on the realm's `admin-cli` proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The file sets no password.
    NotChecked,
    /// 200: the password is the file's.
    Matches,
    /// 401 `invalid_grant`: the password is different.
    Differs,
    /// Any other answer proves nothing (disabled, not fully set up, direct grants off): set it.
    Unproven(String),
}

/// The plan for one realm file.
#[derive(Debug, Clone, PartialEq)]
pub enum RealmPlan {
    /// Absent: one POST of the full realm with clients and users embedded.
    Create { body: Value },
    /// Present: patch the realm, then each client and user.
    Reconcile {
        /// Realm fields that differ (PUT only these); empty = unchanged.
        realm_patch: Map<String, Value>,
        clients: Vec<ClientPlan>,
        /// Roles and groups, written after the clients and before the users.
        access: AccessPlan,
        users: Vec<UserPlan>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClientPlan {
    Create {
        client_id: String,
        body: Value,
    },
    /// GET the full representation, [`merge_client`], PUT the whole.
    Update {
        client_id: String,
        id: String,
        changes: Vec<String>,
    },
    Unchanged {
        client_id: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum UserPlan {
    Create {
        username: String,
        /// `POST /users` body, without memberships (the admin API ignores role mappings).
        body: Value,
        /// The file's memberships, added once the user exists.
        grants: Grants,
    },
    Update {
        username: String,
        id: String,
        /// The whole representation to PUT (current merged with the file), if fields differ.
        put: Option<Value>,
        /// The password to set, if it differs or cannot be proven equal.
        password: Option<Password>,
        /// Groups and roles to add.
        grants: Grants,
        changes: Vec<String>,
    },
    Unchanged {
        username: String,
    },
}

impl ClientPlan {
    pub fn name(&self) -> &str {
        match self {
            ClientPlan::Create { client_id, .. }
            | ClientPlan::Update { client_id, .. }
            | ClientPlan::Unchanged { client_id } => client_id,
        }
    }

    /// What the plan does to the client, and the fields it changes (for `Updated`).
    pub fn action(&self) -> (Action, &[String]) {
        match self {
            ClientPlan::Create { .. } => (Action::Created, &[]),
            ClientPlan::Update { changes, .. } => (Action::Updated, changes),
            ClientPlan::Unchanged { .. } => (Action::Unchanged, &[]),
        }
    }
}

impl UserPlan {
    pub fn name(&self) -> &str {
        match self {
            UserPlan::Create { username, .. }
            | UserPlan::Update { username, .. }
            | UserPlan::Unchanged { username } => username,
        }
    }

    /// What the plan does to the user, and the fields it changes (for `Updated`).
    pub fn action(&self) -> (Action, &[String]) {
        match self {
            UserPlan::Create { .. } => (Action::Created, &[]),
            UserPlan::Update { changes, .. } => (Action::Updated, changes),
            UserPlan::Unchanged { .. } => (Action::Unchanged, &[]),
        }
    }
}

/// Compute the plan for one realm file from what was observed.
pub fn plan(desired: &RealmFile, observed: &Observed) -> RealmPlan {
    let Some(current_realm) = &observed.realm else {
        return RealmPlan::Create {
            body: desired.creation_body(),
        };
    };
    let realm_patch = realm_patch(desired.fields(), current_realm);
    let access = plan_access(desired, &observed.access);
    let profile = observed.profile_in_force(desired);
    let clients = desired
        .clients()
        .iter()
        .enumerate()
        .map(|(i, c)| plan_client(c, observed.clients.get(i).and_then(Option::as_ref)))
        .collect();
    let users = desired
        .users()
        .iter()
        .enumerate()
        .map(|(i, u)| {
            plan_user(
                u,
                observed.users.get(i).and_then(Option::as_ref),
                profile.as_ref(),
            )
        })
        .collect();
    RealmPlan::Reconcile {
        realm_patch,
        clients,
        access,
        users,
    }
}

/// The realm fields that differ, as a PUT body (only these are sent).
pub fn realm_patch(desired: &Map<String, Value>, current: &Value) -> Map<String, Value> {
    desired
        .iter()
        .filter(|(k, _)| !IMPORT_ONLY_REALM_KEYS.contains(&k.as_str()))
        .filter(|(k, _)| !ACCESS_REALM_KEYS.contains(&k.as_str()))
        .filter(|(k, v)| !field_matches(k, v, current.get(k.as_str()), &[]))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn plan_client(desired: &ClientSpec, observed: Option<&ObservedClient>) -> ClientPlan {
    let client_id = desired.client_id().to_string();
    let Some(observed) = observed else {
        return ClientPlan::Create {
            client_id,
            body: desired.creation_body(),
        };
    };
    let mut changes = client_changes(desired, &observed.rep);
    if let (Some(want), Some(have)) = (desired.secret(), observed.secret.as_deref()) {
        if want != have {
            changes.push("secret".into());
        }
    }
    if changes.is_empty() {
        return ClientPlan::Unchanged { client_id };
    }
    let id = id_of(&observed.rep);
    ClientPlan::Update {
        client_id,
        id,
        changes,
    }
}

/// The client fields the file sets that differ from `current` (the secret is compared
/// separately, through `client-secret`: a GET of the client may mask it).
pub fn client_changes(desired: &ClientSpec, current: &Value) -> Vec<String> {
    changed_fields(
        desired.fields(),
        current,
        &["secret", "id"],
        CLIENT_SET_FIELDS,
    )
}

/// The whole client to PUT: the current full representation with the file's fields laid
/// over it (attributes merged by name), and the secret when the file sets one. A partial PUT
/// would reset what it omits (e.g. delete the service-account user, keycloak-behaviour §4).
pub fn merge_client(current_full: &Value, desired: &ClientSpec) -> Value {
    merge(current_full, desired.fields())
}

/// The plan for one user; attributes the realm's user `profile` would drop are not compared
/// (they would read as changed on every run; `apply` warns about them instead).
pub fn plan_user(
    desired: &UserSpec,
    observed: Option<&ObservedUser>,
    profile: Option<&Value>,
) -> UserPlan {
    let username = desired.username().to_string();
    let Some(observed) = observed else {
        let mut body = desired.creation_body();
        if let Value::Object(map) = &mut body {
            map.retain(|k, _| !USER_MEMBERSHIP_FIELDS.contains(&k.as_str()));
        }
        return UserPlan::Create {
            username,
            body,
            grants: grants(desired, None),
        };
    };
    let mut changes = user_changes(desired, &observed.rep);
    changes.retain(|c| {
        c.strip_prefix("attributes.")
            .is_none_or(|name| profile.is_none_or(|p| keeps_attribute(p, name)))
    });
    let put = (!changes.is_empty()).then(|| {
        let mut fields = desired.fields().clone();
        fields.retain(|k, _| !USER_MEMBERSHIP_FIELDS.contains(&k.as_str()));
        merge(&observed.rep, &fields)
    });
    // A matching password is set again when its `temporary` flag disagrees with the pending
    // UPDATE_PASSWORD: `reset-password` adds or removes that action (keycloak-behaviour §5).
    let pending_update = string_set(observed.rep.get("requiredActions")).contains(UPDATE_PASSWORD);
    let password = match (&observed.password, desired.password()) {
        (_, None) | (PasswordCheck::NotChecked, _) => None,
        (PasswordCheck::Matches, Some(p)) if p.temporary == pending_update => None,
        (_, Some(p)) => Some(p.clone()),
    };
    if password.is_some() {
        changes.push("password".into());
    }
    let grants = match &observed.memberships {
        Some(have) => grants(desired, Some(have)),
        None => Grants::default(),
    };
    changes.extend(grants.changes());
    if changes.is_empty() {
        return UserPlan::Unchanged { username };
    }
    let id = id_of(&observed.rep);
    UserPlan::Update {
        username,
        id,
        put,
        password,
        grants,
        changes,
    }
}

/// The user fields that differ; memberships are compared through their own reads.
pub fn user_changes(desired: &UserSpec, current: &Value) -> Vec<String> {
    let mut skip = vec!["id"];
    skip.extend(USER_MEMBERSHIP_FIELDS);
    changed_fields(desired.fields(), current, &skip, USER_SET_FIELDS)
}

/// The fields of `desired` (but `skip`) that `current` does not satisfy; attributes are
/// compared by name (`attributes.x`), `set_fields` ignoring order.
fn changed_fields(
    desired: &Map<String, Value>,
    current: &Value,
    skip: &[&str],
    set_fields: &[&str],
) -> Vec<String> {
    let mut changes = Vec::new();
    for (k, v) in desired {
        if skip.contains(&k.as_str()) {
            continue;
        }
        if k == "attributes" {
            changes.extend(attribute_changes(v, current.get("attributes")));
            continue;
        }
        if !field_matches(k, v, current.get(k.as_str()), set_fields) {
            changes.push(k.clone());
        }
    }
    changes
}

/// Keycloak's id of an observed object (empty when absent, which Keycloak never answers).
fn id_of(rep: &Value) -> String {
    rep.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `current` with `desired`'s fields laid over it; `attributes` merged by name.
fn merge(current: &Value, desired: &Map<String, Value>) -> Value {
    let mut out = current.as_object().cloned().unwrap_or_default();
    for (k, v) in desired {
        if k == "attributes" {
            let mut attrs = out
                .get("attributes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if let Some(want) = v.as_object() {
                for (ak, av) in want {
                    attrs.insert(ak.clone(), av.clone());
                }
            }
            out.insert("attributes".into(), Value::Object(attrs));
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn attribute_changes(desired: &Value, current: Option<&Value>) -> Vec<String> {
    let Some(want) = desired.as_object() else {
        return Vec::new();
    };
    want.iter()
        .filter(|(k, v)| !covers(v, current.and_then(|c| c.get(k.as_str()))))
        .map(|(k, _)| format!("attributes.{k}"))
        .collect()
}

/// Does the current value of field `key` satisfy the desired one?
fn field_matches(key: &str, desired: &Value, current: Option<&Value>, set_fields: &[&str]) -> bool {
    match key {
        "username" | "email" => match (desired.as_str(), current.and_then(Value::as_str)) {
            (Some(d), Some(c)) => d.eq_ignore_ascii_case(c),
            (Some(d), None) => d.is_empty(),
            _ => covers(desired, current),
        },
        k if set_fields.contains(&k) => {
            let want = string_set(Some(desired));
            let have = string_set(current);
            want == have
        }
        _ => covers(desired, current),
    }
}

fn string_set(v: Option<&Value>) -> std::collections::BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Generic "the current value satisfies the desired one": objects on the desired keys only,
/// lists element by element, scalars equal (a string and the scalar it spells are equal,
/// since Keycloak stores some typed values as strings).
pub fn covers(desired: &Value, current: Option<&Value>) -> bool {
    match (desired, current) {
        (Value::Null, None | Some(Value::Null)) => true,
        (_, None) => false,
        (Value::Object(d), Some(Value::Object(c))) => {
            d.iter().all(|(k, v)| covers(v, c.get(k.as_str())))
        }
        (Value::Array(d), Some(Value::Array(c))) => {
            d.len() == c.len() && d.iter().zip(c).all(|(dv, cv)| covers(dv, Some(cv)))
        }
        (Value::Number(d), Some(Value::Number(c))) => d.as_f64() == c.as_f64(),
        (Value::String(d), Some(Value::Bool(_) | Value::Number(_))) => {
            current.is_some_and(|c| c.to_string().as_str() == d.as_str())
        }
        (Value::Bool(_) | Value::Number(_), Some(Value::String(c))) => {
            desired.to_string().as_str() == c.as_str()
        }
        (d, Some(c)) => d == c,
    }
}

#[cfg(test)]
mod tests;
