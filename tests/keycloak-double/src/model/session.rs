//! A user's SSO session and the authorization codes issued in it.

use serde::{Deserialize, Serialize};

use super::uuid;

/// A login session (SSO session) of a user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserSession {
    pub id: String,
    pub user_id: String,
    /// Client ids (not internal ids) that used this session.
    pub clients: Vec<String>,
    pub started: u64,
    pub last_refresh: u64,
}

impl UserSession {
    /// A session starting now for `user_id`, used by `client_id`.
    pub fn new(user_id: &str, client_id: &str, now: u64) -> UserSession {
        UserSession {
            id: uuid(),
            user_id: user_id.to_owned(),
            clients: vec![client_id.to_owned()],
            started: now,
            last_refresh: now,
        }
    }
}

/// An authorization code, for the OIDC module (not used by the admin API).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthCode {
    pub code: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub expires_at: u64,
    pub used: bool,
}
