//! The double's OIDC surface as an executable specification of Keycloak 26.2 (keycloak-behaviour §7): each
//! test asserts statuses, bodies and headers a client sees.

use std::time::Duration;

use iamstack_test_support::admin_token;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use keycloak_double::{start, DoubleConfig, RunningDouble};
use reqwest::header::{
    HeaderMap, ACCEPT, CONTENT_TYPE, HOST, LOCATION, SET_COOKIE, WWW_AUTHENTICATE,
};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use url::Url;

const SECRET: &str = "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6";
const CALLBACK: &str = "http://localhost:5000/callback";
const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

struct Kc {
    double: RunningDouble,
    base: String,
    api: Client,
}

fn client(cookies: bool) -> Client {
    Client::builder()
        .redirect(Policy::none())
        .cookie_store(cookies)
        .build()
        .expect("http client")
}

fn reference_realm() -> Value {
    json!({
        "realm": "testing", "enabled": true, "displayName": "Testing",
        "clients": [{
            "clientId": "test-client", "name": "Test client", "protocol": "openid-connect",
            "publicClient": false, "secret": SECRET, "enabled": true,
            "standardFlowEnabled": true, "directAccessGrantsEnabled": true,
            "serviceAccountsEnabled": true, "implicitFlowEnabled": false,
            "rootUrl": "http://localhost:5000/", "redirectUris": ["http://localhost:5000/*"],
            "webOrigins": ["http://localhost:5000"],
            "attributes": {"post.logout.redirect.uris": "+"}
        }, {
            "clientId": "other-client", "protocol": "openid-connect", "publicClient": false,
            "secret": "other-secret", "serviceAccountsEnabled": true,
            "redirectUris": ["http://localhost:6000/*"]
        }, {
            "clientId": "spa", "protocol": "openid-connect", "publicClient": true,
            "serviceAccountsEnabled": true, "redirectUris": ["http://localhost:7000/*"]
        }],
        "users": [{
            "username": "test-user", "enabled": true, "email": "test-user@localhost",
            "firstName": "Test", "lastName": "User",
            "credentials": [{"type": "password", "value": "test-user$123", "temporary": false}]
        }, {
            "username": "no-last-name", "enabled": true, "email": "nln@localhost", "firstName": "No",
            "credentials": [{"type": "password", "value": "pw-123", "temporary": false}]
        }]
    })
}

async fn kc() -> Kc {
    let double = start(DoubleConfig::default()).await.expect("double starts");
    let base = double.base_url();
    let api = client(false);
    let token = admin_token(&base).await;
    let r = api
        .post(format!("{base}/admin/realms"))
        .bearer_auth(&token)
        .json(&reference_realm())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    Kc { double, base, api }
}

impl Kc {
    fn oidc(&self, path: &str) -> String {
        format!(
            "{}/realms/testing/protocol/openid-connect/{path}",
            self.base
        )
    }

    async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Response {
        let mut req = self.api.post(self.oidc("token")).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.unwrap()
    }

