//! The `logout` check: RP-initiated logout of the browser session redirects back to the
//! post-logout redirect URI with the `state` sent, and the session's refresh token then fails.

use reqwest::header::{ACCEPT, LOCATION};
use url::Url;

use super::grants::ClientAuth;
use super::html::{self, Page};
use super::http::{query_param, same_endpoint, Step, BROWSER_ACCEPT};
use super::pkce;
use super::verifier::Verifier;
use super::Check;
use crate::report::CheckFailure;

impl Verifier<'_> {
    pub(super) async fn logout(&mut self) -> Step<String> {
        const STEP: &str = "logout request";
        let e = self.endpoints()?.clone();
        let Some(session) = self.session.clone() else {
            return Err(Check::AuthorizationCode.needed());
        };
        let id_token = session.tokens.id.clone().unwrap_or_default();
        let state = pkce::random_token();
        let mut url = e.end_session.clone();
        url.query_pairs_mut()
            .append_pair("id_token_hint", &id_token)
            .append_pair("post_logout_redirect_uri", &self.t.post_logout_redirect_uri)
            .append_pair("state", &state);
        let described = format!(
            "GET {} (id_token_hint, post_logout_redirect_uri={}, state; the login's cookies)",
            e.end_session, self.t.post_logout_redirect_uri
        );
        let answer = self
            .send(
                STEP,
                &described,
                self.browser
                    .get(self.reach(&url))
                    .header(ACCEPT, BROWSER_ACCEPT),
            )
            .await?;
        if !(300..400).contains(&answer.status) {
            let page = html::classify(&answer.body);
            let mut f = self.refused(
                STEP,
                &described,
                &answer,
                &format!("no redirect back: Keycloak showed {}", page.describe()),
            );
            if f.cause.is_none() && page == Page::LogoutConfirm {
                f.cause = Some(
                    "Keycloak did not accept the id_token_hint for this browser session, so it asks for confirmation"
                        .into(),
                );
            }
            return Err(f);
        }
        let location = answer.header(LOCATION).unwrap_or_default();
        let back = Url::parse(location).ok();
        let expected = Url::parse(&self.t.post_logout_redirect_uri).ok();
        let matches = matches!((&back, &expected), (Some(b), Some(x)) if same_endpoint(x, b));
        if !matches {
            return Err(CheckFailure::new(
                STEP,
                format!(
                    "redirected to `{location}`, not to the post_logout_redirect_uri `{}`",
                    self.t.post_logout_redirect_uri
                ),
            )
            .request(&described));
        }
        let back_state = back.as_ref().and_then(|b| query_param(b, "state"));
        if back_state.as_deref() != Some(state.as_str()) {
            return Err(
                CheckFailure::new(STEP, "the redirect back does not carry the state sent")
                    .request(&described),
            );
        }
        self.refresh_refused(session.tokens.refresh.as_deref())
            .await
    }

    /// The session is over: its refresh token must be refused.
    async fn refresh_refused(&self, refresh: Option<&str>) -> Step<String> {
        const AFTER: &str = "refresh after logout";
        let Some(refresh) = refresh else {
            return Err(CheckFailure::new(
                AFTER,
                "the code exchange returned no refresh_token",
            ));
        };
        let (answer, described) = self
            .token(
                AFTER,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
                "grant_type=refresh_token with the logged-out session's refresh token",
                ClientAuth::Basic,
            )
            .await?;
        match answer.oauth_error() {
            Some(err) if answer.status == 400 && err.error == "invalid_grant" => Ok(format!(
                "redirected back to {}; the session's refresh token is refused ({})",
                self.t.post_logout_redirect_uri, err.description
            )),
            _ if answer.status == 200 => Err(CheckFailure::new(
                AFTER,
                "the refresh token still works after logout: the session was not ended",
            )
            .request(&described)),
            _ => Err(self.refused(
                AFTER,
                &described,
                &answer,
                "expected 400 invalid_grant for the ended session",
            )),
        }
    }
}
