//! **A test double of Keycloak 26.2** — not Keycloak, never offered to users as Keycloak.
//!
//! It serves the parts of Keycloak's HTTP surface that iamstack touches, with Keycloak's own
//! behaviour (status codes, error bodies, defaults, trip-ups) as recorded in
//! `docs/keycloak-behaviour.md`, so iamstack's tests run where no real Keycloak can.
//!
//! Two forms:
//! - in-process: [`start`] serves an in-memory double on an ephemeral 127.0.0.1 port and records
//!   every request it served ([`RunningDouble::requests`]);
//! - container: the `keycloak-double` binary (installed as `/opt/keycloak/bin/kc.sh` in the
//!   stand-in image) reads Keycloak's `KC_*` environment and keeps its state in PostgreSQL
//!   (see [`container`]).
//!
//! Layout: [`model`] (state), [`schema`] (known representation fields), [`admin`] (admin API),
//! [`token`] (token endpoint, JWTs), [`oidc`] (discovery, JWKS, authorization endpoint, code and
//! client-credentials grants, userinfo, introspection, revocation, logout), [`login`] (the
//! browser login pages and their cookies), [`redirect`] (redirect URI rules), [`server`]
//! (routing, recording, health), [`store`] (persistence), [`container`] (the `kc.sh` emulation).

#![recursion_limit = "256"]

pub mod admin;
pub mod clock;
pub mod container;
pub mod http;
pub mod login;
pub mod model;
pub mod oidc;
pub mod redirect;
pub mod schema;
pub mod server;
pub mod store;
pub mod token;

pub use clock::Clock;
pub use server::{start, DoubleConfig, RealmConflict, RecordedRequest, RunningDouble};