    async fn password(&self, scope: &str) -> Value {
        let r = self
            .token(
                &[
                    ("grant_type", "password"),
                    ("username", "test-user"),
                    ("password", "test-user$123"),
                    ("scope", scope),
                ],
                Some(("test-client", SECRET)),
            )
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// PUT a changed copy of test-client's representation.
    async fn change_client(&self, client_id: &str, change: impl FnOnce(&mut Value)) {
        let token = admin_token(&self.base).await;
        let list: Value = self
            .api
            .get(format!(
                "{}/admin/realms/testing/clients?clientId={client_id}",
                self.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut rep = list[0].clone();
        let id = rep["id"].as_str().unwrap().to_owned();
        change(&mut rep);
        let r = self
            .api
            .put(format!("{}/admin/realms/testing/clients/{id}", self.base))
            .bearer_auth(&token)
            .json(&rep)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }
}

fn oauth_error(body: &Value) -> (String, String) {
    (
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The login form's action (unescaped) from a login page, as advertised (host KC_HOSTNAME).
fn advertised_action(html: &str) -> String {
    let start = html.find("id=\"kc-form-login\"").expect("login form");
    let rest = &html[start..];
    let a = rest.find("action=\"").unwrap() + 8;
    let end = rest[a..].find('"').unwrap();
    rest[a..a + end].replace("&amp;", "&")
}

/// The action reached where the double listens (the browser's cookies are for 127.0.0.1).
fn form_action(html: &str) -> String {
    advertised_action(html).replace("http://localhost:", "http://127.0.0.1:")
}

struct Login {
    browser: Client,
    state: String,
    verifier: String,
    location: String,
}

fn auth_url(kc: &Kc, redirect: &str, state: &str, challenge: &str) -> String {
    let mut u = Url::parse(&kc.oidc("auth")).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", "test-client")
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", state)
        .append_pair("nonce", "n-0S6_WzA2Mj")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn login_as(kc: &Kc, username: &str, password: &str) -> (Client, Response) {
    let browser = client(true);
    let page = browser
        .get(auth_url(kc, CALLBACK, "st-1", CHALLENGE))
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let action = form_action(&page.text().await.unwrap());
    let r = browser
        .post(action)
        .header(ACCEPT, HTML)
        .form(&[
            ("username", username),
            ("password", password),
            ("credentialId", ""),
        ])
        .send()
        .await
        .unwrap();
    (browser, r)
}

async fn login(kc: &Kc) -> Login {
    let (browser, r) = login_as(kc, "test-user", "test-user$123").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
    Login {
        browser,
        state: "st-1".into(),
        verifier: VERIFIER.into(),
        location,
    }
}

async fn exchange(kc: &Kc, code: &str, redirect: &str, verifier: Option<&str>) -> Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    kc.token(&form, Some(("test-client", SECRET))).await
}

// ------------------------------------------------------------------ discovery and keys

#[tokio::test]
async fn discovery_forces_the_hostname_and_keeps_the_port() {
    let kc = kc().await;
    let port = Url::parse(&kc.base).unwrap().port().unwrap();
    let r = kc
        .api
        .get(format!(
            "{}/realms/testing/.well-known/openid-configuration",
            kc.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let d: Value = r.json().await.unwrap();
    let iss = format!("http://localhost:{port}/realms/testing");
    assert_eq!(d["issuer"], iss.as_str());
    for (key, suffix) in [
        ("authorization_endpoint", "auth"),
        ("token_endpoint", "token"),
        ("userinfo_endpoint", "userinfo"),
        ("end_session_endpoint", "logout"),
        ("jwks_uri", "certs"),
        ("introspection_endpoint", "token/introspect"),
        ("revocation_endpoint", "revoke"),
    ] {
        assert_eq!(
            d[key],
            format!("{iss}/protocol/openid-connect/{suffix}").as_str(),
            "{key}"
        );
    }
    assert!(d["code_challenge_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("S256")));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert!(
        d.as_object().unwrap().len() >= 50,
        "Keycloak serves ~53 keys"
    );

    // Reached as `keycloak:9999` (another container): host forced, port kept.
    let r: Value = kc
        .api
        .get(format!(
            "{}/realms/testing/.well-known/openid-configuration",
            kc.base
        ))
        .header(HOST, "keycloak:9999")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["issuer"], "http://localhost:9999/realms/testing");

    let r = kc
        .api
        .get(format!(
            "{}/realms/nope/.well-known/openid-configuration",
            kc.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "Realm does not exist"})
    );
}

#[tokio::test]
async fn jwks_has_a_signing_and_an_encryption_key_and_verifies_tokens() {
    let kc = kc().await;
    let r = kc.api.get(kc.oidc("certs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let jwks: Value = r.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let sig = keys.iter().find(|k| k["use"] == "sig").expect("sig key");
    let enc = keys.iter().find(|k| k["use"] == "enc").expect("enc key");
    assert_eq!(
        (sig["kty"].as_str(), sig["alg"].as_str()),
        (Some("RSA"), Some("RS256"))
    );
    assert_eq!(enc["alg"], "RSA-OAEP");
    assert_ne!(sig["kid"], enc["kid"]);

    let tokens = kc.password("openid").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), sig["kid"].as_str());
    let jwk: Jwk = serde_json::from_value(sig.clone()).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    let port = Url::parse(&kc.base).unwrap().port().unwrap();
    v.set_issuer(&[format!("http://localhost:{port}/realms/testing")]);
    v.set_audience(&["test-client"]);
    let claims = decode::<Value>(id_token, &DecodingKey::from_jwk(&jwk).unwrap(), &v)
        .unwrap()
        .claims;
    assert_eq!(claims["typ"], "ID");
    assert_eq!(claims["azp"], "test-client");
    assert!(claims["at_hash"].is_string());
    // The access token verifies with the same key.
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_aud = false;
    decode::<Value>(
        tokens["access_token"].as_str().unwrap(),
        &DecodingKey::from_jwk(&jwk).unwrap(),
        &v,
    )
    .unwrap();
}

// ------------------------------------------------------------------ client credentials

#[tokio::test]
async fn client_credentials_gives_a_transient_service_account_token() {
    let kc = kc().await;
    let r = kc
        .token(
            &[("grant_type", "client_credentials"), ("scope", "openid")],
            Some(("test-client", SECRET)),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    assert!(
        t.get("refresh_token").is_none(),
        "no refresh token by default: {t}"
    );
    assert!(t.get("session_state").is_none());
    assert_eq!(t["refresh_expires_in"], 0);
    assert!(t["id_token"].is_string(), "scope=openid gives an ID token");
    let access = t["access_token"].as_str().unwrap();
    let info = kc
        .api
        .get(kc.oidc("userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["preferred_username"], "service-account-test-client");
    assert_eq!(info["email_verified"], false);

    // Without `openid`: userinfo is 403 with an empty body.
    let t: Value = kc
        .token(
            &[("grant_type", "client_credentials")],
            Some(("test-client", SECRET)),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(t.get("id_token").is_none());
    let r = kc
        .api
        .get(kc.oidc("userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    assert_eq!(r.text().await.unwrap(), "");
}

#[tokio::test]
async fn client_credentials_refusals() {
    let kc = kc().await;
    let r = kc
        .token(
            &[("grant_type", "client_credentials")],
            Some(("test-client", "wrong")),
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()),
        (
            "unauthorized_client".into(),
            "Invalid client or Invalid client credentials".into()
        )
    );
    let r = kc
        .token(
            &[("grant_type", "client_credentials"), ("client_id", "spa")],
            None,
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()),
        (
            "unauthorized_client".into(),
            "Public client not allowed to retrieve service account".into()
        )
    );
    kc.change_client("test-client", |c| {
        c["serviceAccountsEnabled"] = json!(false)
    })
    .await;
    let r = kc
        .token(
            &[("grant_type", "client_credentials")],
            Some(("test-client", SECRET)),
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()),
        (
            "unauthorized_client".into(),
            "Client not enabled to retrieve service account".into()
        )
    );
}

// ------------------------------------------------------------------ browser login

#[tokio::test]
async fn login_page_has_the_form_its_escaped_action_and_cookies() {
    let kc = kc().await;
    let browser = client(true);
    let r = browser
        .get(auth_url(&kc, CALLBACK, "s", CHALLENGE))
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let cookies = set_cookies(r.headers());
    let find = |name: &str| {
        cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .cloned()
    };
    let auth = find("AUTH_SESSION_ID").expect("AUTH_SESSION_ID");
    assert!(
        auth.contains("Path=/realms/testing/") && auth.contains("HttpOnly"),
        "{auth}"
    );
    assert!(find("KC_RESTART").is_some());
    let hash = find("KC_AUTH_SESSION_HASH").expect("KC_AUTH_SESSION_HASH");
    assert!(
        hash.contains("Max-Age=60") && !hash.contains("HttpOnly"),
        "{hash}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<form id=\"kc-form-login\""));
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
    let raw = &html[html.find("action=\"").unwrap() + 8..];
    let raw = &raw[..raw.find('"').unwrap()];
    assert!(
        raw.contains("&amp;execution="),
        "the action is HTML-escaped: {raw}"
    );
    let action = Url::parse(&advertised_action(&html)).unwrap();
    assert_eq!(action.path(), "/realms/testing/login-actions/authenticate");
    let q: Vec<String> = action.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(
        q,
        [
            "session_code",
            "execution",
            "client_id",
            "tab_id",
            "client_data"
        ]
    );
    assert_eq!(
        action.host_str(),
        Some("localhost"),
        "URLs carry KC_HOSTNAME"
    );
}

#[tokio::test]
async fn successful_login_redirects_with_state_session_state_iss_and_code() {
    let kc = kc().await;
    let (_, r) = login_as(&kc, "test-user", "test-user$123").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let cookies = set_cookies(r.headers());
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("KEYCLOAK_IDENTITY=") && c.contains("HttpOnly")));
    assert!(cookies.iter().any(|c| c.starts_with("KEYCLOAK_SESSION=")));
    let location = r.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:5000/callback?state=st-1&session_state="),
        "{location}"
    );
    let q = query_of(location);
    let port = Url::parse(&kc.base).unwrap().port().unwrap();
    assert_eq!(q["iss"], format!("http://localhost:{port}/realms/testing"));
    assert_eq!(q["code"].split('.').count(), 3, "uuid.session.client");

    let r = exchange(&kc, &q["code"], CALLBACK, Some(VERIFIER)).await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["session_state"], q["session_state"].as_str());
    let claims = keycloak_double::oidc::claims_of(t["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert!(claims["auth_time"].is_u64());
    let info: Value = kc
        .api
        .get(kc.oidc("userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "test-user@localhost");
    assert_eq!(info["preferred_username"], "test-user");
}

#[tokio::test]
async fn bad_credentials_show_the_login_page_again() {
    let kc = kc().await;
    for (user, pw) in [("test-user", "wrong"), ("nobody", "x"), ("test-user", "")] {
        let (_, r) = login_as(&kc, user, pw).await;
        assert_eq!(r.status(), 200, "{user}");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"kc-form-login\""));
        assert!(html.contains("id=\"input-error-username\""));
        assert!(html.contains("Invalid username or password."));
    }
}

#[tokio::test]
async fn posting_the_form_without_cookies_fails() {
    let kc = kc().await;
    let page = client(true)
        .get(auth_url(&kc, CALLBACK, "s", CHALLENGE))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = client(false)
        .post(form_action(&page))
        .header(ACCEPT, HTML)
        .form(&[("username", "test-user"), ("password", "test-user$123")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"kc-error-message\""));
    assert!(
        html.contains("Cookie not found. Please make sure cookies are enabled in your browser.")
    );
}

#[tokio::test]
async fn an_incomplete_profile_gets_the_update_profile_page() {
    let kc = kc().await;
    let (browser, r) = login_as(&kc, "no-last-name", "pw-123").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
    let u = Url::parse(&location).unwrap();
    assert_eq!(u.path(), "/realms/testing/login-actions/required-action");
    assert_eq!(query_of(&location)["execution"], "VERIFY_PROFILE");
    let target = location.replace("http://localhost:", "http://127.0.0.1:");
    let r = browser
        .get(target)
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"kc-update-profile-form\""));
    assert!(html.contains("You need to update your user profile to activate your account."));
    assert!(html.contains("name=\"lastName\" value=\"\""));
    // The password grant says the same in its own words.
    let r = kc
        .token(
            &[
                ("grant_type", "password"),
                ("username", "no-last-name"),
                ("password", "pw-123"),
            ],
            Some(("test-client", SECRET)),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()).1,
        "Account is not fully set up"
    );
}

#[tokio::test]
async fn authorization_request_errors() {
    let kc = kc().await;
    let b = client(true);
    // Not an allowed redirect URI: an error page, never a redirect.
    let r = b
        .get(auth_url(
            &kc,
            "http://localhost:5001/callback",
            "s",
            CHALLENGE,
        ))
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("Invalid parameter: redirect_uri"), "{html}");
    // JSON clients get JSON.
    let r = b
        .get(auth_url(&kc, "http://evil/cb", "s", CHALLENGE))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "Invalid parameter: redirect_uri"})
    );
    // Unknown client.
    let r = b
        .get(kc.oidc("auth") + "?client_id=nope&redirect_uri=x&response_type=code")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Client not found."));
    // After the redirect URI is trusted, errors go back to the client.
    let r = b
        .get(kc.oidc("auth") + "?client_id=test-client&redirect_uri=http%3A%2F%2Flocalhost%3A5000%2Fcb&scope=openid&state=s1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let q = query_of(r.headers()[LOCATION].to_str().unwrap());
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["error_description"], "Missing parameter: response_type");
    assert_eq!(q["state"], "s1");
    let r = b
        .get(auth_url(&kc, CALLBACK, "s", "too-short"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_of(r.headers()[LOCATION].to_str().unwrap())["error_description"],
        "Invalid parameter: code_challenge"
    );
    kc.change_client("test-client", |c| c["standardFlowEnabled"] = json!(false))
        .await;
    let r = b
        .get(auth_url(&kc, CALLBACK, "s", CHALLENGE))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let q = query_of(r.headers()[LOCATION].to_str().unwrap());
    assert_eq!(q["error"], "unauthorized_client");
    assert!(q["error_description"].contains("Standard flow is disabled for the client."));
}

