//! `iamstack token`: one grant, run as `verify` runs it (discovery first, the same client
//! authentication, the same scripted browser with PKCE for `code`), with the token response
//! kept whole for `--full` and the JWT checked against the realm's JWKS for `--decode`.

use reqwest::header::ACCEPT;
use serde_json::{json, Value};

use super::grants::{ClientAuth, Tokens};
use super::http::JSON;
use super::jwt;
use super::verifier::Verifier;
use super::VerifyTarget;
use crate::report::CheckFailure;

/// Which grant gets the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The client's service account (client credentials).
    ClientCredentials,
    /// Resource owner password credentials, as the user.
    Password,
    /// Authorization code with PKCE, through Keycloak's login page (a scripted browser).
    Code,
}

impl Grant {
    pub fn name(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client-credentials",
            Grant::Password => "password",
            Grant::Code => "code",
        }
    }
}

/// A token response, whole, and where the realm's keys and issuer are.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Keycloak's token response as it came.
    pub response: Value,
    pub access: String,
    pub refresh: Option<String>,
    pub id: Option<String>,
}

/// One discovery of the realm, then grants and token checks against what it found.
pub struct TokenClient<'a> {
    v: Verifier<'a>,
}

impl<'a> TokenClient<'a> {
    /// Read the realm's discovery document (verify's `discovery` step).
    pub async fn connect(target: &'a VerifyTarget) -> Result<TokenClient<'a>, CheckFailure> {
        let mut v =
            Verifier::new(target).map_err(|e| CheckFailure::new("HTTP client", e.to_string()))?;
        v.discovery().await?;
        Ok(TokenClient { v })
    }

    /// Get a token by `grant`, asking for `scope`. A refusal is Keycloak's answer with
    /// `verify`'s diagnosis (step, request, answer, likely cause).
    pub async fn obtain(&mut self, grant: Grant, scope: &str) -> Result<Issued, CheckFailure> {
        let v = &mut self.v;
        let target = v.t;
        v.scope = scope.to_string();
        const STEP: &str = "token request";
        let tokens: Tokens = match grant {
            Grant::ClientCredentials => {
                let shown = format!("grant_type=client_credentials, scope={scope}");
                let params = [("grant_type", "client_credentials"), ("scope", scope)];
                let (answer, described) = v.token(STEP, &params, &shown, ClientAuth::Basic).await?;
                v.tokens_from(STEP, &described, &answer)?
            }
            Grant::Password => {
                let shown = format!(
                    "grant_type=password, username={}, scope={scope}",
                    target.username
                );
                let params = [
                    ("grant_type", "password"),
                    ("username", target.username.as_str()),
                    ("password", target.password.as_str()),
                    ("scope", scope),
                ];
                let (answer, described) = v.token(STEP, &params, &shown, ClientAuth::Post).await?;
                v.tokens_from(STEP, &described, &answer)?
            }
            Grant::Code => {
                v.authorization_code().await?;
                v.session
                    .take()
                    .map(|s| s.tokens)
                    .ok_or_else(|| CheckFailure::new("code exchange", "no tokens"))?
            }
        };
        Ok(Issued {
            response: tokens.raw,
            access: tokens.access,
            refresh: tokens.refresh,
            id: tokens.id,
        })
    }

    /// `{"header": .., "claims": ..}` of `token` once its signature verifies with the realm's
    /// JWKS and its issuer is the realm's (no audience check: see [`jwt::verified_parts`]).
    pub async fn decode(&self, token: &str) -> Result<Value, CheckFailure> {
        let v = &self.v;
        let e = v.endpoints()?;
        const STEP: &str = "JWKS request";
        let described = format!("GET {}", e.jwks);
        let answer = v
            .send(
                STEP,
                &described,
                v.api.get(v.reach(&e.jwks)).header(ACCEPT, JSON),
            )
            .await?;
        if answer.status != 200 {
            return Err(v.refused(STEP, &described, &answer, "no JWKS"));
        }
        let jwks = answer.json().unwrap_or(Value::Null);
        let (header, claims) = jwt::verified_parts(token, &jwks, &e.issuer)
            .map_err(|msg| CheckFailure::new("token check", msg).request(&described))?;
        Ok(json!({"header": header, "claims": claims}))
    }
}
