//! REAL-ENGINE test (Docker) of the GitHub Action's steps, run locally as action.yml runs them:
//! `action/up.sh` with an existing binary and `$GITHUB_ENV` / `$GITHUB_OUTPUT` pointing at
//! temporary files, then what a later step would see (the OIDC_* variables, masked secrets, an
//! issuer that answers and hands out a token), then `action/on-failure.sh`'s diagnostics. On the
//! backend the test support picks (official images or stand-ins), in the test's own project.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use iamstack_test_support::{images_with, TestRun};

mod action_common;
use action_common::text;

/// `bash action/<script>` with the job's environment less every IAMSTACK_* setting of ours, plus
/// `env`.
async fn step(script: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(action_common::script(script))
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("IAMSTACK_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().await.expect("run bash")
}

/// `KEY=value` lines (iamstack writes single-line values here) as a map.
fn variables(file: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn the_action_steps_bring_up_a_verified_stack_and_export_its_oidc_variables() {
    let Some(docker) = iamstack_test_support::engine().await else {
        return;
    };
    let images = images_with(&docker).await.expect("test images");
    let run = TestRun::with_engine(&docker).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let github_env = dir.path().join("github_env");
    let github_output = dir.path().join("github_output");
    let label = run.label_arg();
    let bin = env!("CARGO_BIN_EXE_iamstack");

    let up = step(
        "up.sh",
        &[
            ("IAMSTACK_BIN", bin),
            (
                "IAMSTACK_STATE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/iamstack-state"),
            ),
            ("GITHUB_ENV", github_env.to_str().expect("utf-8 path")),
            ("GITHUB_OUTPUT", github_output.to_str().expect("utf-8 path")),
            ("INPUT_PROJECT", run.project()),
            ("INPUT_REALM", ""),
            ("INPUT_POSTGRES_IMAGE", &images.postgres),
            ("INPUT_KEYCLOAK_IMAGE", &images.keycloak),
            ("INPUT_POSTGRES_PORT", "0"),
            ("INPUT_KEYCLOAK_PORT", "0"),
            ("INPUT_MANAGEMENT_PORT", "0"),
            ("INPUT_VERIFY", "true"),
            // The job's own settings reach iamstack: the test's label, no pulls, a budget, and
            // the double's quick boot (the official image ignores it).
            ("IAMSTACK_LABELS", &label),
            ("IAMSTACK_PULL", "never"),
            ("IAMSTACK_TIMEOUT", "240s"),
            ("IAMSTACK_KEYCLOAK_ENV", "KC_DOUBLE_BOOT_SECONDS=0.5"),
        ],
    )
    .await;
    assert!(up.status.success(), "{}", text(&up));

    // What later steps see: the same variables in the environment and as the step's outputs.
    let env = variables(&github_env);
    assert_eq!(
        env,
        variables(&github_output),
        "GITHUB_ENV and GITHUB_OUTPUT"
    );
    for key in [
        "KEYCLOAK_URL",
        "OIDC_ISSUER",
        "OIDC_DISCOVERY_URL",
        "OIDC_TOKEN_URL",
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
        "OIDC_USERNAME",
        "OIDC_PASSWORD",
        "POSTGRES_URL",
    ] {
        assert!(
            env.get(key).is_some_and(|v| !v.is_empty()),
            "{key} in {env:?}"
        );
    }
    let issuer = &env["OIDC_ISSUER"];
    assert!(
        issuer.starts_with("http://") && issuer.ends_with("/realms/testing"),
        "{issuer}"
    );
    // Secrets are masked in the log before anything could print them (a workflow command's
    // value escapes `%`: the Postgres URL's `%24` is `%2524` there).
    let stdout = String::from_utf8_lossy(&up.stdout);
    for secret in ["OIDC_CLIENT_SECRET", "OIDC_PASSWORD", "POSTGRES_URL"] {
        let escaped = env[secret].replace('%', "%25");
        assert!(
            stdout.contains(&format!("::add-mask::{escaped}\n")),
            "{secret} is not masked:\n{}",
            text(&up)
        );
    }
    assert!(
        !stdout.contains(&format!("::add-mask::{}\n", env["OIDC_ISSUER"])),
        "the issuer is not a secret"
    );

    // A service under test reading OIDC_ISSUER: discovery answers, the client gets a token.
    let http = reqwest::Client::new();
    let discovery: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .error_for_status()
        .expect("discovery status")
        .json()
        .await
        .expect("discovery JSON");
    // Exactly Keycloak's own issuer: a service comparing a token's `iss` with OIDC_ISSUER
    // accepts the token.
    assert_eq!(
        discovery["issuer"].as_str(),
        Some(issuer.as_str()),
        "discovery at {issuer}"
    );
    let token: serde_json::Value = http
        .post(env["OIDC_TOKEN_URL"].as_str())
        .basic_auth(&env["OIDC_CLIENT_ID"], Some(&env["OIDC_CLIENT_SECRET"]))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
        .error_for_status()
        .expect("token status")
        .json()
        .await
        .expect("token JSON");
    assert!(token["access_token"].is_string(), "{token}");

    // The failure step's diagnostics: iamstack status, then each container's log tail.
    let diagnostics = step(
        "on-failure.sh",
        &[("IAMSTACK_BIN", bin), ("INPUT_PROJECT", run.project())],
    )
    .await;
    assert!(diagnostics.status.success(), "{}", text(&diagnostics));
    let shown = text(&diagnostics);
    for part in [
        format!("::group::iamstack status (project {})", run.project()),
        format!("{}-keycloak", run.project()),
        format!("::group::last 100 log lines of {}-postgres", run.project()),
        format!("::group::last 100 log lines of {}-keycloak", run.project()),
    ] {
        assert!(shown.contains(&part), "`{part}` in:\n{shown}");
    }
}