// ------------------------------------------------------------------ code exchange

#[tokio::test]
async fn codes_are_single_use_and_reuse_kills_the_clients_session() {
    let kc = kc().await;
    let l = login(&kc).await;
    let code = query_of(&l.location)["code"].clone();
    let t: Value = exchange(&kc, &code, CALLBACK, Some(&l.verifier))
        .await
        .json()
        .await
        .unwrap();
    let r = exchange(&kc, &code, CALLBACK, Some(&l.verifier)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()),
        ("invalid_grant".into(), "Code not valid".into())
    );
    // The first exchange's tokens die with the client session.
    let r = kc
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
            Some(("test-client", SECRET)),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(oauth_error(&r.json().await.unwrap()).0, "invalid_grant");
    let r = kc
        .api
        .get(kc.oidc("userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let _ = l.state;
}

#[tokio::test]
async fn a_failed_exchange_still_consumes_the_code() {
    let kc = kc().await;
    let l = login(&kc).await;
    let code = query_of(&l.location)["code"].clone();
    let r = exchange(&kc, &code, "http://localhost:5000/other", Some(&l.verifier)).await;
    assert_eq!(
        oauth_error(&r.json().await.unwrap()),
        ("invalid_grant".into(), "Incorrect redirect_uri".into())
    );
    let r = exchange(&kc, &code, CALLBACK, Some(&l.verifier)).await;
    assert_eq!(oauth_error(&r.json().await.unwrap()).1, "Code not valid");
}

#[tokio::test]
async fn codes_expire_after_60_seconds() {
    let kc = kc().await;
    let l = login(&kc).await;
    kc.double.advance_clock(Duration::from_secs(61));
    let r = exchange(
        &kc,
        &query_of(&l.location)["code"],
        CALLBACK,
        Some(&l.verifier),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(oauth_error(&r.json().await.unwrap()).1, "Code is expired");
}

#[tokio::test]
async fn pkce_is_verified_at_the_exchange() {
    let kc = kc().await;
    let l = login(&kc).await;
    let r = exchange(&kc, &query_of(&l.location)["code"], CALLBACK, None).await;
    assert_eq!(
        oauth_error(&r.json().await.unwrap()).1,
        "PKCE code verifier not specified"
    );
    let l = login(&kc).await;
    let r = exchange(
        &kc,
        &query_of(&l.location)["code"],
        CALLBACK,
        Some("wrong-verifier-wrong-verifier-wrong-verifier-1"),
    )
    .await;
    assert_eq!(
        oauth_error(&r.json().await.unwrap()).1,
        "PKCE verification failed: Code mismatch"
    );
    let l = login(&kc).await;
    let r = exchange(&kc, &query_of(&l.location)["code"], CALLBACK, Some("short")).await;
    assert_eq!(
        oauth_error(&r.json().await.unwrap()).1,
        "PKCE verification failed: Invalid code verifier"
    );
}

#[tokio::test]
async fn a_code_needs_its_own_clients_secret() {
    let kc = kc().await;
    let l = login(&kc).await;
    let code = query_of(&l.location)["code"].clone();
    let r = kc
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
            Some(("test-client", "bad")),
        )
        .await;
    assert_eq!(r.status(), 401);
    // Client authentication comes first: the code is still good.
    assert_eq!(
        exchange(&kc, &code, CALLBACK, Some(VERIFIER))
            .await
            .status(),
        200
    );
}

// ------------------------------------------------------------------ userinfo, introspection, revocation

#[tokio::test]
async fn userinfo_errors_are_in_www_authenticate() {
    let kc = kc().await;
    let r = kc.api.get(kc.oidc("userinfo")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("Token not provided"));
    let r = kc
        .api
        .get(kc.oidc("userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"testing\", error=\"invalid_token\", error_description=\"Token verification failed\""
    );
    let t = kc.password("openid").await;
    kc.double.advance_clock(Duration::from_secs(301));
    let r = kc
        .api
        .get(kc.oidc("userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "access tokens of new realms live 300 s");
}

#[tokio::test]
async fn introspection_and_revocation() {
    let kc = kc().await;
    let t = kc.password("openid").await;
    let access = t["access_token"].as_str().unwrap();
    let introspect = |auth: (&'static str, &'static str), token: String| {
        kc.api
            .post(kc.oidc("token/introspect"))
            .basic_auth(auth.0, Some(auth.1))
            .form(&[("token", token)])
            .send()
    };
    let r = introspect(("test-client", SECRET), access.to_owned())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (
            v["active"].as_bool(),
            v["client_id"].as_str(),
            v["username"].as_str()
        ),
        (Some(true), Some("test-client"), Some("test-user"))
    );
    let r = introspect(("test-client", "bad"), access.to_owned())
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()),
        ("invalid_request".into(), "Authentication failed.".into())
    );
    let r = kc
        .api
        .post(kc.oidc("token/introspect"))
        .form(&[("client_id", "spa"), ("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()).1,
        "Client not allowed."
    );
    let r = kc
        .api
        .post(kc.oidc("token/introspect"))
        .basic_auth("test-client", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), oauth_error(&r.json().await.unwrap()).1),
        (400, "Token not provided.".to_owned())
    );

    // Revocation: someone else's token, a bad token, then the access token itself.
    let r = kc
        .api
        .post(kc.oidc("revoke"))
        .basic_auth("other-client", Some("other-secret"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()).1,
        "Unmatching clients"
    );
    let r = kc
        .api
        .post(kc.oidc("revoke"))
        .basic_auth("test-client", Some(SECRET))
        .form(&[("token", "garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "invalid_token", "error_description": "Invalid token"})
    );
    let r = kc
        .api
        .post(kc.oidc("revoke"))
        .basic_auth("test-client", Some(SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    let v: Value = introspect(("test-client", SECRET), access.to_owned())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"active": false}));
    // Revoking the refresh token ends the session.
    let refresh = t["refresh_token"].as_str().unwrap();
    kc.api
        .post(kc.oidc("revoke"))
        .basic_auth("test-client", Some(SECRET))
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    let r = kc
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some(("test-client", SECRET)),
        )
        .await;
    assert_eq!(r.status(), 400);
}

// ------------------------------------------------------------------ logout

#[tokio::test]
async fn rp_initiated_logout_with_id_token_hint_redirects_back_and_ends_the_session() {
    let kc = kc().await;
    let l = login(&kc).await;
    let t: Value = exchange(
        &kc,
        &query_of(&l.location)["code"],
        CALLBACK,
        Some(&l.verifier),
    )
    .await
    .json()
    .await
    .unwrap();
    let mut u = Url::parse(&kc.oidc("logout")).unwrap();
    u.query_pairs_mut()
        .append_pair("id_token_hint", t["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "http://localhost:5000/")
        .append_pair("state", "bye");
    let r = l
        .browser
        .get(u.as_str())
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()[LOCATION], "http://localhost:5000/?state=bye");
    let cookies = set_cookies(r.headers());
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("KEYCLOAK_IDENTITY=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    let r = kc
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
            Some(("test-client", SECRET)),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        oauth_error(&r.json().await.unwrap()),
        ("invalid_grant".into(), "Session not active".into())
    );
}

#[tokio::test]
async fn logout_parameter_rules() {
    let kc = kc().await;
    let b = client(true);
    // The legacy redirect_uri is not read: a confirmation page, no redirect.
    let r = b
        .get(kc.oidc("logout") + "?redirect_uri=http%3A%2F%2Flocalhost%3A5000%2F")
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"kc-logout-confirm\"") && html.contains("Do you want to log out?"));
    // post_logout_redirect_uri needs id_token_hint or client_id.
    let r = b
        .get(kc.oidc("logout") + "?post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A5000%2F")
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Missing parameters: id_token_hint"));
    let r = b
        .get(kc.oidc("logout") + "?id_token_hint=forged&post_logout_redirect_uri=x")
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Invalid parameter: id_token_hint"));
    // Not among the client's post-logout redirect URIs.
    let r = b
        .get(
            kc.oidc("logout")
                + "?client_id=test-client&post_logout_redirect_uri=http%3A%2F%2Fevil%2F",
        )
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Invalid redirect uri"));
    // A client without post.logout.redirect.uris allows none.
    let r = b
        .get(kc.oidc("logout") + "?client_id=other-client&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A6000%2F")
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // client_id + allowed URI and no browser session: straight back.
    let r = b
        .get(kc.oidc("logout") + "?client_id=test-client&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A5000%2Fbye&state=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()[LOCATION], "http://localhost:5000/bye?state=x");
}

#[tokio::test]
async fn confirmed_logout_and_back_channel_logout() {
    let kc = kc().await;
    let l = login(&kc).await;
    let t: Value = exchange(
        &kc,
        &query_of(&l.location)["code"],
        CALLBACK,
        Some(&l.verifier),
    )
    .await
    .json()
    .await
    .unwrap();
    // With only client_id and a browser session: confirmation first.
    let r = l
        .browser
        .get(kc.oidc("logout") + "?client_id=test-client")
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let code_at = html.find("name=\"session_code\" value=\"").unwrap() + 27;
    let code = &html[code_at..code_at + html[code_at..].find('"').unwrap()];
    let r = l
        .browser
        .post(kc.oidc("logout/logout-confirm"))
        .header(ACCEPT, HTML)
        .form(&[("session_code", code), ("confirmLogout", "Logout")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are logged out."));
    let r = kc
        .api
        .get(kc.oidc("userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Legacy back-channel logout with the refresh token: 204.
    let p = kc.password("openid").await;
    let r = kc
        .api
        .post(kc.oidc("logout"))
        .basic_auth("test-client", Some(SECRET))
        .form(&[("refresh_token", p["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = kc
        .api
        .get(kc.oidc("userinfo"))
        .bearer_auth(p["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
