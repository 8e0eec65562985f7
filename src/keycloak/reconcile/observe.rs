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
) -> Result<Option<ObservedUser>, AdminError> {
    let username = spec.username();
    let Some(rep) = client.find_user(realm, username).await? else {
        return Ok(None);
    };
    let password = match spec.password() {
        None => PasswordCheck::NotChecked,
        Some(p) => {
            let lower = username.to_lowercase();
            classify_password_check(&client.password_grant(realm, &lower, &p.value).await?)
        }
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
