//! Reconcile, the I/O half: observe (GETs and the password check), plan (pure, `diff.rs`),
//! then execute the plan unless it is a dry run.

use futures_util::future::try_join_all;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::client::{AdminClient, AdminError, ApiResponse};
use super::diff::{
    merge_client, plan, ClientPlan, Observed, ObservedClient, ObservedUser, PasswordCheck,
    RealmPlan, UserPlan,
};
use super::realm_file::{ClientSpec, RealmFile, UserSpec, IMPORT_ONLY_REALM_KEYS};
use super::ObjectOutcome;
use crate::report::{Action, Event, Reporter};

/// Read everything the plan needs for one realm file.
pub async fn observe(client: &AdminClient, realm: &RealmFile) -> Result<Observed, AdminError> {
    let name = realm.name();
    let current = client
        .get_json(
            &["admin", "realms", name],
            &[],
            &format!("read realm `{name}`"),
        )
        .await?;
    if current.is_none() {
        return Ok(Observed::default());
    }
    let clients = try_join_all(
        realm
            .clients()
            .iter()
            .map(|c| observe_client(client, name, c)),
    );
    let users = try_join_all(realm.users().iter().map(|u| observe_user(client, name, u)));
    let (clients, users) = futures_util::try_join!(clients, users)?;
    Ok(Observed {
        realm: current,
        clients,
        users,
    })
}

async fn observe_client(
    client: &AdminClient,
    realm: &str,
    spec: &ClientSpec,
) -> Result<Option<ObservedClient>, AdminError> {
    let cid = spec.client_id();
    let what = format!("look up client `{cid}` in realm `{realm}`");
    let list = client
        .get_json(
            &["admin", "realms", realm, "clients"],
            &[("clientId", cid)],
            &what,
        )
        .await?
        .unwrap_or(Value::Null);
    // Without `search`, the match is exact (keycloak-behaviour §4); check anyway.
    let Some(rep) = list
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|c| c.get("clientId").and_then(Value::as_str) == Some(cid))
        })
        .cloned()
    else {
        return Ok(None);
    };
    let secret = match (spec.secret(), rep.get("id").and_then(Value::as_str)) {
        (Some(_), Some(id)) if spec.is_confidential() => client
            .get_json(
                &["admin", "realms", realm, "clients", id, "client-secret"],
                &[],
                &format!("read the secret of client `{cid}` in realm `{realm}`"),
            )
            .await?
            .and_then(|v| v.get("value").and_then(Value::as_str).map(str::to_string)),
        _ => None,
    };
    Ok(Some(ObservedClient { rep, secret }))
}

async fn observe_user(
    client: &AdminClient,
    realm: &str,
    spec: &UserSpec,
) -> Result<Option<ObservedUser>, AdminError> {
    let username = spec.username();
    let lower = username.to_lowercase();
    let list = client
        .get_json(
            &["admin", "realms", realm, "users"],
            &[("username", &lower), ("exact", "true")],
            &format!("look up user `{username}` in realm `{realm}`"),
        )
        .await?
        .unwrap_or(Value::Null);
    let Some(rep) = list
        .as_array()
        .and_then(|l| {
            l.iter().find(|u| {
                u.get("username")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(username))
            })
        })
        .cloned()
    else {
        return Ok(None);
    };
    let password = match spec.password() {
        None => PasswordCheck::NotChecked,
        Some(p) => classify_password_check(&client.password_grant(realm, &lower, &p.value).await?),
    };
    Ok(Some(ObservedUser { rep, password }))
}

/// Only 200 proves the password and only 401 `invalid_grant` proves it different; anything
/// else (disabled user, "Account is not fully set up", direct grants off) proves nothing.
pub fn classify_password_check(resp: &ApiResponse) -> PasswordCheck {
    if resp.is_success() {
        PasswordCheck::Matches
    } else if resp.status == StatusCode::UNAUTHORIZED
        && resp.error_code().as_deref() == Some("invalid_grant")
    {
        PasswordCheck::Differs
    } else {
        PasswordCheck::Unproven(format!("HTTP {}: {}", resp.status, resp.keycloak_message()))
    }
}

