//! Test support for iamstack's real-engine tests.
//!
//! - [`engine`]: a connected Docker client (API version negotiated), or a clear panic under
//!   `CI=true` when there is no engine, or `None` (the test prints that it skipped) elsewhere.
//! - [`images`]: which images the real-engine tests run on. `IAMSTACK_TEST_BACKEND=auto|official|
//!   standin` (default `auto`: the official images when BOTH are present locally; else pulled, if
//!   a quick check finds that the registry answers; else the offline stand-ins where they exist or
//!   can be built; else an error naming the three ways to get images). Prints which backend ran.
//! - [`registry`]: that quick check (one HTTPS GET of the registry's `/v2/`, answered or not within
//!   seconds). It lives here until `iamstack doctor` needs it too; then it moves into the product.
//! - [`standin`]: the offline stand-in images `iamstack-test/postgres:17` and
//!   `iamstack-test/keycloak:26.2-double`, built from Debian trixie root filesystems (mmdebstrap)
//!   imported through the engine API, cached by a hash of their inputs, built once across parallel
//!   test processes.
//! - [`TestRun`]: one per test: a unique id and project name, the `dev.iamstack.test-run` label,
//!   and sweeping of everything carrying it, before the test (also leftovers of dead runs) and on
//!   drop (also after a panic). A test's first `TestRun` also takes one of two real-engine slots
//!   shared by every test process (at most two such tests at once) and starts its time limit
//!   (`slot.rs`): what a test runner would give, so that plain `cargo test` is enough.
//!
//! - [`admin_token`]: the master admin's token from a double (or Keycloak), for tests that look
//!   behind the product's back.
//!
//! Everything here goes through the engine API (bollard); nothing shells out to `docker`.

mod admin;
mod backend;
mod engine;
pub mod local_registry;
/// The product's registry check, compiled here from the same file (no dependency on the
/// product), so the backend choice and `iamstack doctor` never disagree.
#[path = "../../../src/docker/registry.rs"]
pub mod registry;
mod run;
pub mod scale;
mod slot;
pub mod standin;

pub use admin::{admin_token, AdminApi, ADMIN_PASSWORD, ADMIN_USER};
pub use backend::{images, images_with, Backend, TestImages};
pub use engine::{connect, container_logs, engine};
pub use run::{labelled_objects, sweep_label, TestRun};
pub use scale::scale_realm_yaml;

/// Tests tag every object they make with `dev.iamstack.test-run=<run id>` and sweep by it
/// (the same key as `iamstack::names::LABEL_TEST_RUN`).
pub const LABEL_TEST_RUN: &str = "dev.iamstack.test-run";

/// The official images (the product's defaults).
pub const OFFICIAL_POSTGRES_IMAGE: &str = "postgres:17.4";
pub const OFFICIAL_KEYCLOAK_IMAGE: &str = "keycloak/keycloak:26.2";
