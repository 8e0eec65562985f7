//! The token endpoint and userinfo, and the two direct grants: `client_credentials` (the
//! service account) and `password` (with its refresh grant).

use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};
use reqwest::RequestBuilder;
use serde_json::Value;

use super::diagnose::userinfo_cause;
use super::http::{Answer, Step, JSON};
use super::verifier::Verifier;
use crate::report::CheckFailure;

/// Tokens from one token response.
#[derive(Debug, Clone)]
pub(super) struct Tokens {
    /// The token response as Keycloak sent it (`iamstack token --full`).
    pub(super) raw: Value,
    pub(super) access: String,
    pub(super) refresh: Option<String>,
    pub(super) id: Option<String>,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// Id and secret in the form (`client_secret_post`).
    Post,
}

impl Verifier<'_> {
    pub(super) async fn client_credentials(&mut self) -> Step<String> {
        const STEP: &str = "token request";
        let (answer, described) = self
            .token(
                STEP,
                &[("grant_type", "client_credentials"), ("scope", "openid")],
                "grant_type=client_credentials, scope=openid",
                ClientAuth::Basic,
            )
            .await?;
        let tokens = self.tokens_from(STEP, &described, &answer)?;
        let info = self.userinfo(&tokens.access).await?;
        let expected = format!("service-account-{}", self.t.client_id.to_lowercase());
        let got = info.get("preferred_username").and_then(Value::as_str);
        if got != Some(expected.as_str()) {
            return Err(CheckFailure::new(
                "userinfo",
                format!(
                    "preferred_username is {}, expected `{expected}`",
                    got.map(|g| format!("`{g}`"))
                        .unwrap_or_else(|| "missing".into())
                ),
            ));
        }
        self.client_credentials = Some(tokens);
        Ok(format!("preferred_username {expected}"))
    }

    pub(super) async fn password_grant(&mut self) -> Step<String> {
        const STEP: &str = "token request";
        let shown = format!(
            "grant_type=password, username={}, scope=openid",
            self.t.username
        );
        let (answer, described) = self
            .token(
                STEP,
                &[
                    ("grant_type", "password"),
                    ("username", &self.t.username),
                    ("password", &self.t.password),
                    ("scope", "openid"),
                ],
                &shown,
                ClientAuth::Post,
            )
            .await?;
        let tokens = self.tokens_from(STEP, &described, &answer)?;
        let email = self.email_of(&self.userinfo(&tokens.access).await?)?;

        const REFRESH: &str = "refresh request";
        let refresh = tokens.refresh.clone().ok_or_else(|| {
            CheckFailure::new(STEP, "the password grant returned no refresh_token")
        })?;
        let (answer, described) = self
            .token(
                REFRESH,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
                "grant_type=refresh_token",
                ClientAuth::Basic,
            )
            .await?;
        let refreshed = self.tokens_from(REFRESH, &described, &answer)?;
        self.password = Some(Tokens {
            // The ID token of the password grant is checked by `id_token`.
            id: tokens.id.or(refreshed.id.clone()),
            ..refreshed
        });
        Ok(format!("email {email}; refresh grant ok"))
    }

    /// Client authentication per RFC 6749 §2.3.1: form-urlencode id and secret, then Basic.
    pub(super) fn basic_auth(&self, req: RequestBuilder) -> RequestBuilder {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        req.basic_auth(enc(&self.t.client_id), Some(enc(&self.t.client_secret)))
    }

    /// POST the token endpoint; the answer and the request as described in failures.
    /// `shown` are the parameters safe to quote (never secrets, codes or tokens).
    pub(super) async fn token(
        &self,
        step: &str,
        params: &[(&str, &str)],
        shown: &str,
        auth: ClientAuth,
    ) -> Step<(Answer, String)> {
        let e = self.endpoints()?;
        let url = self.reach(&e.token);
        let auth_name = match auth {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
        };
        let described = format!("POST {} ({shown}; {auth_name})", e.token);
        let mut form: Vec<(&str, &str)> = params.to_vec();
        if auth == ClientAuth::Post {
            form.push(("client_id", &self.t.client_id));
            form.push(("client_secret", &self.t.client_secret));
        }
        let mut req = self.api.post(url).header(ACCEPT, JSON).form(&form);
        if auth == ClientAuth::Basic {
            req = self.basic_auth(req);
        }
        let answer = self.send(step, &described, req).await?;
        Ok((answer, described))
    }

    /// The tokens of a 200 token response; else why there are none.
    pub(super) fn tokens_from(&self, step: &str, described: &str, answer: &Answer) -> Step<Tokens> {
        if answer.status != 200 {
            return Err(self.refused(step, described, answer, "no tokens"));
        }
        let json = answer.json().unwrap_or(Value::Null);
        let get = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
        let access = get("access_token").ok_or_else(|| {
            CheckFailure::new(step, "200 without an access_token").request(described)
        })?;
        Ok(Tokens {
            access,
            refresh: get("refresh_token"),
            id: get("id_token"),
            raw: json,
        })
    }

    pub(super) async fn userinfo(&self, access: &str) -> Step<Value> {
        const STEP: &str = "userinfo request";
        let e = self.endpoints()?;
        let described = format!("GET {} (Bearer access token)", e.userinfo);
        let req = self
            .api
            .get(self.reach(&e.userinfo))
            .header(ACCEPT, JSON)
            .bearer_auth(access);
        let answer = self.send(STEP, &described, req).await?;
        if answer.status != 200 {
            let mut f = self.refused(STEP, &described, &answer, "no user info");
            if f.cause.is_none() {
                f.cause = userinfo_cause(answer.status, answer.header(WWW_AUTHENTICATE));
            }
            return Err(f);
        }
        answer.json().ok_or_else(|| {
            answer.attach(CheckFailure::new(STEP, "the answer is not JSON").request(&described))
        })
    }

    pub(super) fn email_of(&self, info: &Value) -> Step<String> {
        match info.get("email").and_then(Value::as_str) {
            Some(e) if !e.is_empty() => Ok(e.to_string()),
            _ => Err(CheckFailure::new(
                "userinfo",
                format!("no `email` claim for user `{}`", self.t.username),
            )
            .cause(Some(
                "the user has no email, or the `email` client scope is not assigned to the client"
                    .into(),
            ))),
        }
    }
}
