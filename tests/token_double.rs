//! `iamstack token` through the built binary against the in-process Keycloak double with the
//! built-in realm provisioned: stdout holds the token and nothing else, each grant works, the
//! other outputs (`--id-token`, `--refresh-token`, `--full`, `--decode`) say what Keycloak
//! issued, and a refusal is diagnosed with exit 8.

use iamstack::config::AdminCredentials;
use iamstack::keycloak;
use iamstack::report::Reporter;
use iamstack_test_support::{ADMIN_PASSWORD, ADMIN_USER};
use keycloak_double::{DoubleConfig, RunningDouble};
use serde_json::Value;

async fn provisioned() -> RunningDouble {
    let d = keycloak_double::start(DoubleConfig::default())
        .await
        .expect("double starts");
    let url = url::Url::parse(&d.base_url()).unwrap();
    let admin = AdminCredentials {
        username: ADMIN_USER.into(),
        password: ADMIN_PASSWORD.into(),
    };
    let realms = keycloak::load_realm_files_with(&[], &|_| None).unwrap();
    keycloak::apply(&url, &admin, &realms, false, &Reporter::recording())
        .await
        .expect("provisioned");
    d
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn token(d: &RunningDouble, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"));
    cmd.arg("token")
        .args(["--keycloak-url", &d.base_url()])
        .args(args)
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("IAMSTACK_") || key == "TEST_CLIENT_SECRET" {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().await.expect("iamstack runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

#[tokio::test]
async fn the_default_is_a_service_account_token_alone_on_stdout_that_keycloak_accepts() {
    let d = provisioned().await;
    let run = token(&d, &[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the token: {}", run.stdout);
    assert_eq!(lines[0].split('.').count(), 3, "a JWT: {}", lines[0]);
    let info: Value = reqwest::Client::new()
        .get(format!(
            "{}/realms/testing/protocol/openid-connect/userinfo",
            d.base_url()
        ))
        .bearer_auth(lines[0])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["preferred_username"], "service-account-test-client");
}

#[tokio::test]
async fn each_grant_decodes_to_its_subject_after_the_signature_check() {
    let d = provisioned().await;
    let run = token(&d, &["--grant", "password", "--decode"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let parts = json(&run);
    assert_eq!(parts["header"]["alg"], "RS256");
    assert_eq!(parts["claims"]["preferred_username"], "test-user");
    assert_eq!(parts["claims"]["azp"], "test-client");

    let run = token(&d, &["--grant", "code", "--id-token", "--decode"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let parts = json(&run);
    assert_eq!(parts["claims"]["typ"], "ID");
    assert_eq!(parts["claims"]["email"], "test-user@localhost");
    assert!(parts["claims"]["nonce"].is_string(), "{parts}");
}

#[tokio::test]
async fn full_prints_the_whole_response_and_a_missing_token_is_explained() {
    let d = provisioned().await;
    let run = token(&d, &["--grant", "password", "--full"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let response = json(&run);
    for key in ["access_token", "refresh_token", "id_token", "expires_in"] {
        assert!(response.get(key).is_some(), "{key} in {response}");
    }
    assert_eq!(response["token_type"], "Bearer");

    let run = token(&d, &["--refresh-token"], &[]).await;
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("no refresh_token") && run.stderr.contains("--grant password"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_refused_grant_gets_verifys_diagnosis_and_exit_8() {
    let d = provisioned().await;
    // The realm file's secret (from the environment) is not Keycloak's.
    let run = token(&d, &[], &[("TEST_CLIENT_SECRET", "not-the-secret")]).await;
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("client-credentials grant got no token")
            && run.stderr.contains("401")
            && run.stderr.contains("client secret mismatch"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("not-the-secret"), "{}", run.stderr);
}
