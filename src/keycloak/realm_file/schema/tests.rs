use serde_json::Value;

use super::super::{parse_realm_file, RealmFileError};
use super::{
    nearest_name, schema_at, schema_version_warning, REALM_SCHEMA, SCHEMA, SCHEMA_KEYCLOAK_VERSION,
};
use crate::keycloak::realm_file::Seg;

fn parse(text: &str) -> Result<super::super::RealmFile, RealmFileError> {
    parse_realm_file(text, "t.yaml", false, &|name| {
        (name == "PORT").then(|| "8080".to_string())
    })
}

/// Realistic mistakes, one per row: the file, then the line, the field path and a part of the
/// message each must be reported with.
const MISTAKES: &[(&str, usize, &str, &str)] = &[
    // realm level
    ("realm: r\ndisplayname: R\n", 2, "displayname", "did you mean `displayName`?"),
    ("realm: r\nsslRequire: external\n", 2, "sslRequire", "did you mean `sslRequired`?"),
    ("realm: r\naccessTokenLifeSpan: 300\n", 2, "accessTokenLifeSpan", "did you mean `accessTokenLifespan`?"),
    ("realm: r\naccessTokenLifespan: 5m\n", 2, "accessTokenLifespan", "expected a whole number, found a string"),
    ("realm: r\nenabled: yes\n", 2, "enabled", "expected true or false, found a string"),
    ("realm: r\nbruteForceStrategy: LINEARLY\n", 2, "bruteForceStrategy", "expected one of `LINEAR`, `MULTIPLE`, found `LINEARLY`"),
    // client
    ("realm: r\nclients:\n  - clientId: c\n    redirectUri: [http://x/*]\n", 4, "clients[0].redirectUri", "did you mean `redirectUris`?"),
    ("realm: r\nclients:\n  - clientId: c\n    publicClients: false\n", 4, "clients[0].publicClients", "did you mean `publicClient`?"),
    ("realm: r\nclients:\n  - clientId: c\n    standardFlowEnable: true\n", 4, "clients[0].standardFlowEnable", "did you mean `standardFlowEnabled`?"),
    ("realm: r\nclients:\n  - clientId: c\n    redirectUris: http://x/*\n", 4, "clients[0].redirectUris", "expected a list of strings, found a string"),
    ("realm: r\nclients:\n  - clientId: c\n    webOrigins:\n      - 3000\n", 5, "clients[0].webOrigins[0]", "expected a string, found a number"),
    ("realm: r\nclients:\n  - clientId: c\n    attributes:\n      - pkce\n", 4, "clients[0].attributes", "expected a mapping, found a list"),
    // protocol mapper
    ("realm: r\nclients:\n  - clientId: c\n    protocolMappers:\n      - name: aud\n        protocolMaper: oidc-audience-mapper\n", 6, "clients[0].protocolMappers[0].protocolMaper", "did you mean `protocolMapper`?"),
    ("realm: r\nclients:\n  - clientId: c\n    protocolMappers:\n      - name: aud\n        configs: {}\n", 6, "clients[0].protocolMappers[0].configs", "did you mean `config`?"),
    // user and credential
    ("realm: r\nusers:\n  - username: alice\n    firstname: Alice\n", 4, "users[0].firstname", "did you mean `firstName`?"),
    ("realm: r\nusers:\n  - username: alice\n    emailVerfied: true\n", 4, "users[0].emailVerfied", "did you mean `emailVerified`?"),
    ("realm: r\nusers:\n  - username: alice\n    enabled: maybe\n", 4, "users[0].enabled", "expected true or false, found a string"),
    ("realm: r\nusers:\n  - username: alice\n    credentials:\n      - type: password\n        value: s3cret-enough\n        temporay: false\n", 7, "users[0].credentials[0].temporay", "did you mean `temporary`?"),
    ("realm: r\nusers:\n  - username: alice\n    credentials:\n      - type: password\n        values: s3cret-enough\n", 6, "users[0].credentials[0].values", "did you mean `value`?"),
    ("realm: r\nusers:\n  - username: alice\n    credentials: {type: password}\n", 4, "users[0].credentials", "expected a list of mappings, found a mapping"),
    // roles and groups
    ("realm: r\nroles:\n  realms:\n    - name: customer\n", 3, "roles.realms", "did you mean `realm`?"),
    ("realm: r\nroles:\n  realm:\n    - name: customer\n      descripton: Buys\n", 5, "roles.realm[0].descripton", "did you mean `description`?"),
    ("realm: r\ngroups:\n  - name: staff\n    subgroups: []\n", 4, "groups[0].subgroups", "did you mean `subGroups`?"),
    ("realm: r\ngroups:\n  - name: staff\n    realmRoles: admin\n", 4, "groups[0].realmRoles", "expected a list of strings, found a string"),
    // identity providers, components, flows, required actions
    ("realm: r\nidentityProviders:\n  - alias: gh\n    providerID: github\n", 4, "identityProviders[0].providerID", "did you mean `providerId`?"),
    ("realm: r\ncomponents:\n  org.keycloak.keys.KeyProvider:\n    - name: rsa\n      providerID: rsa-generated\n", 5, "components.org.keycloak.keys.KeyProvider[0].providerID", "did you mean `providerId`?"),
    ("realm: r\nauthenticationFlows:\n  - alias: f\n    authenticationExecutions:\n      - authenticator: auth-cookie\n        requirment: REQUIRED\n", 6, "authenticationFlows[0].authenticationExecutions[0].requirment", "did you mean `requirement`?"),
    ("realm: r\nrequiredActions:\n  - alias: CONFIGURE_TOTP\n    defaultaction: true\n", 4, "requiredActions[0].defaultaction", "did you mean `defaultAction`?"),
];

