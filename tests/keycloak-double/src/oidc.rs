//! A realm's OpenID Connect surface as Keycloak 26.2 serves it (keycloak-behaviour §7): discovery, the JWKS
//! (an RS256 `sig` key and an RSA-OAEP `enc` key), the authorization endpoint (checks in
//! Keycloak's order: client, redirect URI — error pages; then response type, scope, PKCE — error
//! redirects to the client), the `authorization_code` grant (the code is consumed before any other
//! check; a reused code detaches the client from the session; 60 s lifespan; PKCE), the
//! `client_credentials` grant (transient session: no refresh token, no `sid`), userinfo (errors in
//! `WWW-Authenticate` with an empty body; 403 without the `openid` scope), introspection,
//! revocation, and RP-initiated logout (with its confirmation page) plus the legacy back-channel
//! logout with a refresh token.
//!
//! Not modelled: `response_mode=form_post` and the JWT response modes, request objects and PAR,
//! implicit and hybrid flows, the device flow, DPoP, `x5c`/`x5t` certificate members in the JWKS,
//! front- and back-channel logout notifications to clients.

//!
//! - [`discovery`]: discovery and the JWKS; [`authorize`]: the authorization endpoint;
//! - [`grants`]: the code and client-credentials grants; [`bearer`]: which tokens are accepted;
//! - [`userinfo`], [`introspection`] (and revocation), [`logout`].

use axum::routing::{get, post};
use axum::Router;

use crate::server::AppState;

pub mod authorize;
pub mod bearer;
pub mod discovery;
pub mod grants;
pub mod introspection;
pub mod logout;
pub mod userinfo;

pub use bearer::{claims_of, verify_bearer, Bearer, TokenProblem};
pub use discovery::discovery_document;
pub use grants::{authorization_code_grant, client_credentials_grant};
pub use logout::end_session;

use authorize::{auth_get, auth_post};
use discovery::{certs, discovery};
use introspection::{introspect, revoke};
use logout::{logout_confirm, logout_get, logout_post};
use userinfo::userinfo;

pub fn routes() -> Router<AppState> {
    let oidc = "/realms/{realm}/protocol/openid-connect";
    Router::new()
        .route(
            "/realms/{realm}/.well-known/openid-configuration",
            get(discovery),
        )
        .route(&format!("{oidc}/certs"), get(certs))
        .route(&format!("{oidc}/auth"), get(auth_get).post(auth_post))
        .route(&format!("{oidc}/userinfo"), get(userinfo).post(userinfo))
        .route(&format!("{oidc}/token/introspect"), post(introspect))
        .route(&format!("{oidc}/revoke"), post(revoke))
        .route(&format!("{oidc}/logout"), get(logout_get).post(logout_post))
        .route(
            &format!("{oidc}/logout/logout-confirm"),
            post(logout_confirm),
        )
}

#[cfg(test)]
mod tests;
