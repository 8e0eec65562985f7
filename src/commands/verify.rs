//! `iamstack verify`: resolve who to check from the realm files, run the checks, exit 0 only
//! when all pass (8 otherwise).

use url::Url;

use crate::cli::VerifyArgs;
use crate::commands::apply::resolve_target_reported;
use crate::error::{fail, Kind};
use crate::keycloak::{self, RealmFile};
use crate::report::Reporter;
use crate::verify::{post_logout_redirect_uri, redirect_uri_from_pattern, VerifyTarget};

/// KC_HOSTNAME of a stack started with the defaults.
/// KC_HOSTNAME of the reference setup, pinned in the issuer when no stack says otherwise.
pub const DEFAULT_HOSTNAME: &str = "localhost";

pub async fn run(args: VerifyArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    // A malformed realm file fails here, before any request (exit 7).
    let realms = keycloak::load_realm_files(&args.realm.realm_files)?;
    let (url, found) = resolve_target_reported(&args.target, reporter).await?;
    // The issuer's host is pinned to the stack's KC_HOSTNAME when we found the stack, to the
    // reference's `localhost` for the default URL, and not at all for a Keycloak named by
    // --keycloak-url (its KC_HOSTNAME is unknown; scheme, port and path are still checked).
    let hostname = match (&args.target.keycloak_url, found) {
        (Some(_), _) => None,
        (None, Some(found)) => Some(
            found
                .hostname
                .unwrap_or_else(|| DEFAULT_HOSTNAME.to_string()),
        ),
        (None, None) => Some(DEFAULT_HOSTNAME.to_string()),
    };
    let target = target_for(
        &realms,
        Choice {
            realm: args.realm_name.as_deref(),
            client: args.client.as_deref(),
            user: args.user.as_deref(),
        },
        url,
        hostname,
    )?;
    let report = crate::verify::run(&target, reporter).await?;
    Ok(report.exit_code())
}

/// `--realm-name`, `--client`, `--user`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Choice<'a> {
    pub realm: Option<&'a str>,
    pub client: Option<&'a str>,
    pub user: Option<&'a str>,
}

/// What to check, from the realm files: the chosen realm (else the first), its chosen client
/// (else the first confidential one) and user (else the first with a password), with the
/// secret and password the files configure — never values read back from Keycloak. Also used
/// by `up --verify`.
pub fn target_for(
    realms: &[RealmFile],
    choice: Choice<'_>,
    keycloak_url: Url,
    expected_hostname: Option<String>,
) -> anyhow::Result<VerifyTarget> {
    let invalid = |m: String| fail(Kind::InvalidConfig, m);
    let realm = match choice.realm {
        Some(name) => realms.iter().find(|r| r.name() == name).ok_or_else(|| {
            let known: Vec<&str> = realms.iter().map(RealmFile::name).collect();
            invalid(format!(
                "realm `{name}` is not in the realm files (they define: {}); pass the file with --realm",
                known.join(", ")
            ))
        })?,
        None => realms
            .first()
            .ok_or_else(|| invalid("no realm file to take the realm from".into()))?,
    };
    let realm_name = realm.name();
    let client = match choice.client {
        Some(id) => realm.client(id).ok_or_else(|| {
            invalid(format!("client `{id}` is not in realm `{realm_name}`'s file"))
        })?,
        None => realm
            .primary_client()
            .filter(|c| c.is_confidential())
            .ok_or_else(|| {
                invalid(format!(
                    "realm `{realm_name}`'s file has no confidential client to check: verify needs one with a secret"
                ))
            })?,
    };
    let client_id = client.client_id();
    if !client.is_confidential() {
        return Err(invalid(format!(
            "client `{client_id}` is not confidential (publicClient: false): verify checks confidential clients"
        )));
    }
    let secret = client.secret().ok_or_else(|| {
        invalid(format!(
            "client `{client_id}` has no secret in the realm file: verify uses the configured secret, never one read back from Keycloak; set `secret`"
        ))
    })?;
    let user = match choice.user {
        Some(name) => realm.user(name).ok_or_else(|| {
            invalid(format!(
                "user `{name}` is not in realm `{realm_name}`'s file"
            ))
        })?,
        None => realm
            .primary_user()
            .ok_or_else(|| invalid(format!("realm `{realm_name}`'s file has no user to check")))?,
    };
    let password = user.password().ok_or_else(|| {
        invalid(format!(
            "user `{}` has no password in the realm file: verify signs in with it",
            user.username()
        ))
    })?;
    let redirect_uris: Vec<String> = client
        .redirect_uris()
        .iter()
        .map(|u| absolute(u, client.root_url()))
        .collect();
    let Some(first) = redirect_uris.first() else {
        return Err(invalid(format!(
            "client `{client_id}` has no redirectUris: the authorization code flow needs one"
        )));
    };
    let redirect_uri = redirect_uri_from_pattern(first);
    let logout_attr = client.post_logout_redirect_uris().join("##");
    let post_logout = post_logout_redirect_uri(
        (!logout_attr.is_empty()).then_some(logout_attr.as_str()),
        &redirect_uris,
    )
    .map(|u| absolute(&u, client.root_url()))
    // None configured: Keycloak will refuse any; the logout check then says how to fix it.
    .unwrap_or_else(|| site_root(&redirect_uri));
    Ok(VerifyTarget {
        keycloak_url,
        realm: realm_name.to_string(),
        client_id: client_id.to_string(),
        client_secret: secret.to_string(),
        username: user.username().to_string(),
        password: password.value.clone(),
        redirect_uri,
        post_logout_redirect_uri: post_logout,
        expected_hostname,
    })
}

/// Keycloak resolves a relative redirect URI (`/cb`) against the client's root URL.
fn absolute(uri: &str, root_url: Option<&str>) -> String {
    match (uri.starts_with('/'), root_url) {
        (true, Some(root)) => format!("{}{uri}", root.trim_end_matches('/')),
        _ => uri.to_string(),
    }
}

fn site_root(uri: &str) -> String {
    Url::parse(uri)
        .map(|u| format!("{}/", u.origin().ascii_serialization()))
        .unwrap_or_else(|_| uri.to_string())
}

#[cfg(test)]
mod tests {
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
            let err = target_for(&realms, choice, url(), None).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 7);
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