#[test]
fn each_realistic_mistake_is_caught_at_its_line_and_field() {
    assert!(MISTAKES.len() >= 20);
    for (text, line, field, fragment) in MISTAKES {
        let err = match parse(text) {
            Err(e) => e,
            Ok(_) => panic!("not caught:\n{text}"),
        };
        assert_eq!(err.line(), Some(*line), "{err}\n{text}");
        assert_eq!(err.field(), Some(*field), "{err}\n{text}");
        assert!(err.to_string().contains(fragment), "{err}\n{text}");
    }
}

#[test]
fn an_unknown_field_names_the_class_and_version() {
    let err = parse("realm: r\nclients:\n  - clientId: c\n    redirectUri: [x]\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid realm file t.yaml:4: field `clients[0].redirectUri`: unknown field \
             `redirectUri`: Keycloak {SCHEMA_KEYCLOAK_VERSION}'s ClientRepresentation has no such \
             field; did you mean `redirectUris`?"
        )
    );
    // Nothing near: no suggestion.
    let err = parse("realm: r\nzzzqqq: 1\n").unwrap_err();
    assert!(!err.to_string().contains("did you mean"), "{err}");
}

#[test]
fn the_first_problem_in_the_file_is_reported() {
    let text = "realm: r\nclients:\n  - clientId: c\n    publicClient: nope\nfrobnicate: 1\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
}

#[test]
fn substituted_and_quoted_scalars_are_taken_as_the_type_expected() {
    let realm = parse(
        "realm: r\naccessTokenLifespan: ${PORT}\nregistrationAllowed: 'true'\nclients:\n  - clientId: c\n    attributes:\n      x: true\n      n: 3\n",
    )
    .unwrap();
    assert_eq!(realm.fields()["accessTokenLifespan"], 8080);
    assert_eq!(realm.fields()["registrationAllowed"], true);
    assert_eq!(realm.clients()[0].fields()["attributes"]["x"], "true");
    assert_eq!(realm.clients()[0].fields()["attributes"]["n"], "3");
    // Not coerced where the field is a string.
    let err = parse("realm: r\ndisplayName: 5\n").unwrap_err();
    assert_eq!(err.field(), Some("displayName"));
}

