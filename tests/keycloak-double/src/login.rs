//! The browser login of the authorization-code flow, as Keycloak 26.2 serves it (keycloak-behaviour §7
//! "Browser login"): the login page (`form#kc-form-login` posting to an HTML-escaped
//! `/login-actions/authenticate?session_code=..&execution=..&client_id=..&tab_id=..&client_data=..`),
//! its cookies (`AUTH_SESSION_ID`, `KC_RESTART`, `KC_AUTH_SESSION_HASH`; after login
//! `KEYCLOAK_IDENTITY` and `KEYCLOAK_SESSION`), bad credentials (the page again, 200, "Invalid
//! username or password."), required actions (a 302 to `/login-actions/required-action`, then the
//! update-profile / update-password page), the consent screen, and the 302 to the redirect URI
//! with `state`, `session_state`, `iss` and `code`.
//!
//! Cookies follow `DefaultCookieProvider` over plain HTTP: `Version=1`, path `/realms/<realm>/`,
//! `SameSite=Lax` (None needs a secure context), no `Secure`.

//! - [`session`]: the login in progress (root session, tabs, stages);
//! - [`cookies`]: the cookies, including the signed identity and restart cookies;
//! - [`pages`]: the pages; [`outcome`]: a step's answer;
//! - [`flow`]: from the authorization request to the code; [`actions`]: the `/login-actions` endpoints.

pub mod actions;
pub mod cookies;
pub mod flow;
pub mod outcome;
pub mod pages;
pub mod session;

pub use actions::{routes, run_step};
pub use cookies::{
    auth_session_cookie, cookie_path, expire_cookie, expire_identity, identity_session,
    request_cookies, set_cookie, AUTH_SESSION_ID, KC_AUTH_SESSION_HASH, KC_RESTART,
    KEYCLOAK_IDENTITY, KEYCLOAK_SESSION,
};
pub use flow::{begin, error_redirect, with_params};
pub use outcome::{error_page, Outcome};
pub use pages::{info_page, login_page, logout_confirm_page, msg};
pub use session::{root_id_of, store_in_root, AuthTab, LoginRequest, RootAuthSession, Stage};

#[cfg(test)]
mod tests;
