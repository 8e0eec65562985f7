//! The `id_token` check: every ID token the flows obtained, verified against the realm's JWKS
//! (signature, `iss`, `aud`, `exp`, and `nonce` for the browser login's).

use reqwest::header::ACCEPT;
use serde_json::Value;

use super::http::{Step, JSON};
use super::jwt;
use super::verifier::Verifier;
use super::Check;
use crate::report::CheckFailure;

impl Verifier<'_> {
    pub(super) async fn id_tokens(&mut self) -> Step<String> {
        const STEP: &str = "JWKS request";
        let e = self.endpoints()?.clone();
        let mut to_check: Vec<(Check, &str, Option<&str>)> = Vec::new();
        if let Some(s) = &self.session {
            if let Some(id) = &s.tokens.id {
                to_check.push((Check::AuthorizationCode, id, Some(&s.nonce)));
            }
        }
        for (flow, tokens) in [
            (Check::Password, &self.password),
            (Check::ClientCredentials, &self.client_credentials),
        ] {
            if let Some(id) = tokens.as_ref().and_then(|t| t.id.as_deref()) {
                to_check.push((flow, id, None));
            }
        }
        if to_check.is_empty() {
            return Err(CheckFailure::new(
                "not run",
                "no ID token to check: every flow that issues one failed",
            ));
        }
        let described = format!("GET {}", e.jwks);
        let answer = self
            .send(
                STEP,
                &described,
                self.api.get(self.reach(&e.jwks)).header(ACCEPT, JSON),
            )
            .await?;
        if answer.status != 200 {
            return Err(self.refused(STEP, &described, &answer, "no JWKS"));
        }
        let jwks = answer.json().unwrap_or(Value::Null);
        let mut kids = Vec::new();
        for (flow, token, nonce) in &to_check {
            let expected = jwt::Expected {
                issuer: &e.issuer,
                client_id: &self.t.client_id,
                nonce: *nonce,
            };
            let kid = jwt::verify_id_token(token, &jwks, expected).map_err(|msg| {
                CheckFailure::new(&format!("ID token from `{flow}`"), msg).request(&described)
            })?;
            if !kids.contains(&kid) {
                kids.push(kid);
            }
        }
        let flows: Vec<&str> = to_check.iter().map(|(f, _, _)| f.name()).collect();
        Ok(format!(
            "RS256 signature (key {}), iss, aud, exp{} ok for: {}",
            kids.join(", "),
            if self.session.is_some() {
                ", nonce"
            } else {
                ""
            },
            flows.join(", ")
        ))
    }
}
