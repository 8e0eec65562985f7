use super::*;

#[test]
fn keycloak_messages_from_every_shape() {
    assert_eq!(
        keycloak_message(r#"{"errorMessage":"User exists with same username"}"#),
        "User exists with same username"
    );
    assert_eq!(
        keycloak_message(r#"{"field":"email","errorMessage":"invalidEmailMessage","params":[]}"#),
        "invalidEmailMessage (field `email`)"
    );
    assert_eq!(
        keycloak_message(
            r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#
        ),
        "invalid_grant: Invalid user credentials"
    );
    assert_eq!(
        keycloak_message(r#"{"error":"Invalid json representation for RealmRepresentation. Unrecognized field \"x\" at line 1 column 6."}"#),
        "Invalid json representation for RealmRepresentation. Unrecognized field \"x\" at line 1 column 6."
    );
    assert_eq!(
        keycloak_message(r#"{"errors":[{"errorMessage":"a"},{"errorMessage":"b"}]}"#),
        "a; b"
    );
    assert_eq!(keycloak_message(""), "(empty body)");
    assert_eq!(keycloak_message("<html>oops</html>"), "<html>oops</html>");
}

#[test]
fn urls_are_built_by_segment() {
    let creds = AdminCredentials {
        username: "admin".into(),
        password: "pw".into(),
    };
    for base in ["http://localhost:8080", "http://localhost:8080/"] {
        let c = AdminClient::new(&Url::parse(base).unwrap(), &creds).unwrap();
        assert_eq!(
            c.url(&["admin", "realms", "my realm"]).as_str(),
            "http://localhost:8080/admin/realms/my%20realm"
        );
    }
    let c = AdminClient::new(&Url::parse("http://h/auth/").unwrap(), &creds).unwrap();
    assert_eq!(
        c.url(&["admin", "realms"]).as_str(),
        "http://h/auth/admin/realms"
    );
}

#[test]
fn login_rejection_explains_the_bootstrap_admin() {
    let e = AdminError::LoginRejected {
        url: "http://localhost:8080/".into(),
        user: "admin".into(),
        status: 401,
        message: "invalid_grant: Invalid user credentials".into(),
    };
    let msg = e.to_string();
    assert!(
        msg.contains("only when its database is first created"),
        "{msg}"
    );
    assert!(msg.contains("down --volumes"), "{msg}");
    assert_eq!(crate::error::exit_code(&e.into()), 6);
}

#[test]
fn created_id_is_the_last_location_segment() {
    let r = ApiResponse {
        status: StatusCode::CREATED,
        location: Some("http://h/admin/realms/r/clients/abc-123".into()),
        body: String::new(),
    };
    assert_eq!(r.created_id().as_deref(), Some("abc-123"));
}
