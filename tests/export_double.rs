//! `apply` of roles, groups and memberships, and `iamstack export`, against the in-process
//! Keycloak double: an export applied to the same Keycloak changes nothing (zero writes); an
//! export of a realm `apply` made from a file wants the same realm as that file; a realm set
//! up by hand (the admin console's requests) exports to a file that rebuilds it elsewhere.

use iamstack::config::AdminCredentials;
use iamstack::keycloak::{self, export, AdminClient, ApplySummary, RealmFile};
use iamstack::report::{Action, Reporter};
use iamstack_test_support::{AdminApi, ADMIN_PASSWORD, ADMIN_USER};
use keycloak_double::{DoubleConfig, RecordedRequest, RunningDouble};
use serde_json::{json, Value};

async fn double() -> (RunningDouble, url::Url) {
    let d = keycloak_double::start(DoubleConfig::default())
        .await
        .expect("double starts");
    let url = url::Url::parse(&d.base_url()).expect("double URL");
    (d, url)
}

fn admin() -> AdminCredentials {
    AdminCredentials {
        username: ADMIN_USER.into(),
        password: ADMIN_PASSWORD.into(),
    }
}

fn load(yaml: &str, vars: &[(&str, &str)]) -> RealmFile {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    keycloak::parse_realm_file(yaml, "realm.yaml", false, &lookup)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

async fn apply(url: &url::Url, realm: &RealmFile) -> ApplySummary {
    keycloak::apply(
        url,
        &admin(),
        std::slice::from_ref(realm),
        false,
        &Reporter::recording(),
    )
    .await
    .unwrap_or_else(|e| panic!("apply: {e:#}"))
}

/// The realm exported as the command does (read, prune, render).
async fn export_text(url: &url::Url, realm: &str) -> export::Rendered {
    let client = AdminClient::new(url, &admin()).expect("admin client");
    let doc = export::read_realm(&client, realm)
        .await
        .expect("export reads")
        .expect("the realm exists");
    export::render(&export::prune(&doc), url.as_str())
}

/// POST, PUT or DELETE under /admin/.
fn writes(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method != "GET" && r.path.starts_with("/admin/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Every object the summary reports, with its action and changes, except those unchanged.
fn not_unchanged(summary: &ApplySummary) -> Vec<String> {
    summary
        .objects
        .iter()
        .filter(|o| o.action != Action::Unchanged)
        .map(|o| format!("{} {} {:?} {:?}", o.kind, o.name, o.action, o.changes))
        .collect()
}

/// Apply `realm` again and expect nothing to change and nothing to be written.
async fn assert_applies_unchanged(d: &RunningDouble, url: &url::Url, realm: &RealmFile) {
    d.clear_requests();
    let summary = apply(url, realm).await;
    assert_eq!(not_unchanged(&summary), Vec::<String>::new());
    assert_eq!(writes(&d.requests()), Vec::<String>::new());
}

const SHOP: &str = r#"
realm: shop
displayName: The Shop
accessTokenLifespan: 600
roles:
  realm:
    - name: buyer
      description: Buys things
    - name: auditor
  client:
    shop-api:
      - name: read
        description: Reads the catalogue
groups:
  - name: staff
    attributes:
      floor: ["2"]
    realmRoles: [auditor]
    subGroups:
      - name: ops
  - name: customers
clients:
  - clientId: shop-api
    secret: api-secret-0123456789
    serviceAccountsEnabled: true
    standardFlowEnabled: false
  - clientId: shop-web
    publicClient: true
    redirectUris: ["http://localhost:5173/*"]
    webOrigins: ["http://localhost:5173"]
users:
  - username: ann
    email: ann@shop.test
    firstName: Ann
    lastName: Lee
    groups: [/staff/ops]
    realmRoles: [buyer]
    clientRoles:
      shop-api: [read]
    credentials:
      - type: password
        value: ann-pass-1
  - username: bob
    email: bob@shop.test
    firstName: Bob
    lastName: Ray
    groups: [/customers]
    credentials:
      - type: password
        value: bob-pass-1
        temporary: true
"#;

#[tokio::test]
async fn the_built_in_realm_exports_to_the_file_it_came_from() {
    let (d, url) = double().await;
    let builtin = keycloak::load_realm_files_with(&[], &|_| None).unwrap()[0].clone();
    apply(&url, &builtin).await;

    let rendered = export_text(&url, "testing").await;
    assert_eq!(
        rendered.password_variables,
        [("test-user".to_string(), "TEST_USER_PASSWORD".to_string())]
    );
    assert!(
        rendered
            .text
            .contains("secret: g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"),
        "the client secret is exported:\n{}",
        rendered.text
    );
    assert!(
        !rendered.text.contains("clientId: account"),
        "built-in clients are left out"
    );
    let exported = load(&rendered.text, &[("TEST_USER_PASSWORD", "test-user$123")]);
    assert_eq!(
        export::desired_state(&exported),
        export::desired_state(&builtin)
    );
    assert_applies_unchanged(&d, &url, &exported).await;
}

#[tokio::test]
async fn roles_groups_and_memberships_are_reconciled_and_exported_round_trip() {
    let (d, url) = double().await;
    // First the realm without roles, groups or memberships: later runs must add them
    // through their own endpoints (the realm import would have done it in one go).
    let mut bare: Value = serde_yaml::from_str(SHOP).unwrap();
    for key in ["roles", "groups"] {
        bare.as_object_mut().unwrap().remove(key);
    }
    for u in bare["users"].as_array_mut().unwrap() {
        for key in ["groups", "realmRoles", "clientRoles"] {
            u.as_object_mut().unwrap().remove(key);
        }
    }
    apply(&url, &load(&serde_yaml::to_string(&bare).unwrap(), &[])).await;

    let shop = load(SHOP, &[]);
    let summary = apply(&url, &shop).await;
    let mut changed = not_unchanged(&summary);
    changed.sort();
    assert_eq!(
        changed,
        [
            "group /customers Created []",
            "group /staff Created []",
            "group /staff/ops Created []",
            "role auditor Created []",
            "role buyer Created []",
            "role shop-api/read Created []",
            "user ann Updated [\"groups\", \"realmRoles\", \"clientRoles.shop-api\"]",
            "user bob Updated [\"groups\"]",
        ]
    );
    let api = AdminApi::login(url.as_str()).await;
    let ann = api.user("shop", "ann").await;
    let id = ann["id"].as_str().unwrap();
    let groups = api
        .get(&format!("/admin/realms/shop/users/{id}/groups"))
        .await;
    assert_eq!(groups[0]["path"], "/staff/ops");
    let effective = api
        .get(&format!(
            "/admin/realms/shop/users/{id}/role-mappings/realm/composite"
        ))
        .await;
    let names: Vec<&str> = effective
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"buyer") && names.contains(&"auditor"),
        "ann has buyer directly and auditor through /staff: {names:?}"
    );
    assert_applies_unchanged(&d, &url, &shop).await;

    let rendered = export_text(&url, "shop").await;
    let vars = [
        ("ANN_PASSWORD", "ann-pass-1"),
        ("BOB_PASSWORD", "bob-pass-1"),
    ];
    let exported = load(&rendered.text, &vars);
    assert_eq!(
        export::desired_state(&exported),
        export::desired_state(&shop)
    );
    assert_applies_unchanged(&d, &url, &exported).await;
}

#[tokio::test]
async fn an_export_of_a_realm_made_by_import_rebuilds_it_on_another_keycloak() {
    let (_d, url) = double().await;
    let shop = load(SHOP, &[]);
    apply(&url, &shop).await;
    let first = export_text(&url, "shop").await;

    let (d2, url2) = double().await;
    let vars = [
        ("ANN_PASSWORD", "ann-pass-1"),
        ("BOB_PASSWORD", "bob-pass-1"),
    ];
    let exported = load(&first.text, &vars);
    apply(&url2, &exported).await;
    let second = export_text(&url2, "shop").await;
    assert_eq!(second.text, first.text.replace(url.as_str(), url2.as_str()));
    assert_applies_unchanged(&d2, &url2, &exported).await;

    // The passwords came through the placeholders: ann logs in; bob must change his.
    let api = AdminApi::login(url2.as_str()).await;
    let grant = |user: &'static str, pw: &'static str| {
        let api = &api;
        async move {
            api.token(
                "shop",
                &[
                    ("grant_type", "password"),
                    ("client_id", "admin-cli"),
                    ("username", user),
                    ("password", pw),
                ],
            )
            .await
        }
    };
    let (status, _) = grant("ann", "ann-pass-1").await;
    assert_eq!(status, 200);
    let (status, body) = grant("bob", "bob-pass-1").await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Account is not fully set up"))
    );
}