#[test]
fn the_representative_export_loads() {
    let text = include_str!("../../../../tests/data/realm-export-26.2.json");
    let realm = parse_realm_file(text, "realm-export-26.2.json", true, &|_| None).unwrap();
    assert_eq!(realm.name(), "shop");
    assert_eq!(realm.clients().len(), 2);
    assert_eq!(realm.users().len(), 2);
    // Keycloak's own `${...}` (message keys, vault references) stay as written.
    let sent = realm.creation_body().to_string();
    assert!(
        sent.contains("${role_default-roles}") && sent.contains("${vault.github_secret}"),
        "Keycloak's references kept: {sent}"
    );
    // A typo anywhere in it is caught, with its JSON line.
    let typo = text.replace("\"subGroupCount\"", "\"subGroupCounts\"");
    let err = parse_realm_file(&typo, "x.json", true, &|_| None).unwrap_err();
    assert_eq!(err.field(), Some("groups[0].subGroupCounts"), "{err}");
    let line = text
        .lines()
        .position(|l| l.contains("\"subGroupCount\""))
        .unwrap()
        + 1;
    assert_eq!(err.line(), Some(line), "{err}");
}

/// Real exports (not committed): `IAMSTACK_REALM_EXPORTS=/dir cargo test -- --ignored`.
#[test]
#[ignore = "needs IAMSTACK_REALM_EXPORTS, a directory of realm exports"]
fn realm_exports_in_a_directory_match_the_schema() {
    let dir = std::env::var("IAMSTACK_REALM_EXPORTS").expect("IAMSTACK_REALM_EXPORTS");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        let origin = path.display().to_string();
        let src = super::super::position::Source {
            text: &text,
            origin: &origin,
            json: true,
        };
        if let Err(e) = super::check(&mut doc, &src) {
            panic!("{e}");
        }
    }
}

#[test]
fn the_schema_records_its_keycloak_version_and_source() {
    let meta = &SCHEMA["x-keycloak"];
    assert_eq!(meta["version"], SCHEMA_KEYCLOAK_VERSION);
    assert!(meta["source"].as_str().unwrap().contains("release/26.2"));
    assert!(meta["classes"]
        .as_array()
        .unwrap()
        .contains(&Value::from("RealmRepresentation")));
    assert!(REALM_SCHEMA.contains("\"additionalProperties\": false"));
}

#[test]
fn schema_at_follows_references_lists_and_maps() {
    let path = [
        Seg::Key("clients".into()),
        Seg::Index(0),
        Seg::Key("protocolMappers".into()),
        Seg::Index(1),
    ];
    assert_eq!(
        schema_at(&path).unwrap()["title"],
        "ProtocolMapperRepresentation"
    );
    let path = [
        Seg::Key("components".into()),
        Seg::Key("any.Type".into()),
        Seg::Index(0),
    ];
    assert_eq!(
        schema_at(&path).unwrap()["title"],
        "ComponentExportRepresentation"
    );
}

#[test]
fn nearest_name_ignores_case_and_refuses_far_names() {
    let known = ["redirectUris", "rootUrl", "publicClient"];
    assert_eq!(
        nearest_name("redirecturis", known.into_iter()),
        Some("redirectUris")
    );
    assert_eq!(
        nearest_name("publicClients", known.into_iter()),
        Some("publicClient")
    );
    assert_eq!(nearest_name("frobnicate", known.into_iter()), None);
}

#[test]
fn images_of_another_keycloak_version_are_warned_about() {
    for same in [
        "keycloak/keycloak:26.2",
        "quay.io/keycloak/keycloak:26.2.5",
        "localhost:5000/keycloak:26.2-custom",
        "iamstack-test/keycloak:26.2-double",
    ] {
        assert_eq!(schema_version_warning(same), None, "{same}");
    }
    for other in [
        "keycloak/keycloak:26.3",
        "keycloak/keycloak:26.20",
        "keycloak/keycloak",
        "localhost:5000/keycloak",
        "keycloak/keycloak:nightly",
    ] {
        let warning = schema_version_warning(other).expect(other);
        assert!(
            warning.contains("26.2's schema") && warning.contains(other),
            "{warning}"
        );
    }
}
