//! Keycloak admin REST client, realm file model, and reconcile (pure diff + apply).
//!
//! Entry points: [`load_realm_files`] (the built-in `realm/testing.yaml` when given no
//! paths) and [`apply()`] (provision them into a running Keycloak; `up` calls it at the end).
//! Errors are typed: [`RealmFileError`] (exit 7) and [`AdminError`] (exit 6, or 5 when
//! Keycloak cannot be reached), kept in the error chain for callers to inspect.

pub mod apply;
pub mod client;
pub mod diff;
pub mod discovery;
pub mod endpoints;
pub mod export;
pub mod password_proof;
pub mod progress;
pub mod realm_file;
pub mod reconcile;
pub mod user_profile;

pub use apply::{apply, apply_options, apply_with, ApplyOptions, ApplySummary, ObjectOutcome};
pub use client::{AdminClient, AdminError};
pub use realm_file::{
    load_realm_files, load_realm_files_with, parse_realm_file, subst, ClientSpec, Password,
    RealmFile, RealmFileError, UserSpec, BUILTIN_REALM,
};
