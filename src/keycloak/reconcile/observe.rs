//! The read phase: what Keycloak has for one realm file (GETs, and the password check by a
//! password grant), as [`Observed`] for the pure plan.

use futures_util::future::try_join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::keycloak::client::{AdminClient, AdminError, ApiResponse};
use crate::keycloak::diff::{Observed, ObservedClient, ObservedUser, PasswordCheck};
use crate::keycloak::password_proof::{CredentialStamp, PasswordProof};
use crate::keycloak::progress::{Progress, Report};
use crate::keycloak::realm_file::{ClientSpec, RealmFile, UserSpec};

/// Up to this many clients (users) in the file, each is looked up by name; beyond, the
/// realm's whole collection is read by pages, so reads grow by pages, not by objects.
pub const LOOKUPS_UP_TO: usize = 10;

/// Read everything the plan needs for one realm file; passwords are proven as `proof` says.
pub async fn observe(
    client: &AdminClient,
    realm: &RealmFile,
    proof: &PasswordProof,
    report: Report<'_>,
) -> Result<Observed, AdminError> {
    let name = realm.name();
    let current = client
        .get_json(
            &["admin", "realms", name],
            &[],
            &format!("read realm `{name}`"),
        )
        .await?;
    let Some(current) = current else {
        return Ok(Observed::default());
    };
    // A wrong guess would count as a failed login where brute-force detection is on.
    let probe = !brute_force_protected(&current);
    let clients = async {
        let found = find_clients(client, realm).await?;
        try_join_all(
            realm
                .clients()
                .iter()
                .zip(found)
                .map(|(spec, rep)| observe_client(spec, rep)),
        )
        .await
    };
    let checked = Progress::new(report, "checked users", realm.users().len());
    let users = async {
        let found = find_users(client, realm).await?;
        try_join_all(realm.users().iter().zip(found).map(|(spec, rep)| async {
            let user = observe_user(client, name, spec, rep, probe, proof).await;
            checked.tick();
            user
        }))
        .await
    };
    let profile = async {
        if realm.users().is_empty() {
            return Ok(None);
        }
        client
            .get_json(
                &["admin", "realms", name, "users", "profile"],
                &[],
                &format!("read the user profile of realm `{name}`"),
            )
            .await
    };
    let access = super::access::observe_access(client, realm);
    let (clients, users, user_profile, access) =
        futures_util::try_join!(clients, users, profile, access)?;
    Ok(Observed {
        realm: Some(current),
        clients,
        users,
        user_profile,
        access,
    })
}

/// Keycloak's representation of each file client (in file order), by look-ups or by pages.
async fn find_clients(
    client: &AdminClient,
    realm: &RealmFile,
) -> Result<Vec<Option<Value>>, AdminError> {
    let name = realm.name();
    if realm.clients().len() <= LOOKUPS_UP_TO {
        return try_join_all(
            realm
                .clients()
                .iter()
                .map(|c| client.find_client(name, c.client_id())),
        )
        .await;
    }
    let all = client.all_clients(name).await?;
    Ok(realm
        .clients()
        .iter()
        .map(|c| {
            all.iter()
                .find(|rep| rep.get("clientId").and_then(Value::as_str) == Some(c.client_id()))
                .cloned()
        })
        .collect())
}

/// Keycloak's representation of each file user (in file order), by look-ups or by pages.
pub async fn find_users(
    client: &AdminClient,
    realm: &RealmFile,
) -> Result<Vec<Option<Value>>, AdminError> {
    let name = realm.name();
    if realm.users().len() <= LOOKUPS_UP_TO {
        return try_join_all(
            realm
                .users()
                .iter()
                .map(|u| client.find_user(name, u.username())),
        )
        .await;
    }
    let all = client.all_users(name).await?;
    Ok(realm
        .users()
        .iter()
        .map(|u| {
            all.iter()
                .find(|rep| {
                    rep.get("username")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(u.username()))
                })
                .cloned()
        })
        .collect())
}

/// Is brute-force detection on in this realm representation?
pub fn brute_force_protected(realm: &Value) -> bool {
    realm.get("bruteForceProtected").and_then(Value::as_bool) == Some(true)
}

/// Why a password is set rather than checked in a realm with brute-force detection.
pub const NOT_PROBED: &str = "not checked: brute-force detection is on in this realm, where a \
                              wrong guess counts as a failed login";

