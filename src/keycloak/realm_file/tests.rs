use serde_json::Value;

use super::*;

fn env(name: &str) -> Option<String> {
    (name == "SET").then(|| "from-env".to_string())
}

fn parse(text: &str) -> Result<RealmFile, RealmFileError> {
    parse_realm_file(text, "t.yaml", false, &env)
}

/// The message of a content problem (without file, line and field).
fn message(err: &RealmFileError) -> &str {
    match err {
        RealmFileError::Invalid { message, .. } => message,
        other => panic!("expected a content problem, got {other}"),
    }
}

#[test]
fn builtin_realm_is_the_reference_setup() {
    let realm = parse_realm_file(BUILTIN_REALM, BUILTIN_ORIGIN, false, &|_| None).unwrap();
    assert_eq!(realm.name(), "testing");
    assert!(realm.display_name().is_some());
    assert_eq!(realm.fields()["enabled"], Value::Bool(true));
    let client = realm.client("test-client").unwrap();
    assert_eq!(client.secret(), Some("g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"));
    assert!(client.is_confidential());
    assert!(client.standard_flow_enabled());
    assert!(client.direct_access_grants_enabled());
    assert!(client.service_accounts_enabled());
    assert_eq!(client.root_url(), Some("http://localhost:5000/"));
    assert_eq!(client.redirect_uris(), vec!["http://localhost:5000/*"]);
    assert_eq!(client.web_origins(), vec!["http://localhost:5000"]);
    assert_eq!(
        client.post_logout_redirect_uris(),
        vec!["http://localhost:5000/*"]
    );
    assert_eq!(client.fields()["protocol"], "openid-connect");
    assert_eq!(client.fields()["implicitFlowEnabled"], false);
    let user = realm.user("test-user").unwrap();
    assert_eq!(user.email(), Some("test-user@localhost"));
    assert_eq!(user.first_name(), Some("Test"));
    assert_eq!(user.last_name(), Some("User"));
    assert_eq!(user.fields()["emailVerified"], true);
    assert_eq!(user.fields()["enabled"], true);
    let pw = user.password().unwrap();
    assert_eq!(pw.value, "test-user$123");
    assert!(!pw.temporary);
    assert_eq!(realm.primary_client().unwrap().client_id(), "test-client");
    assert_eq!(realm.primary_user().unwrap().username(), "test-user");
}

#[test]
fn builtin_secret_comes_from_the_environment_when_set() {
    let lookup = |n: &str| (n == "TEST_CLIENT_SECRET").then(|| "other".to_string());
    let realm = parse_realm_file(BUILTIN_REALM, BUILTIN_ORIGIN, false, &lookup).unwrap();
    assert_eq!(realm.client("test-client").unwrap().secret(), Some("other"));
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    for (text, field) in [
        ("realm: r\nfrobnicate: 3\n", "frobnicate"),
        (
            "realm: r\nclients:\n  - clientId: c\n    wibble: true\n",
            "clients[0].wibble",
        ),
        (
            "realm: r\nusers:\n  - username: bob\n    zork: [1]\n",
            "users[0].zork",
        ),
    ] {
        let err = parse(text).unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(message(&err).starts_with("unknown field"), "{err}");
    }
}

#[test]
fn defaults_are_sent_explicitly() {
    let realm = parse("realm: r\nclients:\n  - clientId: c\nusers:\n  - username: bob\n").unwrap();
    let body = realm.creation_body();
    assert_eq!(body["enabled"], true);
    let c = &body["clients"][0];
    assert_eq!(c["protocol"], "openid-connect");
    assert_eq!(c["publicClient"], false);
    assert_eq!(c["enabled"], true);
    for (flag, default) in CLIENT_FLOW_DEFAULTS {
        assert_eq!(c[*flag], *default, "{flag}");
    }
    assert_eq!(body["users"][0]["enabled"], true);
}

#[test]
fn type_errors_name_file_line_and_field() {
    let text = "realm: r\nclients:\n  - clientId: a\n  - clientId: b\n    name: B\n    publicClient: maybe\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.line(), Some(6), "{err}");
    assert_eq!(err.field(), Some("clients[1].publicClient"));
    assert_eq!(
        err.to_string(),
        "invalid realm file t.yaml:6: field `clients[1].publicClient`: expected true or false, found a string"
    );
}

#[test]
fn missing_required_fields_are_reported() {
    let err = parse("displayName: x\n").unwrap_err();
    assert_eq!(err.field(), Some("realm"));
    assert!(message(&err).contains("required"));
    let err = parse("realm: r\nusers:\n  - email: a@b\n").unwrap_err();
    assert_eq!(err.field(), Some("users[0].username"));
    let err = parse("realm: r\nclients:\n  - clientId: 7\n").unwrap_err();
    assert_eq!(err.field(), Some("clients[0].clientId"));
    assert_eq!(err.line(), Some(3));
}

#[test]
fn syntax_errors_carry_the_parser_line() {
    let err = parse("realm: r\nclients:\n  - clientId: a\n   bad: [\n").unwrap_err();
    assert!(err.line().is_some(), "{err}");
    assert!(message(&err).starts_with("not valid YAML"), "{err}");
    let err = parse_realm_file("{\n \"realm\": \"r\",\n}", "x.json", true, &env).unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
}

