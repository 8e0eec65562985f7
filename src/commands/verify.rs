//! `iamstack verify`: resolve who to check, run the checks, exit 0 only when all pass (8 otherwise).

use url::Url;

use crate::cli::VerifyArgs;
use crate::error::{fail, Kind};
use crate::report::Reporter;
use crate::verify::VerifyTarget;

/// The reference setup's values (`shared/reference-setup.md`), which the built-in realm file
/// provisions.
pub mod reference {
    pub const KEYCLOAK_URL: &str = "http://localhost:8080";
    pub const HOSTNAME: &str = "localhost";
    pub const REALM: &str = "testing";
    pub const CLIENT_ID: &str = "test-client";
    pub const CLIENT_SECRET: &str = "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6";
    pub const USERNAME: &str = "test-user";
    pub const PASSWORD: &str = "test-user$123";
    pub const REDIRECT_URI: &str = "http://localhost:5000/callback";
    pub const POST_LOGOUT_REDIRECT_URI: &str = "http://localhost:5000/";
}

pub async fn run(args: VerifyArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let target = target_from_args(&args)?;
    let report = crate::verify::run(&target, reporter).await?;
    Ok(report.exit_code())
}

/// Who and what to check.
///
/// LEAD (wiring at merge): the realm, client, user, secret, password and redirect URIs come from
/// the loaded realm files (`keycloak::load_realm_files(&args.realm.realm_files)`, built-in file
/// when none): the first realm, its first confidential client, its first user with a password;
/// `--realm-name`/`--client`/`--user` pick others. Use `verify::redirect_uri_from_pattern` on
/// the client's first redirect URI and `verify::post_logout_redirect_uri` on its
/// `post.logout.redirect.uris` attribute. The default Keycloak URL and `expected_hostname` come
/// from the running stack (its published port and KC_HOSTNAME). Until then the reference
/// values below are used, and only for the reference names.
pub fn target_from_args(args: &VerifyArgs) -> anyhow::Result<VerifyTarget> {
    if !args.realm.realm_files.is_empty() {
        return Err(fail(
            Kind::InvalidConfig,
            "verify cannot read realm files in this build: run it without --realm to check the built-in realm `testing`",
        ));
    }
    let realm = args.realm_name.as_deref().unwrap_or(reference::REALM);
    let client = args.client.as_deref().unwrap_or(reference::CLIENT_ID);
    let user = args.user.as_deref().unwrap_or(reference::USERNAME);
    if realm != reference::REALM || client != reference::CLIENT_ID {
        return Err(fail(
            Kind::InvalidConfig,
            format!(
                "no secret known for client `{client}` in realm `{realm}`: verify takes it from the realm file, and only the built-in realm `testing` with client `test-client` is known"
            ),
        ));
    }
    if user != reference::USERNAME {
        return Err(fail(
            Kind::InvalidConfig,
            format!("no password known for user `{user}`: verify takes it from the realm file"),
        ));
    }
    let (keycloak_url, expected_hostname) = match &args.target.keycloak_url {
        // Any Keycloak: its KC_HOSTNAME is unknown, so the issuer's host is not pinned.
        Some(url) => (url.clone(), None),
        None => (
            Url::parse(reference::KEYCLOAK_URL)?,
            Some(reference::HOSTNAME.to_string()),
        ),
    };
    Ok(VerifyTarget {
        keycloak_url,
        realm: realm.to_string(),
        client_id: client.to_string(),
        client_secret: reference::CLIENT_SECRET.to_string(),
        username: user.to_string(),
        password: reference::PASSWORD.to_string(),
        redirect_uri: reference::REDIRECT_URI.to_string(),
        post_logout_redirect_uri: reference::POST_LOGOUT_REDIRECT_URI.to_string(),
        expected_hostname,
    })
}
