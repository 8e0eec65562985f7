use reqwest::StatusCode;

use super::classify_password_check;
use super::write::says_realm_exists;
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
    assert_eq!(
        classify_password_check(&resp(200, r#"{"access_token":"x"}"#)),
        PasswordCheck::Matches
    );
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
            r#"{"error":"invalid_grant","error_description":"Account is not fully set up"}"#,
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
