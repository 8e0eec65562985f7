//! An admin token from the Keycloak double (in process or in its stand-in container) or from
//! Keycloak itself, for tests that read or change state behind the product's back.

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
