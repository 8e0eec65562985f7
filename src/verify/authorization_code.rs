//! The `authorization_code` check: the authorization request (PKCE S256, `state`, `nonce`),
//! the login form filled in by the scripted browser, the redirect to the callback (`state`,
//! `iss`, `code`), the code exchange and userinfo.

use url::Url;

use super::browser::Browsed;
use super::discovery::Endpoints;
use super::grants::{ClientAuth, Tokens};
use super::html::{self, Page};
use super::http::{query_param, strip_query, Step};
use super::pkce::{self, Pkce};
use super::verifier::Verifier;
use crate::report::CheckFailure;

/// The browser session left by the authorization-code check, for logout.
#[derive(Debug, Clone)]
pub(super) struct BrowserSession {
    pub(super) tokens: Tokens,
    /// Sent with the authorization request; the ID token must carry it back.
    pub(super) nonce: String,
}

impl Verifier<'_> {
    pub(super) async fn authorization_code(&mut self) -> Step<String> {
        let e = self.endpoints()?.clone();
        let state = pkce::random_token();
        let nonce = pkce::random_token();
        let pkce = Pkce::generate();
        let mut auth_url = e.authorization.clone();
        auth_url
            .query_pairs_mut()
            .append_pair("client_id", &self.t.client_id)
            .append_pair("redirect_uri", &self.t.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", &self.scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        let described = format!(
            "GET {} (client_id={}, redirect_uri={}, response_type=code, scope={}, state, nonce, PKCE S256)",
            e.authorization, self.t.client_id, self.t.redirect_uri, self.scope
        );

        // 1. The login page.
        const LOGIN: &str = "login page";
        let (page_url, answer) = match self.browse(LOGIN, &described, auth_url, None).await? {
            Browsed::Callback(cb) => {
                return Err(self.callback_without_login(LOGIN, &described, &cb));
            }
            Browsed::Page(url, answer) => (url, answer),
        };
        let page = html::classify(&answer.body);
        let Page::Login { action, hidden, .. } = page else {
            return Err(self.unexpected_page(LOGIN, &described, &answer, &page));
        };
        let action = page_url.join(&action).map_err(|err| {
            CheckFailure::new(
                LOGIN,
                format!("the login form's action `{action}` is not a URL ({err})"),
            )
            .request(&described)
        })?;

        // 2. Submit the credentials with the session cookies; catch the redirect.
        const SUBMIT: &str = "login form submission";
        let mut form: Vec<(String, String)> = hidden;
        form.push(("username".into(), self.t.username.clone()));
        form.push(("password".into(), self.t.password.clone()));
        let described = format!(
            "POST {} (username={}, password; cookies from the login page)",
            strip_query(&action),
            self.t.username
        );
        let callback = match self.browse(SUBMIT, &described, action, Some(form)).await? {
            Browsed::Callback(cb) => cb,
            Browsed::Page(_, answer) => {
                let page = html::classify(&answer.body);
                return Err(self.unexpected_page(SUBMIT, &described, &answer, &page));
            }
        };

        // 3. The callback: code, state, iss.
        let code = self.code_from(&callback, &described, &state, &e)?;

        // 4. Exchange the code with the secret and the PKCE verifier.
        const EXCHANGE: &str = "code exchange";
        let (answer, described) = self
            .token(
                EXCHANGE,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &self.t.redirect_uri),
                    ("code_verifier", &pkce.verifier),
                ],
                &format!(
                    "grant_type=authorization_code, code, redirect_uri={}, code_verifier",
                    self.t.redirect_uri
                ),
                ClientAuth::Basic,
            )
            .await?;
        let tokens = self.tokens_from(EXCHANGE, &described, &answer)?;
        // Without `openid` (only `iamstack token --scope` asks so) there is no ID token and
        // no userinfo.
        if !self.scope.split(' ').any(|s| s == "openid") {
            self.session = Some(BrowserSession { tokens, nonce });
            return Ok("logged in through the login form".into());
        }
        if tokens.id.is_none() {
            return Err(
                CheckFailure::new(EXCHANGE, "no id_token although scope=openid was asked")
                    .request(&described),
            );
        }
        let email = self.email_of(&self.userinfo(&tokens.access).await?)?;
        self.session = Some(BrowserSession { tokens, nonce });
        Ok(format!("logged in through the login form; email {email}"))
    }

    /// The authorization code from the redirect to the callback, after checking that it is
    /// no error, carries the `state` sent and the issuer (RFC 9207).
    fn code_from(
        &self,
        callback: &Url,
        described: &str,
        state: &str,
        e: &Endpoints,
    ) -> Step<String> {
        const CALLBACK: &str = "redirect to the callback";
        if let Some(f) = self.error_redirect(CALLBACK, described, callback, "Keycloak redirected") {
            return Err(f);
        }
        let fail = |msg: String| CheckFailure::new(CALLBACK, msg).request(described);
        if query_param(callback, "state").as_deref() != Some(state) {
            return Err(fail(
                "the state parameter is missing or differs from the one sent".into(),
            ));
        }
        match query_param(callback, "iss") {
            Some(iss) if iss == e.issuer => {}
            Some(iss) => {
                return Err(fail(format!(
                    "iss is `{iss}`, expected the issuer `{}` (mix-up attack protection, RFC 9207)",
                    e.issuer
                )))
            }
            None if e.iss_in_auth_response => {
                return Err(fail(
                    "iss is missing although discovery announces authorization_response_iss_parameter_supported"
                        .into(),
                ))
            }
            None => {}
        }
        query_param(callback, "code").ok_or_else(|| fail("no code in the redirect".into()))
    }
}
