//! The realm file: one Keycloak `RealmRepresentation` in YAML (or JSON, e.g. a realm export),
//! with its `clients` and `users` embedded, using Keycloak's own field names.
//!
//! Loading is read (`load`) -> parse and substitute `${VAR}` (`parse`, [`subst`]) ->
//! validate the fields iamstack knows (`validate`) -> `model`. Known fields are typed and
//! checked (errors name the file, the line and the field, through `position`); unknown
//! fields are kept as they are and sent to Keycloak, which judges them (a 400 "Unrecognized
//! field" is shown as Keycloak's own message). The loaded model fills in the defaults
//! iamstack always sends explicitly (keycloak-behaviour §12): `enabled: true`, `protocol`,
//! `publicClient: false` and every flow flag.

mod error;
mod field_checks;
mod load;
mod model;
mod parse;
mod position;
pub mod subst;
mod validate;

#[cfg(test)]
mod tests;

pub use error::RealmFileError;
pub use load::{load_realm_files, load_realm_files_with};
pub use model::{
    ClientSpec, Password, RealmFile, UserSpec, BUILTIN_ORIGIN, BUILTIN_REALM, CLIENT_SET_FIELDS,
    IMPORT_ONLY_REALM_KEYS, USER_SET_FIELDS,
};
pub use parse::parse_realm_file;
pub use position::{locate, Seg};
pub use validate::CLIENT_FLOW_DEFAULTS;
