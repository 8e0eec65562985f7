//! `apply`: provision realm files into a running Keycloak, one step per realm, and sum up
//! what happened to every object and what it cost.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use std::path::PathBuf;

use super::client::{AdminClient, DEFAULT_CONCURRENCY};
use super::password_proof::PasswordProof;
use super::realm_file::RealmFile;
use super::reconcile;
use crate::config::AdminCredentials;
use crate::report::{Action, Event, Reporter, Step};

/// What happened to one provisioned object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectOutcome {
    /// `realm`, `client` or `user`.
    pub kind: String,
    pub realm: String,
    pub name: String,
    pub action: Action,
    /// The fields that changed (for `updated`).
    pub changes: Vec<String>,
}

/// The result of [`apply`]: one outcome per object, counts, and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct ApplySummary {
    pub dry_run: bool,
    pub objects: Vec<ObjectOutcome>,
    /// HTTP requests sent (admin token, reads, writes, password checks, retries).
    pub requests: u32,
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl ApplySummary {
    pub fn count(&self, action: Action) -> usize {
        self.objects.iter().filter(|o| o.action == action).count()
    }
    pub fn created(&self) -> usize {
        self.count(Action::Created)
    }
    pub fn updated(&self) -> usize {
        self.count(Action::Updated)
    }
    pub fn unchanged(&self) -> usize {
        self.count(Action::Unchanged)
    }
    /// `2 created, 1 updated, 0 unchanged`.
    pub fn counts_line(&self) -> String {
        format!(
            "{} created, {} updated, {} unchanged",
            self.created(),
            self.updated(),
            self.unchanged()
        )
    }
}

/// How `apply` works beyond what to apply: requests in flight, and how passwords are proven.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Requests in flight at once (`--concurrency`).
    pub concurrency: usize,
    /// The local password ledger (see `password_proof`); `None`: every password by a grant.
    pub password_ledger: Option<PathBuf>,
    /// Check every password by a grant even when the ledger proves it (`--verify-passwords`).
    pub verify_passwords: bool,
}

impl Default for ApplyOptions {
    /// No ledger (nothing written on the machine), the default concurrency.
    fn default() -> Self {
        ApplyOptions {
            concurrency: DEFAULT_CONCURRENCY,
            password_ledger: None,
            verify_passwords: false,
        }
    }
}

/// Provision `realms` into the Keycloak at `keycloak_url`, logging in as `admin` (the
/// bootstrap admin of the master realm). Each object is reported as created, updated (with
/// its changed fields) or unchanged; with `dry_run` the same report is made and nothing is
/// written. Errors: exit 6 (admin API refused, login rejected), 5 (Keycloak unreachable).
pub async fn apply(
    keycloak_url: &url::Url,
    admin: &AdminCredentials,
    realms: &[RealmFile],
    dry_run: bool,
    reporter: &Reporter,
) -> anyhow::Result<ApplySummary> {
    let options = ApplyOptions::default();
    apply_options(keycloak_url, admin, realms, &options, dry_run, reporter).await
}

/// [`apply`] with [`ApplyOptions`].
pub async fn apply_options(
    keycloak_url: &url::Url,
    admin: &AdminCredentials,
    realms: &[RealmFile],
    options: &ApplyOptions,
    dry_run: bool,
    reporter: &Reporter,
) -> anyhow::Result<ApplySummary> {
    let client = AdminClient::new(keycloak_url, admin)?.with_concurrency(options.concurrency);
    let proof = match &options.password_ledger {
        Some(path) => PasswordProof::with_ledger(path.clone(), options.verify_passwords),
        None => PasswordProof::by_grant(),
    };
    let summary = apply_proving(&client, realms, &proof, dry_run, reporter).await?;
    if !dry_run {
        if let Err(e) = proof.save() {
            reporter.emit(Event::Warning {
                message: format!(
                    "could not save the password ledger ({e}): the next run checks every \
                     password by a login again"
                ),
            });
        }
    }
    Ok(summary)
}

/// [`apply`] with a prepared client (e.g. a shorter retry budget); passwords by grants.
pub async fn apply_with(
    client: &AdminClient,
    realms: &[RealmFile],
    dry_run: bool,
    reporter: &Reporter,
) -> anyhow::Result<ApplySummary> {
    apply_proving(
        client,
        realms,
        &PasswordProof::by_grant(),
        dry_run,
        reporter,
    )
    .await
}

async fn apply_proving(
    client: &AdminClient,
    realms: &[RealmFile],
    proof: &PasswordProof,
    dry_run: bool,
    reporter: &Reporter,
) -> anyhow::Result<ApplySummary> {
    let started = Instant::now();
    let mut objects = Vec::new();
    for realm in realms {
        let step = if dry_run {
            format!("provision realm `{}` (dry run)", realm.name())
        } else {
            format!("provision realm `{}`", realm.name())
        };
        let step = Step::start(reporter, step);
        let report = |message: String| step.progress(message);
        let result = reconcile::reconcile_realm(client, realm, dry_run, reporter, proof, &report)
            .await
            .with_context(|| {
                format!(
                    "cannot provision realm `{}` from {} into {}",
                    realm.name(),
                    realm.origin(),
                    client.base_url()
                )
            });
        let outcomes = step.close_with(result, |outcomes| {
            let counted = ApplySummary {
                dry_run,
                objects: outcomes.clone(),
                requests: 0,
                elapsed: Duration::ZERO,
            };
            Some(if dry_run {
                format!("would be: {}", counted.counts_line())
            } else {
                counted.counts_line()
            })
        })?;
        objects.extend(outcomes);
    }
    Ok(ApplySummary {
        dry_run,
        objects,
        requests: client.request_count(),
        elapsed: started.elapsed(),
    })
}
