//! Exit codes, and how an error chain maps to one.
//!
//! Modules return their own typed errors (`thiserror`): the engine's, the stack's, the admin
//! API's, a realm file's, the configuration's, `verify`'s. Each knows its [`Kind`], the row of
//! the exit-code table it belongs to. `anyhow` adds context at the command layer; `main` asks
//! [`exit_code`], which walks the chain for the first typed error it knows. Anything else is
//! an unexpected error (exit 1). The table is in `docs/conventions.md` and the README.

/// Documented exit codes (README "Exit codes", `docs/conventions.md`).
pub mod exit {
    pub const OK: u8 = 0;
    pub const UNEXPECTED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const ENGINE: u8 = 3;
    pub const CONFLICT: u8 = 4;
    pub const NOT_READY: u8 = 5;
    pub const ADMIN_API: u8 = 6;
    pub const INVALID_CONFIG: u8 = 7;
    pub const VERIFY_FAILED: u8 = 8;
    pub const IMAGE: u8 = 9;
    pub const INTERRUPTED: u8 = 130;
}

/// What went wrong, in the terms of the exit-code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Docker engine unreachable or too old (3).
    Engine,
    /// A port taken, or an object with our name that is not ours (4).
    Conflict,
    /// A service did not become ready in time, or exited (5).
    NotReady,
    /// Keycloak's admin API refused a request, or the admin login failed (6).
    AdminApi,
    /// Invalid realm file or configuration (7).
    InvalidConfig,
    /// `verify`: an OAuth2/OIDC check failed (8).
    VerifyFailed,
    /// An image is missing or cannot be pulled (9).
    Image,
    /// Ctrl-C (130).
    Interrupted,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Engine => exit::ENGINE,
            Kind::Conflict => exit::CONFLICT,
            Kind::NotReady => exit::NOT_READY,
            Kind::AdminApi => exit::ADMIN_API,
            Kind::InvalidConfig => exit::INVALID_CONFIG,
            Kind::VerifyFailed => exit::VERIFY_FAILED,
            Kind::Image => exit::IMAGE,
            Kind::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// Ctrl-C: the command stopped at the user's request (exit 130).
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// The kind of one error of the chain, if it is one of ours. One arm per typed error.
fn kind_of(cause: &(dyn std::error::Error + 'static)) -> Option<Kind> {
    use crate::config::ConfigError;
    use crate::docker::EngineError;
    use crate::keycloak::{AdminError, RealmFileError};
    use crate::stack::StackError;
    use crate::verify::VerifyError;
    if let Some(e) = cause.downcast_ref::<EngineError>() {
        return e.kind();
    }
    if let Some(e) = cause.downcast_ref::<AdminError>() {
        return Some(e.kind());
    }
    if let Some(e) = cause.downcast_ref::<RealmFileError>() {
        return Some(e.kind());
    }
    if let Some(e) = cause.downcast_ref::<ConfigError>() {
        return Some(e.kind());
    }
    if let Some(e) = cause.downcast_ref::<VerifyError>() {
        return Some(e.kind());
    }
    if let Some(e) = cause.downcast_ref::<StackError>() {
        return e.kind();
    }
    if let Some(e) = cause.downcast_ref::<crate::snapshot::SnapshotError>() {
        return e.kind();
    }
    if let Some(e) = cause.downcast_ref::<crate::stack::lock::LockError>() {
        return e.kind();
    }
    if let Some(e) = cause.downcast_ref::<crate::commands::doctor::DoctorFound>() {
        return Some(e.first);
    }
    if cause.is::<crate::docker::PullError>() {
        return Some(Kind::Image);
    }
    if let Some(e) = cause.downcast_ref::<crate::demo::DemoError>() {
        return Some(e.kind());
    }
    if cause.is::<Interrupted>() {
        return Some(Kind::Interrupted);
    }
    None
}

/// A line of advice for an error whose chain does not say what to do itself.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    err.chain()
        .filter_map(|c| c.downcast_ref::<crate::docker::EngineError>())
        .any(crate::docker::EngineError::engine_went_away)
        .then_some(crate::docker::ENGINE_WENT_AWAY)
}

/// The exit code for an error: the first typed error in its chain decides, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(kind_of)
        .map_or(exit::UNEXPECTED, Kind::exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_code_comes_from_the_first_typed_error_in_the_chain() {
        let err = Err::<(), _>(Interrupted)
            .context("failed to start the stack")
            .unwrap_err();
        assert_eq!(exit_code(&err), 130);
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), 1);
    }

    #[test]
    fn each_typed_error_keeps_its_row_under_context() {
        let wrapped = |e: anyhow::Error| e.context("cannot run the command");
        let config = crate::config::ConfigError::ZeroTimeout;
        assert_eq!(exit_code(&wrapped(config.into())), 7);
        let admin = crate::keycloak::AdminError::Unreachable {
            url: "http://127.0.0.1:8080/".into(),
            cause: "connection refused".into(),
            budget_s: 30,
        };
        assert_eq!(exit_code(&wrapped(admin.into())), 5);
        let refused = crate::keycloak::AdminError::Conflict {
            what: "create realm `x`".into(),
            message: "Conflict detected".into(),
        };
        assert_eq!(exit_code(&wrapped(refused.into())), 6);
        let image = crate::stack::StackError::ImageMissing {
            image: "keycloak/keycloak:26.2".into(),
            flag: "--keycloak-image",
        };
        assert_eq!(exit_code(&wrapped(image.into())), 9);
    }
}
