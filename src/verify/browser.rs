//! The scripted browser: follow Keycloak's redirects with its session cookies, stop at a page
//! or at the redirect to the client's callback (never requested), and explain a page or an
//! error redirect that should not have come.

use reqwest::header::{ACCEPT, LOCATION};
use url::Url;

use super::diagnose::{likely_cause, OAuthError};
use super::html::Page;
use super::http::{query_param, same_endpoint, strip_query, Answer, Step, BROWSER_ACCEPT};
use super::verifier::Verifier;
use crate::report::CheckFailure;

/// Redirects followed inside Keycloak during the browser login (required actions etc.).
const MAX_REDIRECTS: usize = 10;

/// Where the browser stopped.
pub(super) enum Browsed {
    /// The redirect to the client's redirect URI (not requested).
    Callback(Url),
    /// A page (any non-redirect answer) and the URL it came from.
    Page(Url, Answer),
}

impl Verifier<'_> {
    /// Act as a browser: send (a GET, or a form POST), follow redirects that stay inside
    /// Keycloak, and stop at a page or at the redirect to the client's callback.
    pub(super) async fn browse(
        &self,
        step: &str,
        described: &str,
        mut url: Url,
        mut form: Option<Vec<(String, String)>>,
    ) -> Step<Browsed> {
        let callback = Url::parse(&self.t.redirect_uri).ok();
        for _ in 0..MAX_REDIRECTS {
            let target = self.reach(&url);
            let req = match form.take() {
                Some(f) => self.browser.post(target).form(&f),
                None => self.browser.get(target),
            };
            let answer = self
                .send(step, described, req.header(ACCEPT, BROWSER_ACCEPT))
                .await?;
            if !(300..400).contains(&answer.status) {
                return Ok(Browsed::Page(url, answer));
            }
            let location = answer.header(LOCATION).unwrap_or_default().to_string();
            let next = url.join(&location).map_err(|e| {
                CheckFailure::new(
                    step,
                    format!("redirect to an invalid URL `{location}` ({e})"),
                )
                .request(described)
            })?;
            if callback.as_ref().is_some_and(|cb| same_endpoint(cb, &next)) {
                return Ok(Browsed::Callback(next));
            }
            let inside_keycloak = Some(next.origin()) == self.advertised_origin
                || next.origin() == self.t.keycloak_url.origin();
            if !inside_keycloak {
                return Err(CheckFailure::new(
                    step,
                    format!(
                        "Keycloak redirected to `{}`, which is neither Keycloak nor the redirect URI",
                        strip_query(&next)
                    ),
                )
                .request(described));
            }
            url = next;
        }
        Err(
            CheckFailure::new(step, format!("more than {MAX_REDIRECTS} redirects"))
                .request(described),
        )
    }

    /// The OAuth2 error Keycloak put in a redirect to the callback, as a failure of `step`
    /// whose message starts with `redirected` (`Keycloak redirected ...`).
    pub(super) fn error_redirect(
        &self,
        step: &str,
        described: &str,
        callback: &Url,
        redirected: &str,
    ) -> Option<CheckFailure> {
        let oauth = OAuthError {
            error: query_param(callback, "error")?,
            description: query_param(callback, "error_description").unwrap_or_default(),
        };
        let message = format!(
            "{redirected} with error={} ({})",
            oauth.error, oauth.description
        );
        Some(
            CheckFailure::new(step, message)
                .request(described)
                .cause(likely_cause(302, &oauth, self.who())),
        )
    }

    /// A 302 straight to the callback without a login form: Keycloak refused the request with
    /// an error redirect, or an SSO session already existed.
    pub(super) fn callback_without_login(
        &self,
        step: &str,
        described: &str,
        callback: &Url,
    ) -> CheckFailure {
        self.error_redirect(
            step,
            described,
            callback,
            "Keycloak redirected to the callback",
        )
        .unwrap_or_else(|| {
            CheckFailure::new(
                step,
                "Keycloak redirected to the callback without showing the login form",
            )
            .request(described)
        })
    }

    /// A page where the login should have gone on: what it was and what it means.
    pub(super) fn unexpected_page(
        &self,
        step: &str,
        described: &str,
        answer: &Answer,
        page: &Page,
    ) -> CheckFailure {
        let mut f = self.refused(
            step,
            described,
            answer,
            &format!("Keycloak showed {}", page.describe()),
        );
        // The page is already described in the message; its HTML is not worth quoting.
        f.body = None;
        let who = self.who();
        f.cause = f.cause.or(match page {
            Page::UpdateProfile { empty_fields, .. } => Some(format!(
                "user `{}`'s profile is incomplete{}: fill email, firstName and lastName in the realm file",
                who.username,
                if empty_fields.is_empty() {
                    String::new()
                } else {
                    format!(" ({} missing)", empty_fields.join(", "))
                }
            )),
            Page::UpdatePassword => Some(format!(
                "user `{}`'s password is temporary: set temporary: false on its credential",
                who.username
            )),
            Page::Consent => Some(format!(
                "client `{}` requires user consent (consentRequired: true)",
                who.client_id
            )),
            Page::Login { error: None, .. } => Some(
                "the login form came back without a message: the session cookies were not accepted"
                    .into(),
            ),
            _ => None,
        });
        f
    }
}
