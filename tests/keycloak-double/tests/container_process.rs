//! The container form run as a process (`keycloak-double`, i.e. the image's `kc.sh`): argument
//! and environment handling, `build` and the build-time options, boot, logs, database failure,
//! SIGTERM. Each test gets its own Keycloak home (`KC_DOUBLE_HOME`), where the persisted build
//! lives. The database-less cases run everywhere; the container form on PostgreSQL (persistence,
//! bootstrap admin, database failures) is covered through the engine by `engine_container.rs`.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_keycloak-double");

/// A fresh, empty Keycloak home: no build has run there.
fn fresh_home() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kc-double-home-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("home");
    dir.display().to_string()
}

fn base_env() -> HashMap<&'static str, String> {
    HashMap::from([
        ("KC_DOUBLE_HOME", fresh_home()),
        ("KC_DOUBLE_AUGMENT_SECONDS", "0.2".to_owned()),
        ("KC_DOUBLE_SCHEMA_SECONDS", "0.1".to_owned()),
        ("KC_BOOTSTRAP_ADMIN_USERNAME", "admin".to_owned()),
        ("KC_BOOTSTRAP_ADMIN_PASSWORD", "kc_admin$123".to_owned()),
        ("KC_HTTP_ENABLED", "true".to_owned()),
        ("KC_HOSTNAME", "localhost".to_owned()),
        ("KC_DOUBLE_BOOT_SECONDS", "0.3".to_owned()),
    ])
}

fn command(args: &[&str], env: &HashMap<&str, String>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn run_to_end(args: &[&str], env: &HashMap<&str, String>) -> (i32, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(30), command(args, env).output())
        .await
        .expect("exits in time")
        .expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn other_commands_are_usage_errors_with_exit_code_2() {
    let (code, _, stderr) = run_to_end(&["serve"], &base_env()).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("Unmatched argument at index 0: 'serve'"),
        "{stderr}"
    );
}

