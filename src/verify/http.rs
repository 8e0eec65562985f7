//! HTTP for the checks: the two clients, sending a request as one step of a check, Keycloak's
//! answer kept whole for explanations, and the failure built from an answer.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::redirect::Policy;
use reqwest::{Client, RequestBuilder};
use serde_json::Value;
use url::Url;

use super::diagnose::{likely_cause, OAuthError};
use super::html::{self, Page};
use super::verifier::Verifier;
use crate::report::CheckFailure;

/// A step's outcome: its value, or why the check failed there.
pub(super) type Step<T> = Result<T, CheckFailure>;

/// Per-request budget: a hung Keycloak fails the check instead of the whole run hanging.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
pub(super) const JSON: &str = "application/json";

/// A client that never follows redirects (the checks look at each one); `cookies` for the
/// scripted browser.
pub(super) fn client(cookies: bool) -> reqwest::Result<Client> {
    let mut b = Client::builder()
        .redirect(Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("iamstack-verify/", env!("CARGO_PKG_VERSION")));
    if cookies {
        b = b.cookie_provider(Arc::new(reqwest::cookie::Jar::default()));
    }
    b.build()
}

/// What an HTTP exchange returned, kept whole for explanations.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

impl Answer {
    pub(super) fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn is_html(&self) -> bool {
        self.header(CONTENT_TYPE)
            .is_some_and(|c| c.starts_with("text/html"))
    }

    pub(super) fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The body as a failure shows it: `{"error":...}`, `(HTML: an error page saying "...")`,
    /// `(empty body)`, with the `WWW-Authenticate` header when there is one.
    pub(super) fn shown_body(&self) -> String {
        let body = self.body.trim();
        let shown = if body.is_empty() {
            "(empty body)".to_string()
        } else if self.is_html() {
            format!("(HTML: {})", html::classify(body).describe())
        } else {
            truncate(body, 300)
        };
        match self.header(WWW_AUTHENTICATE) {
            Some(h) => format!("{shown} [WWW-Authenticate: {h}]"),
            None => shown,
        }
    }

    /// The OAuth2 error in a JSON body, or the message of an HTML error/login page.
    pub(super) fn oauth_error(&self) -> Option<OAuthError> {
        if let Some(e) = OAuthError::from_body(&self.body) {
            return Some(e);
        }
        if self.is_html() {
            return match html::classify(&self.body) {
                Page::Error { message } => Some(OAuthError::page(&message)),
                Page::Login {
                    error: Some(message),
                    ..
                } => Some(OAuthError::page(&message)),
                _ => None,
            };
        }
        None
    }

    /// `failure` with this answer's status and body.
    pub(super) fn attach(&self, failure: CheckFailure) -> CheckFailure {
        failure.answered(self.status, Some(self.shown_body()))
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

impl Verifier<'_> {
    /// Keycloak's URLs carry its advertised host (KC_HOSTNAME); requests go where the user
    /// said Keycloak is. Other URLs are left alone.
    pub(super) fn reach(&self, url: &Url) -> Url {
        let Some(adv) = &self.advertised_origin else {
            return url.clone();
        };
        if &url.origin() != adv || url.origin() == self.t.keycloak_url.origin() {
            return url.clone();
        }
        let mut out = url.clone();
        let base = &self.t.keycloak_url;
        // Same scheme family (http/https) on both sides: these setters cannot fail then.
        let _ = out.set_scheme(base.scheme());
        let _ = out.set_host(base.host_str());
        let _ = out.set_port(base.port());
        out
    }

    /// Send `req` as `step`; `described` names it in a failure (never with secrets).
    pub(super) async fn send(
        &self,
        step: &str,
        described: &str,
        req: RequestBuilder,
    ) -> Step<Answer> {
        let resp = req.send().await.map_err(|e| {
            let mut msg = format!("cannot reach Keycloak: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            CheckFailure::new(step, msg).request(described)
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.map_err(|e| {
            CheckFailure::new(step, format!("reading the response failed: {e}")).request(described)
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A failure for an answer Keycloak gave, with its likely cause.
    pub(super) fn refused(
        &self,
        step: &str,
        described: &str,
        answer: &Answer,
        message: &str,
    ) -> CheckFailure {
        let cause = answer
            .oauth_error()
            .and_then(|e| likely_cause(answer.status, &e, self.who()));
        answer
            .attach(CheckFailure::new(step, message).request(described))
            .cause(cause)
    }
}

/// Same scheme, host, port and path: a redirect "to" this endpoint, whatever its query.
pub(super) fn same_endpoint(endpoint: &Url, candidate: &Url) -> bool {
    endpoint.scheme() == candidate.scheme()
        && endpoint.host_str() == candidate.host_str()
        && endpoint.port_or_known_default() == candidate.port_or_known_default()
        && endpoint.path() == candidate.path()
}

/// The value of query parameter `key` in `url`.
pub(super) fn query_param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A URL without its query (session codes are not worth quoting).
pub(super) fn strip_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::VerifyTarget;

    #[test]
    fn keycloak_urls_are_reached_where_keycloak_is() {
        let t = VerifyTarget::reference("http://127.0.0.1:41234");
        let mut v = Verifier::new(&t).unwrap();
        v.advertised_origin = Some(Url::parse("http://localhost:41234").unwrap().origin());
        let action = Url::parse(
            "http://localhost:41234/realms/testing/login-actions/authenticate?session_code=a&tab_id=b",
        )
        .unwrap();
        assert_eq!(
            v.reach(&action).as_str(),
            "http://127.0.0.1:41234/realms/testing/login-actions/authenticate?session_code=a&tab_id=b"
        );
        let elsewhere = Url::parse("http://localhost:5000/callback?code=x").unwrap();
        assert_eq!(v.reach(&elsewhere), elsewhere);
    }

    #[test]
    fn callback_detection_ignores_the_query() {
        let cb = Url::parse("http://localhost:5000/callback").unwrap();
        assert!(same_endpoint(
            &cb,
            &Url::parse("http://localhost:5000/callback?state=s&code=c&iss=x").unwrap()
        ));
        assert!(!same_endpoint(
            &cb,
            &Url::parse("http://localhost:5000/callback2?code=c").unwrap()
        ));
        assert!(!same_endpoint(
            &cb,
            &Url::parse("http://localhost:5001/callback").unwrap()
        ));
    }

    #[test]
    fn answers_summarise_html_and_empty_bodies() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "text/html;charset=utf-8".parse().unwrap());
        let a = Answer {
            status: 400,
            headers,
            body: r#"<html><body><div id="kc-error-message"><p class="instruction">Invalid parameter: redirect_uri</p></div></body></html>"#.into(),
        };
        let summary = |a: &Answer| format!("{} {}", a.status, a.shown_body());
        assert_eq!(
            summary(&a),
            "400 (HTML: an error page saying \"Invalid parameter: redirect_uri\")"
        );
        assert_eq!(
            a.oauth_error(),
            Some(OAuthError::page("Invalid parameter: redirect_uri"))
        );
        let empty = Answer {
            status: 403,
            headers: HeaderMap::new(),
            body: String::new(),
        };
        assert_eq!(summary(&empty), "403 (empty body)");
    }
}
