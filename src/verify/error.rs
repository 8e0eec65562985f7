//! `verify`'s typed error: checks that failed (exit 8), or realm files that give nothing to
//! check (exit 7). A Keycloak problem is never an error here: it is a failed check.

use crate::error::Kind;

use super::Check;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The checks ran and these failed (exit 8).
    #[error(
        "verify failed: {} (see the checks above; fix, then run `iamstack verify`)",
        names(.failed)
    )]
    ChecksFailed { failed: Vec<Check> },
    /// `iamstack token`: the grant was refused (exit 8), with `verify`'s diagnosis.
    #[error("the {grant} grant got no token: {failure}")]
    GrantFailed { grant: String, failure: String },
    /// `iamstack token`: the token response lacks the token asked for (exit 8).
    #[error("the token response has no {what}: {fix}")]
    NoSuchToken { what: String, fix: String },
    #[error(
        "realm `{name}` is not in the realm files (they define: {}); pass the file with --realm",
        .known.join(", ")
    )]
    UnknownRealm { name: String, known: Vec<String> },
    #[error("no realm file to take the realm from")]
    NoRealm,
    #[error("client `{client}` is not in realm `{realm}`'s file")]
    UnknownClient { client: String, realm: String },
    #[error(
        "realm `{realm}`'s file has no confidential client to check: verify needs one with a secret"
    )]
    NoConfidentialClient { realm: String },
    #[error(
        "client `{client}` is not confidential (publicClient: false): verify checks confidential clients"
    )]
    PublicClient { client: String },
    #[error(
        "client `{client}` has no secret in the realm file: verify uses the configured secret, never one read back from Keycloak; set `secret`"
    )]
    NoSecret { client: String },
    #[error("user `{user}` is not in realm `{realm}`'s file")]
    UnknownUser { user: String, realm: String },
    #[error("realm `{realm}`'s file has no user to check")]
    NoUser { realm: String },
    #[error("user `{user}` has no password in the realm file: verify signs in with it")]
    NoPassword { user: String },
    #[error("client `{client}` has no redirectUris: the authorization code flow needs one")]
    NoRedirectUri { client: String },
}

impl VerifyError {
    pub fn kind(&self) -> Kind {
        match self {
            VerifyError::ChecksFailed { .. }
            | VerifyError::GrantFailed { .. }
            | VerifyError::NoSuchToken { .. } => Kind::VerifyFailed,
            VerifyError::UnknownRealm { .. }
            | VerifyError::NoRealm
            | VerifyError::UnknownClient { .. }
            | VerifyError::NoConfidentialClient { .. }
            | VerifyError::PublicClient { .. }
            | VerifyError::NoSecret { .. }
            | VerifyError::UnknownUser { .. }
            | VerifyError::NoUser { .. }
            | VerifyError::NoPassword { .. }
            | VerifyError::NoRedirectUri { .. } => Kind::InvalidConfig,
        }
    }
}

fn names(checks: &[Check]) -> String {
    checks
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}
