//! An admin token from the Keycloak double (in process or in its stand-in container) or from
//! Keycloak itself, and [`AdminApi`], a raw admin session, for tests that read or change state
//! behind the product's back.

use serde_json::Value;

/// The bootstrap admin every double starts with (`DoubleConfig::default()`, and the stand-in's
/// `KC_BOOTSTRAP_ADMIN_*` in the real-engine tests).
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "kc_admin$123";

/// An access token of the master realm's admin, got as the admin console gets one: the password
/// grant of `admin-cli`. `base_url` is the server's root (`http://127.0.0.1:8080`). Panics with
/// the answer when the login is refused, so a test fails at the cause.
pub async fn admin_token(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let response = reqwest::Client::new()
        .post(format!(
            "{base}/realms/master/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", ADMIN_USER),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("the token endpoint of {base} answers: {e}"));
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "admin login at {base}: {body}");
    let token: Value = serde_json::from_str(&body).expect("the token response is JSON");
    token["access_token"]
        .as_str()
        .expect("the token response has an access_token")
        .to_owned()
}

/// A raw admin session, independent of iamstack's own client: tests read state and make drift
/// with it.
pub struct AdminApi {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl AdminApi {
    /// Log in as the bootstrap admin at `base_url` (the server's root).
    pub async fn login(base_url: &str) -> AdminApi {
        let base = base_url.trim_end_matches('/').to_string();
        let token = admin_token(&base).await;
        AdminApi {
            http: reqwest::Client::new(),
            base,
            token,
        }
    }

    /// Any admin request: the status and the JSON answer (`Null` when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept", "application/json");
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = rb.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A GET that must answer 200.
    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// The user `username` of `realm` (exact match), which must exist.
    pub async fn user(&self, realm: &str, username: &str) -> Value {
        let list = self
            .get(&format!(
                "/admin/realms/{realm}/users?username={username}&exact=true"
            ))
            .await;
        list.as_array()
            .and_then(|l| l.iter().find(|u| u["username"] == username))
            .cloned()
            .unwrap_or_else(|| panic!("user `{username}` in realm `{realm}`: {list}"))
    }

    /// A token-endpoint request of `realm` (no admin token): the status and the answer.
    pub async fn token(&self, realm: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .http
            .post(format!(
                "{}/realms/{realm}/protocol/openid-connect/token",
                self.base
            ))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("token endpoint of {realm}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}