/// Observe, plan, and (unless `dry_run`) execute for one realm file.
pub async fn reconcile_realm(
    client: &AdminClient,
    realm: &RealmFile,
    dry_run: bool,
    reporter: &Reporter,
) -> Result<Vec<ObjectOutcome>, AdminError> {
    reconcile_once(client, realm, dry_run, reporter, true).await
}

async fn reconcile_once(
    client: &AdminClient,
    realm: &RealmFile,
    dry_run: bool,
    reporter: &Reporter,
    may_retry: bool,
) -> Result<Vec<ObjectOutcome>, AdminError> {
    let observed = observe(client, realm).await?;
    let plan = plan(realm, &observed);
    if observed.realm.is_some() {
        for key in IMPORT_ONLY_REALM_KEYS {
            if realm.fields().contains_key(*key) {
                reporter.emit(Event::Warning {
                    message: format!(
                        "realm `{}`: `{key}` is applied only when the realm is created; \
                         iamstack does not reconcile it on an existing realm",
                        realm.name()
                    ),
                });
            }
        }
    }
    execute_plan(client, realm, &plan, dry_run, reporter, may_retry).await
}

/// Execute a plan computed by [`plan`] (and report every object). A `Create` plan whose POST
/// Keycloak answers "already exists" (another writer won the race) is re-observed and
/// reconciled instead.
pub async fn execute(
    client: &AdminClient,
    realm: &RealmFile,
    plan: &RealmPlan,
    dry_run: bool,
    reporter: &Reporter,
) -> Result<Vec<ObjectOutcome>, AdminError> {
    execute_plan(client, realm, plan, dry_run, reporter, true).await
}

