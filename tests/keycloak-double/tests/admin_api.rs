//! The double's admin API and admin token endpoint, asserted as a client sees them (status, body,
//! headers). Each test starts its own in-process double.

use std::time::Duration;

use iamstack_test_support::{admin_token, ADMIN_PASSWORD};
use keycloak_double::{start, DoubleConfig, RealmConflict, RunningDouble};
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

async fn double() -> RunningDouble {
    start(DoubleConfig::default()).await.expect("double starts")
}

fn http() -> Client {
    Client::new()
}

async fn password_grant(
    base: &str,
    realm: &str,
    client_id: &str,
    secret: Option<&str>,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "password"),
        ("client_id", client_id),
        ("username", username),
        ("password", password),
    ];
    if let Some(s) = secret {
        form.push(("client_secret", s));
    }
    http()
        .post(format!(
            "{base}/realms/{realm}/protocol/openid-connect/token"
        ))
        .form(&form)
        .send()
        .await
        .expect("token request")
}

/// JSON request helper: returns (status, headers, body text).
async fn call(
    d: &RunningDouble,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = http()
        .request(method, format!("{}{path}", d.base_url()))
        .bearer_auth(token)
        .header(ACCEPT, "application/json");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.text().await.expect("body"))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn jwt_part(token: &str, n: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(n).expect("jwt part");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("json")
}

async fn create_realm(d: &RunningDouble, token: &str, rep: Value) -> StatusCode {
    call(d, token, reqwest::Method::POST, "/admin/realms", Some(rep))
        .await
        .0
}

/// Creates a client, returns its internal id (from Location).
async fn create_client(d: &RunningDouble, token: &str, realm: &str, rep: Value) -> String {
    let (status, headers, body) = call(
        d,
        token,
        reqwest::Method::POST,
        &format!("/admin/realms/{realm}/clients"),
        Some(rep),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = headers[LOCATION].to_str().expect("location").to_owned();
    location.rsplit('/').next().expect("id").to_owned()
}

async fn create_user(d: &RunningDouble, token: &str, realm: &str, rep: Value) -> String {
    let (status, headers, body) = call(
        d,
        token,
        reqwest::Method::POST,
        &format!("/admin/realms/{realm}/users"),
        Some(rep),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = headers[LOCATION].to_str().expect("location").to_owned();
    location.rsplit('/').next().expect("id").to_owned()
}

use reqwest::Method as M;

// ------------------------------------------------------------------ admin token

#[tokio::test]
async fn admin_password_grant_returns_keycloaks_token_response() {
    let d = double().await;
    let r = password_grant(
        &d.base_url(),
        "master",
        "admin-cli",
        None,
        "admin",
        ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(r.headers()[PRAGMA], "no-cache");
    assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    let body: Value = r.json().await.expect("json");
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "not-before-policy",
            "refresh_expires_in",
            "refresh_token",
            "scope",
            "session_state",
            "token_type"
        ]
    );
    assert_eq!(body["expires_in"], 60);
    assert_eq!(body["refresh_expires_in"], 1800);
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().expect("token");
    let header = jwt_part(access, 0);
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    let claims = jwt_part(access, 1);
    let port = d.base_url().rsplit(':').next().expect("port").to_owned();
    assert_eq!(
        claims["iss"],
        format!("http://localhost:{port}/realms/master")
    );
    assert_eq!(claims["azp"], "admin-cli");
    assert_eq!(claims["typ"], "Bearer");
    assert_eq!(
        jwt_part(body["refresh_token"].as_str().expect("rt"), 0)["alg"],
        "HS512"
    );

    // With `openid` an ID token is added.
    let r = http()
        .post(format!(
            "{}/realms/master/protocol/openid-connect/token",
            d.base_url()
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("scope", "openid"),
        ])
        .send()
        .await
        .expect("token");
    let body: Value = r.json().await.expect("json");
    assert!(body["id_token"].is_string());
    assert!(body["scope"].as_str().expect("scope").starts_with("openid"));
}

#[tokio::test]
async fn admin_password_grant_errors_carry_keycloaks_bodies() {
    let d = double().await;
    let base = d.base_url();
    let cases = [
        (
            "admin-cli",
            "admin",
            "wrong",
            401,
            json!({"error":"invalid_grant","error_description":"Invalid user credentials"}),
        ),
        (
            "admin-cli",
            "nobody",
            "x",
            400,
            json!({"error":"invalid_grant","error_description":"Invalid user credentials"}),
        ),
        (
            "no-such-client",
            "admin",
            ADMIN_PASSWORD,
            401,
            json!({"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}),
        ),
        (
            "security-admin-console",
            "admin",
            ADMIN_PASSWORD,
            400,
            json!({"error":"unauthorized_client","error_description":"Client not allowed for direct access grants"}),
        ),
    ];
    for (client, user, password, status, expected) in cases {
        let r = password_grant(&base, "master", client, None, user, password).await;
        assert_eq!(r.status().as_u16(), status, "{client}/{user}");
        assert_eq!(
            r.json::<Value>().await.expect("json"),
            expected,
            "{client}/{user}"
        );
    }
    let r = http()
        .post(format!(
            "{base}/realms/master/protocol/openid-connect/token"
        ))
        .form(&[("grant_type", "password"), ("client_id", "admin-cli")])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"error":"invalid_request","error_description":"Missing parameter: username"})
    );
}