#[test]
fn undefined_variables_name_the_line() {
    let text = "realm: r\nclients:\n  - clientId: c\n    secret: ${UNSET_VAR}\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.line(), Some(4));
    assert_eq!(err.field(), Some("clients[0].secret"));
    assert!(message(&err).contains("UNSET_VAR"));
    let realm = parse("realm: r\ndisplayName: ${SET} ${NOPE:-d} $${SET} a$1\n").unwrap();
    assert_eq!(realm.display_name(), Some("from-env d ${SET} a$1"));
}

#[test]
fn semantic_checks() {
    let err = parse("realm: a/b\n").unwrap_err();
    assert!(message(&err).contains("`/`"), "{err}");
    let err = parse("realm: r\nclients:\n  - clientId: c\n    publicClient: true\n    serviceAccountsEnabled: true\n").unwrap_err();
    assert_eq!(err.field(), Some("clients[0].serviceAccountsEnabled"));
    assert_eq!(err.line(), Some(5));
    let err = parse("realm: r\nclients:\n  - clientId: c\n  - clientId: c\n").unwrap_err();
    assert!(message(&err).contains("twice"));
    assert_eq!(err.line(), Some(4));
    let err = parse("realm: r\nclients:\n  - clientId: c\n    secret: '**********'\n").unwrap_err();
    assert!(message(&err).contains("masked"));
    let err = parse("realm: r\nclients:\n  - clientId: c\n    redirectUris: [\"http://x/#a\"]\n")
        .unwrap_err();
    assert_eq!(err.field(), Some("clients[0].redirectUris[0]"));
    assert_eq!(err.line(), Some(4));
    let err = parse("realm: r\nusers:\n  - username: Bob\n  - username: bob\n").unwrap_err();
    assert!(message(&err).contains("twice"));
}

#[test]
fn substituted_booleans_are_coerced() {
    let lookup = |n: &str| (n == "SA").then(|| "false".to_string());
    let realm = parse_realm_file(
        "realm: r\nclients:\n  - clientId: c\n    serviceAccountsEnabled: ${SA}\n",
        "t.yaml",
        false,
        &lookup,
    )
    .unwrap();
    assert!(!realm.clients()[0].service_accounts_enabled());
}

#[test]
fn attributes_are_normalised() {
    let realm = parse(
        "realm: r\nclients:\n  - clientId: c\n    attributes:\n      pkce.code.challenge.method: S256\n      x: true\nusers:\n  - username: bob\n    attributes:\n      team: blue\n",
    )
    .unwrap();
    assert_eq!(realm.clients()[0].fields()["attributes"]["x"], "true");
    assert_eq!(
        realm.users()[0].fields()["attributes"]["team"],
        serde_json::json!(["blue"])
    );
}

#[test]
fn json_realm_exports_load() {
    let text = "{\n  \"realm\": \"exp\",\n  \"enabled\": true,\n  \"clients\": [\n    {\n      \"clientId\": \"c\",\n      \"publicClient\": \"nope\"\n    }\n  ]\n}\n";
    let err = parse_realm_file(text, "exp.json", true, &env).unwrap_err();
    assert_eq!(err.line(), Some(7), "{err}");
    let ok = text.replace("\"nope\"", "true");
    let realm = parse_realm_file(&ok, "exp.json", true, &env).unwrap();
    assert_eq!(realm.name(), "exp");
}

#[test]
fn locate_follows_nested_lists() {
    let text = "realm: r\n# comment\nclients:\n  - clientId: a\n    redirectUris:\n      - x\n      - y\n  - clientId: b\n    attributes:\n      k: v\nusers:\n- username: u\n  email: e@x\n";
    let p = |segs: &[Seg]| locate(text, segs, false);
    use Seg::{Index as I, Key as K};
    assert_eq!(p(&[K("realm".into())]), Some(1));
    assert_eq!(
        p(&[K("clients".into()), I(0), K("clientId".into())]),
        Some(4)
    );
    assert_eq!(
        p(&[K("clients".into()), I(0), K("redirectUris".into()), I(1)]),
        Some(7)
    );
    assert_eq!(
        p(&[K("clients".into()), I(1), K("clientId".into())]),
        Some(8)
    );
    assert_eq!(
        p(&[
            K("clients".into()),
            I(1),
            K("attributes".into()),
            K("k".into())
        ]),
        Some(10)
    );
    assert_eq!(
        p(&[K("clients".into()), I(1), K("redirectUris".into())]),
        None
    );
    assert_eq!(p(&[K("users".into()), I(0), K("email".into())]), Some(13));
}

#[test]
fn directories_load_sorted_and_duplicates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.yaml"), "realm: b\n").unwrap();
    std::fs::write(dir.path().join("a.yml"), "realm: a\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let realms = load_realm_files_with(&[dir.path().to_path_buf()], &env).unwrap();
    let names: Vec<&str> = realms.iter().map(RealmFile::name).collect();
    assert_eq!(names, ["a", "b"]);
    std::fs::write(dir.path().join("c.json"), "{\"realm\": \"a\"}").unwrap();
    let err =
        anyhow::Error::from(load_realm_files_with(&[dir.path().to_path_buf()], &env).unwrap_err());
    assert_eq!(crate::error::exit_code(&err), 7);
    assert!(err.to_string().contains("defined twice"), "{err}");
    let err = anyhow::Error::from(
        load_realm_files_with(&[dir.path().join("missing.yaml")], &env).unwrap_err(),
    );
    assert_eq!(crate::error::exit_code(&err), 7);
}

#[test]
fn no_paths_means_the_builtin_realm() {
    let realms = load_realm_files_with(&[], &|_| None).unwrap();
    assert_eq!(realms.len(), 1);
    assert_eq!(realms[0].origin(), BUILTIN_ORIGIN);
}