#[tokio::test]
async fn a_realm_set_up_by_hand_exports_to_a_file_that_applies_unchanged() {
    let (d, url) = double().await;
    let api = AdminApi::login(url.as_str()).await;
    // What the reference tutorial clicks in the admin console, as the console's requests.
    let post = |path: String, body: Value| {
        let api = &api;
        async move {
            let (status, _) = api.call(reqwest::Method::POST, &path, Some(body)).await;
            assert!((200..300).contains(&status), "POST {path}: {status}");
        }
    };
    post(
        "/admin/realms".into(),
        json!({"realm": "hand", "enabled": true}),
    )
    .await;
    post(
        "/admin/realms/hand/clients".into(),
        json!({"clientId": "console-made", "publicClient": false,
               "serviceAccountsEnabled": true, "redirectUris": ["http://localhost:5000/*"]}),
    )
    .await;
    post(
        "/admin/realms/hand/groups".into(),
        json!({"name": "team", "attributes": {"site": ["lyon"]}}),
    )
    .await;
    post(
        "/admin/realms/hand/users".into(),
        json!({"username": "carol", "email": "carol@hand.test", "firstName": "Carol",
               "lastName": "Day", "enabled": true, "groups": ["/team"],
               "credentials": [{"type": "password", "value": "carol-pass-1"}]}),
    )
    .await;

    let rendered = export_text(&url, "hand").await;
    assert!(
        rendered.text.contains("- /team"),
        "carol's group:\n{}",
        rendered.text
    );
    assert!(
        rendered.text.contains("default-roles-hand"),
        "carol's direct default role (POST /users grants it):\n{}",
        rendered.text
    );
    let exported = load(&rendered.text, &[("CAROL_PASSWORD", "carol-pass-1")]);
    let secret = exported.client("console-made").and_then(|c| c.secret());
    assert!(
        secret.is_some_and(|s| s.len() >= 32),
        "Keycloak's generated secret is exported: {secret:?}"
    );
    assert_applies_unchanged(&d, &url, &exported).await;
}