#[tokio::test]
async fn access_tokens_expire_after_60_seconds_and_refresh_tokens_renew_them() {
    let d = double().await;
    let base = d.base_url();
    let r = password_grant(&base, "master", "admin-cli", None, "admin", ADMIN_PASSWORD).await;
    let body: Value = r.json().await.expect("json");
    let access = body["access_token"].as_str().expect("at").to_owned();
    let refresh = body["refresh_token"].as_str().expect("rt").to_owned();
    assert_eq!(
        call(&d, &access, M::GET, "/admin/realms", None).await.0,
        StatusCode::OK
    );

    d.advance_clock(Duration::from_secs(61));
    let (status, _, text) = call(&d, &access, M::GET, "/admin/realms", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(parse(&text), json!({"error":"HTTP 401 Unauthorized"}));

    let refresh_with = |token: String| {
        let base = base.clone();
        async move {
            http()
                .post(format!(
                    "{base}/realms/master/protocol/openid-connect/token"
                ))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", "admin-cli"),
                    ("refresh_token", token.as_str()),
                ])
                .send()
                .await
                .expect("refresh")
        }
    };
    let r = refresh_with(refresh.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let renewed: Value = r.json().await.expect("json");
    let access2 = renewed["access_token"].as_str().expect("at").to_owned();
    assert_eq!(
        call(&d, &access2, M::GET, "/admin/realms", None).await.0,
        StatusCode::OK
    );

    let r = refresh_with("garbage".into()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"error":"invalid_grant","error_description":"Invalid refresh token"})
    );

    // The SSO session idles out after 1800 s: the refresh token no longer works.
    d.advance_clock(Duration::from_secs(1801));
    let latest = renewed["refresh_token"].as_str().expect("rt").to_owned();
    let r = refresh_with(latest).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn the_admin_api_wants_a_master_admin_bearer() {
    let d = double().await;
    let r = http()
        .get(format!("{}/admin/realms", d.base_url()))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"error":"HTTP 401 Unauthorized"})
    );
    assert_eq!(
        call(&d, "not.a.token", M::GET, "/admin/realms", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // A valid token of a plain user of another realm is authenticated but not authorised.
    let admin = admin_token(&d.base_url()).await;
    create_realm(
        &d,
        &admin,
        json!({"realm":"r1","enabled":true,"users":[{"username":"joe","enabled":true,
        "email":"joe@x.test","firstName":"Joe","lastName":"Doe",
        "credentials":[{"type":"password","value":"pw","temporary":false}]}]}),
    )
    .await;
    let r = password_grant(&d.base_url(), "r1", "admin-cli", None, "joe", "pw").await;
    assert_eq!(r.status(), StatusCode::OK);
    let user_token = r.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("at")
        .to_owned();
    let (status, _, text) = call(&d, &user_token, M::GET, "/admin/realms", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
}

#[tokio::test]
async fn server_info_reports_version_26_2() {
    let d = double().await;
    let token = admin_token(&d.base_url()).await;
    let (status, _, text) = call(&d, &token, M::GET, "/admin/serverinfo", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse(&text)["systemInfo"]["version"], "26.2.5");
}

// ------------------------------------------------------------------ realms

#[tokio::test]
async fn realm_lifecycle_matches_keycloak() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    let (status, headers, text) = call(
        &d,
        &t,
        M::POST,
        "/admin/realms",
        Some(json!({"realm":"testing","displayName":"Testing"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(text, "");
    assert!(headers[LOCATION]
        .to_str()
        .expect("loc")
        .ends_with("/admin/realms/testing"));

    let (status, _, text) = call(&d, &t, M::GET, "/admin/realms/testing", None).await;
    assert_eq!(status, StatusCode::OK);
    let rep = parse(&text);
    assert_eq!(rep["realm"], "testing");
    assert_eq!(rep["enabled"], false, "enabled defaults to false");
    assert_eq!(rep["accessTokenLifespan"], 300);
    assert_eq!(rep["sslRequired"], "external");

    let (status, _, text) = call(
        &d,
        &t,
        M::POST,
        "/admin/realms",
        Some(json!({"realm":"testing"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        parse(&text),
        json!({"errorMessage":"Realm testing already exists"})
    );

    // PUT is partial: only given fields change.
    let (status, _, text) = call(
        &d,
        &t,
        M::PUT,
        "/admin/realms/testing",
        Some(json!({"enabled":true})),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::NO_CONTENT, ""));
    let rep = parse(&call(&d, &t, M::GET, "/admin/realms/testing", None).await.2);
    assert_eq!(
        (rep["enabled"].clone(), rep["displayName"].clone()),
        (json!(true), json!("Testing"))
    );

    let (status, _, text) = call(
        &d,
        &t,
        M::PUT,
        "/admin/realms/testing",
        Some(json!({"wrong":"payload"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        parse(&text),
        json!({"error":"Invalid json representation for RealmRepresentation. Unrecognized field \"wrong\" at line 1 column 11."})
    );

    let list = parse(&call(&d, &t, M::GET, "/admin/realms", None).await.2);
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["realm"].as_str())
        .collect();
    assert_eq!(names, ["master", "testing"]);

    assert_eq!(
        call(&d, &t, M::DELETE, "/admin/realms/testing", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, _, text) = call(&d, &t, M::GET, "/admin/realms/testing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(parse(&text), json!({"error":"Realm not found."}));
    assert_eq!(
        call(&d, &t, M::DELETE, "/admin/realms/testing", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn duplicate_realm_is_400_under_the_26_2_0_to_4_setting() {
    let d = start(DoubleConfig {
        realm_conflict: RealmConflict::Status400,
        ..DoubleConfig::default()
    })
    .await
    .expect("double");
    let t = admin_token(&d.base_url()).await;
    assert_eq!(
        create_realm(&d, &t, json!({"realm":"x"})).await,
        StatusCode::CREATED
    );
    let (status, _, text) =
        call(&d, &t, M::POST, "/admin/realms", Some(json!({"realm":"x"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        parse(&text),
        json!({"errorMessage":"Realm x already exists"})
    );
}

#[tokio::test]
async fn realm_names_are_validated() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    let (status, _, text) = call(
        &d,
        &t,
        M::POST,
        "/admin/realms",
        Some(json!({"enabled":true})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        parse(&text),
        json!({"errorMessage":"Realm name cannot be empty"})
    );
    let (status, _, text) = call(
        &d,
        &t,
        M::POST,
        "/admin/realms",
        Some(json!({"realm":"a/b"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(parse(&text), json!({"error":"Character '/' not allowed."}));
}

#[tokio::test]
async fn embedded_clients_and_users_are_imported_with_the_realm_or_not_at_all() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    let realm = json!({
        "realm": "testing", "enabled": true,
        "clients": [{"clientId":"test-client","protocol":"openid-connect","publicClient":false,
                     "secret":"g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6","serviceAccountsEnabled":true,
                     "directAccessGrantsEnabled":true,"redirectUris":["http://localhost:5000/*"]}],
        "users": [{"username":"Test-User","email":"Test-User@Localhost","firstName":"Test","lastName":"User",
                   "enabled":true,"credentials":[{"type":"password","value":"test-user$123","temporary":false}]}]
    });
    assert_eq!(create_realm(&d, &t, realm).await, StatusCode::CREATED);
    let clients = parse(
        &call(
            &d,
            &t,
            M::GET,
            "/admin/realms/testing/clients?clientId=test-client",
            None,
        )
        .await
        .2,
    );
    let id = clients[0]["id"].as_str().expect("id").to_owned();
    let secret = parse(
        &call(
            &d,
            &t,
            M::GET,
            &format!("/admin/realms/testing/clients/{id}/client-secret"),
            None,
        )
        .await
        .2,
    );
    assert_eq!(
        secret,
        json!({"type":"secret","value":"g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"})
    );
    let sa = parse(
        &call(
            &d,
            &t,
            M::GET,
            &format!("/admin/realms/testing/clients/{id}/service-account-user"),
            None,
        )
        .await
        .2,
    );
    assert_eq!(sa["username"], "service-account-test-client");
    let users = parse(
        &call(
            &d,
            &t,
            M::GET,
            "/admin/realms/testing/users?username=test-user&exact=true",
            None,
        )
        .await
        .2,
    );
    assert_eq!(users[0]["email"], "test-user@localhost");
    let r = password_grant(
        &d.base_url(),
        "testing",
        "test-client",
        Some("g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"),
        "test-user",
        "test-user$123",
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.expect("json")["expires_in"], 300);

    // A failing embedded object rolls the whole realm back.
    let broken = json!({"realm":"broken","users":[{"username":"aa1"},{"username":"AA1"}]});
    let (status, _, text) = call(&d, &t, M::POST, "/admin/realms", Some(broken)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        parse(&text),
        json!({"errorMessage":"User exists with same username"})
    );
    assert_eq!(
        call(&d, &t, M::GET, "/admin/realms/broken", None).await.0,
        StatusCode::NOT_FOUND
    );

    // The realm import reads its body from a stream: an unknown field, at the realm's level or
    // in an embedded object, is one 400 that names nothing, and nothing is created.
    for body in [
        json!({"realm":"nested","clients":[{"clientId":"c","pkceMethod":"S256"}]}),
        json!({"realm":"nested","frobnicate":true}),
    ] {
        let (status, _, text) = call(&d, &t, M::POST, "/admin/realms", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            parse(&text),
            json!({"errorMessage":"unable to read contents from stream"})
        );
    }
    assert_eq!(
        call(&d, &t, M::GET, "/admin/realms/nested", None).await.0,
        StatusCode::NOT_FOUND
    );
}

// ------------------------------------------------------------------ clients

#[tokio::test]
async fn clients_are_created_listed_and_conflict_like_keycloak() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r","enabled":true})).await;
    let (status, headers, text) = call(
        &d,
        &t,
        M::POST,
        "/admin/realms/r/clients",
        Some(json!({"clientId":"app","protocol":"openid-connect","publicClient":false})),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::CREATED, ""));
    let location = headers[LOCATION].to_str().expect("loc").to_owned();
    let id = location.rsplit('/').next().expect("id").to_owned();
    assert!(
        location.ends_with(&format!("/admin/realms/r/clients/{id}")),
        "{location}"
    );

    let exact = parse(
        &call(&d, &t, M::GET, "/admin/realms/r/clients?clientId=app", None)
            .await
            .2,
    );
    assert_eq!(exact.as_array().expect("list").len(), 1);
    assert_eq!(exact[0]["id"], id.as_str());
    let none = parse(
        &call(&d, &t, M::GET, "/admin/realms/r/clients?clientId=ap", None)
            .await
            .2,
    );
    assert_eq!(none, json!([]));
    let found = parse(
        &call(
            &d,
            &t,
            M::GET,
            "/admin/realms/r/clients?clientId=ap&search=true",
            None,
        )
        .await
        .2,
    );
    assert_eq!(found.as_array().expect("list").len(), 1);
    let all = parse(
        &call(&d, &t, M::GET, "/admin/realms/r/clients", None)
            .await
            .2,
    );
    assert_eq!(
        all.as_array().expect("list").len(),
        7,
        "six built-in clients plus ours"
    );

    let (status, _, text) = call(
        &d,
        &t,
        M::POST,
        "/admin/realms/r/clients",
        Some(json!({"clientId":"app"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        parse(&text),
        json!({"errorMessage":"Client app already exists"})
    );

    // The representation carries the secret of a confidential client (ModelToRepresentation).
    let rep = parse(
        &call(
            &d,
            &t,
            M::GET,
            &format!("/admin/realms/r/clients/{id}"),
            None,
        )
        .await
        .2,
    );
    assert_eq!(rep["publicClient"], false);
    assert_eq!(rep["secret"].as_str().expect("secret").len(), 32);
    assert_eq!(rep["attributes"]["realm_client"], "false");

    let (status, _, text) = call(&d, &t, M::GET, "/admin/realms/r/clients/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(parse(&text), json!({"error":"Could not find client"}));
    let (status, _, text) = call(
        &d,
        &t,
        M::GET,
        "/admin/realms/r/clients/nope/client-secret",
        None,
    )
    .await;
    assert_eq!(
        (status, parse(&text)),
        (
            StatusCode::NOT_FOUND,
            json!({"error":"Could not find client"})
        )
    );
}

#[tokio::test]
async fn protocol_present_defaults_make_a_public_client_with_direct_grants() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r"})).await;
    let public = create_client(
        &d,
        &t,
        "r",
        json!({"clientId":"p","protocol":"openid-connect",
        "rootUrl":"http://localhost:5000/"}),
    )
    .await;
    let rep = parse(
        &call(
            &d,
            &t,
            M::GET,
            &format!("/admin/realms/r/clients/{public}"),
            None,
        )
        .await
        .2,
    );
    assert_eq!(rep["publicClient"], true);
    assert!(
        rep.get("secret").is_none(),
        "public clients have no secret: {rep}"
    );
    assert_eq!(rep["directAccessGrantsEnabled"], true);
    assert_eq!(rep["standardFlowEnabled"], true);
    assert_eq!(rep["redirectUris"], json!(["http://localhost:5000/*"]));
    assert_eq!(rep["webOrigins"], json!(["http://localhost:5000"]));
    assert_eq!(rep["adminUrl"], "http://localhost:5000/");

    // Without `protocol`, the model defaults apply: confidential, no direct grants, a secret.
    let plain = create_client(&d, &t, "r", json!({"clientId":"q"})).await;
    let rep = parse(
        &call(
            &d,
            &t,
            M::GET,
            &format!("/admin/realms/r/clients/{plain}"),
            None,
        )
        .await
        .2,
    );
    assert_eq!(
        (
            rep["publicClient"].clone(),
            rep["directAccessGrantsEnabled"].clone()
        ),
        (json!(false), json!(false))
    );
    assert!(rep["secret"].is_string());
}

#[tokio::test]
async fn client_secrets_are_honoured_read_and_regenerated() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r"})).await;
    let id = create_client(
        &d,
        &t,
        "r",
        json!({"clientId":"c","protocol":"openid-connect",
        "publicClient":false,"secret":"test-secret"}),
    )
    .await;
    let path = format!("/admin/realms/r/clients/{id}/client-secret");
    assert_eq!(
        parse(&call(&d, &t, M::GET, &path, None).await.2),
        json!({"type":"secret","value":"test-secret"})
    );
    let (status, _, text) = call(&d, &t, M::POST, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let regenerated = parse(&text);
    assert_eq!(regenerated["type"], "secret");
    assert_ne!(regenerated["value"], "test-secret");
    assert_eq!(
        parse(&call(&d, &t, M::GET, &path, None).await.2),
        regenerated
    );
    // A PUT with a secret sets it.
    call(
        &d,
        &t,
        M::PUT,
        &format!("/admin/realms/r/clients/{id}"),
        Some(json!({"secret":"again"})),
    )
    .await;
    assert_eq!(
        parse(&call(&d, &t, M::GET, &path, None).await.2)["value"],
        "again"
    );
}

#[tokio::test]
async fn put_without_service_accounts_enabled_deletes_the_service_account_user() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r"})).await;
    let id = create_client(
        &d,
        &t,
        "r",
        json!({"clientId":"svc","protocol":"openid-connect",
        "publicClient":false,"serviceAccountsEnabled":true}),
    )
    .await;
    let sa_path = format!("/admin/realms/r/clients/{id}/service-account-user");
    let sa = parse(&call(&d, &t, M::GET, &sa_path, None).await.2);
    assert_eq!(sa["username"], "service-account-svc");
    let sa_id = sa["id"].as_str().expect("id").to_owned();

    // A partial PUT (flag absent) keeps other fields but removes the service-account user.
    let (status, _, _) = call(
        &d,
        &t,
        M::PUT,
        &format!("/admin/realms/r/clients/{id}"),
        Some(json!({"redirectUris":["http://localhost:5000/*"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let state = d.snapshot().await;
    let realm = state.realm("r").expect("realm");
    assert!(
        realm.user_by_id(&sa_id).is_none(),
        "service-account user deleted"
    );
    let client = realm.client_by_id(&id).expect("client");
    assert!(
        client.service_accounts_enabled(),
        "the model flag itself is kept"
    );
    assert!(
        client.direct_access_grants_enabled(),
        "absent fields keep their value"
    );
    assert_eq!(client.redirect_uris(), ["http://localhost:5000/*"]);
    let (status, _, text) = call(
        &d,
        &t,
        M::GET,
        &format!("/admin/realms/r/users/{sa_id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, parse(&text)),
        (StatusCode::NOT_FOUND, json!({"error":"User not found"}))
    );

    // The service-account-user endpoint lazily recreates it while the flag is on.
    let again = parse(&call(&d, &t, M::GET, &sa_path, None).await.2);
    assert_eq!(again["username"], "service-account-svc");
    assert_ne!(again["id"], sa_id.as_str());

    // Flag off: 400; DELETE of the client removes everything.
    call(
        &d,
        &t,
        M::PUT,
        &format!("/admin/realms/r/clients/{id}"),
        Some(json!({"serviceAccountsEnabled":false})),
    )
    .await;
    let (status, _, text) = call(&d, &t, M::GET, &sa_path, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        parse(&text),
        json!({"error":"Service account not enabled for the client 'svc'"})
    );
    assert_eq!(
        call(
            &d,
            &t,
            M::DELETE,
            &format!("/admin/realms/r/clients/{id}"),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            &d,
            &t,
            M::GET,
            &format!("/admin/realms/r/clients/{id}"),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn redirect_uris_are_validated_with_keycloaks_messages() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r"})).await;
    let cases = [
        (
            "javascript:alert(1)",
            "A redirect URI uses an illegal scheme",
        ),
        (
            "http://localhost:5000/cb#frag",
            "Redirect URIs must not contain an URI fragment",
        ),
        ("http://local host/", "A redirect URI is not a valid URI"),
    ];
    for (uri, message) in cases {
        let (status, _, text) = call(
            &d,
            &t,
            M::POST,
            "/admin/realms/r/clients",
            Some(json!({"clientId":"c","redirectUris":[uri]})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            parse(&text),
            json!({"error":"invalid_input","error_description":message}),
            "{uri}"
        );
    }
    // Wildcards and non-http schemes pass; PUT validates too.
    let id = create_client(
        &d,
        &t,
        "r",
        json!({"clientId":"c","redirectUris":["*","myapp:/cb","/rel/*"]}),
    )
    .await;
    let (status, _, text) = call(
        &d,
        &t,
        M::PUT,
        &format!("/admin/realms/r/clients/{id}"),
        Some(json!({"redirectUris":["data:text/html,x"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        parse(&text)["error_description"],
        "A redirect URI uses an illegal scheme"
    );
}

// ------------------------------------------------------------------ users

#[tokio::test]
async fn users_are_created_normalised_and_searched() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r"})).await;
    let (status, headers, text) = call(
        &d,
        &t,
        M::POST,
        "/admin/realms/r/users",
        Some(
            json!({"username":"Test-User","email":"Test-User@LOCALHOST","firstName":"Test",
                    "lastName":"User","attributes":{"department":["x"]}}),
        ),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::CREATED, ""));
    let id = headers[LOCATION]
        .to_str()
        .expect("loc")
        .rsplit('/')
        .next()
        .expect("id")
        .to_owned();
    let rep = parse(
        &call(&d, &t, M::GET, &format!("/admin/realms/r/users/{id}"), None)
            .await
            .2,
    );
    assert_eq!(rep["username"], "test-user");
    assert_eq!(rep["email"], "test-user@localhost");
    assert_eq!(rep["enabled"], false, "enabled defaults to false");
    assert!(
        rep.get("attributes").is_none(),
        "unmanaged attributes are dropped: {rep}"
    );

    let exact = parse(
        &call(
            &d,
            &t,
            M::GET,
            "/admin/realms/r/users?username=Test-User&exact=true",
            None,
        )
        .await
        .2,
    );
    assert_eq!(exact.as_array().expect("list").len(), 1);
    let none = parse(
        &call(
            &d,
            &t,
            M::GET,
            "/admin/realms/r/users?username=test&exact=true",
            None,
        )
        .await
        .2,
    );
    assert_eq!(none, json!([]));
    let contains = parse(
        &call(&d, &t, M::GET, "/admin/realms/r/users?username=st-us", None)
            .await
            .2,
    );
    assert_eq!(contains.as_array().expect("list").len(), 1);
    let by_email = parse(
        &call(
            &d,
            &t,
            M::GET,
            "/admin/realms/r/users?email=test-user@localhost",
            None,
        )
        .await
        .2,
    );
    assert_eq!(by_email[0]["id"], id.as_str());
    create_user(&d, &t, "r", json!({"username":"another"})).await;
    let page = parse(
        &call(&d, &t, M::GET, "/admin/realms/r/users?first=1&max=1", None)
            .await
            .2,
    );
    assert_eq!(page[0]["username"], "test-user");
    assert_eq!(
        parse(
            &call(&d, &t, M::GET, "/admin/realms/r/users/count", None)
                .await
                .2
        ),
        json!(2)
    );
}

#[tokio::test]
async fn user_conflicts_and_validation_errors() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r"})).await;
    create_user(&d, &t, "r", json!({"username":"user1","email":"u1@x.test"})).await;
    let cases = [
        (
            json!({"username":"USER1"}),
            409,
            json!({"errorMessage":"User exists with same username"}),
        ),
        (
            json!({"username":"user2","email":"U1@x.test"}),
            409,
            json!({"errorMessage":"User exists with same email"}),
        ),
        (
            json!({"email":"new@x.test"}),
            400,
            json!({"errorMessage":"User name is missing"}),
        ),
        (
            json!({"username":"user3","wrong":"payload"}),
            400,
            json!({"error":"Invalid json representation for UserRepresentation. Unrecognized field \"wrong\" at line 1 column 30."}),
        ),
        (
            json!({"username":"ab"}),
            400,
            json!({"field":"username","errorMessage":"error-invalid-length","params":["username",3,255]}),
        ),
    ];
    for (rep, status, body) in cases {
        let (s, _, text) = call(&d, &t, M::POST, "/admin/realms/r/users", Some(rep.clone())).await;
        assert_eq!((s.as_u16(), parse(&text)), (status, body), "{rep}");
    }
}

#[tokio::test]
async fn credentials_required_actions_and_password_resets() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r","enabled":true})).await;
    let id = create_user(&d, &t, "r", json!({"username":"usr","enabled":true,"email":"u@x.test",
        "firstName":"U","lastName":"V","credentials":[{"type":"password","value":"old","temporary":true}]})).await;
    let rep = parse(
        &call(&d, &t, M::GET, &format!("/admin/realms/r/users/{id}"), None)
            .await
            .2,
    );
    assert_eq!(rep["requiredActions"], json!(["UPDATE_PASSWORD"]));
    let r = password_grant(&d.base_url(), "r", "admin-cli", None, "usr", "old").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error_description"],
        "Account is not fully set up"
    );

    let path = format!("/admin/realms/r/users/{id}/reset-password");
    let (s, _, text) = call(
        &d,
        &t,
        M::PUT,
        &path,
        Some(json!({"type":"password","value":"new","temporary":false})),
    )
    .await;
    assert_eq!((s, text.as_str()), (StatusCode::NO_CONTENT, ""));
    let rep = parse(
        &call(&d, &t, M::GET, &format!("/admin/realms/r/users/{id}"), None)
            .await
            .2,
    );
    assert_eq!(rep["requiredActions"], json!([]));
    assert_eq!(
        password_grant(&d.base_url(), "r", "admin-cli", None, "usr", "new")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        password_grant(&d.base_url(), "r", "admin-cli", None, "usr", "old")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let (s, _, text) = call(&d, &t, M::PUT, &path, Some(json!({"type":"password"}))).await;
    assert_eq!(
        (s, parse(&text)),
        (
            StatusCode::BAD_REQUEST,
            json!({"error":"No password provided"})
        )
    );
    let (s, _, text) = call(
        &d,
        &t,
        M::PUT,
        &path,
        Some(json!({"type":"password","value":"  "})),
    )
    .await;
    assert_eq!(
        (s, parse(&text)),
        (
            StatusCode::BAD_REQUEST,
            json!({"error":"Empty password not allowed"})
        )
    );
    let (s, _, _) = call(
        &d,
        &t,
        M::PUT,
        "/admin/realms/r/users/nope/reset-password",
        Some(json!({"value":"x"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn realm_password_grant_enforces_profile_enabled_and_client_rules() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r","enabled":true})).await;
    let complete = json!({"enabled":true,"email":"a@x.test","firstName":"A","lastName":"B",
                          "credentials":[{"type":"password","value":"pw"}]});
    let mut incomplete = complete.clone();
    incomplete["username"] = json!("nolast");
    incomplete["email"] = json!("n@x.test");
    incomplete.as_object_mut().expect("obj").remove("lastName");
    let mut disabled = complete.clone();
    disabled["username"] = json!("off");
    disabled["email"] = json!("off@x.test");
    disabled["enabled"] = json!(false);
    let mut ok = complete.clone();
    ok["username"] = json!("okay");
    for rep in [incomplete, disabled, ok] {
        create_user(&d, &t, "r", rep).await;
    }
    let base = d.base_url();
    let r = password_grant(&base, "r", "admin-cli", None, "nolast", "pw").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"error":"invalid_grant","error_description":"Account is not fully set up"})
    );
    let r = password_grant(&base, "r", "admin-cli", None, "off", "pw").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error_description"],
        "Account disabled"
    );
    let r = password_grant(&base, "r", "admin-cli", None, "a@x.test", "pw").await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "login with email is allowed by default"
    );

    create_client(
        &d,
        &t,
        "r",
        json!({"clientId":"conf","publicClient":false,"secret":"s3",
        "directAccessGrantsEnabled":true}),
    )
    .await;
    let r = password_grant(&base, "r", "conf", Some("wrong"), "okay", "pw").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"})
    );
    let basic = http()
        .post(format!("{base}/realms/r/protocol/openid-connect/token"))
        .basic_auth("conf", Some("s3"))
        .form(&[
            ("grant_type", "password"),
            ("username", "okay"),
            ("password", "pw"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(basic.status(), StatusCode::OK, "client_secret_basic works");

    // A disabled realm refuses tokens.
    call(
        &d,
        &t,
        M::PUT,
        "/admin/realms/r",
        Some(json!({"enabled":false})),
    )
    .await;
    let r = password_grant(&base, "r", "admin-cli", None, "okay", "pw").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn user_updates_and_deletes() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    create_realm(&d, &t, json!({"realm":"r"})).await;
    let a = create_user(
        &d,
        &t,
        "r",
        json!({"username":"alice","email":"a@x.test","firstName":"A"}),
    )
    .await;
    create_user(&d, &t, "r", json!({"username":"bob","email":"b@x.test"})).await;
    let path = format!("/admin/realms/r/users/{a}");
    let (s, _, _) = call(
        &d,
        &t,
        M::PUT,
        &path,
        Some(json!({"enabled":true,"lastName":"Z"})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let rep = parse(&call(&d, &t, M::GET, &path, None).await.2);
    assert_eq!(
        (
            rep["enabled"].clone(),
            rep["firstName"].clone(),
            rep["lastName"].clone()
        ),
        (json!(true), json!("A"), json!("Z"))
    );
    let (s, _, text) = call(&d, &t, M::PUT, &path, Some(json!({"email":"B@x.test"}))).await;
    assert_eq!(
        (s, parse(&text)),
        (
            StatusCode::CONFLICT,
            json!({"errorMessage":"User exists with same email"})
        )
    );
    let (s, _, text) = call(&d, &t, M::PUT, &path, Some(json!({"wrong":1}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(parse(&text)["error"]
        .as_str()
        .expect("e")
        .contains("Unrecognized field \"wrong\""));
    assert_eq!(
        call(&d, &t, M::DELETE, &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (s, _, text) = call(&d, &t, M::GET, &path, None).await;
    assert_eq!(
        (s, parse(&text)),
        (StatusCode::NOT_FOUND, json!({"error":"User not found"}))
    );
}

// ------------------------------------------------------------------ HTTP surface

#[tokio::test]
async fn html_clients_get_an_error_page_instead_of_json() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    let r = http()
        .get(format!("{}/admin/realms/nope", d.base_url()))
        .bearer_auth(&t)
        .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .expect("ct")
        .starts_with("text/html"));
    assert!(r.text().await.expect("body").contains("Realm not found."));
    let r = http()
        .get(format!("{}/admin/realms/nope", d.base_url()))
        .bearer_auth(&t)
        .header(ACCEPT, "*/*")
        .send()
        .await
        .expect("req");
    assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    // Shape-A business errors stay JSON whatever the Accept header.
    call(
        &d,
        &t,
        M::POST,
        "/admin/realms",
        Some(json!({"realm":"dup"})),
    )
    .await;
    let r = http()
        .post(format!("{}/admin/realms", d.base_url()))
        .bearer_auth(&t)
        .header(ACCEPT, "text/html")
        .json(&json!({"realm":"dup"}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn every_request_is_recorded_with_method_path_query_and_status() {
    let d = double().await;
    let t = admin_token(&d.base_url()).await;
    d.clear_requests();
    assert!(d.requests().is_empty());
    call(
        &d,
        &t,
        M::GET,
        "/admin/realms/master/users?username=admin&exact=true",
        None,
    )
    .await;
    call(&d, &t, M::GET, "/admin/realms/none", None).await;
    let seen: Vec<(String, String, Option<String>, u16)> = d
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.query, r.status))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "GET".into(),
                "/admin/realms/master/users".into(),
                Some("username=admin&exact=true".into()),
                200
            ),
            ("GET".into(), "/admin/realms/none".into(), None, 404),
        ]
    );
}

#[tokio::test]
async fn health_is_served_on_the_management_listener_only() {
    let d = double().await;
    let mgmt = d.management_url().expect("health enabled by default");
    for path in [
        "/health",
        "/health/ready",
        "/health/live",
        "/health/started",
    ] {
        let r = http()
            .get(format!("{mgmt}{path}"))
            .send()
            .await
            .expect("health");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(
            r.json::<Value>().await.expect("json")["status"],
            "UP",
            "{path}"
        );
    }
    let r = http()
        .get(format!("{}/health/ready", d.base_url()))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let quiet = start(DoubleConfig {
        health_enabled: false,
        ..DoubleConfig::default()
    })
    .await
    .expect("double");
    assert!(quiet.management_url().is_none());
}

#[tokio::test]
async fn realm_public_info_is_served_without_authentication() {
    let d = double().await;
    let r = http()
        .get(format!("{}/realms/master", d.base_url()))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["realm"], "master");
    assert!(body["public_key"].as_str().expect("key").len() > 300);
    let r = http()
        .get(format!("{}/realms/nope", d.base_url()))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"error":"Realm does not exist"})
    );
}
