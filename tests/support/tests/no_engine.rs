//! Without an engine, `engine()` skips a test outside CI and fails it under `CI=true`. Needs no
//! Docker: the probe (`src/bin/no-engine-probe.rs`) runs as a child process pointed at a socket
//! that does not exist.

use std::process::Command;

fn run_child(ci: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_no-engine-probe"));
    cmd.env(
        "DOCKER_HOST",
        "unix:///nonexistent/iamstack-test/docker.sock",
    );
    match ci {
        Some(v) => cmd.env("CI", v),
        None => cmd.env_remove("CI"),
    };
    let out = cmd.output().expect("run the probe");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn without_an_engine_a_docker_test_skips_outside_ci() {
    let (ok, output) = run_child(None);
    assert!(ok, "{output}");
    assert!(output.contains("skipped: no Docker engine"), "{output}");
    assert!(
        output.contains("/nonexistent/iamstack-test/docker.sock"),
        "{output}"
    );
}

#[test]
fn without_an_engine_a_docker_test_fails_in_ci() {
    let (ok, output) = run_child(Some("true"));
    assert!(!ok, "the child passed under CI=true:\n{output}");
    assert!(
        output.contains("CI is set and there is no usable Docker engine"),
        "{output}"
    );
}
