//! `iamstack verify`: resolve who to check from the realm files, run the checks, exit 0 only
//! when all pass (8 otherwise).

use crate::cli::VerifyArgs;
use crate::commands::apply::resolve_target_reported;
use crate::config::DEFAULT_HOSTNAME;
use crate::keycloak;
use crate::report::Reporter;
use crate::verify::{target_for, Choice};

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
