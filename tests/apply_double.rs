//! `apply` against the in-process Keycloak double: creation from nothing, idempotence (from the
//! double's request record), drift repair, dry run, and the errors a user sees (through the
//! built binary: exit codes and messages).

use std::path::Path;
use std::time::Duration;

use iamstack::config::AdminCredentials;
use iamstack::keycloak::{
    self, diff::Observed, diff::RealmPlan, reconcile, AdminClient, ApplySummary, RealmFile,
};
use iamstack::report::{Action, Mode, Reporter};
use iamstack_test_support::AdminApi;
use keycloak_double::{DoubleConfig, RealmConflict, RunningDouble};
use serde_json::{json, Value};

const SECRET: &str = "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6";

fn admin() -> AdminCredentials {
    AdminCredentials {
        username: "admin".into(),
        password: "kc_admin$123".into(),
    }
}

fn reporter() -> Reporter {
    Reporter::new(Mode::Plain)
}

fn builtin() -> Vec<RealmFile> {
    keycloak::load_realm_files_with(&[], &|_| None).expect("built-in realm loads")
}

async fn double() -> (RunningDouble, url::Url) {
    double_with(DoubleConfig::default()).await
}

async fn double_with(config: DoubleConfig) -> (RunningDouble, url::Url) {
    let d = keycloak_double::start(config).await.expect("double starts");
    let url = url::Url::parse(&d.base_url()).expect("double URL");
    (d, url)
}

async fn apply(url: &url::Url, realms: &[RealmFile], dry_run: bool) -> ApplySummary {
    keycloak::apply(url, &admin(), realms, dry_run, &reporter())
        .await
        .expect("apply succeeds")
}

fn actions(summary: &ApplySummary) -> Vec<(String, String, Action, Vec<String>)> {
    summary
        .objects
        .iter()
        .map(|o| {
            let mut changes = o.changes.clone();
            changes.sort();
            (o.kind.clone(), o.name.clone(), o.action, changes)
        })
        .collect()
}

fn all(summary: &ApplySummary, action: Action) -> bool {
    !summary.objects.is_empty() && summary.objects.iter().all(|o| o.action == action)
}

/// A raw admin session (shared test support) with this file's shortcuts for the built-in realm.
type Raw = AdminApi;

async fn login(base: &url::Url) -> Raw {
    AdminApi::login(base.as_str()).await
}

async fn test_client(raw: &Raw) -> Value {
    raw.get("/admin/realms/testing/clients?clientId=test-client")
        .await[0]
        .clone()
}

