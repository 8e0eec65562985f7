//! CLI tests of the built binary: help, exit codes and error messages for bad input.
//! None of these reach a Docker engine: DOCKER_HOST points at a socket that does not exist,
//! so a test that wrongly got as far as the engine would see exit 3 instead of what it expects.

use std::process::{Command, Output};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn iamstack(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = format!("unix://{}/no-docker.sock", dir.path().display());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamstack"));
    cmd.args(args)
        .env("DOCKER_HOST", &socket)
        .env("NO_COLOR", "1");
    // The user's own settings must not leak into these tests.
    for (key, _) in std::env::vars() {
        if key.starts_with("IAMSTACK_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("IAMSTACK_STATE_DIR", dir.path());
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run iamstack");
    Run {
        code: status.code().expect("exited normally"),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

#[test]
fn help_lists_every_command() {
    let r = iamstack(&["--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for cmd in [
        "up", "down", "status", "apply", "verify", "token", "logs", "demo", "env", "schema",
    ] {
        assert!(
            r.stdout.lines().any(|l| l.trim_start().starts_with(cmd)),
            "`{cmd}` missing from help:\n{}",
            r.stdout
        );
    }
}

#[test]
fn up_help_documents_ports_images_and_pull_policy() {
    let r = iamstack(&["up", "--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for flag in [
        "--postgres-port",
        "--keycloak-port",
        "--management-port",
        "--postgres-image",
        "--keycloak-image",
        "--pull",
        "--data-dir",
        "--bind-address",
        "--timeout",
        "--label",
        "--show-secrets",
        "--no-provision",
        "--dry-run",
        "IAMSTACK_POSTGRES_PORT",
    ] {
        assert!(r.stdout.contains(flag), "{flag} missing from `up --help`");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["up", "--no-such-flag"][..],
        &["up", "--timeout", "5 minutes"],
        &["up", "--label", "novalue"],
        &["up", "--pull", "sometimes"],
        &["up", "--postgres-port", "70000"],
        &["down", "--bogus"],
        &[],
    ] {
        let r = iamstack(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
}

#[test]
fn an_unreachable_engine_exits_3_naming_the_socket_and_the_fix() {
    for cmd in ["up", "down", "status"] {
        let r = iamstack(&[cmd, "--project", "cli-test"]);
        assert_eq!(r.code, 3, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("no-docker.sock"), "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("DOCKER_HOST"), "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("start Docker"), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn a_public_bind_address_with_default_passwords_exits_7() {
    let r = iamstack(&["up", "--bind-address", "0.0.0.0"]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(r.stderr.contains("0.0.0.0"), "{}", r.stderr);
    assert!(r.stderr.contains("default passwords"), "{}", r.stderr);
    // With both passwords set, configuration passes and the (missing) engine is next.
    let r = iamstack(&[
        "up",
        "--bind-address",
        "0.0.0.0",
        "--postgres-password",
        "not-the-default",
        "--admin-password",
        "not-the-default-either",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

#[test]
fn invalid_configuration_exits_7_before_touching_the_engine() {
    let cases: &[(&[&str], &str)] = &[
        (&["up", "--project", "Bad Name"], "invalid project name"),
        (&["down", "--project=-x"], "invalid project name"),
        (
            &["up", "--env-file", "/nonexistent/vars.env"],
            "/nonexistent/vars.env",
        ),
        (&["up", "--keycloak-port", "9000"], "--management-port"),
        (&["up", "--label", "dev.iamstack.stack=other"], "reserved"),
        (&["up", "--postgres-image", ""], "--postgres-image"),
        (&["up", "--data-dir", "/srv/pg:data"], "contains `:`"),
        (&["up", "--data-dir", "/etc/hostname"], "is not a directory"),
    ];
    for (args, needle) in cases {
        let r = iamstack(args);
        assert_eq!(r.code, 7, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn a_broken_env_file_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vars.env");
    std::fs::write(&file, "POSTGRES_PASSWORD=ok\nthis line is broken\n").unwrap();
    let r = iamstack(&["up", "--env-file", file.to_str().unwrap()]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(r.stderr.contains("vars.env:2"), "{}", r.stderr);
}

#[test]
fn json_output_is_one_event_per_line_on_stdout() {
    let r = iamstack(&["up", "--output", "json", "--project", "cli-json"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert_eq!(
        events.first().map(|e| e["event"].clone()),
        Some("step_started".into())
    );
    assert_eq!(events[0]["step"], "connect");
    // The error itself goes to stderr, not into the event stream.
    assert!(
        r.stderr.contains("cannot reach the Docker engine"),
        "{}",
        r.stderr
    );
}

#[test]
fn plain_output_keeps_stdout_clean_on_failure() {
    let r = iamstack(&["up", "--output", "plain", "--project", "cli-plain"]);
    assert_eq!(r.code, 3);
    assert_eq!(r.stdout, "", "progress belongs on stderr");
    assert!(r.stderr.contains("- connect ..."), "{}", r.stderr);
}

#[test]
fn schema_prints_the_realm_file_schema_editors_find_beside_the_builtin_realm() {
    let r = iamstack(&["schema"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let schema: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(schema["x-keycloak"]["version"], "26.2");
    assert!(schema["$defs"]["ClientRepresentation"]["properties"]["redirectUris"].is_object());
    // The same file the built-in realm names for editors, relative to it.
    let committed = include_str!("../realm/realm.schema.json");
    assert_eq!(r.stdout, committed);
    let builtin = include_str!("../realm/testing.yaml");
    assert_eq!(
        builtin.lines().next(),
        Some("# yaml-language-server: $schema=realm.schema.json")
    );
}
