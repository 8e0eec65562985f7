//! `docs/keycloak-requests.md` against what the product really sends: every Keycloak request
//! the in-process double records while the product provisions (create, re-apply, repair drift,
//! add objects to an existing realm), waits for readiness, reads discovery and verifies, is a
//! row of the table, and every row of the table is sent by one of these runs. Requests the tests
//! make themselves (to cause drift) are not recorded: the record is cleared before each product
//! call and read right after it.

use std::collections::BTreeSet;

use iamstack::config::AdminCredentials;
use iamstack::keycloak::{self, RealmFile, BUILTIN_REALM};
use iamstack::report::{Mode, Reporter};
use iamstack::verify::{self, target_for, Choice};
use iamstack_test_support::{AdminApi, ADMIN_PASSWORD, ADMIN_USER};
use keycloak_double::{DoubleConfig, RunningDouble};
use reqwest::Method;
use serde_json::json;
use url::Url;

/// `(method, path template)`, e.g. `("GET", "/admin/realms/{realm}/clients/{id}")`.
type Row = (String, String);

const TABLE: &str = include_str!("../docs/keycloak-requests.md");

/// The table's rows: lines `| METHOD | `path` | ...`.
fn table_rows() -> BTreeSet<Row> {
    TABLE
        .lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).skip(1);
            let method = cells.next()?;
            let path = cells.next()?.trim_matches('`');
            ["GET", "POST", "PUT", "DELETE"]
                .contains(&method)
                .then(|| (method.to_string(), path.to_string()))
        })
        .collect()
}

/// A recorded path as a template: the segment after `realms` is `{realm}`, a Keycloak id
/// after `clients`, `users` or `groups` is `{id}`, a name after `roles` is `{role}`.
fn template(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(segments.len());
    for (i, seg) in segments.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| segments[p]);
        let is_id = seg.len() == 36 && seg.chars().filter(|c| *c == '-').count() == 4;
        out.push(match prev {
            Some("realms") => "{realm}",
            Some("clients" | "users" | "groups") if is_id => "{id}",
            Some("roles") => "{role}",
            _ => seg,
        });
    }
    out.join("/")
}

/// What the product sent during `run`.
async fn sent<F: std::future::Future<Output = ()>>(
    d: &RunningDouble,
    seen: &mut BTreeSet<Row>,
    run: F,
) {
    d.clear_requests();
    run.await;
    for r in d.requests() {
        seen.insert((r.method.clone(), template(&r.path)));
    }
}

fn admin() -> AdminCredentials {
    AdminCredentials {
        username: ADMIN_USER.into(),
        password: ADMIN_PASSWORD.into(),
    }
}

fn parse(text: &str) -> Vec<RealmFile> {
    vec![keycloak::parse_realm_file(text, "testing.yaml", false, &|_| None).expect("valid")]
}

async fn apply(url: &Url, realms: &[RealmFile]) {
    keycloak::apply(url, &admin(), realms, false, &Reporter::recording())
        .await
        .expect("apply succeeds");
}

/// `apply` as the command runs it: with a password ledger (here in a temporary directory).
async fn apply_with_ledger(url: &Url, realms: &[RealmFile], ledger: &std::path::Path) {
    let options = keycloak::ApplyOptions {
        password_ledger: Some(ledger.join("passwords.json")),
        ..keycloak::ApplyOptions::default()
    };
    keycloak::apply_options(
        url,
        &admin(),
        realms,
        &options,
        false,
        &Reporter::recording(),
    )
    .await
    .expect("apply succeeds");
}

