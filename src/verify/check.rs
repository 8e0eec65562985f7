//! The checks `verify` runs, in the order they run, and how a check that needs a failed one
//! fails in turn.

use std::fmt;

use crate::report::CheckFailure;

/// One check of `verify`. Its name (`client_credentials`, ...) is what reports show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    Discovery,
    ClientCredentials,
    Password,
    AuthorizationCode,
    IdToken,
    Introspection,
    Logout,
}

impl Check {
    /// Every check, in the order they run: later ones use what earlier ones obtained.
    pub const ALL: [Check; 7] = [
        Check::Discovery,
        Check::ClientCredentials,
        Check::Password,
        Check::AuthorizationCode,
        Check::IdToken,
        Check::Introspection,
        Check::Logout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::Discovery => "discovery",
            Check::ClientCredentials => "client_credentials",
            Check::Password => "password",
            Check::AuthorizationCode => "authorization_code",
            Check::IdToken => "id_token",
            Check::Introspection => "introspection",
            Check::Logout => "logout",
        }
    }

    /// The failure of a check that could not run because `self` failed before it.
    pub(super) fn needed(self) -> CheckFailure {
        CheckFailure::new("not run", format!("it needs `{self}`, which failed"))
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
