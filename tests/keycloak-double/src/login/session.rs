//! The state of a login in progress: a browser's root authentication session, its tabs (one per
//! authorization request) and where each stands.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::cookies::AUTH_SESSION_ID;
use crate::model::{random_token, uuid, Realm};

/// A browser's authentication session (Keycloak's root authentication session): one per
/// `AUTH_SESSION_ID` cookie, one tab per authorization request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RootAuthSession {
    pub id: String,
    pub created: u64,
    pub tabs: BTreeMap<String, AuthTab>,
}

/// Where a login stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    #[default]
    Authenticate,
    /// A required action (`VERIFY_PROFILE`, `UPDATE_PASSWORD`, ...) of the authenticated user.
    RequiredAction(String),
    /// The consent screen of a client with `consentRequired`.
    Consent,
    /// RP-initiated logout waiting for the user's confirmation (`user_id` holds the session id).
    LoggingOut,
}

/// One authorization request being logged in (Keycloak's authentication session of a tab).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuthTab {
    pub tab_id: String,
    /// `clientId` (not the internal id).
    pub client_id: String,
    /// The validated redirect URI.
    pub redirect_uri: String,
    /// The `redirect_uri` parameter as sent (the code exchange must repeat it).
    pub redirect_uri_param: Option<String>,
    /// `query` or `fragment`.
    pub response_mode: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    /// The execution id of the username/password form in the browser flow.
    pub execution: String,
    /// The active `session_code`; a form carrying another one is stale.
    pub session_code: String,
    pub stage: Stage,
    pub user_id: Option<String>,
    pub attempted_username: Option<String>,
    pub created: u64,
}

impl AuthTab {
    /// A new tab for a validated request: fresh tab id, execution and session code.
    pub fn new(req: &LoginRequest, now: u64) -> AuthTab {
        AuthTab {
            tab_id: random_token(11),
            client_id: req.client_id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            redirect_uri_param: req.redirect_uri_param.clone(),
            response_mode: req.response_mode.clone(),
            state: req.state.clone(),
            nonce: req.nonce.clone(),
            scope: req.scope.clone(),
            code_challenge: req.code_challenge.clone(),
            code_challenge_method: req.code_challenge_method.clone(),
            login_hint: req.login_hint.clone(),
            execution: uuid(),
            session_code: random_token(43),
            stage: Stage::Authenticate,
            user_id: None,
            attempted_username: None,
            created: now,
        }
    }

    /// `client_data`: base64url JSON of the redirect URI, response type and mode, and state.
    pub fn client_data(&self) -> String {
        let mut v = json!({"ru": self.redirect_uri, "rt": "code"});
        if self.response_mode != "query" {
            v["rm"] = json!(self.response_mode);
        }
        if let Some(st) = &self.state {
            v["st"] = json!(st);
        }
        URL_SAFE_NO_PAD.encode(v.to_string())
    }
}

/// The request a login starts from (validated by the authorization endpoint).
#[derive(Clone, Debug)]
pub struct LoginRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_param: Option<String>,
    pub response_mode: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub prompt: Option<String>,
}

/// The root session id the browser's `AUTH_SESSION_ID` cookie names (`<id>.<route>`).
pub fn root_id_of(cookies: &HashMap<String, String>) -> Option<String> {
    cookies
        .get(AUTH_SESSION_ID)
        .map(|v| v.split('.').next().unwrap_or_default().to_owned())
}

/// Keeps `tab` in the root session `root_id`, which is created if the browser has none yet.
pub fn store_in_root(realm: &mut Realm, root_id: &str, tab: AuthTab, now: u64) {
    realm
        .auth_sessions
        .entry(root_id.to_owned())
        .or_insert_with(|| RootAuthSession {
            id: root_id.to_owned(),
            created: now,
            tabs: BTreeMap::new(),
        })
        .tabs
        .insert(tab.tab_id.clone(), tab);
}
