//! Choosing what to check from realm files.

use super::*;
use crate::keycloak::{load_realm_files_with, parse_realm_file};

fn url() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

fn realm(yaml: &str) -> RealmFile {
    parse_realm_file(yaml, "test.yaml", false, &|_| None).expect("valid realm file")
}

#[test]
fn the_built_in_realm_gives_the_reference_values() {
    let realms = load_realm_files_with(&[], &|_| None).unwrap();
    let t = target_for(&realms, Choice::default(), url(), Some("localhost".into())).unwrap();
    assert_eq!(t.realm, "testing");
    assert_eq!(t.client_id, "test-client");
    assert_eq!(t.client_secret, "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6");
    assert_eq!(t.username, "test-user");
    assert_eq!(t.password, "test-user$123");
    assert_eq!(t.redirect_uri, "http://localhost:5000/callback");
    assert_eq!(t.post_logout_redirect_uri, "http://localhost:5000/");
    assert_eq!(t.expected_hostname.as_deref(), Some("localhost"));
}

#[test]
fn the_secret_comes_from_the_environment_when_the_file_says_so() {
    let realms = load_realm_files_with(&[], &|name| {
        (name == "TEST_CLIENT_SECRET").then(|| "from-env".to_string())
    })
    .unwrap();
    let t = target_for(&realms, Choice::default(), url(), None).unwrap();
    assert_eq!(t.client_secret, "from-env");
}

const TWO: &str = "realm: two
enabled: true
clients:
  - clientId: spa
    publicClient: true
    redirectUris: [\"/app/*\"]
  - clientId: api
    publicClient: false
    secret: s3cret
    rootUrl: http://localhost:7000
    redirectUris: [\"/cb\"]
users:
  - username: nopass
  - username: alice
    credentials: [{type: password, value: pw, temporary: false}]
";

#[test]
fn defaults_pick_the_first_confidential_client_and_user_with_a_password() {
    let t = target_for(&[realm(TWO)], Choice::default(), url(), None).unwrap();
    assert_eq!(
        (t.client_id.as_str(), t.client_secret.as_str()),
        ("api", "s3cret")
    );
    assert_eq!(t.username, "alice");
    assert_eq!(t.redirect_uri, "http://localhost:7000/cb");
    // No post.logout.redirect.uris: the site root, which Keycloak will refuse (and say so).
    assert_eq!(t.post_logout_redirect_uri, "http://localhost:7000/");
}

#[test]
fn choices_that_cannot_be_checked_are_configuration_errors() {
    let realms = [realm(TWO)];
    for (choice, needle) in [
        (
            Choice {
                realm: Some("nope"),
                ..Choice::default()
            },
            "realm `nope` is not in the realm files",
        ),
        (
            Choice {
                client: Some("spa"),
                ..Choice::default()
            },
            "not confidential",
        ),
        (
            Choice {
                client: Some("x"),
                ..Choice::default()
            },
            "client `x` is not in realm `two`",
        ),
        (
            Choice {
                user: Some("nopass"),
                ..Choice::default()
            },
            "no password in the realm file",
        ),
    ] {
        let err = anyhow::Error::from(target_for(&realms, choice, url(), None).unwrap_err());
        assert_eq!(crate::error::exit_code(&err), 7);
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[test]
fn redirect_uris_from_realm_file_patterns() {
    assert_eq!(
        redirect_uri_from_pattern("http://localhost:5000/*"),
        "http://localhost:5000/callback"
    );
    assert_eq!(
        redirect_uri_from_pattern("http://localhost:5000/cb"),
        "http://localhost:5000/cb"
    );
    let redirects = vec!["http://localhost:5000/*".to_string()];
    assert_eq!(
        post_logout_redirect_uri(Some("+"), &redirects).as_deref(),
        Some("http://localhost:5000/")
    );
    assert_eq!(
        post_logout_redirect_uri(Some("http://localhost:5000/bye##+"), &redirects).as_deref(),
        Some("http://localhost:5000/bye")
    );
    assert_eq!(post_logout_redirect_uri(None, &redirects), None);
}
