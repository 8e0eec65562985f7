//! From what Keycloak answered to what is probably wrong. Pure, so each rule is unit-tested.
//!
//! The texts matched are Keycloak 26.2's own (see `docs/keycloak-behaviour.md` §1, §7): the
//! OAuth2 error code plus its `error_description`, or the message of an HTML error page.

/// Who the checks act as, to name them in explanations.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub realm: &'a str,
    pub client_id: &'a str,
    pub username: &'a str,
}

/// An OAuth2 error body (`{"error": ..., "error_description": ...}`), or an HTML page's message
/// in `description` with an empty `error`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthError {
    pub error: String,
    pub description: String,
}

impl OAuthError {
    /// Parse a JSON error body; `None` when it is not one.
    pub fn from_body(body: &str) -> Option<OAuthError> {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        let error = v.get("error")?.as_str()?.to_string();
        let description = v
            .get("error_description")
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_string();
        Some(OAuthError { error, description })
    }

    pub fn page(message: &str) -> OAuthError {
        OAuthError {
            error: String::new(),
            description: message.to_string(),
        }
    }
}

/// The likely cause of a refusal, with the fix, or `None` when the answer matches no known case.
pub fn likely_cause(status: u16, err: &OAuthError, who: Subject<'_>) -> Option<String> {
    let d = err.description.as_str();
    let client = who.client_id;
    let user = who.username;
    let realm = who.realm;
    let cause = match (err.error.as_str(), d) {
        (_, "Client not allowed for direct access grants") => format!(
            "direct access grants are off for client `{client}`: enable them (directAccessGrantsEnabled: true)"
        ),
        (_, "Account is not fully set up") => format!(
            "user `{user}`'s profile is incomplete (email, first name or last name missing) or it has a pending required action: fill the profile in the realm file (email, firstName, lastName)"
        ),
        (_, "Invalid user credentials") if status == 401 => format!(
            "wrong password for user `{user}`: the password in the realm file differs from Keycloak's (re-run `iamstack apply` to reset it)"
        ),
        (_, "Invalid user credentials") => format!(
            "user `{user}` does not exist in realm `{realm}` (or is a service account or locked out)"
        ),
        (_, "Account disabled") => {
            format!("user `{user}` is disabled: set enabled: true on the user")
        }
        ("unauthorized_client" | "invalid_client", "Invalid client or Invalid client credentials")
            if status == 401 && err.error == "unauthorized_client" =>
        {
            format!(
                "client secret mismatch: Keycloak's secret for `{client}` differs from the one in the realm file (regenerated in the console?); re-run `iamstack apply` or update the file"
            )
        }
        (_, "Invalid client or Invalid client credentials") => format!(
            "client `{client}` does not exist in realm `{realm}` or is disabled (or its secret is wrong)"
        ),
        (_, "Client not enabled to retrieve service account") => format!(
            "service accounts are off for client `{client}`: enable them (serviceAccountsEnabled: true)"
        ),
        (_, "Public client not allowed to retrieve service account") => format!(
            "client `{client}` is public: make it confidential (publicClient: false) with a secret"
        ),
        (_, "Bearer-only client not allowed to retrieve service account") => {
            format!("client `{client}` is bearer-only")
        }
        (_, "The associated service account for the client does not exist") => format!(
            "the service-account user of `{client}` is missing (deleted by a partial update?): turn service accounts off and on, or re-run `iamstack apply`"
        ),
        (_, "Client requires user consent") => format!(
            "client `{client}` requires user consent (consentRequired: true), which scripted flows cannot give"
        ),
        (_, "Invalid parameter: redirect_uri") => format!(
            "redirect URI not allowed: it matches none of client `{client}`'s valid redirect URIs (redirectUris)"
        ),
        (_, "Incorrect redirect_uri") => {
            "the redirect_uri of the code exchange differs from the one sent to the authorization endpoint".to_string()
        }
        (_, "Invalid redirect uri") => format!(
            "post-logout redirect URI not allowed: add it to client `{client}`'s post.logout.redirect.uris attribute (\"+\" reuses redirectUris)"
        ),
        (_, "Client not found.") => {
            format!("client `{client}` does not exist in realm `{realm}`")
        }
        (_, "Client not allowed to exchange code") => format!(
            "standard flow is off for client `{client}`: enable it (standardFlowEnabled: true)"
        ),
        (_, d) if d.starts_with("Client is not allowed to initiate browser login") => format!(
            "standard flow is off for client `{client}`: enable it (standardFlowEnabled: true)"
        ),
        (_, "Realm does not exist") | (_, "Realm not found.") => {
            format!("realm `{realm}` does not exist: run `iamstack apply`")
        }
        (_, "HTTPS required") => format!(
            "realm `{realm}` requires HTTPS from this address (sslRequired): reach Keycloak over loopback or a private network, or use HTTPS"
        ),
        (_, "Code not valid") => {
            "the authorization code was refused: already used, or issued for another client".to_string()
        }
        (_, "Code is expired") => {
            "the authorization code expired (60 s lifespan) before it was exchanged".to_string()
        }
        (_, d) if d.starts_with("PKCE") || d.contains("code_verifier") => {
            "PKCE verification failed: the code_verifier does not match the code_challenge".to_string()
        }
        (_, "Session not active") | (_, "Invalid refresh token") => {
            "the session has ended (logged out or expired)".to_string()
        }
        ("", "Invalid username or password.") => format!(
            "wrong password for user `{user}`, or no such user in realm `{realm}`"
        ),
        _ => return None,
    };
    Some(cause)
}

