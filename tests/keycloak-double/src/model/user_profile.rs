//! The realm's declarative user profile (Keycloak 24+): which user attributes are managed,
//! which the `user` role must fill in, and what happens to attributes nobody declared
//! (keycloak-behaviour §5).
//!
//! Keycloak keeps the profile as a JSON document (`UPConfig`) in the realm's
//! `declarative-user-profile` component; `GET /admin/realms/{realm}/users/profile` answers it.
//! A realm without one uses the built-in default
//! (`services/src/main/resources/keycloak-default-user-profile.json`).

use serde_json::{json, Value};

/// The component type and config key a realm export stores the profile under
/// (`DeclarativeUserProfileProvider`).
const PROVIDER_TYPE: &str = "org.keycloak.userprofile.UserProfileProvider";
const CONFIG_KEY: &str = "kc.user.profile.config";

/// The attributes every user has as representation fields, never under `attributes`.
pub const ROOT_ATTRIBUTES: &[&str] = &["username", "email", "firstName", "lastName"];

/// Keycloak 26.2's default profile: username, email, first and last name, the last three
/// required for the `user` role; no `unmanagedAttributePolicy` (unmanaged attributes disabled).
pub fn default_config() -> Value {
    let perms = json!({"view": ["admin", "user"], "edit": ["admin", "user"]});
    let named = |name: &str, validations: Value, required: bool| {
        let mut a = json!({"name": name, "displayName": format!("${{{name}}}"),
                           "validations": validations, "permissions": perms,
                           "multivalued": false});
        if required {
            a["required"] = json!({"roles": ["user"]});
        }
        a
    };
    json!({
        "attributes": [
            named("username", json!({"length": {"min": 3, "max": 255},
                  "username-prohibited-characters": {}, "up-username-not-idn-homograph": {}}), false),
            named("email", json!({"email": {}, "length": {"max": 255}}), true),
            named("firstName", json!({"length": {"max": 255},
                  "person-name-prohibited-characters": {}}), true),
            named("lastName", json!({"length": {"max": 255},
                  "person-name-prohibited-characters": {}}), true),
        ],
        "groups": [{"name": "user-metadata", "displayHeader": "User metadata",
                    "displayDescription": "Attributes, which refer to user metadata"}]
    })
}

/// The profile a realm import carries in its `components`, if any.
pub fn from_realm_import(rep: &serde_json::Map<String, Value>) -> Option<Value> {
    let text = rep
        .get("components")?
        .get(PROVIDER_TYPE)?
        .as_array()?
        .iter()
        .find_map(|c| c.get("config")?.get(CONFIG_KEY)?.get(0)?.as_str())?;
    serde_json::from_str(text).ok()
}

/// Is `name` declared in the profile?
pub fn is_declared(config: &Value, name: &str) -> bool {
    attributes(config).any(|a| a.get("name").and_then(Value::as_str) == Some(name))
}

/// `unmanagedAttributePolicy`, if set (`ENABLED`, `ADMIN_EDIT`, `ADMIN_VIEW`).
fn unmanaged_policy(config: &Value) -> Option<&str> {
    config
        .get("unmanagedAttributePolicy")
        .and_then(Value::as_str)
}

/// May the admin API write an attribute the profile does not declare? (`ENABLED`,
/// `ADMIN_EDIT`; unset drops it silently, `ADMIN_VIEW` keeps it read-only.)
pub fn admin_may_write_unmanaged(config: &Value) -> bool {
    matches!(unmanaged_policy(config), Some("ENABLED" | "ADMIN_EDIT"))
}

/// Does the admin API show attributes the profile does not declare? (any policy set)
pub fn admin_may_read_unmanaged(config: &Value) -> bool {
    unmanaged_policy(config).is_some()
}

/// The attributes a user (the `user` role) must have, unconditionally: `required` without
/// roles, or with `user` among them, and not limited to some scopes.
pub fn required_for_user(config: &Value) -> Vec<String> {
    attributes(config)
        .filter(|a| {
            let Some(req) = a.get("required").filter(|r| r.is_object()) else {
                return false;
            };
            let roles_ok = req
                .get("roles")
                .and_then(Value::as_array)
                .is_none_or(|r| r.is_empty() || r.iter().any(|x| x.as_str() == Some("user")));
            let scoped = req
                .get("scopes")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            roles_ok && !scoped
        })
        .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn attributes(config: &Value) -> impl Iterator<Item = &Value> {
    config
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_requires_email_and_names_of_users_and_disables_unmanaged_attributes() {
        let c = default_config();
        assert_eq!(required_for_user(&c), ["email", "firstName", "lastName"]);
        assert!(is_declared(&c, "username") && !is_declared(&c, "department"));
        assert!(!admin_may_write_unmanaged(&c) && !admin_may_read_unmanaged(&c));
    }

    #[test]
    fn a_profile_comes_from_the_realm_exports_component() {
        let profile = json!({"attributes": [{"name": "username"}, {"name": "email"}],
                             "unmanagedAttributePolicy": "ADMIN_EDIT"});
        let rep = json!({"components": {PROVIDER_TYPE: [{"providerId": "declarative-user-profile",
            "config": {CONFIG_KEY: [profile.to_string()]}}]}});
        let found = from_realm_import(rep.as_object().unwrap()).unwrap();
        assert!(admin_may_write_unmanaged(&found));
        assert!(required_for_user(&found).is_empty());
    }

    #[test]
    fn requirement_limited_to_admins_or_scopes_does_not_bind_users() {
        let c = json!({"attributes": [
            {"name": "email", "required": {"roles": ["admin"]}},
            {"name": "firstName", "required": {"scopes": ["profile"]}},
            {"name": "lastName", "required": {}}]});
        assert_eq!(required_for_user(&c), ["lastName"]);
    }
}
