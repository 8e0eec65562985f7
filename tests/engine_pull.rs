//! Real pulls: the test images pushed under the official repository names into a registry on
//! loopback (Debian's `docker-registry`, started by the test), then `up` pulling them through
//! this machine's engine: both at once, with byte progress (JSON events; a terminal's bars,
//! under a pseudo-terminal); an unknown tag; a registry that goes away mid-pull and a re-run
//! that completes it; a registry that needs a login. Without `docker-registry` the tests skip,
//! and fail under `CI=true` (`.ci/run` installs it).

use std::time::Duration;

use iamstack_test_support::local_registry::{build_with_random_layer, LocalRegistry};
use serde_json::Value;

mod engine_common;
use engine_common::{interrupt_when, setup, Ctx, Out};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

async fn registry(credentials: Option<(&str, &str)>) -> Option<LocalRegistry> {
    let started = LocalRegistry::start(credentials)
        .await
        .expect("registry starts");
    if started.is_none() {
        assert!(
            !in_ci(),
            "docker-registry is not installed (.ci/run installs it)"
        );
        eprintln!("skipped: docker-registry is not installed");
    }
    started
}

/// Push Postgres with a 1 KiB random layer (`library/postgres:17.4`) and Keycloak with a fresh
/// random layer of `mib` MiB (`keycloak/keycloak:<tag>`), so its pull downloads that layer for
/// real; neither reference stays on the engine. Both carry the test-run label, so what `up`
/// pulls (and builds from them) is swept with the test. The two references.
async fn publish(ctx: &Ctx, reg: &LocalRegistry, tag: &str, mib: usize) -> (String, String) {
    let local_postgres = format!("iamstack-test/pull-{}-postgres:{tag}", ctx.project());
    build_with_random_layer(
        &ctx.docker,
        &ctx.images.postgres,
        &local_postgres,
        1 << 10,
        &ctx.run.labels(),
    )
    .await
    .expect("build the postgres test image");
    let postgres = reg
        .push(&ctx.docker, &local_postgres, "library/postgres", "17.4")
        .await
        .expect("push postgres");
    reg.forget_locally(&ctx.docker, &local_postgres)
        .await
        .unwrap();
    let local = format!("iamstack-test/pull-{}:{tag}", ctx.project());
    build_with_random_layer(
        &ctx.docker,
        &ctx.images.keycloak,
        &local,
        mib << 20,
        &ctx.run.labels(),
    )
    .await
    .expect("build the keycloak test image");
    let keycloak = reg
        .push(&ctx.docker, &local, "keycloak/keycloak", tag)
        .await
        .expect("push keycloak");
    reg.forget_locally(&ctx.docker, &local).await.unwrap();
    (postgres, keycloak)
}

