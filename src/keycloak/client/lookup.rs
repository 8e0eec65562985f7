//! Typed look-ups of the admin API: a client or a user by its name, a client's secret.

use serde_json::Value;

use super::{AdminClient, AdminError};

impl AdminClient {
    /// The client `client_id` of `realm` (its representation), if it exists.
    pub async fn find_client(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<Value>, AdminError> {
        let list = self
            .get_json(
                &["admin", "realms", realm, "clients"],
                &[("clientId", client_id)],
                &format!("look up client `{client_id}` in realm `{realm}`"),
            )
            .await?;
        // Without `search`, the match is exact (keycloak-behaviour §4); check anyway.
        Ok(first_where(list, "clientId", |c| c == client_id))
    }

    /// The secret of the client whose Keycloak id is `id` (`client_id` names it in messages).
    pub async fn client_secret(
        &self,
        realm: &str,
        id: &str,
        client_id: &str,
    ) -> Result<Option<String>, AdminError> {
        let secret = self
            .get_json(
                &["admin", "realms", realm, "clients", id, "client-secret"],
                &[],
                &format!("read the secret of client `{client_id}` in realm `{realm}`"),
            )
            .await?;
        Ok(secret.and_then(|v| v.get("value").and_then(Value::as_str).map(str::to_string)))
    }

    /// The user `username` of `realm` (Keycloak lower-cases usernames), if it exists.
    pub async fn find_user(
        &self,
        realm: &str,
        username: &str,
    ) -> Result<Option<Value>, AdminError> {
        let lower = username.to_lowercase();
        let list = self
            .get_json(
                &["admin", "realms", realm, "users"],
                &[("username", &lower), ("exact", "true")],
                &format!("look up user `{username}` in realm `{realm}`"),
            )
            .await?;
        Ok(first_where(list, "username", |u| {
            u.eq_ignore_ascii_case(username)
        }))
    }
}

/// The first object of a JSON list whose string field `key` satisfies `matches`.
fn first_where(list: Option<Value>, key: &str, matches: impl Fn(&str) -> bool) -> Option<Value> {
    list?
        .as_array()?
        .iter()
        .find(|o| o.get(key).and_then(Value::as_str).is_some_and(&matches))
        .cloned()
}
