//! `iamstack demo`: the reference tutorial's three client apps in one local web app, served on
//! loopback only (`http://localhost:<port>`, the realm's redirect URI):
//!
//! - "Log in with Keycloak": authorization code with PKCE, `state` and `nonce` checked, then a
//!   profile page with the ID token's claims, the decoded access token and userinfo, and a
//!   logout button that does RP-initiated logout back to the home page;
//! - "Password grant": a form for username and password, showing the token response;
//! - "Client credentials": the service account's token and claims.
//!
//! Sessions are server-side (a random cookie names them). `app.rs` holds the routes and the
//! OAuth2 calls, `pages.rs` the HTML. The port is checked against the client's redirect URIs
//! before serving: Keycloak has no port wildcard.

mod app;
mod pages;

use std::net::{Ipv4Addr, SocketAddr};

use serde_json::Value;
use tokio::net::TcpListener;

use crate::verify::VerifyTarget;

/// The reference tutorial's app port, which the built-in realm's redirect URI names.
pub const DEFAULT_PORT: u16 = 5000;

/// What the demo needs: the client and user (from the realm file, as `verify` picks them), the
/// realm's endpoints (from Keycloak's discovery document) and where the demo is.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub target: VerifyTarget,
    /// `http://localhost:<port>`, no trailing `/`.
    pub base: String,
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub end_session_endpoint: String,
    pub jwks_uri: String,
}

/// Why the demo cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "client `{client}` does not allow the demo's callback {callback}: its redirectUris are \
         {allowed}, and Keycloak has no port wildcard; add `{base}/*` to the client's \
         redirectUris and run `iamstack apply`, or use --port {suggest}"
    )]
    RedirectNotAllowed {
        client: String,
        callback: String,
        allowed: String,
        base: String,
        suggest: String,
    },
    #[error("port {port} on 127.0.0.1 is taken ({cause}): free it, or pick another with --port")]
    PortTaken { port: u16, cause: String },
    #[error(
        "cannot read realm `{realm}`'s discovery document at {url}: {cause}; is the realm applied?"
    )]
    Discovery {
        realm: String,
        url: String,
        cause: String,
    },
}

impl DemoError {
    pub fn kind(&self) -> crate::error::Kind {
        match self {
            DemoError::RedirectNotAllowed { .. } => crate::error::Kind::InvalidConfig,
            DemoError::PortTaken { .. } => crate::error::Kind::Conflict,
            DemoError::Discovery { .. } => crate::error::Kind::NotReady,
        }
    }
}

/// The demo's callback under `base`.
pub fn callback(base: &str) -> String {
    format!("{base}/callback")
}

/// Pure: does one of the client's redirect URI patterns allow `uri`? Keycloak's rule for the
/// absolute ones the demo needs: equal, or a `*` at the end standing for any rest.
pub fn redirect_allowed(patterns: &[&str], uri: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => uri.starts_with(prefix),
        None => *p == uri,
    })
}

/// Check the callback against the realm file's client, then read the realm's endpoints.
pub async fn configure(
    target: VerifyTarget,
    redirect_uris: &[&str],
    port: u16,
) -> Result<DemoConfig, DemoError> {
    let base = format!("http://localhost:{port}");
    let cb = callback(&base);
    if !redirect_allowed(redirect_uris, &cb) {
        let suggest = redirect_uris
            .iter()
            .find_map(|p| {
                Some(
                    p.strip_prefix("http://localhost:")?
                        .split(['/', '*'])
                        .next()?
                        .to_string(),
                )
            })
            .unwrap_or_else(|| DEFAULT_PORT.to_string());
        return Err(DemoError::RedirectNotAllowed {
            client: target.client_id.clone(),
            callback: cb,
            allowed: redirect_uris.join(", "),
            base,
            suggest,
        });
    }
    let url = format!(
        "{}/realms/{}/.well-known/openid-configuration",
        target.keycloak_url.as_str().trim_end_matches('/'),
        target.realm
    );
    let failed = |cause: String| DemoError::Discovery {
        realm: target.realm.clone(),
        url: url.clone(),
        cause,
    };
    let doc: Value = reqwest::get(&url)
        .await
        .map_err(|e| failed(e.to_string()))?
        .error_for_status()
        .map_err(|e| failed(e.to_string()))?
        .json()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let need = |k: &str| s(k).ok_or_else(|| failed(format!("it has no `{k}`")));
    Ok(DemoConfig {
        base,
        issuer: need("issuer")?,
        authorization_endpoint: need("authorization_endpoint")?,
        token_endpoint: need("token_endpoint")?,
        userinfo_endpoint: need("userinfo_endpoint")?,
        end_session_endpoint: need("end_session_endpoint")?,
        jwks_uri: need("jwks_uri")?,
        target,
    })
}

/// Bind 127.0.0.1:`port` (loopback only: the demo shows tokens and a client secret's fruits).
pub async fn bind(port: u16) -> Result<TcpListener, DemoError> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| DemoError::PortTaken {
            port,
            cause: e.to_string(),
        })
}

/// Serve the demo on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, config: DemoConfig) -> std::io::Result<()> {
    axum::serve(listener, app::router(config)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_must_fall_under_a_redirect_uri_of_the_same_port() {
        let patterns = ["http://localhost:5000/*"];
        assert!(redirect_allowed(
            &patterns,
            "http://localhost:5000/callback"
        ));
        assert!(!redirect_allowed(
            &patterns,
            "http://localhost:5001/callback"
        ));
        assert!(redirect_allowed(
            &["http://localhost:5001/callback"],
            "http://localhost:5001/callback"
        ));
    }
}
