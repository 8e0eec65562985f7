//! The write phase: creating a realm (whole, or one by one when Keycloak refuses the
//! embedded form), and creating or updating its clients and users as planned.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use std::time::Duration;

use crate::keycloak::client::{AdminClient, AdminError, ApiResponse};
use crate::keycloak::diff::{merge_client, ClientPlan, UserPlan};
use crate::keycloak::password_proof::PasswordProof;
use crate::keycloak::realm_file::{ClientSpec, RealmFile, UserSpec};
use crate::report::{Event, Reporter};

use super::access::{execute_grants, Resolver};

/// How a realm creation ended.
pub(super) enum Created {
    /// The realm (with its clients and users) is there.
    Whole,
    /// Keycloak answered that it already exists (another writer was first).
    AlreadyExists,
}

/// "Realm X already exists": 409 from 26.2.5 on, 400 in 26.2.0–26.2.4, "Conflict detected"
/// before 26.2 (keycloak-behaviour §3).
pub(super) fn says_realm_exists(resp: &ApiResponse) -> bool {
    let msg = resp.keycloak_message();
    matches!(resp.status.as_u16(), 400 | 409)
        && (msg.contains("already exists") || msg.contains("Conflict detected"))
}

/// Keycloak's answer when the realm POST's body does not bind to a `RealmRepresentation`
/// (an unknown field at any level, a wrong type): the realm import reads the body from a
/// stream and names no field (keycloak-behaviour §6).
const UNREADABLE_REALM: &str = "unable to read contents from stream";

/// A realm POST refused because its body names a field this Keycloak does not know. Never a
/// reason to fall back to one by one: the same field would be refused there, after the realm
/// was made. Shown with Keycloak's message and what it means.
pub(super) fn unknown_field_refusal(resp: &ApiResponse, what: &str) -> Option<AdminError> {
    let message = resp.keycloak_message();
    (resp.status == StatusCode::BAD_REQUEST && message.contains(UNREADABLE_REALM)).then(|| {
        AdminError::BadRequest {
            what: what.to_string(),
            message: format!(
                "{message} (Keycloak's realm import names no field: a field of the realm file is \
                 unknown to this Keycloak, or has a type it cannot read; the file matches Keycloak \
                 26.2's schema (`iamstack schema`), so this Keycloak is probably another version)"
            ),
        }
    })
}

/// How long the realm POST may take: the usual request budget (`base`) plus a second for
/// each password the import hashes (Keycloak hashes them all in the one request, deliberately
/// slowly), so a big realm is not cut off while Keycloak works.
pub fn realm_post_budget(realm: &RealmFile, base: Duration) -> Duration {
    let hashes = realm.users_with_password();
    base + Duration::from_secs(u64::try_from(hashes).unwrap_or(u64::MAX))
}

