//! The state one run carries from check to check: the HTTP clients, what discovery found, the
//! tokens each flow obtained and the browser session to log out. Each check is an `impl
//! Verifier` block in its own file.

use reqwest::Client;

use super::authorization_code::BrowserSession;
use super::diagnose::Subject;
use super::discovery::Endpoints;
use super::grants::Tokens;
use super::http::{self, Step};
use super::{Check, VerifyTarget};

pub(super) struct Verifier<'a> {
    pub(super) t: &'a VerifyTarget,
    /// For API calls: no cookies.
    pub(super) api: Client,
    /// The scripted browser: keeps Keycloak's session cookies across the login.
    pub(super) browser: Client,
    pub(super) endpoints: Option<Endpoints>,
    /// Origin Keycloak advertises (the issuer's), which may differ from where we reach it.
    pub(super) advertised_origin: Option<url::Origin>,
    pub(super) client_credentials: Option<Tokens>,
    pub(super) password: Option<Tokens>,
    pub(super) session: Option<BrowserSession>,
    /// The scope the browser login asks for (`openid`; `iamstack token --scope` may change it).
    pub(super) scope: String,
}

impl<'a> Verifier<'a> {
    pub(super) fn new(t: &'a VerifyTarget) -> reqwest::Result<Verifier<'a>> {
        Ok(Verifier {
            t,
            api: http::client(false)?,
            browser: http::client(true)?,
            endpoints: None,
            advertised_origin: None,
            client_credentials: None,
            password: None,
            session: None,
            scope: "openid".into(),
        })
    }

    /// Run one check. Every check but discovery needs discovery's endpoints.
    pub(super) async fn run(&mut self, check: Check) -> Step<String> {
        if check != Check::Discovery && self.endpoints.is_none() {
            return Err(Check::Discovery.needed());
        }
        match check {
            Check::Discovery => self.discovery().await,
            Check::ClientCredentials => self.client_credentials().await,
            Check::Password => self.password_grant().await,
            Check::AuthorizationCode => self.authorization_code().await,
            Check::IdToken => self.id_tokens().await,
            Check::Introspection => self.introspection().await,
            Check::Logout => self.logout().await,
        }
    }

    pub(super) fn who(&self) -> Subject<'_> {
        Subject {
            realm: &self.t.realm,
            client_id: &self.t.client_id,
            username: &self.t.username,
        }
    }

    pub(super) fn endpoints(&self) -> Step<&Endpoints> {
        self.endpoints
            .as_ref()
            .ok_or_else(|| Check::Discovery.needed())
    }
}
