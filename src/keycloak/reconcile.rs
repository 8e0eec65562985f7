//! Reconcile, the I/O half: observe (GETs and the password check, `observe`), plan (pure,
//! `diff.rs`), then execute the plan (`write`) unless it is a dry run, reporting every
//! object.

mod access;
mod observe;
mod write;

#[cfg(test)]
mod tests;

use reqwest::Method;
use serde_json::Value;

use super::apply::ObjectOutcome;
use super::client::{AdminClient, AdminError};
use super::diff::{plan, GroupPlan, Observed, RealmPlan, RolePlan};
use super::password_proof::PasswordProof;
use super::progress::{Progress, Report};
use super::realm_file::{RealmFile, IMPORT_ONLY_REALM_KEYS};
use super::user_profile;
use crate::report::{Action, Event, Reporter};

pub use access::observe_memberships;
use access::{execute_access, Resolver};
pub use observe::{brute_force_protected, classify_password_check, observe};
use write::{create_realm, execute_client, execute_user, Created};

/// Observe, plan, and (unless `dry_run`) execute for one realm file.
pub async fn reconcile_realm(
    client: &AdminClient,
    realm: &RealmFile,
    dry_run: bool,
    reporter: &Reporter,
    proof: &PasswordProof,
    report: Report<'_>,
) -> Result<Vec<ObjectOutcome>, AdminError> {
    let run = Run {
        client,
        realm,
        dry_run,
        reporter,
        proof,
        report,
    };
    reconcile_once(&run, true).await
}

/// One realm's reconcile: where, what, and how.
struct Run<'a> {
    client: &'a AdminClient,
    realm: &'a RealmFile,
    dry_run: bool,
    reporter: &'a Reporter,
    proof: &'a PasswordProof,
    /// Progress of long phases, as the running step's progress.
    report: Report<'a>,
}

async fn reconcile_once(run: &Run<'_>, may_retry: bool) -> Result<Vec<ObjectOutcome>, AdminError> {
    let Run {
        client,
        realm,
        reporter,
        proof,
        report,
        ..
    } = *run;
    let observed = observe(client, realm, proof, report).await?;
    let plan = plan(realm, &observed);
    for message in warnings(realm, &observed) {
        reporter.emit(Event::Warning { message });
    }
    execute_plan(run, &plan, may_retry).await
}

/// Execute a plan computed by [`plan`] (and report every object). A `Create` plan whose POST
/// Keycloak answers "already exists" (another writer won the race) is re-observed and
/// reconciled instead. Passwords are checked by grants only (no ledger).
pub async fn execute(
    client: &AdminClient,
    realm: &RealmFile,
    plan: &RealmPlan,
    dry_run: bool,
    reporter: &Reporter,
) -> Result<Vec<ObjectOutcome>, AdminError> {
    let proof = PasswordProof::by_grant();
    let run = Run {
        client,
        realm,
        dry_run,
        reporter,
        proof: &proof,
        report: &|_| {},
    };
    execute_plan(&run, plan, true).await
}

async fn execute_plan(
    run: &Run<'_>,
    plan: &RealmPlan,
    may_retry: bool,
) -> Result<Vec<ObjectOutcome>, AdminError> {
    let Run {
        client,
        realm,
        dry_run,
        reporter,
        proof,
        report,
    } = *run;
    let mut out = Outcomes {
        realm: realm.name(),
        list: Vec::new(),
        reporter,
    };
    match plan {
        RealmPlan::Create { body } => {
            let hashes = realm.users_with_password();
            if !dry_run && hashes >= 50 {
                report(format!(
                    "creating realm `{}` with {} users: Keycloak hashes each password, \
                     allowed up to {} s",
                    realm.name(),
                    realm.users().len(),
                    write::realm_post_budget(realm, client.request_timeout()).as_secs()
                ));
            }
            if !dry_run {
                match create_realm(client, realm, body, reporter).await? {
                    Created::Whole => record_created(client, realm, proof).await?,
                    Created::AlreadyExists if may_retry => {
                        // Another writer created it between our GET and POST: reconcile
                        // against what is there now.
                        return Box::pin(reconcile_once(run, false)).await;
                    }
                    Created::AlreadyExists => {
                        return Err(AdminError::Conflict {
                            what: format!("create realm `{}`", realm.name()),
                            message: "Keycloak answers that the realm already exists, yet reading \
                                      it answers 404; check the realm name (and the admin's \
                                      permissions to read it)"
                                .into(),
                        })
                    }
                }
            }
            out.push("realm", realm.name(), Action::Created, Vec::new());
            for c in realm.clients() {
                out.push("client", c.client_id(), Action::Created, Vec::new());
            }
            for r in realm.realm_roles() {
                out.push("role", &r.name, Action::Created, Vec::new());
            }
            for (c, roles) in realm.client_roles() {
                for r in roles {
                    out.push(
                        "role",
                        &format!("{c}/{}", r.name),
                        Action::Created,
                        Vec::new(),
                    );
                }
            }
            for g in realm.groups() {
                out.push("group", &g.path, Action::Created, Vec::new());
            }
            for u in realm.users() {
                out.push("user", u.username(), Action::Created, Vec::new());
            }
        }
        RealmPlan::Reconcile {
            realm_patch,
            clients,
            access,
            users,
        } => {
            let name = realm.name();
            let done = Progress::new(report, "reconciled objects", clients.len() + users.len());
            if realm_patch.is_empty() {
                out.push("realm", name, Action::Unchanged, Vec::new());
            } else {
                if !dry_run {
                    client
                        .admin_checked(
                            Method::PUT,
                            &["admin", "realms", name],
                            Some(&Value::Object(realm_patch.clone())),
                            &format!("update realm `{name}`"),
                        )
                        .await?;
                }
                out.push(
                    "realm",
                    name,
                    Action::Updated,
                    realm_patch.keys().cloned().collect(),
                );
            }
            for (plan, spec) in clients.iter().zip(realm.clients()) {
                if !dry_run {
                    execute_client(client, name, plan, spec).await?;
                }
                let (action, changes) = plan.action();
                out.push("client", plan.name(), action, changes.to_vec());
                done.tick();
            }
            let ids = Resolver::new(client, name, &access.known);
            if !dry_run {
                execute_access(access, &ids).await?;
            }
            for role in &access.roles {
                let (action, changes) = match role {
                    RolePlan::Create { .. } => (Action::Created, Vec::new()),
                    RolePlan::Update { changes, .. } => (Action::Updated, changes.clone()),
                    RolePlan::Unchanged { .. } => (Action::Unchanged, Vec::new()),
                };
                out.push("role", &role.label(), action, changes);
            }
            for group in &access.groups {
                let (action, changes) = match group {
                    GroupPlan::Create { .. } => (Action::Created, Vec::new()),
                    GroupPlan::Update { changes, .. } => (Action::Updated, changes.clone()),
                    GroupPlan::Unchanged { .. } => (Action::Unchanged, Vec::new()),
                };
                out.push("group", group.path(), action, changes);
            }
            for (plan, spec) in users.iter().zip(realm.users()) {
                if !dry_run {
                    execute_user(client, name, plan, spec, proof, &ids).await?;
                }
                let (action, changes) = plan.action();
                out.push("user", plan.name(), action, changes.to_vec());
                done.tick();
            }
        }
    }
    Ok(out.list)
}

