use serde_json::json;

use super::*;
use crate::keycloak::parse_realm_file;

fn realm(yaml: &str) -> RealmFile {
    parse_realm_file(yaml, "t.yaml", false, &|_| None).expect("valid realm file")
}

const WITH_ATTRIBUTES: &str = "realm: r
users:
  - username: alice
    email: alice@example.org
    firstName: Alice
    lastName: Liddell
    attributes:
      department: [research]
  - username: bob
";

#[test]
fn undeclared_attributes_are_dropped_under_the_default_profile() {
    let r = realm(WITH_ATTRIBUTES);
    let dropped = dropped_attributes(&r, &default_profile());
    assert_eq!(
        dropped,
        [("alice".to_string(), vec!["department".to_string()])]
    );
}

#[test]
fn declared_attributes_and_an_admin_edit_policy_keep_them() {
    let r = realm(WITH_ATTRIBUTES);
    let declared = json!({"attributes": [{"name": "username"}, {"name": "email"},
                                         {"name": "department"}]});
    assert!(dropped_attributes(&r, &declared).is_empty());
    for (policy, kept) in [
        ("ENABLED", true),
        ("ADMIN_EDIT", true),
        ("ADMIN_VIEW", false),
    ] {
        let p = json!({"attributes": [{"name": "email"}], "unmanagedAttributePolicy": policy});
        assert_eq!(keeps_attribute(&p, "department"), kept, "{policy}");
    }
}

#[test]
fn a_new_realm_uses_the_profile_its_file_brings() {
    let profile = json!({"attributes": [{"name": "username"}, {"name": "email"}],
                         "unmanagedAttributePolicy": "ENABLED"});
    let yaml = format!(
        "realm: r\ncomponents:\n  {PROVIDER_TYPE}:\n    - providerId: declarative-user-profile\n      config:\n        {CONFIG_KEY}: ['{profile}']\n"
    );
    let r = realm(&yaml);
    assert_eq!(profile_of_new_realm(&r), profile);
    assert_eq!(
        profile_of_new_realm(&realm("realm: r\n")),
        default_profile()
    );
}

#[test]
fn missing_required_fields_are_named_unless_keycloak_already_has_them() {
    let r = realm(WITH_ATTRIBUTES);
    let p = default_profile();
    assert!(missing_required(&r.users()[0], None, &p).is_empty());
    assert_eq!(
        missing_required(&r.users()[1], None, &p),
        ["email", "firstName", "lastName"]
    );
    let current = json!({"username": "bob", "email": "bob@example.org", "firstName": ""});
    assert_eq!(
        missing_required(&r.users()[1], Some(&current), &p),
        ["firstName", "lastName"]
    );
}

#[test]
fn requirements_for_admins_or_some_scopes_do_not_bind_users() {
    let p = json!({"attributes": [
        {"name": "email", "required": {"roles": ["admin"]}},
        {"name": "firstName", "required": {"scopes": ["profile"]}},
        {"name": "lastName", "required": {}},
        {"name": "phone", "required": {"roles": ["user", "admin"]}}]});
    assert_eq!(required_of_users(&p), ["lastName", "phone"]);
}
