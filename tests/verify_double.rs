//! `verify` end to end against the in-process Keycloak double with the reference realm file
//! provisioned by iamstack's provisioner: everything passes on the reference setup, and each
//! misconfiguration (made behind the file's back, through the admin API, as an admin would in
//! the console) breaks exactly the checks it should, with an explanation.

use std::process::Command;
use std::time::Instant;

use iamstack::config::AdminCredentials;
use iamstack::keycloak::{self, parse_realm_file, RealmFile, BUILTIN_REALM};
use iamstack::report::{Mode, Reporter};
use iamstack::verify::{self, target_for, Check, Choice, VerifyReport, VerifyTarget};
use keycloak_double::{start, DoubleConfig, RunningDouble};
use serde_json::{json, Value};
use url::Url;

const SECRET: &str = "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6";

/// The built-in realm file (the reference setup), optionally without the user's last name.
fn reference_realm(last_name: bool) -> Vec<RealmFile> {
    if last_name {
        reference_realm_without(&[])
    } else {
        reference_realm_without(&["lastName"])
    }
}

/// The built-in realm file without these profile fields of its user.
fn reference_realm_without(fields: &[&str]) -> Vec<RealmFile> {
    let mut text = BUILTIN_REALM.to_string();
    for line in [
        "    email: test-user@localhost\n",
        "    firstName: Test\n",
        "    lastName: User\n",
    ] {
        let field = line.trim().split(':').next().unwrap();
        if fields.contains(&field) {
            assert!(text.contains(line), "{line}");
            text = text.replace(line, "");
        }
    }
    vec![parse_realm_file(&text, "testing.yaml", false, &|_| None)
        .expect("the built-in realm parses")]
}

struct Stack {
    double: RunningDouble,
    http: reqwest::Client,
    realms: Vec<RealmFile>,
}

impl Stack {
    /// A double with the realm provisioned by iamstack's own provisioner.
    async fn new(realms: Vec<RealmFile>) -> Stack {
        let double = start(DoubleConfig::default())
            .await
            .expect("the double starts");
        let url = Url::parse(&double.base_url()).unwrap();
        let admin = AdminCredentials {
            username: "admin".into(),
            password: "kc_admin$123".into(),
        };
        keycloak::apply(&url, &admin, &realms, false, &Reporter::new(Mode::Plain))
            .await
            .expect("the realm is provisioned");
        Stack {
            double,
            http: reqwest::Client::new(),
            realms,
        }
    }

    async fn admin_token(&self) -> String {
        iamstack_test_support::admin_token(&self.double.base_url()).await
    }