/// Every request of a provisioning's life: create, re-apply, repair, add to an existing realm.
async fn provisioning_requests(seen: &mut BTreeSet<Row>) {
    let d = keycloak_double::start(DoubleConfig::default())
        .await
        .expect("double");
    let url = Url::parse(&d.base_url()).unwrap();
    let builtin = parse(BUILTIN_REALM);
    sent(&d, seen, apply(&url, &builtin)).await;
    sent(&d, seen, apply(&url, &builtin)).await;

    // Drift behind the product's back: realm, client, user and password all differ.
    let api = AdminApi::login(&d.base_url()).await;
    let put = |path: String, body| {
        let api = &api;
        async move {
            let (status, answer) = api.call(Method::PUT, &path, Some(body)).await;
            assert_eq!(status, 204, "PUT {path}: {answer}");
        }
    };
    put("/admin/realms/testing".into(), json!({"displayName": "x"})).await;
    let client = api
        .get("/admin/realms/testing/clients?clientId=test-client")
        .await[0]
        .clone();
    let mut changed = client.clone();
    changed["redirectUris"] = json!(["http://elsewhere/*"]);
    put(
        format!(
            "/admin/realms/testing/clients/{}",
            client["id"].as_str().unwrap()
        ),
        changed,
    )
    .await;
    let user = api.user("testing", "test-user").await;
    let id = user["id"].as_str().unwrap();
    put(
        format!("/admin/realms/testing/users/{id}"),
        json!({"firstName": "Other"}),
    )
    .await;
    put(
        format!("/admin/realms/testing/users/{id}/reset-password"),
        json!({"type": "password", "value": "not-the-file's", "temporary": false}),
    )
    .await;
    sent(&d, seen, apply(&url, &builtin)).await;

    // As the command runs it, with the password ledger: credential metadata is read.
    let ledger = tempfile::tempdir().unwrap();
    sent(&d, seen, apply_with_ledger(&url, &builtin, ledger.path())).await;
    sent(&d, seen, apply_with_ledger(&url, &builtin, ledger.path())).await;

    // A second client and user in the existing realm are created one by one.
    let more = BUILTIN_REALM.to_string()
        + "  - username: second-user\n    email: second@localhost\n    firstName: S\n    lastName: U\n    enabled: true\n";
    let more = more.replace(
        "clients:\n",
        "clients:\n  - clientId: second-client\n    publicClient: true\n    redirectUris: [http://localhost:5001/*]\n",
    );
    sent(&d, seen, apply(&url, &parse(&more))).await;

    // Roles, groups and memberships added to the existing realm, then one of each changed.
    sent(&d, seen, apply(&url, &parse(&with_access(&more, "Buys")))).await;
    sent(&d, seen, apply(&url, &parse(&with_access(&more, "Sells")))).await;

    // `export` reads everything back.
    sent(&d, seen, async {
        let client = keycloak::AdminClient::new(&url, &admin()).unwrap();
        keycloak::export::read_realm(&client, "testing")
            .await
            .expect("export reads")
            .expect("realm");
    })
    .await;
}

/// `realm` with roles (realm and client), a group tree with attributes and a role, and
/// memberships for every user; `desc` is a role's and a group's changing value.
fn with_access(realm: &str, desc: &str) -> String {
    let access = format!(
        "roles:\n  realm:\n    - name: buyer\n      description: {desc}\n  client:\n    \
         test-client:\n      - name: read\n        description: {desc}\n\
         groups:\n  - name: staff\n    attributes: {{note: [{desc}]}}\n    realmRoles: [buyer]\n    \
         subGroups:\n      - name: ops\n"
    );
    let memberships = "    groups: [/staff/ops]\n    realmRoles: [buyer]\n    \
                       clientRoles: {test-client: [read]}\n";
    let mut out = realm.replace("clients:\n", &format!("{access}clients:\n"));
    // Every user gets the memberships (a second-user created above gets them by update).
    out = out.replace(
        "    enabled: true\n    credentials:",
        &format!("    enabled: true\n{memberships}    credentials:"),
    );
    out.replace(
        "    lastName: U\n",
        &format!("    lastName: U\n{memberships}"),
    )
}

/// Readiness (`up`), discovery (`env`) and every check of `verify` on the reference realm.
async fn runtime_requests(seen: &mut BTreeSet<Row>) {
    let d = keycloak_double::start(DoubleConfig::default())
        .await
        .expect("double");
    let url = Url::parse(&d.base_url()).unwrap();
    let realms = parse(BUILTIN_REALM);
    apply(&url, &realms).await;
    let health = format!("{}/health/ready", d.management_url().expect("health on"));
    sent(&d, seen, async {
        iamstack::wait::keycloak_health(&reqwest::Client::new(), &health)
            .await
            .expect("ready");
    })
    .await;
    sent(&d, seen, async {
        keycloak::discovery::read_discovery(&url, "testing")
            .await
            .expect("discovery");
    })
    .await;
    let target = target_for(
        &realms,
        Choice::default(),
        url.clone(),
        Some("localhost".into()),
    )
    .expect("target");
    sent(&d, seen, async {
        let report = verify::run(&target, &Reporter::new(Mode::Plain))
            .await
            .expect("verify runs");
        assert!(report.all_passed(), "{:?}", report.failed());
    })
    .await;
}

#[tokio::test]
async fn the_request_table_lists_exactly_what_the_product_sends() {
    let mut seen = BTreeSet::new();
    provisioning_requests(&mut seen).await;
    runtime_requests(&mut seen).await;
    let table = table_rows();
    let missing: Vec<_> = seen.difference(&table).collect();
    let unexercised: Vec<_> = table.difference(&seen).collect();
    assert!(
        missing.is_empty() && unexercised.is_empty(),
        "docs/keycloak-requests.md is out of date.\n\
         sent but not in the table: {missing:#?}\n\
         in the table but sent by no run: {unexercised:#?}"
    );
}

#[test]
fn recorded_paths_become_templates() {
    assert_eq!(
        template(
            "/admin/realms/testing/clients/0b8ad5b6-4c1e-4a53-9e8e-3f8f0f2a1c11/client-secret"
        ),
        "/admin/realms/{realm}/clients/{id}/client-secret"
    );
    assert_eq!(
        template("/admin/realms/testing/users/profile"),
        "/admin/realms/{realm}/users/profile"
    );
    assert_eq!(
        template("/realms/master/protocol/openid-connect/token"),
        "/realms/{realm}/protocol/openid-connect/token"
    );
}
