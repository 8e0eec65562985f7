//! The read phase: what Keycloak has for one realm file (GETs, and the password check by a
//! password grant), as [`Observed`] for the pure plan.

use futures_util::future::try_join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::keycloak::client::{AdminClient, AdminError, ApiResponse};
use crate::keycloak::diff::{Observed, ObservedClient, ObservedUser, PasswordCheck};
use crate::keycloak::realm_file::{ClientSpec, RealmFile, UserSpec};

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
    let Some(current) = current else {
        return Ok(Observed::default());
    };
    // A wrong guess would count as a failed login where brute-force detection is on.
    let probe = !brute_force_protected(&current);
    let clients = try_join_all(
        realm
            .clients()
            .iter()
            .map(|c| observe_client(client, name, c)),
    );
    let users = try_join_all(
        realm
            .users()
            .iter()
            .map(|u| observe_user(client, name, u, probe)),
    );
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
    let (clients, users, user_profile) = futures_util::try_join!(clients, users, profile)?;
    Ok(Observed {
        realm: Some(current),
        clients,
        users,
        user_profile,
    })
}

/// Is brute-force detection on in this realm representation?
pub fn brute_force_protected(realm: &Value) -> bool {
    realm.get("bruteForceProtected").and_then(Value::as_bool) == Some(true)
}

/// Why a password is set rather than checked in a realm with brute-force detection.
pub const NOT_PROBED: &str = "not checked: brute-force detection is on in this realm, where a \
                              wrong guess counts as a failed login";

async fn observe_client(
    client: &AdminClient,
    realm: &str,
    spec: &ClientSpec,
) -> Result<Option<ObservedClient>, AdminError> {
    let cid = spec.client_id();
    let Some(rep) = client.find_client(realm, cid).await? else {
        return Ok(None);
    };
    // Read only when the file sets one: a GET of the client may mask it.
    let secret = match (spec.secret(), rep.get("id").and_then(Value::as_str)) {
        (Some(_), Some(id)) if spec.is_confidential() => {
            client.client_secret(realm, id, cid).await?
        }
        _ => None,
    };
    Ok(Some(ObservedClient { rep, secret }))
}

async fn observe_user(
    client: &AdminClient,
    realm: &str,
    spec: &UserSpec,
    probe: bool,
) -> Result<Option<ObservedUser>, AdminError> {
    let username = spec.username();
    let Some(rep) = client.find_user(realm, username).await? else {
        return Ok(None);
    };
    let password = match spec.password() {
        None => PasswordCheck::NotChecked,
        Some(_) if !probe => PasswordCheck::Unproven(NOT_PROBED.into()),
        Some(p) => check_password(client, realm, &username.to_lowercase(), &p.value).await?,
    };
    Ok(Some(ObservedUser { rep, password }))
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