/// Userinfo answers 403 with an empty body when the token lacks the `openid` scope.
pub fn userinfo_cause(status: u16, www_authenticate: Option<&str>) -> Option<String> {
    match status {
        403 => Some(
            "the access token lacks the `openid` scope, which Keycloak requires for userinfo (is the `openid` client scope assigned to the client?)"
                .to_string(),
        ),
        401 => Some(match www_authenticate {
            Some(h) => format!("the access token was rejected ({h})"),
            None => "the access token was rejected".to_string(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: Subject<'static> = Subject {
        realm: "testing",
        client_id: "test-client",
        username: "test-user",
    };

    fn cause(status: u16, body: &str) -> String {
        let err = OAuthError::from_body(body).expect("an OAuth2 error body");
        likely_cause(status, &err, WHO).unwrap_or_else(|| "<none>".into())
    }

    #[test]
    fn direct_grants_off() {
        let c = cause(
            400,
            r#"{"error":"unauthorized_client","error_description":"Client not allowed for direct access grants"}"#,
        );
        assert!(c.starts_with("direct access grants are off"), "{c}");
        assert!(c.contains("test-client"));
    }

    #[test]
    fn incomplete_profile() {
        let c = cause(
            400,
            r#"{"error":"invalid_grant","error_description":"Account is not fully set up"}"#,
        );
        assert!(c.contains("profile is incomplete"), "{c}");
        assert!(c.contains("test-user"));
    }

    #[test]
    fn secret_mismatch_versus_unknown_client() {
        let body = r#"{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}"#;
        assert!(cause(401, body).starts_with("client secret mismatch"));
        let unknown = r#"{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}"#;
        assert!(cause(401, unknown).contains("does not exist"));
    }

    #[test]
    fn wrong_password_versus_unknown_user() {
        let body = r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#;
        assert!(cause(401, body).starts_with("wrong password"));
        assert!(cause(400, body).contains("does not exist"));
    }

    #[test]
    fn service_accounts_off_and_public_client() {
        assert!(cause(
            401,
            r#"{"error":"unauthorized_client","error_description":"Client not enabled to retrieve service account"}"#
        )
        .starts_with("service accounts are off"));
        assert!(cause(
            401,
            r#"{"error":"unauthorized_client","error_description":"Public client not allowed to retrieve service account"}"#
        )
        .contains("is public"));
    }

    #[test]
    fn html_page_messages() {
        let who = WHO;
        let redirect = likely_cause(
            400,
            &OAuthError::page("Invalid parameter: redirect_uri"),
            who,
        )
        .unwrap_or_default();
        assert!(
            redirect.starts_with("redirect URI not allowed"),
            "{redirect}"
        );
        let logout =
            likely_cause(400, &OAuthError::page("Invalid redirect uri"), who).unwrap_or_default();
        assert!(logout.contains("post.logout.redirect.uris"), "{logout}");
        let login = likely_cause(200, &OAuthError::page("Invalid username or password."), who)
            .unwrap_or_default();
        assert!(login.starts_with("wrong password"), "{login}");
    }

    #[test]
    fn unknown_answers_have_no_guess() {
        assert_eq!(
            likely_cause(
                500,
                &OAuthError {
                    error: "unknown_error".into(),
                    description: "For more on this error consult the server log.".into()
                },
                WHO
            ),
            None
        );
        assert_eq!(OAuthError::from_body("<html>"), None);
        assert_eq!(OAuthError::from_body(r#"{"errorMessage":"x"}"#), None);
    }

    #[test]
    fn userinfo_403_means_no_openid_scope() {
        assert!(userinfo_cause(403, None).unwrap().contains("openid"));
        assert!(userinfo_cause(
            401,
            Some(r#"Bearer realm="testing", error="invalid_token""#)
        )
        .unwrap()
        .contains("invalid_token"));
        assert_eq!(userinfo_cause(200, None), None);
    }
}
