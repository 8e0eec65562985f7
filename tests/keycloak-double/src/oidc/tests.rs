use serde_json::{json, Value};

use super::authorize::check_pkce;
use super::discovery_document;
use super::logout::post_logout_uris;
use crate::model::Client;

fn client(attrs: Value) -> Client {
    let mut fields = crate::model::default_client_fields();
    fields.insert("clientId".into(), json!("c"));
    fields.insert("redirectUris".into(), json!(["http://localhost:5000/*"]));
    fields.insert("attributes".into(), attrs);
    Client {
        id: "id".into(),
        fields,
    }
}

#[test]
fn pkce_parameters_are_checked_at_the_authorization_endpoint() {
    let c = client(json!({}));
    let ok = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_eq!(check_pkce(&c, Some(ok), Some("S256")), Ok(()));
    assert_eq!(check_pkce(&c, None, None), Ok(()));
    assert_eq!(
        check_pkce(&c, None, Some("S256")).unwrap_err(),
        "Missing parameter: code_challenge"
    );
    assert_eq!(
        check_pkce(&c, Some(ok), Some("S512")).unwrap_err(),
        "Invalid parameter: code_challenge_method"
    );
    assert_eq!(
        check_pkce(&c, Some("short"), Some("S256")).unwrap_err(),
        "Invalid parameter: code_challenge"
    );
    let enforced = client(json!({"pkce.code.challenge.method": "S256"}));
    assert_eq!(
        check_pkce(&enforced, None, None).unwrap_err(),
        "Missing parameter: code_challenge_method"
    );
    assert_eq!(
        check_pkce(&enforced, Some(ok), Some("plain")).unwrap_err(),
        "Invalid parameter: code challenge method is not matching the configured one"
    );
}

#[test]
fn post_logout_uris_expand_plus() {
    assert!(post_logout_uris(&client(json!({}))).is_empty());
    assert_eq!(
        post_logout_uris(&client(
            json!({"post.logout.redirect.uris": "+##http://x/bye"})
        )),
        vec![
            "http://localhost:5000/*".to_string(),
            "http://x/bye".to_string()
        ]
    );
}

#[test]
fn discovery_has_keycloaks_endpoints() {
    let d = discovery_document("http://localhost:8080", "testing");
    assert_eq!(d["issuer"], "http://localhost:8080/realms/testing");
    assert_eq!(
        d["end_session_endpoint"],
        "http://localhost:8080/realms/testing/protocol/openid-connect/logout"
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert!(d.as_object().unwrap().len() >= 50);
}
