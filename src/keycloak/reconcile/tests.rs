use reqwest::StatusCode;

use super::classify_password_check;
use super::write::{says_realm_exists, unknown_field_refusal};
use crate::keycloak::client::ApiResponse;
use crate::keycloak::diff::PasswordCheck;

fn resp(status: u16, body: &str) -> ApiResponse {
    ApiResponse {
        status: StatusCode::from_u16(status).unwrap(),
        location: None,
        body: body.to_string(),
    }
}

#[test]
fn only_401_invalid_grant_proves_a_different_password() {
    for (status, body) in [
        (200, r#"{"access_token":"x"}"#),
        // Keycloak says so only once the password was accepted (required actions pending).
        (
            400,
            r#"{"error":"invalid_grant","error_description":"Account is not fully set up"}"#,
        ),
    ] {
        assert_eq!(
            classify_password_check(&resp(status, body)),
            PasswordCheck::Matches,
            "{status} {body}"
        );
    }
    assert_eq!(
        classify_password_check(&resp(
            401,
            r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#
        )),
        PasswordCheck::Differs
    );
    for (status, body) in [
        (
            400,
            r#"{"error":"invalid_grant","error_description":"Account disabled"}"#,
        ),
        (
            400,
            r#"{"error":"unauthorized_client","error_description":"Client not allowed for direct access grants"}"#,
        ),
        (
            401,
            r#"{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}"#,
        ),
    ] {
        assert!(
            matches!(
                classify_password_check(&resp(status, body)),
                PasswordCheck::Unproven(_)
            ),
            "{status} {body}"
        );
    }
}

#[test]
fn realm_exists_answers_of_every_26_2_patch() {
    assert!(says_realm_exists(&resp(
        409,
        r#"{"errorMessage":"Realm testing already exists"}"#
    )));
    assert!(says_realm_exists(&resp(
        400,
        r#"{"errorMessage":"Realm testing already exists"}"#
    )));
    assert!(says_realm_exists(&resp(
        409,
        r#"{"errorMessage":"Conflict detected. See logs for details"}"#
    )));
    assert!(!says_realm_exists(&resp(
        400,
        r#"{"errorMessage":"Realm name cannot be empty"}"#
    )));
}

#[test]
fn an_unreadable_realm_body_is_an_unknown_field_not_a_reason_to_fall_back() {
    let refused = resp(
        400,
        r#"{"errorMessage":"unable to read contents from stream"}"#,
    );
    let err = unknown_field_refusal(&refused, "create realm `r`").expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("unable to read contents from stream"),
        "{text}"
    );
    assert!(
        text.contains("a field of the realm file is unknown to this Keycloak"),
        "{text}"
    );
    assert_eq!(crate::error::exit_code(&anyhow::Error::from(err)), 6);
    assert!(unknown_field_refusal(
        &resp(400, r#"{"errorMessage":"Realm name cannot be empty"}"#),
        "create realm `r`"
    )
    .is_none());
}
