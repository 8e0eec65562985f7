//! `verify`: the OAuth2/OIDC flows as checks.
