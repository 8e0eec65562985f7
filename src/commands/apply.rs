//! `iamstack apply`: provision the realm files into a running Keycloak (any Keycloak, local or
//! remote, no Docker needed). `up` ends by calling the same library code.

use crate::cli::{ApplyArgs, KeycloakTarget};
use crate::config::{self, AdminCredentials, EnvFile};
use crate::keycloak::{self, client::check_keycloak_url};
use crate::report::{Event, Mode, Reporter};
use crate::stack::discover::{discover, Discovered};

/// Keycloak's base URL when `--keycloak-url` is not given.
pub const DEFAULT_KEYCLOAK_URL: &str = "http://localhost:8080";

/// The Keycloak a command talks to: `--keycloak-url` / `IAMSTACK_KEYCLOAK_URL`, else the running
/// stack of `--project` (its published port), else the default.
pub async fn keycloak_url(
    target: &KeycloakTarget,
    reporter: &Reporter,
) -> anyhow::Result<url::Url> {
    Ok(resolve_target_reported(target, reporter).await?.0)
}

/// As [`resolve_target_reported`], for a caller without a reporter: a warning is printed on
/// stderr as a plain line.
pub async fn resolve_target(
    target: &KeycloakTarget,
) -> anyhow::Result<(url::Url, Option<Discovered>)> {
    resolve_target_reported(target, &Reporter::new(Mode::Plain)).await
}

/// The URL as in [`keycloak_url`], with the stack found by discovery when one was used. When
/// the engine could not be asked, a warning says so before the default is used.
pub async fn resolve_target_reported(
    target: &KeycloakTarget,
    reporter: &Reporter,
) -> anyhow::Result<(url::Url, Option<Discovered>)> {
    if let Some(url) = &target.keycloak_url {
        check_keycloak_url(url)?;
        return Ok((url.clone(), None));
    }
    let project = config::project_name(&target.project)?;
    let (found, warning) = discover(&project)
        .await
        .into_parts(&project, DEFAULT_KEYCLOAK_URL);
    if let Some(message) = warning {
        reporter.emit(Event::Warning { message });
    }
    if let Some(found) = found {
        return Ok((found.keycloak_url.clone(), Some(found)));
    }
    let url = url::Url::parse(DEFAULT_KEYCLOAK_URL).expect("the default Keycloak URL is valid");
    Ok((url, None))
}

pub async fn run(args: ApplyArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    // A malformed realm file fails here, before any request (exit 7).
    let realms = keycloak::load_realm_files(&args.realm.realm_files)?;
    let env_file = EnvFile::from_args(&args.target.project)?;
    let admin = AdminCredentials::resolve(&args.admin, &env_file);
    let url = keycloak_url(&args.target, reporter).await?;
    let options = args.provisioning.options();
    let summary =
        keycloak::apply_options(&url, &admin, &realms, &options, args.dry_run, reporter).await?;
    let mut detail = format!("{}, {} requests", summary.counts_line(), summary.requests);
    if summary.dry_run {
        detail.push_str("; dry run: nothing was written");
    }
    reporter.emit(Event::StepFinished {
        step: format!("apply to {url}"),
        elapsed_ms: u64::try_from(summary.elapsed.as_millis()).unwrap_or(u64::MAX),
        detail: Some(detail),
    });
    Ok(crate::error::exit::OK)
}