/// `iamstack export` through the built binary.
async fn export_command(d: &RunningDouble, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"));
    cmd.arg("export")
        .args(["--keycloak-url", &d.base_url()])
        .args(args)
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("IAMSTACK_") || key == "TEST_CLIENT_SECRET" {
            cmd.env_remove(key);
        }
    }
    let out = cmd.output().await.expect("iamstack runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_command_prints_the_realm_file_and_names_a_missing_realm() {
    let (d, url) = double().await;
    apply(&url, &load(SHOP, &[])).await;

    let (code, stdout, stderr) = export_command(&d, &["shop"]).await;
    assert_eq!(code, 0, "{stderr}");
    let vars = [
        ("ANN_PASSWORD", "ann-pass-1"),
        ("BOB_PASSWORD", "bob-pass-1"),
    ];
    assert_eq!(
        export::desired_state(&load(&stdout, &vars)),
        export::desired_state(&load(SHOP, &[]))
    );
    assert!(stdout.contains("set ANN_PASSWORD"), "{stdout}");

    // Without a name: the realm the realm files provision (the built-in `testing`).
    let (code, stdout, stderr) = export_command(&d, &[]).await;
    assert_eq!(code, 6, "exit 6, nothing on stdout: {stdout}");
    assert!(
        stderr.contains("no realm `testing`"),
        "names the missing realm: {stderr}"
    );
}
