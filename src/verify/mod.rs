//! `verify`: the reference's OAuth2/OpenID Connect flows, run end to end as checks.
//!
//! Each check is reported as an [`Event::Check`](crate::report::Event::Check) as soon as it
//! ends, with its time; a failure names the step, the request, Keycloak's status and body, and
//! the likely cause. The checks ([`Check`], in this order):
//!
//! | check | what it proves | file |
//! |---|---|---|
//! | `discovery` | the realm's discovery document; issuer `http://<KC_HOSTNAME>:<port>/realms/<realm>`; endpoints present | `discovery.rs` |
//! | `client_credentials` | a service-account token with `scope=openid`; userinfo says `service-account-<clientId>` | `grants.rs` |
//! | `password` | resource owner password grant; userinfo has the user's email; the refresh grant works | `grants.rs` |
//! | `authorization_code` | a scripted browser login with PKCE S256, `state`, `nonce`; the code exchange; userinfo email | `authorization_code.rs`, `browser.rs` |
//! | `id_token` | every ID token obtained: RS256 signature with the JWKS key, `iss`, `aud`, `exp`, `nonce` | `id_token.rs`, `jwt.rs` |
//! | `introspection` | an access token obtained is active at the introspection endpoint | `introspection.rs` |
//! | `logout` | RP-initiated logout of the browser session redirects back; its refresh token then fails | `logout.rs` |
//!
//! A check that needs the result of a failed one fails too, saying which one it needed.
//! Secrets (client secret, password, tokens) never appear in reports.
//!
//! Around the checks: `target.rs` picks what to check from the realm files, `run.rs` runs the
//! checks in order and reports them, `verifier.rs` holds what one check leaves for the next,
//! `http.rs` sends requests and keeps Keycloak's answers, `diagnose.rs` turns an answer into a
//! likely cause, `html.rs` reads Keycloak's pages, `pkce.rs` makes PKCE, `state` and `nonce`.
//! `token.rs` runs one grant for `iamstack token`.

// A step's error is the check's whole explanation (five strings and a status, 128 bytes),
// built at most once per check: boxing it would only add noise to every step.
#![allow(clippy::result_large_err)]

mod authorization_code;
mod browser;
mod check;
pub mod diagnose;
mod discovery;
mod error;
mod grants;
pub mod html;
mod http;
mod id_token;
mod introspection;
pub mod jwt;
mod logout;
pub mod pkce;
mod run;
mod target;
pub mod token;
mod verifier;

pub use check::Check;
pub use error::VerifyError;
pub use run::{run, VerifyReport};
pub use target::{
    post_logout_redirect_uri, redirect_uri_from_pattern, target_for, Choice, VerifyTarget,
};
