//! Typed look-ups of the admin API: a client or a user by its name, all clients or users of
//! a realm by page, a user's credentials.

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

/// Objects per page when reading a whole collection (Keycloak's own default `max` is 100).
pub const PAGE_SIZE: usize = 100;

impl AdminClient {
    /// Every client of `realm` (full representations), read by pages of [`PAGE_SIZE`].
    pub async fn all_clients(&self, realm: &str) -> Result<Vec<Value>, AdminError> {
        self.all_pages(realm, "clients", &[]).await
    }

    /// Every (non-service-account) user of `realm`, full representations, by pages.
    pub async fn all_users(&self, realm: &str) -> Result<Vec<Value>, AdminError> {
        self.all_pages(realm, "users", &[("briefRepresentation", "false")])
            .await
    }

    async fn all_pages(
        &self,
        realm: &str,
        collection: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, AdminError> {
        self.all_at(
            &["admin", "realms", realm, collection],
            query,
            &format!("read the {collection} of realm `{realm}`"),
        )
        .await
    }

    /// Every item of the admin collection at `segments`, read by pages of [`PAGE_SIZE`]
    /// (`first`/`max`); a missing collection (404) is empty.
    pub async fn all_at(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Vec<Value>, AdminError> {
        let mut all = Vec::new();
        loop {
            let first = all.len().to_string();
            let max = PAGE_SIZE.to_string();
            let mut q = query.to_vec();
            q.extend([("first", first.as_str()), ("max", max.as_str())]);
            let page = self
                .get_json(segments, &q, &format!("{what} (from {first})"))
                .await?
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            let last = page.len() < PAGE_SIZE;
            all.extend(page);
            if last {
                return Ok(all);
            }
        }
    }

    /// The credentials of the user whose Keycloak id is `id` (metadata: no secret is sent).
    pub async fn credentials(&self, realm: &str, id: &str) -> Result<Vec<Value>, AdminError> {
        Ok(self
            .get_json(
                &["admin", "realms", realm, "users", id, "credentials"],
                &[],
                &format!("read the credentials of a user of realm `{realm}`"),
            )
            .await?
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default())
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