fn images(postgres: &str, keycloak: &str) -> Vec<String> {
    [
        "--postgres-image",
        postgres,
        "--keycloak-image",
        keycloak,
        "--pull",
        "missing",
    ]
    .map(String::from)
    .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The largest (downloaded, total) reported for `image`.
fn pulled_bytes(out: &Out, image: &str) -> (u64, u64) {
    out.events()
        .into_iter()
        .filter(|e| e["event"] == "pull" && e["image"] == image)
        .map(|e| {
            (
                e["downloaded"].as_u64().unwrap_or(0),
                e["total"].as_u64().unwrap_or(0),
            )
        })
        .max()
        .unwrap_or((0, 0))
}

#[tokio::test]
async fn up_pulls_both_images_from_a_registry_with_byte_progress() {
    let Some(ctx) = setup().await else { return };
    let Some(reg) = registry(None).await else {
        return;
    };

    // On a terminal (a pseudo-terminal through `script`): byte bars.
    let (postgres, keycloak) = publish(&ctx, &reg, "26.2-tty", 16).await;
    let mut args = ctx.up_args(&strs(&images(&postgres, &keycloak)));
    if let Some(i) = args.iter().position(|a| a == "--output") {
        args[i + 1] = "human".into();
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_iamstack").to_string())
        .chain(args)
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let tty = tokio::process::Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env(
            "IAMSTACK_STATE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/iamstack-state"),
        )
        .output()
        .await
        .expect("script runs");
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{screen}");
    assert!(
        screen.contains(&keycloak) && screen.contains("MiB/"),
        "a byte bar for the pull: {screen}"
    );

    // In JSON mode: `pull` events with the bytes, for both images, pulled at once.
    let (postgres, keycloak) = publish(&ctx, &reg, "26.2-json", 16).await;
    let up = ctx.up(&strs(&images(&postgres, &keycloak))).await;
    assert_eq!(up.code, 0, "{}", up.describe());
    let (downloaded, total) = pulled_bytes(&up, &keycloak);
    assert!(
        total >= 16 << 20 && downloaded > 0,
        "the random layer's bytes: {downloaded}/{total}\n{}",
        up.describe()
    );
    let steps: Vec<String> = up
        .events()
        .into_iter()
        .filter(|e| e["event"] == "step_finished")
        .filter_map(|e| e["step"].as_str().map(str::to_string))
        .collect();
    for image in [&postgres, &keycloak] {
        assert!(steps.contains(&format!("pull {image}")), "{steps:?}");
    }
    // Keycloak runs the optimized image `up` built from the pulled one.
    let running = ctx
        .inspect("keycloak")
        .await
        .and_then(|c| c.config)
        .and_then(|c| c.image)
        .expect("Keycloak's image");
    let pulled_id = ctx.docker.inspect_image(&keycloak).await.unwrap().id;
    let built = ctx.docker.inspect_image(&running).await.unwrap();
    let labels = built.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        labels.get("dev.iamstack.base-image"),
        Some(&keycloak),
        "{running}"
    );
    assert_eq!(labels.get("dev.iamstack.base-image-id"), pulled_id.as_ref());
    // The build inherits the test image's test-run label: the sweep removes it.
}

#[tokio::test]
async fn an_unknown_tag_is_exit_9_with_the_image_and_the_registrys_answer() {
    let Some(ctx) = setup().await else { return };
    let Some(reg) = registry(None).await else {
        return;
    };
    let (postgres, _) = publish(&ctx, &reg, "26.2-known", 1).await;
    let unknown = format!("{}/keycloak/keycloak:no-such-tag", reg.host());
    let up = ctx.up(&strs(&images(&postgres, &unknown))).await;
    assert_eq!(up.code, 9, "{}", up.describe());
    assert!(
        up.stderr
            .contains(&format!("failed to pull image `{unknown}`"))
            && up.stderr.contains("manifest unknown")
            && up.stderr.contains("--keycloak-image"),
        "{}",
        up.stderr
    );
    assert!(ctx.inspect("keycloak").await.is_none(), "nothing half-made");
}

/// A TCP proxy in front of the registry that passes at most `rate` bytes a second and can be
/// cut: the registry "goes away" in the middle of a pull.
struct SlowLink {
    port: u16,
    upstream: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl SlowLink {
    async fn open(port: u16, upstream: String) -> SlowLink {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: std::sync::Arc<std::sync::Mutex<Vec<_>>> = Default::default();
        let (up, t) = (upstream.clone(), tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let up = up.clone();
                t.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(server) = tokio::net::TcpStream::connect(&up).await {
                        relay(client, server).await;
                    }
                }));
            }
        });
        tasks.lock().unwrap().push(accept);
        SlowLink {
            port,
            upstream,
            tasks,
        }
    }

    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

/// Both directions; the registry's answers at about 4 MiB/s.
async fn relay(client: tokio::net::TcpStream, server: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
    };
    let down = async move {
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = sr.read(&mut buf).await {
            if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(16)).await;
        }
    };
    tokio::join!(up, down);
}