/// Create the realm with its clients and users embedded (one request); when Keycloak refuses
/// that form, one by one.
pub(super) async fn create_realm(
    client: &AdminClient,
    realm: &RealmFile,
    body: &Value,
    reporter: &Reporter,
) -> Result<Created, AdminError> {
    let name = realm.name();
    let users = realm.users().len();
    let what = if users > 0 {
        format!("create realm `{name}` with {users} users")
    } else {
        format!("create realm `{name}`")
    };
    let budget = realm_post_budget(realm, client.request_timeout());
    let resp = client
        .admin_within(
            Method::POST,
            &["admin", "realms"],
            &[],
            Some(body),
            &what,
            budget,
        )
        .await;
    let resp = match resp {
        Ok(r) => r,
        // Never resent: Keycloak may have done it. The import is one transaction, so a realm
        // that is there now is there whole.
        Err(AdminError::Slow { what, after_s, .. }) => {
            let there = client
                .get_json(
                    &["admin", "realms", name],
                    &[],
                    &format!("read realm `{name}`"),
                )
                .await?;
            if there.is_some() {
                return Ok(Created::Whole);
            }
            return Err(AdminError::Slow {
                what,
                after_s,
                hint: "; the realm is not there yet, Keycloak may still be importing it: run \
                       `iamstack apply` again in a minute (it reconciles whatever exists)"
                    .into(),
            });
        }
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
    // A field Keycloak does not know fails the same way one by one: show it now, unwritten.
    if let Some(refusal) = unknown_field_refusal(&resp, &what) {
        return Err(refusal);
    }
    let message = resp.keycloak_message();
    let refused_embedded =
        resp.status == StatusCode::BAD_REQUEST && (realm.clients().len() + realm.users().len()) > 0;
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
    create_in(
        client,
        realm,
        "clients",
        &spec.creation_body(),
        "client",
        spec.client_id(),
    )
    .await
    .map(|_| ())
}

/// Create a user; its Keycloak id (from `Location`) when Keycloak gave one.
async fn create_user(
    client: &AdminClient,
    realm: &str,
    body: &Value,
    username: &str,
) -> Result<Option<String>, AdminError> {
    create_in(client, realm, "users", body, "user", username).await
}

/// POST one object (`noun` `name`) to the realm's `collection`; the new object's id.
async fn create_in(
    client: &AdminClient,
    realm: &str,
    collection: &str,
    body: &Value,
    noun: &str,
    name: &str,
) -> Result<Option<String>, AdminError> {
    client
        .admin_checked(
            Method::POST,
            &["admin", "realms", realm, collection],
            Some(body),
            &format!("create {noun} `{name}` in realm `{realm}`"),
        )
        .await
        .map(|resp| resp.created_id())
}

/// Carry out a client's plan (the spec gives the fields to send).
pub(super) async fn execute_client(
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
            client
                .admin_checked(
                    Method::PUT,
                    &["admin", "realms", realm, "clients", id],
                    Some(&body),
                    &what,
                )
                .await
                .map(|_| ())
        }
        ClientPlan::Unchanged { .. } => Ok(()),
    }
}

/// Carry out a user's plan; a password it sets goes into the ledger (when one is kept).
pub(super) async fn execute_user(
    client: &AdminClient,
    realm: &str,
    plan: &UserPlan,
    spec: &UserSpec,
    proof: &PasswordProof,
    ids: &Resolver<'_>,
) -> Result<(), AdminError> {
    match plan {
        UserPlan::Create {
            username,
            body,
            grants,
        } => {
            let mut id = create_user(client, realm, body, username).await?;
            if id.is_none() && (!grants.is_empty() || spec.password().is_some()) {
                id = client
                    .find_user(realm, username)
                    .await?
                    .and_then(|u| Some(u.get("id")?.as_str()?.to_string()));
            }
            let Some(id) = id else {
                return Ok(());
            };
            if let Some(p) = spec.password() {
                proof
                    .record_set(client, realm, &id, username, &p.value)
                    .await?;
            }
            execute_grants(ids, username, &id, grants).await
        }
        UserPlan::Update {
            username,
            id,
            put,
            password,
            grants,
            ..
        } => {
            if let Some(body) = put {
                let what = format!("update user `{username}` in realm `{realm}`");
                client
                    .admin_checked(
                        Method::PUT,
                        &["admin", "realms", realm, "users", id],
                        Some(body),
                        &what,
                    )
                    .await?;
            }
            if let Some(p) = password {
                let what = format!("set the password of user `{username}` in realm `{realm}`");
                client
                    .admin_checked(
                        Method::PUT,
                        &["admin", "realms", realm, "users", id, "reset-password"],
                        Some(&p.credential()),
                        &what,
                    )
                    .await?;
                proof
                    .record_set(client, realm, id, username, &p.value)
                    .await?;
            }
            execute_grants(ids, username, id, grants).await
        }
        UserPlan::Unchanged { .. } => Ok(()),
    }
}