async fn execute_plan(
    client: &AdminClient,
    realm: &RealmFile,
    plan: &RealmPlan,
    dry_run: bool,
    reporter: &Reporter,
    may_retry: bool,
) -> Result<Vec<ObjectOutcome>, AdminError> {
    let mut out = Outcomes {
        realm: realm.name(),
        list: Vec::new(),
        reporter,
    };
    match plan {
        RealmPlan::Create { body } => {
            if !dry_run {
                match create_realm(client, realm, body, reporter).await? {
                    Created::Whole => {}
                    Created::AlreadyExists if may_retry => {
                        // Another writer created it between our GET and POST: reconcile
                        // against what is there now.
                        return Box::pin(reconcile_once(client, realm, dry_run, reporter, false))
                            .await;
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
            for u in realm.users() {
                out.push("user", u.username(), Action::Created, Vec::new());
            }
        }
        RealmPlan::Reconcile {
            realm_patch,
            clients,
            users,
        } => {
            let name = realm.name();
            let (realm_patch, clients, users) = (realm_patch, clients, users);
            if realm_patch.is_empty() {
                out.push("realm", name, Action::Unchanged, Vec::new());
            } else {
                if !dry_run {
                    let resp = client
                        .admin(
                            Method::PUT,
                            &["admin", "realms", name],
                            &[],
                            Some(&Value::Object(realm_patch.clone())),
                            &format!("update realm `{name}`"),
                        )
                        .await?;
                    client.check(resp, &format!("update realm `{name}`"))?;
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
                match plan {
                    ClientPlan::Create { client_id, .. } => {
                        out.push("client", client_id, Action::Created, Vec::new())
                    }
                    ClientPlan::Update {
                        client_id, changes, ..
                    } => out.push("client", client_id, Action::Updated, changes.clone()),
                    ClientPlan::Unchanged { client_id } => {
                        out.push("client", client_id, Action::Unchanged, Vec::new())
                    }
                }
            }
            for plan in users {
                if !dry_run {
                    execute_user(client, name, plan).await?;
                }
                match plan {
                    UserPlan::Create { username, .. } => {
                        out.push("user", username, Action::Created, Vec::new())
                    }
                    UserPlan::Update {
                        username, changes, ..
                    } => out.push("user", username, Action::Updated, changes.clone()),
                    UserPlan::Unchanged { username } => {
                        out.push("user", username, Action::Unchanged, Vec::new())
                    }
                }
            }
        }
    }
    Ok(out.list)
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

enum Created {
    Whole,
    AlreadyExists,
}

/// "Realm X already exists": 409 from 26.2.5 on, 400 in 26.2.0–26.2.4, "Conflict detected"
/// before 26.2 (keycloak-behaviour §3).
fn says_realm_exists(resp: &ApiResponse) -> bool {
    let msg = resp.keycloak_message();
    matches!(resp.status.as_u16(), 400 | 409)
        && (msg.contains("already exists") || msg.contains("Conflict detected"))
}

async fn create_realm(
    client: &AdminClient,
    realm: &RealmFile,
    body: &Value,
    reporter: &Reporter,
) -> Result<Created, AdminError> {
    let name = realm.name();
    let what = format!("create realm `{name}`");
    let resp = client
        .admin(Method::POST, &["admin", "realms"], &[], Some(body), &what)
        .await;
    let resp = match resp {
        Ok(r) => r,
        // 5xx after the retry budget: the embedded form may be what Keycloak chokes on.
        Err(AdminError::Status {
            status, message, ..
        }) => {
            return create_one_by_one(
                client,
                realm,
                &format!("HTTP {status}: {message}"),
                reporter,
            )
            .await
        }
        Err(e) => return Err(e),
    };
    if resp.is_success() {
        return Ok(Created::Whole);
    }
    if says_realm_exists(&resp) || resp.status == StatusCode::CONFLICT {
        return Ok(Created::AlreadyExists);
    }
    let message = resp.keycloak_message();
    // A field Keycloak does not know fails the same way one by one: show it now, unwritten.
    let refused_embedded = resp.status == StatusCode::BAD_REQUEST
        && !message.contains("Unrecognized field")
        && (realm.clients().len() + realm.users().len()) > 0;
    if !refused_embedded {
        client.check(resp, &what)?;
        return Ok(Created::Whole);
    }
    create_one_by_one(client, realm, &message, reporter).await
}

/// Fallback when Keycloak refuses the embedded form: realm, then clients, then users.
async fn create_one_by_one(
    client: &AdminClient,
    realm: &RealmFile,
    why: &str,
    reporter: &Reporter,
) -> Result<Created, AdminError> {
    let name = realm.name();
    reporter.emit(Event::Warning {
        message: format!(
            "Keycloak refused realm `{name}` with its clients and users embedded ({why}); \
             creating the realm, its clients and its users one by one"
        ),
    });
    let what = format!("create realm `{name}`");
    let resp = client
        .admin(
            Method::POST,
            &["admin", "realms"],
            &[],
            Some(&realm.realm_only_body()),
            &what,
        )
        .await?;
    if says_realm_exists(&resp) {
        return Ok(Created::AlreadyExists);
    }
    client.check(resp, &what)?;
    for c in realm.clients() {
        create_client(client, name, c).await?;
    }
    for u in realm.users() {
        create_user(client, name, &u.creation_body(), u.username()).await?;
    }
    Ok(Created::Whole)
}

async fn create_client(
    client: &AdminClient,
    realm: &str,
    spec: &ClientSpec,
) -> Result<(), AdminError> {
    let what = format!("create client `{}` in realm `{realm}`", spec.client_id());
    let resp = client
        .admin(
            Method::POST,
            &["admin", "realms", realm, "clients"],
            &[],
            Some(&spec.creation_body()),
            &what,
        )
        .await?;
    client.check(resp, &what).map(|_| ())
}

async fn create_user(
    client: &AdminClient,
    realm: &str,
    body: &Value,
    username: &str,
) -> Result<(), AdminError> {
    let what = format!("create user `{username}` in realm `{realm}`");
    let resp = client
        .admin(
            Method::POST,
            &["admin", "realms", realm, "users"],
            &[],
            Some(body),
            &what,
        )
        .await?;
    client.check(resp, &what).map(|_| ())
}

async fn execute_client(
    client: &AdminClient,
    realm: &str,
    plan: &ClientPlan,
    spec: &ClientSpec,
) -> Result<(), AdminError> {
    match plan {
        ClientPlan::Create { .. } => create_client(client, realm, spec).await,
        ClientPlan::Update { client_id, id, .. } => {
            let what = format!("update client `{client_id}` in realm `{realm}`");
            // The full, fresh representation: a partial PUT resets what it omits.
            let current = client
                .get_json(&["admin", "realms", realm, "clients", id], &[], &what)
                .await?
                .ok_or_else(|| AdminError::NotFound {
                    what: what.clone(),
                    message: "the client disappeared while being updated; run apply again".into(),
                })?;
            let body = merge_client(&current, spec);
            let resp = client
                .admin(
                    Method::PUT,
                    &["admin", "realms", realm, "clients", id],
                    &[],
                    Some(&body),
                    &what,
                )
                .await?;
            client.check(resp, &what).map(|_| ())
        }
        ClientPlan::Unchanged { .. } => Ok(()),
    }
}

async fn execute_user(
    client: &AdminClient,
    realm: &str,
    plan: &UserPlan,
) -> Result<(), AdminError> {
    match plan {
        UserPlan::Create { username, body } => create_user(client, realm, body, username).await,
        UserPlan::Update {
            username,
            id,
            put,
            password,
            ..
        } => {
            if let Some(body) = put {
                let what = format!("update user `{username}` in realm `{realm}`");
                let resp = client
                    .admin(
                        Method::PUT,
                        &["admin", "realms", realm, "users", id],
                        &[],
                        Some(body),
                        &what,
                    )
                    .await?;
                client.check(resp, &what)?;
            }
            if let Some(p) = password {
                let what = format!("set the password of user `{username}` in realm `{realm}`");
                let body = serde_json::json!({"type": "password", "value": p.value, "temporary": p.temporary});
                let resp = client
                    .admin(
                        Method::PUT,
                        &["admin", "realms", realm, "users", id, "reset-password"],
                        &[],
                        Some(&body),
                        &what,
                    )
                    .await?;
                client.check(resp, &what)?;
            }
            Ok(())
        }
        UserPlan::Unchanged { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> ApiResponse {
        ApiResponse {
            status: StatusCode::from_u16(status).unwrap(),
            location: None,
            body: body.to_string(),
        }
    }

    #[test]
    fn only_401_invalid_grant_proves_a_different_password() {
        assert_eq!(
            classify_password_check(&resp(200, r#"{"access_token":"x"}"#)),
            PasswordCheck::Matches
        );
        assert_eq!(
            classify_password_check(&resp(
                401,
                r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#
            )),
            PasswordCheck::Differs
        );
        for (status, body) in [
            (
                400,
                r#"{"error":"invalid_grant","error_description":"Account disabled"}"#,
            ),
            (
                400,
                r#"{"error":"invalid_grant","error_description":"Account is not fully set up"}"#,
            ),
            (
                400,
                r#"{"error":"unauthorized_client","error_description":"Client not allowed for direct access grants"}"#,
            ),
            (
                401,
                r#"{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}"#,
            ),
        ] {
            assert!(
                matches!(
                    classify_password_check(&resp(status, body)),
                    PasswordCheck::Unproven(_)
                ),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn realm_exists_answers_of_every_26_2_patch() {
        assert!(says_realm_exists(&resp(
            409,
            r#"{"errorMessage":"Realm testing already exists"}"#
        )));
        assert!(says_realm_exists(&resp(
            400,
            r#"{"errorMessage":"Realm testing already exists"}"#
        )));
        assert!(says_realm_exists(&resp(
            409,
            r#"{"errorMessage":"Conflict detected. See logs for details"}"#
        )));
        assert!(!says_realm_exists(&resp(
            400,
            r#"{"errorMessage":"Realm name cannot be empty"}"#
        )));
    }
}
