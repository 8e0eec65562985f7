//! Why Keycloak's admin API could not be used, with what was refused and how to fix it.

use crate::error::Kind;

/// Why Keycloak's admin API could not be used. Exit 6, but `Unreachable` and `Slow` (5) and
/// `InvalidUrl` (7).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    #[error("invalid --keycloak-url `{url}`: expected http(s)://host[:port]")]
    InvalidUrl { url: String },
    #[error(
        "cannot reach Keycloak at {url}: {cause} (retried for {budget_s} s); is it running and is \
         the URL right? (`--keycloak-url`)"
    )]
    Unreachable {
        url: String,
        cause: String,
        budget_s: u64,
    },
    #[error(
        "Keycloak took longer than {after_s} s to {what}: it is reachable but busy (each \
         password it stores or checks costs a deliberately slow hash){hint}"
    )]
    Slow {
        what: String,
        after_s: u64,
        /// What to do now (e.g. run again: the request may still complete).
        hint: String,
    },
    #[error(
        "Keycloak at {url} rejected the admin login of `{user}` (HTTP {status}: {message}). \
         Keycloak sets its bootstrap admin (KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD) only when its \
         database is first created; changing the password afterwards has no effect. Use the \
         password the database was created with (`--admin-password` or IAMSTACK_ADMIN_PASSWORD), \
         or start over with `iamstack down --volumes` (this deletes all Keycloak data)"
    )]
    LoginRejected {
        url: String,
        user: String,
        status: u16,
        message: String,
    },
    #[error("admin login to Keycloak at {url} failed: HTTP {status}: {message}")]
    LoginFailed {
        url: String,
        status: u16,
        message: String,
    },
    #[error(
        "Keycloak refused to {what}: 403 forbidden ({message}); the admin user `{user}` lacks \
         the permission: use an admin of the master realm (the bootstrap admin has it)"
    )]
    Forbidden {
        what: String,
        user: String,
        message: String,
    },
    #[error("Keycloak refused to {what}: 409 conflict: {message}")]
    Conflict { what: String, message: String },
    #[error("Keycloak refused to {what}: 400 bad request: {message}")]
    BadRequest { what: String, message: String },
    #[error("Keycloak could not {what}: 404 not found: {message}")]
    NotFound { what: String, message: String },
    #[error("Keycloak rejected the admin token while trying to {what} (401 twice, after a fresh login): {message}")]
    Unauthorized { what: String, message: String },
    #[error("Keycloak failed to {what}: HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("unexpected answer from Keycloak while trying to {what}: {message}")]
    Unexpected { what: String, message: String },
}

impl AdminError {
    pub fn kind(&self) -> Kind {
        match self {
            AdminError::Unreachable { .. } | AdminError::Slow { .. } => Kind::NotReady,
            AdminError::InvalidUrl { .. } => Kind::InvalidConfig,
            _ => Kind::AdminApi,
        }
    }
}
