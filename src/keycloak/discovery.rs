//! A realm's OpenID Connect endpoints as Keycloak itself states them in its discovery document.
//!
//! Keycloak builds every URL it advertises from its front-end URL: with `KC_HOSTNAME=localhost`
//! (hostname v2) it keeps the request's scheme and port but replaces the host (keycloak-behaviour
//! §7). So the issuer of a stack reached at `http://127.0.0.1:8080` is
//! `http://localhost:8080/realms/<realm>`; only the discovery document says it for sure.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The discovery values that `env` publishes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OidcUrls {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub end_session_endpoint: String,
}

impl OidcUrls {
    /// What Keycloak advertises for the realm whose URL path segment is `realm_segment` when
    /// its front-end URL is `front_end` (no trailing `/`): the fallback when discovery cannot
    /// be read.
    pub fn under(front_end: &str, realm_segment: &str) -> OidcUrls {
        let issuer = format!("{front_end}/realms/{realm_segment}");
        let endpoint = |tail: &str| format!("{issuer}/protocol/openid-connect/{tail}");
        OidcUrls {
            authorization_endpoint: endpoint("auth"),
            token_endpoint: endpoint("token"),
            userinfo_endpoint: endpoint("userinfo"),
            end_session_endpoint: endpoint("logout"),
            issuer,
        }
    }

    /// Keycloak's front-end base URL: the issuer without its `/realms/<realm>` tail.
    pub fn front_end_url(&self) -> Option<&str> {
        self.issuer.rsplit_once("/realms/").map(|(base, _)| base)
    }
}

/// Pure: the URL Keycloak calls itself when reached at `probe`: with `KC_HOSTNAME` set,
/// hostname v2 keeps the request's scheme and port and replaces the host.
pub fn front_end_url(probe: &Url, kc_hostname: Option<&str>) -> Url {
    let mut url = probe.clone();
    if let Some(host) = kc_hostname.filter(|h| !h.is_empty()) {
        // A full URL in KC_HOSTNAME is Keycloak's own front-end URL.
        if let Ok(full) = Url::parse(host) {
            if full.has_host() && matches!(full.scheme(), "http" | "https") {
                return full;
            }
        }
        // An IPv6 literal goes into a URL in brackets.
        let host = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => crate::stack::plan::url_host(ip),
            Err(_) => host.to_string(),
        };
        if url.set_host(Some(&host)).is_err() {
            return probe.clone();
        }
    }
    url
}

/// `GET <keycloak_url>/realms/<realm>/.well-known/openid-configuration`. The error is a
/// sentence for a warning: what was asked and what came back.
pub async fn read_discovery(keycloak_url: &Url, realm: &str) -> Result<OidcUrls, String> {
    let mut url = keycloak_url.clone();
    url.path_segments_mut()
        .map_err(|()| format!("`{keycloak_url}` cannot be a base URL"))?
        .pop_if_empty()
        .extend(["realms", realm, ".well-known", "openid-configuration"]);
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let answer = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = answer.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    answer
        .json::<OidcUrls>()
        .await
        .map_err(|e| format!("GET {url}: not a discovery document ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_end_url_takes_kc_hostname_and_keeps_scheme_and_port() {
        let probe = Url::parse("http://127.0.0.1:49153/").unwrap();
        assert_eq!(
            front_end_url(&probe, Some("localhost")).as_str(),
            "http://localhost:49153/"
        );
        assert_eq!(
            front_end_url(&probe, Some("kc.example")).as_str(),
            "http://kc.example:49153/"
        );
        assert_eq!(front_end_url(&probe, None), probe);
        assert_eq!(
            front_end_url(&probe, Some("::1")).as_str(),
            "http://[::1]:49153/"
        );
        assert_eq!(
            front_end_url(&probe, Some("https://id.example.org")).as_str(),
            "https://id.example.org/"
        );
    }

    #[test]
    fn the_front_end_url_is_the_issuer_without_the_realm() {
        let urls = OidcUrls {
            issuer: "http://localhost:8080/auth/realms/testing".into(),
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            userinfo_endpoint: String::new(),
            end_session_endpoint: String::new(),
        };
        assert_eq!(urls.front_end_url(), Some("http://localhost:8080/auth"));
    }
}
