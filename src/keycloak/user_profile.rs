//! The realm's declarative user profile (Keycloak 24+), as far as provisioning users needs it
//! (keycloak-behaviour §5): which attributes Keycloak keeps, and which fields it requires of
//! users before they may log in. Pure: the profile comes from `GET .../users/profile` for an
//! existing realm, or from the realm file (else Keycloak's default) for a new one.

use serde_json::{json, Map, Value};

use super::realm_file::{RealmFile, UserSpec};

/// Where a realm export keeps its profile: the `declarative-user-profile` component's config.
const PROVIDER_TYPE: &str = "org.keycloak.userprofile.UserProfileProvider";
const CONFIG_KEY: &str = "kc.user.profile.config";

/// Fields of the user representation itself, never under `attributes`.
const ROOT_FIELDS: &[&str] = &["username", "email", "firstName", "lastName"];

/// Keycloak 26.2's default profile, as far as it matters here: email, first and last name
/// required of users; no `unmanagedAttributePolicy` (undeclared attributes are dropped).
pub fn default_profile() -> Value {
    let required = json!({"roles": ["user"]});
    json!({"attributes": [
        {"name": "username"},
        {"name": "email", "required": required},
        {"name": "firstName", "required": required},
        {"name": "lastName", "required": required},
    ]})
}

/// The profile a realm created from this file will have: the one in its `components`, else
/// Keycloak's default.
pub fn profile_of_new_realm(realm: &RealmFile) -> Value {
    realm
        .fields()
        .get("components")
        .and_then(|c| c.get(PROVIDER_TYPE))
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find_map(|c| c.get("config")?.get(CONFIG_KEY)?.get(0)?.as_str())
        })
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_else(default_profile)
}

/// Does Keycloak keep attribute `name` written through the admin API under this profile?
/// Declared ones, and undeclared ones when `unmanagedAttributePolicy` is `ENABLED` or
/// `ADMIN_EDIT` (unset drops them silently; `ADMIN_VIEW` makes them read-only).
pub fn keeps_attribute(profile: &Value, name: &str) -> bool {
    is_declared(profile, name)
        || matches!(
            profile
                .get("unmanagedAttributePolicy")
                .and_then(Value::as_str),
            Some("ENABLED" | "ADMIN_EDIT")
        )
}

/// The user attributes of the file that Keycloak would drop, by user: `(username, names)`.
pub fn dropped_attributes(realm: &RealmFile, profile: &Value) -> Vec<(String, Vec<String>)> {
    realm
        .users()
        .iter()
        .filter_map(|u| {
            let dropped: Vec<String> = attributes_of(u.fields())
                .filter(|name| !keeps_attribute(profile, name))
                .map(str::to_string)
                .collect();
            (!dropped.is_empty()).then(|| (u.username().to_string(), dropped))
        })
        .collect()
}

/// The fields the profile requires of every user (unconditionally: `required` with no roles
/// or with `user`, and not limited to scopes).
pub fn required_of_users(profile: &Value) -> Vec<String> {
    declared(profile)
        .filter(|a| {
            let Some(req) = a.get("required").filter(|r| r.is_object()) else {
                return false;
            };
            let for_users = req
                .get("roles")
                .and_then(Value::as_array)
                .is_none_or(|r| r.is_empty() || r.iter().any(|x| x.as_str() == Some("user")));
            let scoped = req
                .get("scopes")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            for_users && !scoped
        })
        .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The required fields a file user lacks (neither the file nor Keycloak's current user,
/// `current`, has a value).
pub fn missing_required(user: &UserSpec, current: Option<&Value>, profile: &Value) -> Vec<String> {
    required_of_users(profile)
        .into_iter()
        .filter(|name| {
            !has_value(user.fields(), name)
                && !current
                    .and_then(Value::as_object)
                    .is_some_and(|c| has_value(c, name))
        })
        .collect()
}

fn has_value(rep: &Map<String, Value>, name: &str) -> bool {
    let filled = |v: &Value| match v {
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| !s.is_empty())),
        _ => false,
    };
    if ROOT_FIELDS.contains(&name) {
        rep.get(name).is_some_and(filled)
    } else {
        rep.get("attributes")
            .and_then(|a| a.get(name))
            .is_some_and(filled)
    }
}

fn attributes_of(fields: &Map<String, Value>) -> impl Iterator<Item = &str> {
    fields
        .get("attributes")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|a| a.keys().map(String::as_str))
}

fn is_declared(profile: &Value, name: &str) -> bool {
    declared(profile).any(|a| a.get("name").and_then(Value::as_str) == Some(name))
}

fn declared(profile: &Value) -> impl Iterator<Item = &Value> {
    profile
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests;
