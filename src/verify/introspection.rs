//! The `introspection` check: an access token obtained by an earlier flow is active.

use reqwest::header::ACCEPT;
use serde_json::Value;

use super::http::{Step, JSON};
use super::verifier::Verifier;
use super::Check;
use crate::report::CheckFailure;

impl Verifier<'_> {
    pub(super) async fn introspection(&mut self) -> Step<String> {
        const STEP: &str = "introspection request";
        let e = self.endpoints()?.clone();
        // The most interesting token first: the browser login's.
        let candidate = [
            (
                Check::AuthorizationCode,
                self.session.as_ref().map(|s| &s.tokens),
            ),
            (Check::Password, self.password.as_ref()),
            (Check::ClientCredentials, self.client_credentials.as_ref()),
        ]
        .into_iter()
        .find_map(|(flow, t)| t.map(|t| (flow, t.access.clone())));
        let Some((flow, access)) = candidate else {
            return Err(CheckFailure::new(
                "not run",
                "no access token to introspect: every token request failed",
            ));
        };
        let described = format!(
            "POST {} (token=<access token from `{flow}`>; client_secret_basic)",
            e.introspection
        );
        let req = self.basic_auth(
            self.api
                .post(self.reach(&e.introspection))
                .header(ACCEPT, JSON)
                .form(&[("token", access.as_str())]),
        );
        let answer = self.send(STEP, &described, req).await?;
        if answer.status != 200 {
            return Err(self.refused(STEP, &described, &answer, "introspection refused"));
        }
        let active = answer
            .json()
            .and_then(|j| j.get("active").and_then(Value::as_bool));
        let message = match active {
            Some(true) => return Ok(format!("access token from `{flow}` is active")),
            Some(false) => format!("the access token from `{flow}` is not active"),
            None => "no `active` field in the answer".to_string(),
        };
        Err(answer.attach(CheckFailure::new(STEP, message).request(&described)))
    }
}
