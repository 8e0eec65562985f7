//! Without an engine, `engine()` skips a test outside CI and fails it under `CI=true`. Needs no
//! Docker: the probe runs in a child process pointed at a socket that does not exist.

use std::process::Command;

/// Runs only as the child of the tests below (it returns at once otherwise).
#[tokio::test]
#[ignore = "child process of the no-engine tests"]
async fn child_engine_probe() {
    if std::env::var("IAMSTACK_SUPPORT_CHILD").as_deref() != Ok("1") {
        return;
    }
    let docker = iamstack_test_support::engine().await;
    assert!(
        docker.is_none(),
        "there is no engine at the socket we named"
    );
}

fn run_child(ci: Option<&str>) -> (bool, String) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["child_engine_probe", "--exact", "--ignored", "--nocapture"])
        .env("IAMSTACK_SUPPORT_CHILD", "1")
        .env(
            "DOCKER_HOST",
            "unix:///nonexistent/iamstack-test/docker.sock",
        );
    match ci {
        Some(v) => cmd.env("CI", v),
        None => cmd.env_remove("CI"),
    };
    let out = cmd.output().expect("run the child test");
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
