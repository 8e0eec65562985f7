//! Output modes and renderings as a user sees them.

use super::*;
use crate::cli::OutputFlag;

#[test]
fn auto_mode_is_human_only_on_a_terminal_outside_ci() {
    assert_eq!(resolve_mode(OutputFlag::Auto, true, false), Mode::Human);
    assert_eq!(resolve_mode(OutputFlag::Auto, true, true), Mode::Plain);
    assert_eq!(resolve_mode(OutputFlag::Auto, false, false), Mode::Plain);
    assert_eq!(resolve_mode(OutputFlag::Json, true, false), Mode::Json);
}

#[test]
fn the_final_block_hides_secrets_unless_given() {
    let ready = |pw: Option<&str>| Event::StackReady {
        project: "iam".into(),
        keycloak_url: "http://localhost:8080".into(),
        admin_console_url: "http://localhost:8080/admin/".into(),
        health_url: "http://127.0.0.1:9000/health/ready".into(),
        postgres_url: "postgres://keycloak@127.0.0.1:5432/keycloak".into(),
        admin_user: "admin".into(),
        admin_password: pw.map(str::to_string),
        postgres_user: "keycloak".into(),
        postgres_password: pw.map(str::to_string),
        oidc: vec![
            OidcValue {
                key: "OIDC_CLIENT_ID".into(),
                value: Some("test-client".into()),
            },
            OidcValue {
                key: "OIDC_CLIENT_SECRET".into(),
                value: pw.map(|_| "g9YAmxsq".to_string()),
            },
        ],
        elapsed_ms: 1200,
    };
    let hidden = stdout_block(&ready(None)).unwrap();
    assert!(hidden.contains("http://localhost:8080/admin/"), "{hidden}");
    assert!(hidden.contains("--show-secrets"), "{hidden}");
    assert!(!hidden.contains("kc_admin"), "{hidden}");
    assert!(
        hidden.contains("OIDC_CLIENT_ID      test-client"),
        "{hidden}"
    );
    assert!(!hidden.contains("g9YAmxsq"), "{hidden}");
    let shown = stdout_block(&ready(Some("kc_admin$123"))).unwrap();
    assert!(shown.contains("kc_admin$123"), "{shown}");
    assert!(shown.contains("g9YAmxsq"), "{shown}");
    let v = serde_json::to_value(ready(None)).unwrap();
    assert_eq!(v["event"], "stack_ready");
    assert!(v["admin_password"].is_null());
    assert_eq!(plain_line(&ready(None)), None);
}

#[test]
fn status_lines_show_state_readiness_image_ports() {
    let e = Event::Service {
        service: "keycloak".into(),
        container: "iam-keycloak".into(),
        state: "running".into(),
        ready: false,
        image: Some("keycloak/keycloak:26.2".into()),
        ports: vec!["127.0.0.1:8080->8080/tcp".into()],
        detail: Some("health: 503".into()),
    };
    let line = stdout_block(&e).unwrap();
    for part in [
        "keycloak",
        "iam-keycloak",
        "running",
        "not ready",
        "keycloak/keycloak:26.2",
        "127.0.0.1:8080->8080/tcp",
        "health: 503",
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
    assert_eq!(serde_json::to_value(&e).unwrap()["event"], "service");
}

#[test]
fn a_failed_step_finishes_with_an_error_and_a_failure_mark() {
    let e = Event::StepFailed {
        step: "wait keycloak".into(),
        elapsed_ms: 3100,
        error: "container `iam-keycloak` exited with code 1\n  | log line".into(),
    };
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["event"], "step_finished");
    assert_eq!(v["step"], "wait keycloak");
    assert!(v["error"].as_str().unwrap().contains("log line"));
    assert_eq!(
        plain_line(&e).unwrap(),
        "✗ wait keycloak (3.1 s) failed: container `iam-keycloak` exited with code 1"
    );
}

#[test]
fn events_serialize_with_a_tag() {
    let e = Event::Object {
        kind: "client".into(),
        name: "test-client".into(),
        action: Action::Updated,
        changes: vec!["redirectUris".into()],
    };
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["event"], "object");
    assert_eq!(v["action"], "updated");
    assert_eq!(
        plain_line(&e).unwrap(),
        "  client `test-client`: updated (redirectUris)"
    );
}
