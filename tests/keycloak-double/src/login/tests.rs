use axum::http::{header, HeaderMap, HeaderValue};

use super::*;

#[test]
fn params_append_in_the_response_mode() {
    let p = [("state", "s 1".to_owned()), ("code", "c".to_owned())];
    assert_eq!(
        with_params("http://a/cb", "query", &p),
        "http://a/cb?state=s+1&code=c"
    );
    assert_eq!(
        with_params("http://a/cb?x=1", "query", &p),
        "http://a/cb?x=1&state=s+1&code=c"
    );
    assert_eq!(
        with_params("http://a/cb", "fragment", &p),
        "http://a/cb#state=s+1&code=c"
    );
}

#[test]
fn cookies_are_read_from_every_cookie_header() {
    let mut h = HeaderMap::new();
    h.append(
        header::COOKIE,
        HeaderValue::from_static("AUTH_SESSION_ID=abc.keycloak-0; KC_RESTART=r"),
    );
    h.append(
        header::COOKIE,
        HeaderValue::from_static("KEYCLOAK_IDENTITY=i"),
    );
    let c = request_cookies(&h);
    assert_eq!(c["AUTH_SESSION_ID"], "abc.keycloak-0");
    assert_eq!(c["KC_RESTART"], "r");
    assert_eq!(c["KEYCLOAK_IDENTITY"], "i");
}

#[test]
fn set_cookie_matches_keycloak_over_http() {
    let v = set_cookie(AUTH_SESSION_ID, "x", "testing", None, true);
    assert_eq!(
        v.to_str().unwrap(),
        "AUTH_SESSION_ID=x; Version=1; Path=/realms/testing/; SameSite=Lax; HttpOnly"
    );
    let e = expire_cookie(KC_RESTART, "testing");
    assert!(e.to_str().unwrap().contains("Max-Age=0"));
}
