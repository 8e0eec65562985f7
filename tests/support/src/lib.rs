//! Test support for iamstack's real-engine tests.
//!
//! - [`engine`]: a connected Docker client (API version negotiated), or a clear panic under
//!   `CI=true` when there is no engine, or `None` (the test prints that it skipped) elsewhere.
//! - [`images`]: which images the real-engine tests run on. `IAMSTACK_TEST_BACKEND=auto|official|
//!   standin` (default `auto`: the official images when BOTH are present locally, else the offline
//!   stand-ins; a pull is tried only with `IAMSTACK_TEST_PULL=1`). Prints which backend ran.
//! - [`standin`]: the offline stand-in images `iamstack-test/postgres:17` and
//!   `iamstack-test/keycloak:26.2-double`, built from Debian trixie root filesystems (mmdebstrap)
//!   imported through the engine API, cached by a hash of their inputs, built once across parallel
//!   test processes.
//! - [`TestRun`]: one per test: a unique id and project name, the `dev.iamstack.test-run` label,
//!   and sweeping of everything carrying it, before the test (also leftovers of dead runs) and on
//!   drop (also after a panic).
//!
//! - [`admin_token`]: the master admin's token from a double (or Keycloak), for tests that look
//!   behind the product's back.
//!
//! Everything here goes through the engine API (bollard); nothing shells out to `docker`.

mod admin;
mod backend;
mod engine;
mod run;
pub mod standin;

pub use admin::{admin_token, ADMIN_PASSWORD, ADMIN_USER};
pub use backend::{images, images_with, Backend, TestImages};
pub use engine::{connect, container_logs, engine};
pub use run::{labelled_objects, sweep_label, TestRun};

/// Tests tag every object they make with `dev.iamstack.test-run=<run id>` and sweep by it
/// (the same key as `iamstack::names::LABEL_TEST_RUN`).
pub const LABEL_TEST_RUN: &str = "dev.iamstack.test-run";

/// The official images (the product's defaults).
pub const OFFICIAL_POSTGRES_IMAGE: &str = "postgres:17.4";
pub const OFFICIAL_KEYCLOAK_IMAGE: &str = "keycloak/keycloak:26.2";