#[tokio::test]
async fn a_registry_that_goes_away_mid_pull_is_a_clear_error_and_a_rerun_completes_it() {
    let Some(ctx) = setup().await else { return };
    let Some(reg) = registry(None).await else {
        return;
    };
    let (postgres, _) = publish(&ctx, &reg, "26.2-base", 1).await;
    let link = SlowLink::open(0, reg.host()).await;
    // 24 MiB at ~4 MiB/s: about six seconds.
    let (_, direct) = publish(&ctx, &reg, "26.2-slow", 24).await;
    let keycloak = direct.replacen(&reg.host(), &format!("127.0.0.1:{}", link.port), 1);
    let args = images(&postgres, &keycloak);
    let extra = strs(&args);
    // Cut the link as soon as `up` reports bytes of the Keycloak layer, whatever the load.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"))
        .args(ctx.up_args(&extra))
        .env(
            "IAMSTACK_STATE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/iamstack-state"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = (0, 0);
    while let Some(line) = lines.next_line().await.unwrap() {
        let e: Value = serde_json::from_str(&line).unwrap_or_default();
        if e["event"] == "pull" && e["image"] == keycloak {
            last = (
                e["downloaded"].as_u64().unwrap_or(0),
                e["total"].as_u64().unwrap_or(0),
            );
            if last.0 > 0 {
                link.cut();
                break;
            }
        }
    }
    while lines.next_line().await.unwrap().is_some() {}
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert!(
        stderr.contains(&format!("failed to pull image `{keycloak}`")),
        "{stderr}"
    );
    assert!(last.0 < last.1, "cut mid-pull: {last:?}");
    assert!(ctx.inspect("keycloak").await.is_none(), "nothing half-made");

    // The registry is back: the re-run completes the pull and the stack.
    let link = SlowLink::open(link.port, link.upstream.clone()).await;
    let again = ctx.up(&extra).await;
    link.cut();
    assert_eq!(again.code, 0, "{}", again.describe());
    assert!(ctx.inspect("keycloak").await.is_some());
}

#[tokio::test]
async fn a_registry_that_needs_a_login_is_pulled_with_the_docker_clis_credentials() {
    let Some(ctx) = setup().await else { return };
    let Some(reg) = registry(Some(("ci-bot", "s3cret-pull"))).await else {
        return;
    };
    let (postgres, keycloak) = publish(&ctx, &reg, "26.2-auth", 1).await;
    let config = std::path::PathBuf::from(format!(
        "{}/docker-config-{}",
        env!("CARGO_TARGET_TMPDIR"),
        ctx.project()
    ));
    std::fs::create_dir_all(&config).unwrap();
    let dir = config.to_str().unwrap().to_string();
    let args = ctx.up_args(&strs(&images(&postgres, &keycloak)));

    // No credentials: exit 9, and what to run.
    std::fs::write(config.join("config.json"), "{}").unwrap();
    let refused = ctx.iamstack_env(&args, &[("DOCKER_CONFIG", &dir)]).await;
    assert_eq!(refused.code, 9, "{}", refused.describe());
    assert!(
        refused
            .stderr
            .contains(&format!("docker login {}", reg.host())),
        "{}",
        refused.stderr
    );

    // `docker login` would have written this: the pull goes through, the secret is not shown.
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("ci-bot:s3cret-pull");
    let json: Value = serde_json::json!({"auths": {reg.host(): {"auth": auth}}});
    std::fs::write(config.join("config.json"), json.to_string()).unwrap();
    let up = ctx.iamstack_env(&args, &[("DOCKER_CONFIG", &dir)]).await;
    assert_eq!(up.code, 0, "{}", up.describe());
    assert!(!up.stdout.contains("s3cret") && !up.stderr.contains("s3cret"));
    std::fs::remove_dir_all(&config).ok();
}

#[tokio::test]
async fn ctrl_c_during_a_pull_stops_it_with_nothing_created_and_a_rerun_converges() {
    let Some(ctx) = setup().await else { return };
    let Some(reg) = registry(None).await else {
        return;
    };
    let (postgres, _) = publish(&ctx, &reg, "26.2-base", 1).await;
    let link = SlowLink::open(0, reg.host()).await;
    let (_, direct) = publish(&ctx, &reg, "26.2-interrupted", 24).await;
    let keycloak = direct.replacen(&reg.host(), &format!("127.0.0.1:{}", link.port), 1);
    let args = ctx.up_args(&strs(&images(&postgres, &keycloak)));
    let pulling = |e: &Value| {
        e["event"] == "pull" && e["image"] == keycloak && e["downloaded"].as_u64() > Some(0)
    };
    let (code, stderr) = interrupt_when(&args, pulling).await;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        ctx.inspect("postgres").await.is_none(),
        "nothing was created"
    );
    let again = ctx.up(&strs(&images(&postgres, &keycloak))).await;
    link.cut();
    assert_eq!(again.code, 0, "{}", again.describe());
}