async fn observe_client(
    spec: &ClientSpec,
    rep: Option<Value>,
) -> Result<Option<ObservedClient>, AdminError> {
    let Some(rep) = rep else {
        return Ok(None);
    };
    // Keycloak's representation carries a confidential client's secret
    // (`ModelToRepresentation#toRepresentation`; keycloak-behaviour §4); compared only when the
    // file sets one, and a mask is not a secret.
    let secret = spec
        .secret()
        .filter(|_| spec.is_confidential())
        .and(rep.get("secret").and_then(Value::as_str))
        .filter(|s| !s.is_empty() && !s.chars().all(|c| c == '*'))
        .map(str::to_string);
    Ok(Some(ObservedClient { rep, secret }))
}

async fn observe_user(
    client: &AdminClient,
    realm: &str,
    spec: &UserSpec,
    rep: Option<Value>,
    probe: bool,
    proof: &PasswordProof,
) -> Result<Option<ObservedUser>, AdminError> {
    let Some(rep) = rep else {
        return Ok(None);
    };
    let password = match spec.password() {
        None => PasswordCheck::NotChecked,
        Some(p) => {
            prove_password(client, realm, &rep, spec.username(), &p.value, probe, proof).await?
        }
    };
    let id = rep.get("id").and_then(Value::as_str).unwrap_or_default();
    let memberships = if spec.declares_memberships() && !id.is_empty() {
        Some(super::access::observe_memberships(client, realm, id).await?)
    } else {
        None
    };
    Ok(Some(ObservedUser {
        rep,
        password,
        memberships,
    }))
}

/// Is the user's password the file's? The local ledger first (one read of the credential's
/// metadata, no hash), then a password grant, unless the realm counts failed logins.
async fn prove_password(
    client: &AdminClient,
    realm: &str,
    rep: &Value,
    username: &str,
    password: &str,
    probe: bool,
    proof: &PasswordProof,
) -> Result<PasswordCheck, AdminError> {
    let key = PasswordProof::key(client, realm, username);
    let mut stamp = None;
    if proof.keeps_ledger() {
        if let Some(id) = rep.get("id").and_then(Value::as_str) {
            stamp = CredentialStamp::of_password(&client.credentials(realm, id).await?);
        }
        if stamp
            .as_ref()
            .is_some_and(|s| proof.proves(&key, password, s))
        {
            return Ok(PasswordCheck::Matches);
        }
    }
    if !probe {
        return Ok(PasswordCheck::Unproven(NOT_PROBED.into()));
    }
    let check = check_password(client, realm, &username.to_lowercase(), password).await?;
    if let (PasswordCheck::Matches, Some(stamp)) = (&check, stamp) {
        proof.record(key, password, stamp);
    }
    Ok(check)
}

/// The password check: a password grant on the realm's `admin-cli`. A 200 opens a user
/// session (persisted in 26.x), which is ended at once by a logout with its refresh token,
/// so repeated runs leave none behind (keycloak-behaviour §1).
async fn check_password(
    client: &AdminClient,
    realm: &str,
    username: &str,
    password: &str,
) -> Result<PasswordCheck, AdminError> {
    let resp = client.password_grant(realm, username, password).await?;
    if resp.is_success() {
        let refresh = resp
            .json("check a user's password")
            .ok()
            .and_then(|v| v.get("refresh_token")?.as_str().map(str::to_string));
        if let Some(refresh) = refresh {
            client.end_session(realm, &refresh).await?;
        }
    }
    Ok(classify_password_check(&resp))
}

/// 200 proves the password, and so does 400 "Account is not fully set up": Keycloak answers
/// it only after the direct-grant flow has accepted the password, and opens no session for it
/// (keycloak-behaviour §1). 401 `invalid_grant` proves it different; anything else (disabled
/// user, direct grants off) proves nothing.
pub fn classify_password_check(resp: &ApiResponse) -> PasswordCheck {
    let not_set_up = resp.status == StatusCode::BAD_REQUEST
        && resp.error_code().as_deref() == Some("invalid_grant")
        && resp.error_description().as_deref() == Some("Account is not fully set up");
    if resp.is_success() || not_set_up {
        PasswordCheck::Matches
    } else if resp.status == StatusCode::UNAUTHORIZED
        && resp.error_code().as_deref() == Some("invalid_grant")
    {
        PasswordCheck::Differs
    } else {
        PasswordCheck::Unproven(format!("HTTP {}: {}", resp.status, resp.keycloak_message()))
    }
}
