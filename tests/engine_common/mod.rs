//! What the real-engine tests of the stack (`tests/engine_stack.rs`, `tests/engine_faults.rs`)
//! share: a test's context (its engine, test run and images), running the built binary, and
//! reading its output. Each test binary uses part of it.
#![allow(dead_code)]

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::StopContainerOptionsBuilder;
use bollard::Docker;
use iamstack_test_support::{images_with, TestImages, TestRun};
use serde_json::Value;

/// The double's boot delay for tests that do not test the wait itself (ignored by the official
/// image, which takes as long as it takes).
pub const QUICK_BOOT: &str = "KC_DOUBLE_BOOT_SECONDS=0.5";
/// The double's first-start schema creation, kept short for the same reason.
pub const QUICK_SCHEMA: &str = "KC_DOUBLE_SCHEMA_SECONDS=0.5";

pub struct Ctx {
    pub docker: Docker,
    pub run: TestRun,
    pub images: TestImages,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The NDJSON events (`--output json`).
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    pub fn objects(&self, kind: &str) -> Vec<(String, String)> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "object" && e["kind"] == kind)
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or_default().to_string(),
                    e["action"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    pub fn action(&self, kind: &str, name: &str) -> Option<String> {
        self.objects(kind)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub async fn setup() -> Option<Ctx> {
    let docker = iamstack_test_support::engine().await?;
    let images = images_with(&docker).await.expect("test images");
    let run = TestRun::with_engine(&docker).await;
    Some(Ctx {
        docker,
        run,
        images,
    })
}

impl Ctx {
    pub fn project(&self) -> &str {
        self.run.project()
    }

    pub fn name(&self, role: &str) -> String {
        format!("{}-{role}", self.project())
    }

    pub async fn iamstack(&self, args: &[String]) -> Out {
        self.iamstack_env(args, &[]).await
    }

    /// `iamstack` with extra environment variables.
    pub async fn iamstack_env(&self, args: &[String], env: &[(&str, &str)]) -> Out {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"));
        cmd.args(args).env("NO_COLOR", "1").kill_on_drop(true);
        for (key, _) in std::env::vars() {
            if key.starts_with("IAMSTACK_") {
                cmd.env_remove(key);
            }
        }
        // The password ledger stays under target/, not in the user's home.
        cmd.env(
            "IAMSTACK_STATE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/iamstack-state"),
        );
        cmd.envs(env.iter().copied());
        let out = cmd.output().await.expect("run iamstack");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `up` with the test defaults; a flag given in `extra` replaces its default.
    pub fn up_args(&self, extra: &[&str]) -> Vec<String> {
        let label = self.run.label_arg();
        let defaults: [(&str, &str); 12] = [
            ("--output", "json"),
            ("--project", self.project()),
            ("--label", &label),
            ("--postgres-port", "0"),
            ("--keycloak-port", "0"),
            ("--management-port", "0"),
            ("--postgres-image", &self.images.postgres),
            ("--keycloak-image", &self.images.keycloak),
            ("--pull", "never"),
            ("--timeout", "240s"),
            ("--keycloak-env", QUICK_BOOT),
            ("--keycloak-env", QUICK_SCHEMA),
        ];
        let mut args = vec!["up".to_string(), "--no-provision".to_string()];
        for (flag, value) in defaults {
            let replaced = match flag {
                // Repeatable: the test's label always stays; the boot delay can be replaced.
                "--label" => false,
                "--keycloak-env" => {
                    let knob = value.split('=').next().unwrap_or(value);
                    extra.iter().any(|a| a.starts_with(knob))
                }
                _ => extra.contains(&flag),
            };
            if !replaced {
                args.extend([flag.to_string(), value.to_string()]);
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    pub async fn up(&self, extra: &[&str]) -> Out {
        self.iamstack(&self.up_args(extra)).await
    }

    pub async fn up_ok(&self, extra: &[&str]) -> Out {
        let out = self.up(extra).await;
        assert_eq!(out.code, 0, "up failed: {}", out.describe());
        out
    }

    pub async fn down(&self, extra: &[&str]) -> Out {
        let mut args: Vec<String> = ["down", "--output", "json", "--project", self.project()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        self.iamstack(&args).await
    }

    pub async fn status(&self) -> Out {
        let args: Vec<String> = ["status", "--output", "json", "--project", self.project()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        self.iamstack(&args).await
    }

    pub async fn inspect(&self, role: &str) -> Option<ContainerInspectResponse> {
        self.docker
            .inspect_container(&self.name(role), None)
            .await
            .ok()
    }

    pub async fn stop(&self, role: &str) {
        self.docker
            .stop_container(
                &self.name(role),
                Some(StopContainerOptionsBuilder::new().t(10).build()),
            )
            .await
            .unwrap();
    }

    /// The container's whole output so far (stdout and stderr).
    pub async fn container_log(&self, role: &str) -> String {
        use futures_util::StreamExt;
        let options = bollard::query_parameters::LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .build();
        let mut stream = self.docker.logs(&self.name(role), Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&chunk.to_string());
        }
        text
    }

    pub async fn container_id(&self, role: &str) -> Option<String> {
        self.inspect(role).await.and_then(|c| c.id)
    }

    pub async fn network_exists(&self, name: &str) -> bool {
        self.docker.inspect_network(name, None).await.is_ok()
    }

    pub async fn volume_exists(&self) -> bool {
        self.docker
            .inspect_volume(&format!("{}-pgdata", self.project()))
            .await
            .is_ok()
    }

    /// The host port published for a container port, from the engine.
    pub async fn host_port(&self, role: &str, container_port: u16) -> u16 {
        let c = self.inspect(role).await.expect("container exists");
        let ports = c.network_settings.and_then(|n| n.ports).unwrap_or_default();
        let binding = ports
            .get(&format!("{container_port}/tcp"))
            .cloned()
            .flatten()
            .and_then(|b| b.into_iter().next())
            .expect("port published");
        assert_eq!(
            binding.host_ip.as_deref(),
            Some("127.0.0.1"),
            "published on loopback only"
        );
        binding
            .host_port
            .and_then(|p| p.parse().ok())
            .expect("host port")
    }

    pub async fn postgres(&self) -> tokio_postgres::Client {
        let port = self.host_port("postgres", 5432).await;
        let (client, conn) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(port)
            .user("keycloak")
            .password("keycloak$123")
            .dbname("keycloak")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("a ready Postgres accepts the login");
        tokio::spawn(conn);
        client
    }
}

/// Run `up` with `args`, send SIGINT once `at` says so about an event, and return the exit
/// code and stderr.
pub async fn interrupt_when(args: &[String], at: impl Fn(&Value) -> bool) -> (Option<i32>, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"))
        .env(
            "IAMSTACK_STATE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/iamstack-state"),
        )
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next_line().await.unwrap();
        let Some(line) = line else {
            panic!("up ended before the moment to interrupt: {seen:#?}");
        };
        let e: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        seen.push(line);
        if at(&e) {
            break;
        }
    }
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("iamstack stops after Ctrl-C")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
