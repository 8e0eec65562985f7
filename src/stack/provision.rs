//! The last steps of `up`'s list: provision the realm files into the Keycloak that was just
//! made ready (the same code as `iamstack apply`), then `--verify` (the checks of
//! `iamstack verify`).

use anyhow::Context;
use url::Url;

use crate::config::AdminCredentials;
use crate::keycloak::{self, RealmFile};
use crate::report::Reporter;
use crate::verify::VerifyTarget;

/// What `up` does once Keycloak is ready.
pub struct Provisioning<'a> {
    pub admin: &'a AdminCredentials,
    pub realms: &'a [RealmFile],
    /// Concurrency and the password ledger.
    pub options: &'a keycloak::ApplyOptions,
    /// Provision the realm files (not with `--no-provision`).
    pub provision: bool,
    /// `--verify`: the checks' target for the stack's Keycloak URL.
    pub verify: Option<&'a dyn Fn(Url) -> anyhow::Result<VerifyTarget>>,
}

/// Apply the realm files; the detail for the step's line.
pub async fn provision(
    keycloak_url: &Url,
    provisioning: &Provisioning<'_>,
    dry_run: bool,
    reporter: &Reporter,
) -> anyhow::Result<String> {
    let summary = keycloak::apply_options(
        keycloak_url,
        provisioning.admin,
        provisioning.realms,
        provisioning.options,
        dry_run,
        reporter,
    )
    .await?;
    let mut detail = format!("{}, {} requests", summary.counts_line(), summary.requests);
    if summary.dry_run {
        detail.push_str("; dry run: nothing was written");
    }
    Ok(detail)
}

/// Run the OAuth2/OIDC checks; any failed check fails `up` (exit 8).
pub async fn verify(
    keycloak_url: &Url,
    target_for: &dyn Fn(Url) -> anyhow::Result<VerifyTarget>,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let target = target_for(keycloak_url.clone())?;
    let report = crate::verify::run(&target, reporter).await?;
    // Failed checks leave the stack up: say so; the user fixes and runs `iamstack verify`.
    report
        .ensure_passed()
        .context("the stack is up, but `up --verify` failed")?;
    Ok(())
}
