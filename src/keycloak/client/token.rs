//! The admin token: a master-realm `admin-cli` login with the bootstrap admin's credentials,
//! renewed (by its refresh token, else a new login) before its 60 s expiry.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::{AdminClient, AdminError};

/// Renew the admin token this long before it expires (Keycloak's master tokens live 60 s).
const RENEW_MARGIN: Duration = Duration::from_secs(10);

/// The current admin token and when it (and its refresh token) expire.
#[derive(Debug, Clone)]
pub(super) struct Token {
    access: String,
    expires_at: Instant,
    refresh: Option<(String, Instant)>,
}

impl AdminClient {
    /// Drop the token (Keycloak refused it early, or the session was revoked): the next call
    /// logs in again.
    pub(super) async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// A valid admin access token, renewed when close to expiry.
    pub(super) async fn bearer(&self) -> Result<String, AdminError> {
        let mut guard = self.token.lock().await;
        let now = Instant::now();
        if let Some(t) = guard.as_ref() {
            if t.expires_at > now + RENEW_MARGIN {
                return Ok(t.access.clone());
            }
        }
        let refresh = guard
            .as_ref()
            .and_then(|t| t.refresh.clone())
            .filter(|(_, until)| *until > now + RENEW_MARGIN)
            .map(|(rt, _)| rt);
        let fresh = match refresh {
            Some(rt) => match self
                .token_request(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", "admin-cli"),
                    ("refresh_token", &rt),
                ])
                .await
            {
                Ok(t) => t,
                Err(e @ AdminError::Unreachable { .. }) => return Err(e),
                // A refused refresh (session gone): log in again.
                Err(_) => self.login().await?,
            },
            None => self.login().await?,
        };
        let access = fresh.access.clone();
        *guard = Some(fresh);
        Ok(access)
    }

    async fn login(&self) -> Result<Token, AdminError> {
        self.token_request(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", &self.creds.username),
            ("password", &self.creds.password),
        ])
        .await
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<Token, AdminError> {
        let url = self.url(&["realms", "master", "protocol", "openid-connect", "token"]);
        let started = Instant::now();
        let resp = self
            .send(
                || self.http.post(url.clone()).form(form),
                &Method::POST,
                "log in to the admin API",
                self.request_timeout,
            )
            .await?;
        let status = resp.status.as_u16();
        let is_password = form
            .iter()
            .any(|(k, v)| *k == "grant_type" && *v == "password");
        if !resp.is_success() {
            let message = resp.keycloak_message();
            // 401 wrong password, 400 unknown/disabled user: both `invalid_grant` (keycloak-behaviour §1).
            if is_password
                && matches!(status, 400 | 401)
                && resp.error_code().as_deref() == Some("invalid_grant")
            {
                return Err(AdminError::LoginRejected {
                    url: self.base.to_string(),
                    user: self.creds.username.clone(),
                    status,
                    message,
                });
            }
            return Err(AdminError::LoginFailed {
                url: self.base.to_string(),
                status,
                message,
            });
        }
        let v = resp.json("log in to the admin API")?;
        let access = v
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| AdminError::Unexpected {
                what: "log in to the admin API".into(),
                message: "the token response has no access_token".into(),
            })?
            .to_string();
        let secs = |k: &str| v.get(k).and_then(Value::as_u64).map(Duration::from_secs);
        let expires_in = secs("expires_in").unwrap_or(Duration::from_secs(60));
        let refresh = v.get("refresh_token").and_then(Value::as_str).map(|rt| {
            let lifetime = secs("refresh_expires_in").unwrap_or(Duration::ZERO);
            (rt.to_string(), started + lifetime)
        });
        Ok(Token {
            access,
            expires_at: started + expires_in,
            refresh,
        })
    }
}