async fn test_user_id(raw: &Raw) -> String {
    raw.user("testing", "test-user").await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn password_grant(raw: &Raw, secret: &str, password: &str) -> u16 {
    raw.token(
        "testing",
        &[
            ("grant_type", "password"),
            ("client_id", "test-client"),
            ("client_secret", secret),
            ("username", "test-user"),
            ("password", password),
            ("scope", "openid"),
        ],
    )
    .await
    .0
}

/// Requests that write nothing to the realm: anything but a POST, PUT or DELETE under /admin/
/// (the admin login, the password check and the logout that ends its session are not writes).
fn is_read(r: &keycloak_double::RecordedRequest) -> bool {
    r.method == "GET" || !r.path.starts_with("/admin/")
}

#[tokio::test]
async fn apply_from_nothing_creates_everything_and_the_user_signs_in() {
    let (d, url) = double().await;
    let summary = apply(&url, &builtin(), false).await;
    assert_eq!(
        actions(&summary),
        vec![
            ("realm".into(), "testing".into(), Action::Created, vec![]),
            (
                "client".into(),
                "test-client".into(),
                Action::Created,
                vec![]
            ),
            ("user".into(), "test-user".into(), Action::Created, vec![]),
        ]
    );
    let writes: Vec<_> = d.requests().into_iter().filter(|r| !is_read(r)).collect();
    assert_eq!(writes.len(), 1, "one POST creates it all: {writes:?}");
    assert_eq!(
        (writes[0].method.as_str(), writes[0].path.as_str()),
        ("POST", "/admin/realms")
    );

    let raw = login(&url).await;
    let realm = raw.get("/admin/realms/testing").await;
    assert_eq!(realm["enabled"], true);
    assert_eq!(realm["displayName"], "Testing");
    let client = test_client(&raw).await;
    assert_eq!(client["publicClient"], false);
    assert_eq!(client["standardFlowEnabled"], true);
    assert_eq!(client["directAccessGrantsEnabled"], true);
    assert_eq!(client["serviceAccountsEnabled"], true);
    let id = client["id"].as_str().unwrap();
    let secret = raw
        .get(&format!("/admin/realms/testing/clients/{id}/client-secret"))
        .await;
    assert_eq!(secret["value"], SECRET);
    let sa = raw
        .get(&format!(
            "/admin/realms/testing/clients/{id}/service-account-user"
        ))
        .await;
    assert_eq!(sa["username"], "service-account-test-client");

    // The user signs in (and the confidential client authenticates with the file's secret).
    assert_eq!(password_grant(&raw, SECRET, "test-user$123").await, 200);
}

#[tokio::test]
async fn second_apply_only_reads() {
    let (d, url) = double().await;
    apply(&url, &builtin(), false).await;
    d.clear_requests();
    let summary = apply(&url, &builtin(), false).await;
    assert!(all(&summary, Action::Unchanged), "{:?}", actions(&summary));
    let requests = d.requests();
    let writes: Vec<_> = requests.iter().filter(|r| !is_read(r)).collect();
    assert!(writes.is_empty(), "unchanged apply wrote: {writes:?}");
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(
        posts.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        [
            "/realms/master/protocol/openid-connect/token",
            "/realms/testing/protocol/openid-connect/token",
            "/realms/testing/protocol/openid-connect/logout",
        ],
        "only the admin login, the password check and the end of its session"
    );
    // Two runs of the password check leave no session behind.
    let raw = login(&url).await;
    let id = test_user_id(&raw).await;
    let sessions = raw
        .get(&format!("/admin/realms/testing/users/{id}/sessions"))
        .await;
    assert_eq!(sessions, serde_json::json!([]), "sessions left: {sessions}");
}

#[tokio::test]
async fn drift_is_repaired_and_reported_as_updated() {
    let (_d, url) = double().await;
    apply(&url, &builtin(), false).await;
    let raw = login(&url).await;

    // Drift through the admin API: redirect URI, secret, password, service accounts.
    let mut client = test_client(&raw).await;
    let id = client["id"].as_str().unwrap().to_string();
    client["redirectUris"] = json!(["http://elsewhere:9999/*"]);
    client["serviceAccountsEnabled"] = json!(false);
    let (status, _) = raw
        .call(
            reqwest::Method::PUT,
            &format!("/admin/realms/testing/clients/{id}"),
            Some(client),
        )
        .await;
    assert_eq!(status, 204);
    let (status, regenerated) = raw
        .call(
            reqwest::Method::POST,
            &format!("/admin/realms/testing/clients/{id}/client-secret"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(regenerated["value"], SECRET);
    let uid = test_user_id(&raw).await;
    let (status, _) = raw
        .call(
            reqwest::Method::PUT,
            &format!("/admin/realms/testing/users/{uid}/reset-password"),
            Some(json!({"type": "password", "value": "changed", "temporary": false})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = raw
        .call(
            reqwest::Method::PUT,
            &format!("/admin/realms/testing/users/{uid}"),
            Some(json!({"lastName": "Someone-Else"})),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        password_grant(&raw, SECRET, "test-user$123").await,
        401,
        "drift took effect (old secret refused)"
    );
    let (status, _) = raw
        .call(
            reqwest::Method::GET,
            &format!("/admin/realms/testing/clients/{id}/service-account-user"),
            None,
        )
        .await;
    assert_eq!(status, 400, "service accounts are off");

    let summary = apply(&url, &builtin(), false).await;
    assert_eq!(
        actions(&summary),
        vec![
            ("realm".into(), "testing".into(), Action::Unchanged, vec![]),
            (
                "client".into(),
                "test-client".into(),
                Action::Updated,
                vec![
                    "redirectUris".into(),
                    "secret".into(),
                    "serviceAccountsEnabled".into()
                ]
            ),
            (
                "user".into(),
                "test-user".into(),
                Action::Updated,
                vec!["lastName".into(), "password".into()]
            ),
        ]
    );
    let user = raw
        .get("/admin/realms/testing/users?username=test-user&exact=true")
        .await;
    assert_eq!(user[0]["lastName"], "User");
    assert_eq!(
        user[0]["email"], "test-user@localhost",
        "the PUT kept the other fields"
    );

    let client = test_client(&raw).await;
    assert_eq!(client["redirectUris"], json!(["http://localhost:5000/*"]));
    assert_eq!(client["serviceAccountsEnabled"], true);
    let sa = raw
        .get(&format!(
            "/admin/realms/testing/clients/{id}/service-account-user"
        ))
        .await;
    assert_eq!(sa["username"], "service-account-test-client");
    assert_eq!(password_grant(&raw, SECRET, "test-user$123").await, 200);

    let again = apply(&url, &builtin(), false).await;
    assert!(all(&again, Action::Unchanged), "{:?}", actions(&again));
}

#[tokio::test]
async fn dry_run_reports_the_same_and_writes_nothing() {
    let (d, url) = double().await;
    let summary = apply(&url, &builtin(), true).await;
    assert!(summary.dry_run);
    assert!(all(&summary, Action::Created), "{:?}", actions(&summary));
    assert!(d.requests().iter().all(is_read), "{:?}", d.requests());
    let raw = login(&url).await;
    let (status, _) = raw
        .call(reqwest::Method::GET, "/admin/realms/testing", None)
        .await;
    assert_eq!(status, 404, "dry run created the realm");

    // With drift: reported as updated, still nothing written.
    apply(&url, &builtin(), false).await;
    let uid = test_user_id(&raw).await;
    raw.call(
        reqwest::Method::PUT,
        &format!("/admin/realms/testing/users/{uid}/reset-password"),
        Some(json!({"type": "password", "value": "changed", "temporary": false})),
    )
    .await;
    d.clear_requests();
    let summary = apply(&url, &builtin(), true).await;
    assert_eq!(
        actions(&summary)[2],
        (
            "user".into(),
            "test-user".into(),
            Action::Updated,
            vec!["password".into()]
        )
    );
    assert!(d.requests().iter().all(is_read), "{:?}", d.requests());
    assert_eq!(password_grant(&raw, SECRET, "changed").await, 200);
}

/// Keycloak 26.2.0–26.2.4 answer a duplicate realm with 400, later patches with 409: either way
/// a creation that loses the race reconciles the existing realm instead of failing.
#[tokio::test]
async fn realm_created_by_someone_else_is_reconciled() {
    for conflict in [RealmConflict::Status400, RealmConflict::Status409] {
        let (d, url) = double_with(DoubleConfig {
            realm_conflict: conflict,
            ..DoubleConfig::default()
        })
        .await;
        let realms = builtin();
        apply(&url, &realms, false).await;
        d.clear_requests();
        // A plan made while the realm was absent (our GET lost the race).
        let stale = keycloak::diff::plan(&realms[0], &Observed::default());
        assert!(matches!(stale, RealmPlan::Create { .. }));
        let client = AdminClient::new(&url, &admin()).unwrap();
        let outcomes = reconcile::execute(&client, &realms[0], &stale, false, &reporter())
            .await
            .unwrap_or_else(|e| panic!("{conflict:?}: {e}"));
        assert!(
            outcomes.iter().all(|o| o.action == Action::Unchanged),
            "{conflict:?}: {outcomes:?}"
        );
        let post = d
            .requests()
            .into_iter()
            .find(|r| r.method == "POST" && r.path == "/admin/realms")
            .expect("the creation was tried");
        let expected = if conflict == RealmConflict::Status400 {
            400
        } else {
            409
        };
        assert_eq!(post.status, expected);
    }
}

#[tokio::test]
async fn expired_admin_token_is_renewed() {
    let (d, url) = double().await;
    let client = AdminClient::new(&url, &admin()).unwrap();
    let realm = client
        .get_json(&["admin", "realms", "master"], &[], "read master")
        .await
        .unwrap();
    assert!(realm.is_some());
    d.advance_clock(Duration::from_secs(120));
    let realm = client
        .get_json(&["admin", "realms", "master"], &[], "read master")
        .await
        .expect("a 401 leads to a fresh login, not a failure");
    assert!(realm.is_some());
    let logins = d
        .requests()
        .iter()
        .filter(|r| r.path == "/realms/master/protocol/openid-connect/token")
        .count();
    assert_eq!(logins, 2);
}

#[tokio::test]
async fn unreachable_keycloak_is_retried_then_explained() {
    // A port nobody listens on: bind one, then drop it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = AdminClient::new(&url, &admin())
        .unwrap()
        .with_retry_budget(Duration::from_millis(400));
    let err = keycloak::apply_with(&client, &builtin(), false, &reporter())
        .await
        .unwrap_err();
    assert_eq!(iamstack::error::exit_code(&err), 5, "{err:#}");
    assert!(
        format!("{err:#}").contains("cannot reach Keycloak"),
        "{err:#}"
    );
    assert!(client.request_count() > 1, "connection errors are retried");
}

// --- Through the binary: exit codes and messages -------------------------------------------

async fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"))
        .env(
            "IAMSTACK_STATE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/iamstack-state"),
        )
        .args(args)
        .env_remove("IAMSTACK_REALM")
        .env_remove("IAMSTACK_ADMIN_USER")
        .env_remove("IAMSTACK_ADMIN_PASSWORD")
        .env_remove("IAMSTACK_KEYCLOAK_URL")
        .env_remove("IAMSTACK_ENV_FILE")
        .env_remove("TEST_CLIENT_SECRET")
        .output()
        .await
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn cli_apply_reports_each_object() {
    let (_d, url) = double().await;
    let (code, _, stderr) =
        run_cli(&["--output", "plain", "apply", "--keycloak-url", url.as_str()]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("realm `testing`: created"), "{stderr}");
    assert!(stderr.contains("client `test-client`: created"), "{stderr}");
    assert!(stderr.contains("user `test-user`: created"), "{stderr}");
    let (code, _, stderr) =
        run_cli(&["--output", "plain", "apply", "--keycloak-url", url.as_str()]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("0 created, 0 updated, 3 unchanged"),
        "{stderr}"
    );
}

#[tokio::test]
async fn malformed_realm_file_fails_before_any_request() {
    let (d, url) = double().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.yaml",
        "realm: testing\nclients:\n  - clientId: c\n    serviceAccountsEnabled: sometimes\n",
    );
    let (code, _, stderr) =
        run_cli(&["apply", "--keycloak-url", url.as_str(), "--realm", &file]).await;
    assert_eq!(code, 7, "{stderr}");
    assert!(
        stderr.contains(&format!("{file}:4"))
            && stderr.contains("clients[0].serviceAccountsEnabled"),
        "{stderr}"
    );
    let file = write(
        dir.path(),
        "undef.yaml",
        "realm: r\ndisplayName: ${IAMSTACK_SURELY_UNSET}\n",
    );
    let (code, _, stderr) =
        run_cli(&["apply", "--keycloak-url", url.as_str(), "--realm", &file]).await;
    assert_eq!(code, 7, "{stderr}");
    assert!(stderr.contains(&format!("{file}:2")), "{stderr}");
    assert!(stderr.contains("IAMSTACK_SURELY_UNSET"), "{stderr}");
    assert!(
        d.requests().is_empty(),
        "requests were made: {:?}",
        d.requests()
    );
}

#[tokio::test]
async fn unknown_fields_are_refused_before_any_request() {
    let (d, url) = double().await;
    let dir = tempfile::tempdir().unwrap();
    for (name, text, line, field, hint) in [
        (
            "client.yaml",
            "realm: typo\nclients:\n  - clientId: c\n    redirectUri: [http://x/*]\n",
            4,
            "clients[0].redirectUri",
            "did you mean `redirectUris`?",
        ),
        (
            "realm.yaml",
            "realm: typo\ndisplayname: Typo\n",
            2,
            "displayname",
            "did you mean `displayName`?",
        ),
    ] {
        let file = write(dir.path(), name, text);
        let (code, _, stderr) =
            run_cli(&["apply", "--keycloak-url", url.as_str(), "--realm", &file]).await;
        assert_eq!(code, 7, "{stderr}");
        assert!(
            stderr.contains(&format!("{file}:{line}"))
                && stderr.contains(field)
                && stderr.contains(hint),
            "{stderr}"
        );
    }
    assert!(
        d.requests().is_empty(),
        "requests were made: {:?}",
        d.requests()
    );
}

#[tokio::test]
async fn rejected_admin_login_explains_the_bootstrap_admin() {
    let (_d, url) = double().await;
    let (code, _, stderr) = run_cli(&[
        "apply",
        "--keycloak-url",
        url.as_str(),
        "--admin-password",
        "not-the-password",
    ])
    .await;
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("rejected the admin login of `admin`"),
        "{stderr}"
    );
    assert!(stderr.contains("only when its"), "{stderr}");
    assert!(stderr.contains("down --volumes"), "{stderr}");
    assert!(
        !stderr.contains("not-the-password"),
        "the password was printed: {stderr}"
    );
}

#[tokio::test]
async fn cli_dry_run_says_nothing_was_written() {
    let (d, url) = double().await;
    let (code, _, stderr) = run_cli(&[
        "--output",
        "plain",
        "apply",
        "--dry-run",
        "--keycloak-url",
        url.as_str(),
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("dry run"), "{stderr}");
    assert!(stderr.contains("realm `testing`: created"), "{stderr}");
    assert!(d.requests().iter().all(is_read));
}

#[tokio::test]
async fn env_prints_values_a_shell_can_use() {
    let (code, stdout, stderr) = run_cli(&["env", "--keycloak-url", "http://localhost:8080"]).await;
    assert_eq!(code, 0, "{stderr}");
    let script = format!("{stdout}\nprintf '%s|%s|%s' \"$OIDC_PASSWORD\" \"$OIDC_CLIENT_SECRET\" \"$OIDC_TOKEN_URL\"");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("test-user$123|{SECRET}|http://localhost:8080/realms/testing/protocol/openid-connect/token")
    );
}

#[tokio::test]
async fn env_github_masks_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("github_env");
    let out_file = dir.path().join("github_output");
    std::fs::write(&env_file, "EXISTING=1\n").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"))
        .env(
            "IAMSTACK_STATE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/iamstack-state"),
        )
        .args(["env", "--format", "github"])
        .env_remove("IAMSTACK_REALM")
        .env_remove("TEST_CLIENT_SECRET")
        .env("GITHUB_ENV", &env_file)
        .env("GITHUB_OUTPUT", &out_file)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("::add-mask::{SECRET}")),
        "{stdout}"
    );
    assert!(stdout.contains("::add-mask::test-user$123"), "{stdout}");
    let env_text = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        env_text.starts_with("EXISTING=1\n"),
        "appended, not replaced"
    );
    assert!(
        env_text.contains("OIDC_PASSWORD=test-user$123\n"),
        "{env_text}"
    );
    let out_text = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        out_text.contains("OIDC_CLIENT_ID=test-client\n"),
        "{out_text}"
    );

    let (code, _, stderr) = run_cli(&["env", "--format", "github"]).await;
    if std::env::var_os("GITHUB_ENV").is_none() {
        assert_eq!(code, 7, "{stderr}");
        assert!(stderr.contains("GITHUB_ENV"), "{stderr}");
    }
}
