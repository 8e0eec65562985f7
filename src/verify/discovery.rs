//! The `discovery` check: the realm's discovery document, its issuer (host pinned to
//! KC_HOSTNAME, scheme, port and path to where Keycloak is reached) and the endpoints the
//! other checks use.

use reqwest::header::ACCEPT;
use serde_json::Value;
use url::Url;

use super::http::{Step, JSON};
use super::verifier::Verifier;
use crate::report::CheckFailure;

/// The endpoints and issuer from discovery.
#[derive(Debug, Clone)]
pub(super) struct Endpoints {
    pub(super) issuer: String,
    pub(super) authorization: Url,
    pub(super) token: Url,
    pub(super) userinfo: Url,
    pub(super) end_session: Url,
    pub(super) jwks: Url,
    pub(super) introspection: Url,
    /// RFC 9207: the authorization response must then carry `iss`.
    pub(super) iss_in_auth_response: bool,
}

impl Verifier<'_> {
    pub(super) async fn discovery(&mut self) -> Step<String> {
        const STEP: &str = "discovery request";
        let url = self.discovery_url();
        let described = format!("GET {url}");
        let answer = self
            .send(
                STEP,
                &described,
                self.api.get(url.clone()).header(ACCEPT, JSON),
            )
            .await?;
        if answer.status != 200 {
            return Err(self.refused(STEP, &described, &answer, "no discovery document"));
        }
        let doc = answer.json().ok_or_else(|| {
            answer.attach(
                CheckFailure::new(STEP, "the discovery document is not JSON").request(&described),
            )
        })?;
        let bad = |msg: String| CheckFailure::new("discovery document", msg).request(&described);

        let issuer = doc
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`issuer` is missing".into()))?
            .to_string();
        let issuer_url = Url::parse(&issuer)
            .map_err(|e| bad(format!("issuer `{issuer}` is not a URL ({e})")))?;
        let host = match &self.t.expected_hostname {
            Some(h) => h.clone(),
            None => issuer_url.host_str().unwrap_or_default().to_string(),
        };
        let expected = self.expected_issuer(&host);
        if issuer != expected {
            let cause = match &self.t.expected_hostname {
                Some(h) => format!(
                    "Keycloak's KC_HOSTNAME is not `{h}`, or Keycloak is reached through a proxy that changes the port or path"
                ),
                None => "Keycloak is reached through a proxy that changes the port or path".into(),
            };
            return Err(
                bad(format!("issuer is `{issuer}`, expected `{expected}`")).cause(Some(cause))
            );
        }
        let endpoints = endpoints_of(&doc, &issuer)
            .map_err(|missing| bad(format!("missing or wrong: {}", missing.join(", "))))?;
        self.advertised_origin = Some(issuer_url.origin());
        self.endpoints = Some(endpoints);
        Ok(format!("issuer {issuer}"))
    }

    pub(super) fn discovery_url(&self) -> Url {
        let mut url = self.t.keycloak_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().extend([
                "realms",
                self.t.realm.as_str(),
                ".well-known",
                "openid-configuration",
            ]);
        }
        url
    }

    /// The issuer Keycloak must announce when reached at `keycloak_url`: host forced to
    /// KC_HOSTNAME, scheme and port kept (default ports dropped).
    pub(super) fn expected_issuer(&self, host: &str) -> String {
        let base = &self.t.keycloak_url;
        let mut s = format!("{}://{host}", base.scheme());
        if let Some(p) = base.port() {
            s.push_str(&format!(":{p}"));
        }
        s.push_str(base.path().trim_end_matches('/'));
        s.push_str(&format!("/realms/{}", self.t.realm));
        s
    }
}

/// The endpoints of a discovery document whose issuer is `issuer`, each where Keycloak puts
/// it under the issuer; else what is missing or wrong.
fn endpoints_of(doc: &Value, issuer: &str) -> Result<Endpoints, Vec<String>> {
    let mut missing = Vec::new();
    let mut endpoint = |key: &str, suffix: &str| -> Option<Url> {
        let found = doc
            .get(key)
            .and_then(Value::as_str)
            .and_then(|s| Url::parse(s).ok());
        match found {
            Some(u) if u.as_str() == format!("{issuer}/protocol/openid-connect/{suffix}") => {
                Some(u)
            }
            Some(u) => {
                missing.push(format!("{key} (unexpected: {u})"));
                None
            }
            None => {
                missing.push(key.to_string());
                None
            }
        }
    };
    let authorization = endpoint("authorization_endpoint", "auth");
    let token = endpoint("token_endpoint", "token");
    let userinfo = endpoint("userinfo_endpoint", "userinfo");
    let end_session = endpoint("end_session_endpoint", "logout");
    let jwks = endpoint("jwks_uri", "certs");
    let introspection = endpoint("introspection_endpoint", "token/introspect");
    let s256 = doc
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array)
        .map(|m| m.iter().any(|x| x == "S256"));
    if s256 == Some(false) {
        missing.push("S256 in code_challenge_methods_supported".into());
    }
    let iss_in_auth_response = doc
        .get("authorization_response_iss_parameter_supported")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let found = || {
        Some(Endpoints {
            issuer: issuer.to_string(),
            authorization: authorization?,
            token: token?,
            userinfo: userinfo?,
            end_session: end_session?,
            jwks: jwks?,
            introspection: introspection?,
            iss_in_auth_response,
        })
    };
    match found() {
        Some(endpoints) if missing.is_empty() => Ok(endpoints),
        _ => Err(missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::VerifyTarget;

    #[test]
    fn discovery_url_and_expected_issuer() {
        for (keycloak_url, hostname, discovery_url, issuer) in [
            (
                "http://127.0.0.1:8080",
                "localhost",
                "http://127.0.0.1:8080/realms/testing/.well-known/openid-configuration",
                "http://localhost:8080/realms/testing",
            ),
            // Default ports are normalised away, as Keycloak does.
            (
                "https://sso.example.com/auth/",
                "sso.example.com",
                "https://sso.example.com/auth/realms/testing/.well-known/openid-configuration",
                "https://sso.example.com/auth/realms/testing",
            ),
        ] {
            let t = VerifyTarget::reference(keycloak_url);
            let v = Verifier::new(&t).unwrap();
            assert_eq!(v.discovery_url().as_str(), discovery_url);
            assert_eq!(v.expected_issuer(hostname), issuer);
        }
    }
}
