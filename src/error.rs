//! The failure kinds a caller (or a script reading our exit code) branches on.
//!
//! Deeper modules return their own typed errors or `anyhow` errors with context; whatever
//! decides the exit code wraps the cause in one of these kinds. `main` walks the error chain
//! for the first `Failure` to pick the code; anything else is an unexpected error (exit 1).

use std::fmt;

/// Documented exit codes (README "Exit codes" and `shared/conventions.md`).
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
            Kind::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// A failure with its kind and a message that names the object, the cause and the fix.
#[derive(Debug, thiserror::Error)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

/// Shorthand: `Err(fail(Kind::Conflict, format!(..)))?`.
pub fn fail(kind: Kind, message: impl Into<String>) -> anyhow::Error {
    Failure::new(kind, message).into()
}

/// The exit code for an error: the first `Failure` in its chain decides, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .map_or(exit::UNEXPECTED, |f| f.kind.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_code_comes_from_the_first_failure_in_the_chain() {
        let err = Err::<(), _>(fail(Kind::Conflict, "port 8080 is taken"))
            .context("failed to start the stack")
            .unwrap_err();
        assert_eq!(exit_code(&err), 4);
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), 1);
    }
}
