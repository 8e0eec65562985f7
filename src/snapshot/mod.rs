//! Snapshots of a provisioned stack: its Postgres data directory, copied physically while the
//! stack is stopped ([`save`]), and a fresh stack started from it ([`restore`]) so that
//! neither initdb, nor Keycloak's schema creation, nor any admin write runs again.
//!
//! - [`format`]: the file (a gzip'd tar: `iamstack-snapshot.json`, then the data directory).
//! - [`metadata`]: what the file records and the pure decisions of `up --from-snapshot`.
//! - [`key`]: `snapshot key`, a cache key for CI caches (pure).
//! - [`save`] and [`restore`]: the engine work. Failures: [`error`].

pub mod error;
pub mod format;
pub mod key;
pub mod metadata;
pub mod restore;
pub mod save;

pub use error::SnapshotError;