#[tokio::test]
async fn production_start_without_hostname_fails_like_keycloak() {
    let mut env = base_env();
    env.remove("KC_HOSTNAME");
    let (code, stdout, stderr) = run_to_end(&["start"], &env).await;
    assert_eq!(code, 1);
    assert!(
        stdout.contains("Changes detected in configuration. Updating the server image."),
        "{stdout}"
    );
    assert!(
        stderr.contains("ERROR: Failed to start server in (production) mode"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ERROR: hostname is not configured; either configure hostname, or set hostname-strict to false"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_unreachable_database_exits_1_with_jdbc_lines() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut env = base_env();
    env.insert("KC_DB", "postgres".into());
    env.insert(
        "KC_DB_URL",
        format!("jdbc:postgresql://127.0.0.1:{port}/keycloak"),
    );
    env.insert("KC_DB_USERNAME", "keycloak".into());
    env.insert("KC_DB_PASSWORD", "keycloak$123".into());
    // No build in this home: `start --optimized` would refuse to run, so the auto-build runs first.
    let (code, _, stderr) = run_to_end(&["start"], &env).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("ERROR: Failed to start server in (production) mode"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ERROR: Failed to obtain JDBC connection"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("Connection to 127.0.0.1:{port} refused")),
        "{stderr}"
    );
}

/// A started process, its stdout lines as they come, and its ports.
struct Started {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    http: u16,
    management: Option<u16>,
}

async fn start(args: &[&str], env: &HashMap<&str, String>) -> Started {
    let mut child = command(args, env).spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, mut lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let started = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.recv().await {
            seen.push(line.clone());
            if line.contains("Listening on: http://0.0.0.0:") {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("starts in time")
    .unwrap_or_else(|| panic!("exited before listening: {seen:?}"));
    let port_after = |marker: &str| -> Option<u16> {
        let rest = started.split(marker).nth(1)?;
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    Started {
        http: port_after("Listening on: http://0.0.0.0:").expect("http port"),
        management: port_after("Management interface listening on http://0.0.0.0:"),
        child,
        lines,
        seen,
    }
}

impl Started {
    async fn wait_for_line(&mut self, needle: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("stdout closed before {needle:?}: {:?}", self.seen)
        })
        .await
        .unwrap_or_else(|_| panic!("no line with {needle:?}: {:?}", self.seen))
    }

    /// Sends SIGTERM (as `docker stop` does) and returns the exit code and how long it took.
    async fn terminate(mut self) -> (Option<i32>, Duration) {
        let pid = self.child.id().expect("pid");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let t = std::time::Instant::now();
        let exit = tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .expect("stops in time")
            .expect("wait");
        (exit.code(), t.elapsed())
    }
}

#[tokio::test]
async fn start_serves_logs_each_request_and_stops_on_sigterm() {
    let mut env = base_env();
    env.insert("KC_HEALTH_ENABLED", "true".into());
    let mut kc = start(
        &["start", "--http-port=0", "--http-management-port=0"],
        &env,
    )
    .await;
    let stdout = kc.seen.join("\n");
    assert!(
        stdout.contains("Changes detected in configuration. Updating the server image."),
        "{stdout}"
    );
    assert!(
        stdout.contains("KC-SERVICES0077: Created temporary admin user with username admin"),
        "{stdout}"
    );
    let management = kc.management.expect("management interface announced");

    let http = reqwest::Client::new();
    let token = http
        .post(format!(
            "http://127.0.0.1:{}/realms/master/protocol/openid-connect/token",
            kc.http
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "admin"),
            ("password", "kc_admin$123"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(token.status(), 200);
    let body: Value = token.json().await.expect("json");
    assert_eq!(body["expires_in"], 60);
    let line = kc
        .wait_for_line("\"POST /realms/master/protocol/openid-connect/token\" 200")
        .await;
    assert!(line.contains("127.0.0.1"), "{line}");

    let ready = http
        .get(format!("http://127.0.0.1:{management}/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);

    let (code, took) = kc.terminate().await;
    // The exit code is the contract; the time is a note (timings never go in assertions).
    assert_eq!(code, Some(0));
    eprintln!("stopped {} ms after SIGTERM", took.as_millis());
}

#[tokio::test]
async fn without_health_enabled_nothing_listens_on_the_management_port() {
    let kc = start(&["start-dev", "--http-port=0"], &base_env()).await;
    assert_eq!(kc.management, None);
    let stdout = kc.seen.join("\n");
    assert!(
        !stdout.contains("Changes detected in configuration"),
        "start-dev does not re-augment"
    );
    let (code, _) = kc.terminate().await;
    assert_eq!(code, Some(0));
}

/// `kc.sh build` with these variables; asserts it succeeded and returns its stdout.
async fn build(env: &HashMap<&str, String>) -> String {
    let (code, stdout, stderr) = run_to_end(&["build"], env).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    stdout
}

#[tokio::test]
async fn build_then_optimized_start_uses_the_persisted_options_without_augmenting() {
    let mut env = base_env();
    env.insert("KC_HEALTH_ENABLED", "true".into());
    let out = build(&env).await;
    for line in [
        "Updating the configuration and installing your custom providers, if any. Please wait.",
        "Quarkus augmentation completed in",
        "Server configuration updated and persisted.",
        "WARNING: The following run time options were found, but will be ignored during build time: kc.bootstrap-admin-username",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
    assert!(!out.contains("Next time you run the server"), "{out}");

    // The same value again, then no value at all: both start from the persisted build.
    for health in [Some("true"), None] {
        let mut env = env.clone();
        if health.is_none() {
            env.remove("KC_HEALTH_ENABLED");
        }
        let args = [
            "start",
            "--optimized",
            "--http-port=0",
            "--http-management-port=0",
        ];
        let kc = start(&args, &env).await;
        let stdout = kc.seen.join("\n");
        assert!(!stdout.contains("Updating the"), "{stdout}");
        assert!(!stdout.contains("Changes detected"), "{stdout}");
        assert!(
            kc.management.is_some(),
            "health stays on as built: {stdout}"
        );
        let (code, _) = kc.terminate().await;
        assert_eq!(code, Some(0));
    }
}

#[tokio::test]
async fn optimized_start_refuses_build_time_values_that_differ_from_the_build() {
    let mut env = base_env();
    env.insert("KC_HEALTH_ENABLED", "true".into());
    build(&env).await;
    for (var, value, key) in [
        ("KC_HEALTH_ENABLED", "false", "kc.health-enabled"),
        ("KC_DB", "postgres", "kc.db"),
    ] {
        let mut env = env.clone();
        env.insert(var, value.into());
        let (code, stdout, stderr) = run_to_end(&["start", "--optimized"], &env).await;
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!("ERROR: The following build time options have values that differ from what is persisted - the new values will NOT be used until another build is run: {key}")),
            "{stderr}"
        );
        assert!(!stdout.contains("Listening on"), "{stdout}");
    }
    // On the command line a build-time option is refused with --optimized, whatever its value.
    let (code, _, stderr) =
        run_to_end(&["start", "--optimized", "--health-enabled=true"], &env).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "Build time option: '--health-enabled' not usable with pre-built image and --optimized"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn optimized_start_without_any_build_fails() {
    let (code, stdout, stderr) = run_to_end(&["start", "--optimized"], &base_env()).await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("The '--optimized' flag was used for first ever server start. Please don't use this flag for the first startup or use 'kc.sh build' to build the server first."),
        "{stderr}"
    );
}

#[tokio::test]
async fn start_augments_once_and_a_restart_with_the_same_options_does_not() {
    let mut env = base_env();
    env.insert("KC_HEALTH_ENABLED", "true".into());
    let args = ["start", "--http-port=0", "--http-management-port=0"];
    let first = start(&args, &env).await;
    let stdout = first.seen.join("\n");
    assert!(
        stdout.contains("Changes detected in configuration. Updating the server image."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Quarkus augmentation completed in"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\tkc.sh start --http-port=0 --http-management-port=0 --optimized"),
        "{stdout}"
    );
    first.terminate().await;

    let second = start(&args, &env).await;
    let stdout = second.seen.join("\n");
    assert!(!stdout.contains("Changes detected"), "{stdout}");
    assert!(!stdout.contains("Updating the"), "{stdout}");
    second.terminate().await;

    // A changed build-time option augments again.
    env.insert("KC_HEALTH_ENABLED", "false".into());
    let third = start(&["start", "--http-port=0"], &env).await;
    assert!(
        third.seen.iter().any(|l| l.contains("Changes detected")),
        "{:?}",
        third.seen
    );
    third.terminate().await;
}

#[tokio::test]
async fn build_refuses_run_time_options_on_the_command_line() {
    let (code, _, stderr) = run_to_end(&["build", "--hostname=kc.example"], &base_env()).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("Run time option: '--hostname' not usable with build"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_start_without_state_creates_the_schema_first() {
    let kc = start(&["start-dev", "--http-port=0"], &base_env()).await;
    let schema = kc
        .seen
        .iter()
        .position(|l| l.contains("[org.keycloak.quarkus.runtime.storage.database.liquibase.QuarkusJpaUpdaterProvider] (main) Initializing database schema. Using changelog META-INF/jpa-changelog-master.xml"))
        .unwrap_or_else(|| panic!("no schema line: {:?}", kc.seen));
    let realm = kc
        .seen
        .iter()
        .position(|l| l.contains("KC-SERVICES0050: Initializing master realm"))
        .expect("master realm line");
    assert!(schema < realm, "{:?}", kc.seen);
    kc.terminate().await;
}
