use super::*;
use crate::keycloak::export::{desired_state, password_variable, render, without_credentials};
use crate::keycloak::realm_file::RealmFile;
use crate::keycloak::realm_file::{parse_realm_file, BUILTIN_REALM};

/// The built-in realm as Keycloak 26.2 gives it back: the file's fields plus everything
/// Keycloak fills in (defaults, ids, echoes in `attributes`, built-in message keys).
fn keycloak_document() -> Value {
    let mut doc = json!({
        "id": "9f1c", "realm": "testing", "displayName": "Testing", "enabled": true,
        "sslRequired": "external", "accessTokenLifespan": 300, "notBefore": 0,
        "defaultRole": {"id": "r1", "name": "default-roles-testing", "composite": true},
        "requiredCredentials": ["password"], "eventsListeners": ["jboss-logging"],
        "otpSupportedApplications": ["totpAppFreeOTPName"],
        "browserSecurityHeaders": realm_defaults()["browserSecurityHeaders"].clone(),
        "attributes": {"cibaInterval": "5", "frontendUrl": "", "clientSessionIdleTimeout": "0"},
        "clientSessionIdleTimeout": 0,
        "roles": {"realm": [], "client": {}},
        "groups": []
    });
    doc["clients"] = json!([{
            "id": "c1", "clientId": "test-client", "name": "Test Client",
            "description": "Confidential client of the reference setup (authorization code, password and client credentials flows)",
            "rootUrl": "http://localhost:5000/", "enabled": true, "protocol": "openid-connect",
            "publicClient": false, "clientAuthenticatorType": "client-secret",
            "secret": "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6", "standardFlowEnabled": true,
            "directAccessGrantsEnabled": true, "serviceAccountsEnabled": true,
            "implicitFlowEnabled": false, "frontchannelLogout": false, "fullScopeAllowed": true,
            "adminUrl": "http://localhost:5000/",
            "redirectUris": ["http://localhost:5000/*"], "webOrigins": ["http://localhost:5000"],
            "nodeReRegistrationTimeout": -1, "access": {"view": true},
            "defaultClientScopes": ["web-origins", "acr", "roles", "profile", "basic", "email"],
            "optionalClientScopes": ["address", "phone", "offline_access", "organization", "microprofile-jwt"],
            "attributes": {"post.logout.redirect.uris": "http://localhost:5000/*",
                           "realm_client": "false", "client.secret.creation.time": "1764530000",
                           "backchannel.logout.session.required": "true"}
    }]);
    doc["users"] = json!([{
            "id": "u1", "username": "test-user", "email": "test-user@localhost",
            "firstName": "Test", "lastName": "User", "emailVerified": true, "enabled": true,
            "createdTimestamp": 1764530000000u64, "totp": false, "notBefore": 0,
            "disableableCredentialTypes": [], "requiredActions": [],
            "access": {"manage": true}, "groups": [], "realmRoles": [], "clientRoles": {},
            "credentials": [{"type": "password", "temporary": false}]
    }]);
    doc
}

fn builtin() -> RealmFile {
    parse_realm_file(BUILTIN_REALM, "builtin", false, &|_| None).unwrap()
}

#[test]
fn keycloaks_own_defaults_and_fields_are_dropped_and_the_files_choices_kept() {
    // The admin URL, redirect URIs and web origins are those Keycloak derives from the root
    // URL: dropped as well.
    let pruned = prune(&keycloak_document());
    assert_eq!(
        pruned,
        json!({
            "realm": "testing", "displayName": "Testing",
            "clients": [{
                "clientId": "test-client", "name": "Test Client",
                "description": "Confidential client of the reference setup (authorization code, password and client credentials flows)",
                "rootUrl": "http://localhost:5000/", "secret": "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6",
                "directAccessGrantsEnabled": true, "serviceAccountsEnabled": true,
                "attributes": {"post.logout.redirect.uris": "http://localhost:5000/*"}
            }],
            "users": [{
                "username": "test-user", "email": "test-user@localhost", "firstName": "Test",
                "lastName": "User", "emailVerified": true,
                "credentials": [{"type": "password", "temporary": false}]
            }]
        })
    );
}

#[test]
fn the_built_in_realm_file_and_keycloaks_copy_want_the_same_realm() {
    assert_eq!(
        desired_state(&builtin()),
        without_credentials(prune(&keycloak_document()))
    );
}

#[test]
fn a_rendered_export_loads_back_to_the_same_realm_with_its_password_variable() {
    let mut doc = keycloak_document();
    doc["displayName"] = json!("${role_x} costs $${HOME} and $5");
    let rendered = render(&prune(&doc), "http://kc:8080");
    assert_eq!(
        rendered.password_variables,
        [("test-user".to_string(), "TEST_USER_PASSWORD".to_string())]
    );
    assert!(
        rendered.text.contains("set TEST_USER_PASSWORD"),
        "{}",
        rendered.text
    );
    assert!(rendered.text.starts_with("# Realm `testing` exported"));
    let lookup = |name: &str| (name == "TEST_USER_PASSWORD").then(|| "test-user$123".to_string());
    let loaded = parse_realm_file(&rendered.text, "export.yaml", false, &lookup).unwrap();
    assert_eq!(
        loaded.display_name(),
        Some("${role_x} costs $${HOME} and $5")
    );
    assert_eq!(
        loaded.user("test-user").unwrap().password().unwrap().value,
        "test-user$123"
    );
    let want = BUILTIN_REALM.replace(
        "displayName: Testing",
        "displayName: \"$${role_x} costs $$${HOME} and $5\"",
    );
    let want = parse_realm_file(&want, "builtin", false, &|_| None).unwrap();
    assert_eq!(desired_state(&loaded), desired_state(&want));
}

#[test]
fn without_the_password_variable_the_export_names_it() {
    let rendered = render(&prune(&keycloak_document()), "kc");
    let err = parse_realm_file(&rendered.text, "export.yaml", false, &|_| None).unwrap_err();
    assert!(err.to_string().contains("TEST_USER_PASSWORD"), "{err}");
}

#[test]
fn a_pending_password_update_is_a_temporary_password() {
    let mut doc = keycloak_document();
    doc["users"][0]["requiredActions"] = json!(["UPDATE_PASSWORD"]);
    doc["users"][0]["credentials"] = json!([{"type": "password", "temporary": true}]);
    let rendered = render(&prune(&doc), "kc");
    let lookup = |_: &str| Some("pw-1234".to_string());
    let loaded = parse_realm_file(&rendered.text, "export.yaml", false, &lookup).unwrap();
    assert!(
        loaded
            .user("test-user")
            .unwrap()
            .password()
            .unwrap()
            .temporary
    );
}

#[test]
fn password_variables_are_environment_names() {
    assert_eq!(password_variable("ann.lee@corp"), "ANN_LEE_CORP_PASSWORD");
    assert_eq!(password_variable("007"), "_007_PASSWORD");
}

#[test]
fn fields_unknown_to_the_26_2_schema_are_named_and_left_out() {
    let mut doc = prune(&keycloak_document());
    doc["webAuthnPolicyPasswordlessPasskeysEnabled"] = json!(true);
    doc["clients"][0]["futureFlag"] = json!("x");
    let dropped = crate::keycloak::realm_file::drop_unknown_fields(&mut doc);
    assert_eq!(
        dropped,
        [
            "clients[0].futureFlag",
            "webAuthnPolicyPasswordlessPasskeysEnabled"
        ]
    );
    assert_eq!(doc, prune(&keycloak_document()));
}
