//! `iamstack verify`: resolve who to check from the realm files, run the checks, exit 0 only
//! when all pass (8 otherwise).

use crate::cli::{KeycloakTarget, RealmArgs, VerifyArgs};
use crate::commands::apply::resolve_target_reported;
use crate::config::DEFAULT_HOSTNAME;
use crate::keycloak;
use crate::report::Reporter;
use crate::verify::{target_for, Choice, VerifyTarget};

pub async fn run(args: VerifyArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let choice = choice(&args.who);
    let target = resolve(&args.target, &args.realm, choice, reporter).await?;
    let report = crate::verify::run(&target, reporter).await?;
    Ok(report.exit_code())
}

/// Who to check, and where: from the realm files and the running stack (or `--keycloak-url`);
/// `verify` and `token` share it.
pub async fn resolve(
    keycloak: &KeycloakTarget,
    realm_args: &RealmArgs,
    choice: Choice<'_>,
    reporter: &Reporter,
) -> anyhow::Result<VerifyTarget> {
    // A malformed realm file fails here, before any request (exit 7).
    let realms = keycloak::load_realm_files(&realm_args.realm_files)?;
    let (url, found) = resolve_target_reported(keycloak, reporter).await?;
    // The issuer's host is pinned to the stack's KC_HOSTNAME when we found the stack, to the
    // reference's `localhost` for the default URL, and not at all for a Keycloak named by
    // --keycloak-url (its KC_HOSTNAME is unknown; scheme, port and path are still checked).
    let hostname = match (&keycloak.keycloak_url, found) {
        (Some(_), _) => None,
        (None, Some(found)) => Some(
            found
                .hostname
                .unwrap_or_else(|| DEFAULT_HOSTNAME.to_string()),
        ),
        (None, None) => Some(DEFAULT_HOSTNAME.to_string()),
    };
    Ok(target_for(&realms, choice, url, hostname)?)
}

/// The realm, client and user the flags name (`None`: the realm files' defaults).
pub fn choice(who: &crate::cli::ChoiceArgs) -> Choice<'_> {
    Choice {
        realm: who.realm_name.as_deref(),
        client: who.client.as_deref(),
        user: who.user.as_deref(),
    }
}