    async fn client_id(&self, token: &str) -> String {
        let list: Value = self
            .http
            .get(format!(
                "{}/admin/realms/testing/clients?clientId=test-client",
                self.double.base_url()
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list[0]["id"].as_str().unwrap().to_owned()
    }

    /// Change test-client the way an admin would in the console (full representation PUT).
    async fn change_client(&self, change: impl FnOnce(&mut Value)) {
        let token = self.admin_token().await;
        let id = self.client_id(&token).await;
        let url = format!(
            "{}/admin/realms/testing/clients/{id}",
            self.double.base_url()
        );
        let mut rep: Value = self
            .http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        change(&mut rep);
        let r = self
            .http
            .put(&url)
            .bearer_auth(&token)
            .json(&rep)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }

    async fn regenerate_secret(&self) {
        let token = self.admin_token().await;
        let id = self.client_id(&token).await;
        let r = self
            .http
            .post(format!(
                "{}/admin/realms/testing/clients/{id}/client-secret",
                self.double.base_url()
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// What `iamstack verify` checks by default, from the realm files.
    fn target(&self) -> VerifyTarget {
        target_for(
            &self.realms,
            Choice::default(),
            Url::parse(&self.double.base_url()).unwrap(),
            Some("localhost".into()),
        )
        .expect("a target from the realm file")
    }

    async fn verify(&self, target: &VerifyTarget) -> VerifyReport {
        verify::run(target, &Reporter::new(Mode::Plain))
            .await
            .expect("verify runs")
    }
}

/// The names of every check, in the order they run.
fn all_checks() -> Vec<&'static str> {
    Check::ALL.map(Check::name).to_vec()
}

fn failed(report: &VerifyReport) -> Vec<&str> {
    report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect()
}

fn detail(report: &VerifyReport, check: Check) -> &str {
    report
        .check(check)
        .and_then(|c| c.detail.as_deref())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_check_passes_on_the_reference_realm() {
    let stack = Stack::new(reference_realm(true)).await;
    // Keycloak creates a realm's keys with the realm; the double makes them on first use.
    let certs = format!(
        "{}/realms/testing/protocol/openid-connect/certs",
        stack.double.base_url()
    );
    assert_eq!(stack.http.get(certs).send().await.unwrap().status(), 200);
    stack.double.clear_requests();
    let started = Instant::now();
    let report = stack.verify(&stack.target()).await;
    let wall = started.elapsed();
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, all_checks());
    assert_eq!(failed(&report), Vec::<&str>::new(), "{report:#?}");
    assert_eq!(report.exit_code(), 0);
    let port = Url::parse(&stack.double.base_url())
        .unwrap()
        .port()
        .unwrap();
    assert_eq!(
        detail(&report, Check::Discovery),
        format!("issuer http://localhost:{port}/realms/testing")
    );
    assert_eq!(
        detail(&report, Check::ClientCredentials),
        "preferred_username service-account-test-client"
    );
    assert!(detail(&report, Check::Password).contains("email test-user@localhost"));
    assert!(detail(&report, Check::AuthorizationCode).contains("email test-user@localhost"));
    assert!(detail(&report, Check::IdToken)
        .contains("authorization_code, password, client_credentials"));
    assert!(detail(&report, Check::Logout).contains("refresh token is refused"));
    // The browser flow really went through the login form, and the session really ended.
    let served = stack.double.requests();
    assert!(served.iter().any(|r| r.method == "POST"
        && r.path == "/realms/testing/login-actions/authenticate"
        && r.status == 302));
    assert!(served.iter().any(|r| r.method == "GET"
        && r.path == "/realms/testing/protocol/openid-connect/logout"
        && r.status == 302));
    eprintln!(
        "full verify run: {} ms (report) / {} ms (wall), {} requests",
        report.elapsed_ms,
        wall.as_millis(),
        served.len()
    );
}

#[tokio::test]
async fn a_regenerated_client_secret_breaks_every_flow_that_authenticates_the_client() {
    let stack = Stack::new(reference_realm(true)).await;
    stack.regenerate_secret().await;
    let report = stack.verify(&stack.target()).await;
    assert_eq!(
        failed(&report),
        [
            "client_credentials",
            "password",
            "authorization_code",
            "id_token",
            "introspection",
            "logout"
        ]
    );
    for check in [
        Check::ClientCredentials,
        Check::Password,
        Check::AuthorizationCode,
    ] {
        let d = detail(&report, check);
        assert!(
            d.contains("401") && d.contains("likely cause: client secret mismatch"),
            "{check}: {d}"
        );
    }
    // The browser part worked; the code exchange is where it broke.
    assert!(detail(&report, Check::AuthorizationCode).starts_with("code exchange:"));
    assert!(detail(&report, Check::IdToken).contains("no ID token"));
    assert!(detail(&report, Check::Logout).contains("needs `authorization_code`"));
    assert_eq!(report.exit_code(), 8);
}

#[tokio::test]
async fn direct_access_grants_off_breaks_only_the_password_check() {
    let stack = Stack::new(reference_realm(true)).await;
    stack
        .change_client(|c| c["directAccessGrantsEnabled"] = json!(false))
        .await;
    let report = stack.verify(&stack.target()).await;
    assert_eq!(failed(&report), ["password"]);
    let d = detail(&report, Check::Password);
    assert!(
        d.contains("Client not allowed for direct access grants"),
        "{d}"
    );
    assert!(
        d.contains("likely cause: direct access grants are off for client `test-client`"),
        "{d}"
    );
    assert!(
        d.contains("grant_type=password") && !d.contains("test-user$123"),
        "the request is named, the password is not: {d}"
    );
}

#[tokio::test]
async fn service_accounts_off_breaks_only_the_client_credentials_check() {
    let stack = Stack::new(reference_realm(true)).await;
    stack
        .change_client(|c| c["serviceAccountsEnabled"] = json!(false))
        .await;
    let report = stack.verify(&stack.target()).await;
    assert_eq!(failed(&report), ["client_credentials"]);
    let d = detail(&report, Check::ClientCredentials);
    assert!(
        d.contains("401")
            && d.contains("likely cause: service accounts are off for client `test-client`"),
        "{d}"
    );
}

#[tokio::test]
async fn a_user_without_a_last_name_breaks_the_user_flows() {
    let stack = Stack::new(reference_realm(false)).await;
    let report = stack.verify(&stack.target()).await;
    assert_eq!(
        failed(&report),
        ["password", "authorization_code", "logout"]
    );
    let d = detail(&report, Check::Password);
    assert!(
        d.contains("Account is not fully set up") && d.contains("profile is incomplete"),
        "{d}"
    );
    let d = detail(&report, Check::AuthorizationCode);
    assert!(
        d.contains("Keycloak showed the update-profile page (empty fields: lastName)"),
        "{d}"
    );
    assert!(
        d.contains("likely cause: user `test-user`'s profile is incomplete (lastName missing)"),
        "{d}"
    );
    // The ID token and introspection checks still run on the service account's tokens.
    assert!(detail(&report, Check::IdToken).contains("client_credentials"));
}

/// Each field the default user profile requires, alone and all together: the browser login
/// stops at the update-profile form (VERIFY_PROFILE) and `verify` names exactly what is missing.
#[tokio::test]
async fn each_missing_profile_field_is_named_by_the_browser_check() {
    for missing in [
        &["email"][..],
        &["firstName"],
        &["lastName"],
        &["email", "firstName", "lastName"],
    ] {
        let stack = Stack::new(reference_realm_without(missing)).await;
        let report = stack.verify(&stack.target()).await;
        assert_eq!(
            failed(&report),
            ["password", "authorization_code", "logout"],
            "{missing:?}"
        );
        let d = detail(&report, Check::AuthorizationCode);
        let names = missing.join(", ");
        assert!(
            d.contains(&format!("the update-profile page (empty fields: {names})")),
            "{missing:?}: {d}"
        );
        assert!(
            d.contains(&format!("profile is incomplete ({names} missing)")),
            "{missing:?}: {d}"
        );
    }
}

#[tokio::test]
async fn a_redirect_uri_that_does_not_match_breaks_the_browser_flow() {
    let stack = Stack::new(reference_realm(true)).await;
    stack
        .change_client(|c| c["redirectUris"] = json!(["http://localhost:6000/*"]))
        .await;
    let report = stack.verify(&stack.target()).await;
    assert_eq!(failed(&report), ["authorization_code", "logout"]);
    let d = detail(&report, Check::AuthorizationCode);
    assert!(
        d.starts_with(
            "login page: Keycloak showed an error page saying \"Invalid parameter: redirect_uri\""
        ),
        "{d}"
    );
    assert!(d.contains("likely cause: redirect URI not allowed"), "{d}");
    assert!(
        d.contains("redirect_uri=http://localhost:5000/callback"),
        "{d}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_reported_on_both_user_flows() {
    let stack = Stack::new(reference_realm(true)).await;
    let target = VerifyTarget {
        password: "not-the-password".into(),
        ..stack.target()
    };
    let report = stack.verify(&target).await;
    assert_eq!(
        failed(&report),
        ["password", "authorization_code", "logout"]
    );
    assert!(detail(&report, Check::Password)
        .contains("likely cause: wrong password for user `test-user`"));
    let d = detail(&report, Check::AuthorizationCode);
    assert!(
        d.contains("the login page again, saying \"Invalid username or password.\""),
        "{d}"
    );
}

#[tokio::test]
async fn an_issuer_with_another_host_fails_discovery_and_stops_the_rest() {
    let stack = Stack::new(reference_realm(true)).await;
    let target = VerifyTarget {
        expected_hostname: Some("sso.example.com".into()),
        ..stack.target()
    };
    let report = stack.verify(&target).await;
    assert_eq!(failed(&report), all_checks());
    assert!(detail(&report, Check::Discovery).contains("expected `http://sso.example.com:"));
    assert!(detail(&report, Check::Password).contains("needs `discovery`"));
}

// ------------------------------------------------------------------ the command

fn iamstack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iamstack"))
        .args(args)
        .env_remove("CI")
        .env_remove("TEST_CLIENT_SECRET")
        .output()
        .expect("iamstack runs")
}

#[tokio::test]
async fn the_command_exits_0_with_json_events_when_all_pass() {
    let stack = Stack::new(reference_realm(true)).await;
    let base = stack.double.base_url();
    let out = tokio::task::spawn_blocking(move || {
        iamstack(&["--output", "json", "verify", "--keycloak-url", &base])
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let checks: Vec<&Value> = events.iter().filter(|e| e["event"] == "check").collect();
    assert_eq!(checks.len(), Check::ALL.len());
    assert!(checks
        .iter()
        .all(|c| c["passed"] == true && c["elapsed_ms"].is_u64()));
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "verify_summary");
    assert_eq!(
        (summary["passed"].as_u64(), summary["failed"].as_u64()),
        (Some(7), Some(0))
    );
    let all = events.iter().map(Value::to_string).collect::<String>();
    assert!(
        !all.contains(SECRET) && !all.contains("test-user$123"),
        "no secret in the output"
    );
}

#[tokio::test]
async fn the_command_exits_8_with_a_line_per_check_when_one_fails() {
    let stack = Stack::new(reference_realm(true)).await;
    stack
        .change_client(|c| c["serviceAccountsEnabled"] = json!(false))
        .await;
    let base = stack.double.base_url();
    let out = tokio::task::spawn_blocking(move || {
        iamstack(&["--output", "plain", "verify", "--keycloak-url", &base])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(8));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .collect();
    assert_eq!(lines.len(), 7, "{stderr}");
    assert!(
        lines[1].starts_with("FAIL client_credentials ("),
        "{stderr}"
    );
    assert!(stderr.contains("verify: 1 of 7 checks failed"), "{stderr}");
}
