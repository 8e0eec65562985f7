//! The realm file: one Keycloak `RealmRepresentation` in YAML (or JSON, e.g. a realm export),
//! with its `clients` and `users` embedded, using Keycloak's own field names.
//!
//! Loading is read (`load`) -> parse within the limits on size, nesting and alias expansion
//! (`limits`) and substitute `${VAR}` (`parse`, [`subst`]) ->
//! validate against Keycloak 26.2's schema and iamstack's own rules (`schema`, `validate`) ->
//! `model`. Every field's name and type is checked before any request: an unknown field is
//! refused with the nearest known name, a wrong type with the expected one (errors name the file,
//! the line and the field, through `position`). The loaded model fills in the defaults
//! iamstack always sends explicitly (keycloak-behaviour §12): `enabled: true`, `protocol`,
//! `publicClient: false` and every flow flag.

mod access;
mod error;
mod field_checks;
mod limits;
mod load;
mod model;
mod parse;
mod position;
mod schema;
pub mod subst;
mod validate;

#[cfg(test)]
mod tests;

pub use access::{group_path, GroupSpec, RoleSpec, ACCESS_REALM_KEYS, USER_MEMBERSHIP_FIELDS};
pub use error::RealmFileError;
pub use limits::{
    ALIAS_EXPANSION_FACTOR, MAX_NESTING_DEPTH, MAX_REALM_FILE_BYTES, MIN_EXPANSION_BUDGET,
};
pub use load::{load_realm_files, load_realm_files_with, realm_file_bytes, realm_file_paths};
pub use model::{
    ClientSpec, Password, RealmFile, UserSpec, BUILTIN_ORIGIN, BUILTIN_REALM, CLIENT_SET_FIELDS,
    IMPORT_ONLY_REALM_KEYS, UPDATE_PASSWORD, USER_SET_FIELDS,
};
pub use parse::parse_realm_file;
pub use position::{locate, Seg};
pub use schema::{
    drop_unknown_fields, schema_version_warning, REALM_SCHEMA, SCHEMA_KEYCLOAK_VERSION,
};
pub use validate::CLIENT_FLOW_DEFAULTS;