/// Record in the ledger the passwords a realm creation just set (when a ledger is kept): the
/// users are found again (by look-ups or pages), then each credential's metadata is read.
async fn record_created(
    client: &AdminClient,
    realm: &RealmFile,
    proof: &PasswordProof,
) -> Result<(), AdminError> {
    if !proof.keeps_ledger() || realm.users_with_password() == 0 {
        return Ok(());
    }
    let found = observe::find_users(client, realm).await?;
    let recordings = realm.users().iter().zip(found).filter_map(|(spec, rep)| {
        let id = rep?.get("id")?.as_str()?.to_string();
        let password = spec.password()?.value.clone();
        Some(async move {
            proof
                .record_set(client, realm.name(), &id, spec.username(), &password)
                .await
        })
    });
    futures_util::future::try_join_all(recordings)
        .await
        .map(|_| ())
}

/// What the user should know before the plan runs: import-only keys on an existing realm,
/// passwords set rather than checked (brute-force detection), user attributes Keycloak would
/// drop, and users lacking fields the user profile requires (their logins would fail).
pub fn warnings(realm: &RealmFile, observed: &Observed) -> Vec<String> {
    let name = realm.name();
    let mut out = Vec::new();
    if let Some(current) = &observed.realm {
        for key in IMPORT_ONLY_REALM_KEYS {
            if realm.fields().contains_key(*key) {
                out.push(format!(
                    "realm `{name}`: `{key}` is applied only when the realm is created; \
                     iamstack does not reconcile it on an existing realm"
                ));
            }
        }
        let with_password = realm.users_with_password();
        if brute_force_protected(current) && with_password > 0 {
            out.push(format!(
                "realm `{name}` has brute-force detection on: iamstack sets the password of each \
                 of its {with_password} user(s) instead of checking it by a login, since a wrong \
                 guess would count as a failed login"
            ));
        }
    }
    let Some(profile) = observed.profile_in_force(realm) else {
        return out;
    };
    for (user, dropped) in user_profile::dropped_attributes(realm, &profile) {
        out.push(format!(
            "user `{user}`: attribute(s) {} are not declared in realm `{name}`'s user profile, \
             and Keycloak drops undeclared attributes without an error; declare them in the \
             user profile (Realm settings > User profile) or set unmanagedAttributePolicy to \
             ADMIN_EDIT or ENABLED. iamstack does not count them as changes",
            quoted(&dropped)
        ));
    }
    for (i, user) in realm.users().iter().enumerate() {
        let current = observed
            .users
            .get(i)
            .and_then(Option::as_ref)
            .map(|u| &u.rep);
        let missing = user_profile::missing_required(user, current, &profile);
        if !missing.is_empty() {
            out.push(format!(
                "user `{}` has no {}, which realm `{name}`'s user profile requires: Keycloak \
                 refuses its password logins with \"Account is not fully set up\" and shows \
                 the update-profile form at a browser login; set {} in the realm file",
                user.username(),
                quoted(&missing),
                if missing.len() == 1 { "it" } else { "them" }
            ));
        }
    }
    out
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Outcomes<'a> {
    realm: &'a str,
    list: Vec<ObjectOutcome>,
    reporter: &'a Reporter,
}

impl Outcomes<'_> {
    fn push(&mut self, kind: &str, name: &str, action: Action, changes: Vec<String>) {
        self.reporter.emit(Event::Object {
            kind: kind.to_string(),
            name: name.to_string(),
            action,
            changes: changes.clone(),
        });
        self.list.push(ObjectOutcome {
            kind: kind.to_string(),
            realm: self.realm.to_string(),
            name: name.to_string(),
            action,
            changes,
        });
    }
}
