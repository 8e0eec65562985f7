//! Real-engine tests of `iamstack up / down / status`: the built binary against this machine's
//! Docker engine, on the official images when present, else the offline stand-ins (the test
//! support builds them). Each test has its own project and test-run label, publishes on
//! engine-chosen ports, and sweeps by its label before and after (also on panic).

use std::time::Duration;

use bollard::query_parameters::CreateContainerOptionsBuilder;
use serde_json::Value;

mod engine_common;
use engine_common::{setup, Ctx, Out};

fn step_ms(out: &Out, step: &str) -> Option<u64> {
    out.events()
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == step)
        .and_then(|e| e["elapsed_ms"].as_u64())
}

#[tokio::test]
async fn up_from_nothing_is_ready_then_up_again_changes_nothing() {
    let Some(ctx) = setup().await else { return };
    let up = ctx.up_ok(&[]).await;

    // Everything was created, labelled, and published on loopback.
    assert_eq!(
        up.action("container", &ctx.name("postgres")).as_deref(),
        Some("created")
    );
    assert_eq!(
        up.action("container", &ctx.name("keycloak")).as_deref(),
        Some("created")
    );
    assert_eq!(
        up.action("network", &format!("{}-net", ctx.project()))
            .as_deref(),
        Some("created")
    );
    assert_eq!(
        up.action("volume", &format!("{}-pgdata", ctx.project()))
            .as_deref(),
        Some("created")
    );
    for role in ["postgres", "keycloak"] {
        let labels = ctx
            .inspect(role)
            .await
            .unwrap()
            .config
            .unwrap()
            .labels
            .unwrap();
        assert_eq!(labels["dev.iamstack.stack"], ctx.project());
        assert_eq!(labels["dev.iamstack.role"], role);
        assert!(labels.contains_key("dev.iamstack.config-hash"));
        assert_eq!(labels["dev.iamstack.test-run"], ctx.run.id());
    }
    let ready = up
        .events()
        .into_iter()
        .find(|e| e["event"] == "stack_ready")
        .unwrap_or_else(|| panic!("no stack_ready event: {}", up.describe()));
    // Not a terminal and no --show-secrets: no secrets in the output.
    assert!(ready["admin_password"].is_null());
    assert!(!up.stdout.contains("kc_admin$123") && !up.stderr.contains("kc_admin$123"));

    // Ready means ready: a login works, and health answers UP, on the ports read back.
    let pg = ctx.postgres().await;
    let one: i32 = pg.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    let mgmt = ctx.host_port("keycloak", 9000).await;
    assert_eq!(
        ready["health_url"],
        format!("http://127.0.0.1:{mgmt}/health/ready")
    );
    let health: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{mgmt}/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "UP");

    let status = ctx.status().await;
    assert_eq!(status.code, 0, "{}", status.describe());
    let services: Vec<Value> = status.events();
    assert_eq!(services.len(), 2);
    for s in &services {
        assert_eq!(s["state"], "running", "{s}");
        assert_eq!(s["ready"], true, "{s}");
        assert!(
            s["ports"][0].as_str().unwrap().starts_with("127.0.0.1:"),
            "{s}"
        );
    }

    // Again: nothing is created, recreated or started.
    let ids = (
        ctx.container_id("postgres").await,
        ctx.container_id("keycloak").await,
    );
    let again = ctx.up_ok(&[]).await;
    for (kind, name, action) in again
        .objects("container")
        .into_iter()
        .map(|(n, a)| ("container", n, a))
        .chain(
            again
                .objects("network")
                .into_iter()
                .map(|(n, a)| ("network", n, a)),
        )
        .chain(
            again
                .objects("volume")
                .into_iter()
                .map(|(n, a)| ("volume", n, a)),
        )
    {
        assert_eq!(
            action, "unchanged",
            "{kind} {name} changed on a ready stack"
        );
    }
    assert_eq!(again.objects("container").len(), 2);
    assert_eq!(
        (
            ctx.container_id("postgres").await,
            ctx.container_id("keycloak").await
        ),
        ids,
        "containers were replaced"
    );
    eprintln!(
        "timings: first up wait postgres {:?} ms, wait keycloak {:?} ms; second up wait keycloak {:?} ms",
        step_ms(&up, "wait postgres"),
        step_ms(&up, "wait keycloak"),
        step_ms(&again, "wait keycloak")
    );
}

#[tokio::test]
async fn down_keeps_data_unless_asked_is_idempotent_and_data_survives() {
    let Some(ctx) = setup().await else { return };
    ctx.up_ok(&[]).await;
    let pg = ctx.postgres().await;
    pg.batch_execute("CREATE TABLE marker (v text); INSERT INTO marker VALUES ('kept');")
        .await
        .unwrap();
    drop(pg);

    let down = ctx.down(&[]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    assert!(ctx.inspect("postgres").await.is_none() && ctx.inspect("keycloak").await.is_none());
    assert!(
        !ctx.network_exists(&format!("{}-net", ctx.project())).await,
        "our network is removed"
    );
    assert!(ctx.volume_exists().await, "data is kept without --volumes");
    let status = ctx.status().await;
    assert_eq!(
        status.code,
        5,
        "status of a stopped stack: {}",
        status.describe()
    );
    assert!(status.events().iter().all(|s| s["state"] == "missing"));

    let again = ctx.down(&[]).await;
    assert_eq!(again.code, 0, "second down: {}", again.describe());
    assert!(ctx.volume_exists().await);

    // Data survives down/up.
    ctx.up_ok(&[]).await;
    let pg = ctx.postgres().await;
    let v: String = pg
        .query_one("SELECT v FROM marker", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "kept");
    drop(pg);

    let gone = ctx.down(&["--volumes"]).await;
    assert_eq!(gone.code, 0, "{}", gone.describe());
    assert_eq!(
        gone.action("volume", &format!("{}-pgdata", ctx.project()))
            .as_deref(),
        Some("removed")
    );
    assert_eq!(
        ctx.run.leftovers(&ctx.docker).await.unwrap(),
        Vec::<String>::new()
    );
    let twice = ctx.down(&["--volumes"]).await;
    assert_eq!(twice.code, 0, "{}", twice.describe());
}

#[tokio::test]
async fn up_completes_a_partial_stack_and_reuses_a_foreign_network() {
    let Some(ctx) = setup().await else { return };
    // A network of our name that iamstack did not create (as after following the reference by
    // hand): reused, never removed.
    let net = format!("{}-net", ctx.project());
    ctx.docker
        .create_network(bollard::models::NetworkCreateRequest {
            name: net.clone(),
            labels: Some(ctx.run.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    let up = ctx.up_ok(&[]).await;
    assert_eq!(up.action("network", &net).as_deref(), Some("unchanged"));

    // Partial: Keycloak gone, Postgres stopped.
    let pg_id = ctx.container_id("postgres").await;
    ctx.docker
        .remove_container(
            &ctx.name("keycloak"),
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .build(),
            ),
        )
        .await
        .unwrap();
    ctx.stop("postgres").await;
    let status = ctx.status().await;
    assert_eq!(status.code, 5, "{}", status.describe());

    let completed = ctx.up_ok(&[]).await;
    assert_eq!(
        completed
            .action("container", &ctx.name("postgres"))
            .as_deref(),
        Some("updated")
    );
    assert_eq!(
        completed
            .action("container", &ctx.name("keycloak"))
            .as_deref(),
        Some("created")
    );
    assert_eq!(
        ctx.container_id("postgres").await,
        pg_id,
        "the stopped Postgres is started, not replaced"
    );
    assert_eq!(ctx.status().await.code, 0);

    let down = ctx.down(&["--volumes"]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    assert!(
        ctx.network_exists(&net).await,
        "a network iamstack did not create survives down"
    );
}

#[tokio::test]
async fn a_changed_setting_recreates_only_that_container_and_keeps_data() {
    let Some(ctx) = setup().await else { return };
    ctx.up_ok(&[]).await;
    let pg = ctx.postgres().await;
    pg.batch_execute("CREATE TABLE marker (v text); INSERT INTO marker VALUES ('kept');")
        .await
        .unwrap();
    drop(pg);
    let pg_id = ctx.container_id("postgres").await;
    let kc_id = ctx.container_id("keycloak").await;

    let changed = ctx.up_ok(&["--hostname", "kc.example.test"]).await;
    assert_eq!(
        changed
            .action("container", &ctx.name("postgres"))
            .as_deref(),
        Some("unchanged")
    );
    assert_eq!(
        changed
            .action("container", &ctx.name("keycloak"))
            .as_deref(),
        Some("updated")
    );
    assert_eq!(ctx.container_id("postgres").await, pg_id);
    assert_ne!(ctx.container_id("keycloak").await, kc_id);
    let env = ctx
        .inspect("keycloak")
        .await
        .unwrap()
        .config
        .unwrap()
        .env
        .unwrap();
    assert!(
        env.contains(&"KC_HOSTNAME=kc.example.test".to_string()),
        "{env:?}"
    );

    // A Postgres setting: Postgres is recreated on the same volume, the data is still there.
    let kc_id = ctx.container_id("keycloak").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let changed = ctx
        .up_ok(&[
            "--hostname",
            "kc.example.test",
            "--postgres-port",
            &port.to_string(),
        ])
        .await;
    assert_eq!(
        changed
            .action("container", &ctx.name("postgres"))
            .as_deref(),
        Some("updated")
    );
    assert_ne!(ctx.container_id("postgres").await, pg_id);
    // Keycloak keeps its container; it is only restarted to reconnect to the new database.
    assert_eq!(ctx.container_id("keycloak").await, kc_id);
    let kc_change = changed
        .events()
        .into_iter()
        .find(|e| e["event"] == "object" && e["name"] == ctx.name("keycloak").as_str())
        .unwrap();
    assert!(
        kc_change["changes"][0]
            .as_str()
            .unwrap()
            .starts_with("restarted"),
        "{kc_change}"
    );
    assert_eq!(ctx.host_port("postgres", 5432).await, port);
    let pg = ctx.postgres().await;
    let v: String = pg
        .query_one("SELECT v FROM marker", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "kept");
}

#[tokio::test]
async fn a_container_with_our_name_that_is_not_ours_is_refused_and_left_alone() {
    let Some(ctx) = setup().await else { return };
    let name = ctx.name("postgres");
    let mut labels = ctx.run.labels();
    labels.insert("owner".into(), "someone-else".into());
    ctx.docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            bollard::models::ContainerCreateBody {
                image: Some(ctx.images.postgres.clone()),
                labels: Some(labels),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let up = ctx.up(&[]).await;
    assert_eq!(up.code, 4, "{}", up.describe());
    assert!(
        up.stderr.contains(&format!("container `{name}`")),
        "{}",
        up.stderr
    );
    assert!(up.stderr.contains("did not create"), "{}", up.stderr);
    // Nothing was created.
    assert!(!ctx.network_exists(&format!("{}-net", ctx.project())).await);
    assert!(!ctx.volume_exists().await);
    assert!(ctx.inspect("keycloak").await.is_none());

    let down = ctx.down(&["--volumes"]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    let still = ctx
        .inspect("postgres")
        .await
        .expect("down never touches a foreign container");
    assert_eq!(
        still.config.unwrap().labels.unwrap()["owner"],
        "someone-else"
    );
}

#[tokio::test]
async fn a_taken_port_is_refused_before_anything_is_created() {
    let Some(ctx) = setup().await else { return };
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let up = ctx.up(&["--keycloak-port", &port]).await;
    assert_eq!(up.code, 4, "{}", up.describe());
    assert!(up.stderr.contains(&format!("port {port}")), "{}", up.stderr);
    assert!(up.stderr.contains("--keycloak-port"), "{}", up.stderr);
    assert!(
        up.stderr.contains(&format!("pid {}", std::process::id())),
        "names the process holding it: {}",
        up.stderr
    );
    assert_eq!(
        ctx.run.leftovers(&ctx.docker).await.unwrap(),
        Vec::<String>::new()
    );
    drop(holder);
}

#[tokio::test]
async fn keycloak_exiting_during_the_wait_fails_at_once_with_its_logs() {
    let Some(ctx) = setup().await else { return };
    // A wrong database password: Keycloak (and the double) exit at startup.
    let up = ctx
        .up(&[
            "--keycloak-env",
            "KC_DB_PASSWORD=wrong",
            "--keycloak-env",
            "KC_DOUBLE_BOOT_SECONDS=1",
        ])
        .await;
    assert_eq!(up.code, 5, "{}", up.describe());
    let name = ctx.name("keycloak");
    assert!(
        up.stderr
            .contains(&format!("container `{name}` exited with code")),
        "{}",
        up.stderr
    );
    assert!(
        !up.stderr.contains("was not ready after"),
        "failed at once, not by timeout: {}",
        up.stderr
    );
    let log_lines = up.stderr.lines().filter(|l| l.starts_with("  | ")).count();
    assert!(
        (1..=30).contains(&log_lines),
        "the log tail is shown: {}",
        up.stderr
    );
    // Postgres was ready and stays; the next `up` with the right settings converges.
    ctx.up_ok(&[]).await;
}

#[tokio::test]
async fn a_wrong_password_against_an_initialised_volume_fails_at_once() {
    let Some(ctx) = setup().await else { return };
    ctx.up_ok(&[]).await;
    let down = ctx.down(&[]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    let up = ctx.up(&["--postgres-password", "another-password"]).await;
    assert_eq!(up.code, 5, "{}", up.describe());
    let volume = format!("{}-pgdata", ctx.project());
    assert!(
        up.stderr.contains(&format!("volume `{volume}`")),
        "{}",
        up.stderr
    );
    assert!(up.stderr.contains("--postgres-password"), "{}", up.stderr);
    assert!(up.stderr.contains("down --volumes"), "{}", up.stderr);
    assert!(
        !up.stderr.contains("was not ready after"),
        "failed at once: {}",
        up.stderr
    );
    assert!(
        ctx.inspect("keycloak").await.is_none(),
        "Keycloak is not started on a failed Postgres"
    );
}

#[tokio::test]
async fn ctrl_c_removes_what_this_run_created_and_keeps_network_and_data() {
    let Some(ctx) = setup().await else { return };
    let args = ctx.up_args(&["--keycloak-env", "KC_DOUBLE_BOOT_SECONDS=60"]);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"))
        .env(
            "IAMSTACK_STATE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/iamstack-state"),
        )
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait until Keycloak's wait has begun (both containers exist), then interrupt.
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push(line.clone());
        let e: Value = serde_json::from_str(&line).unwrap();
        if e["event"] == "step_started" && e["step"] == "wait keycloak" {
            break;
        }
    }
    assert!(
        ctx.inspect("keycloak").await.is_some(),
        "events so far: {seen:?}"
    );
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("iamstack stops after Ctrl-C")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        ctx.inspect("postgres").await.is_none(),
        "created by this run: removed"
    );
    assert!(
        ctx.inspect("keycloak").await.is_none(),
        "created by this run: removed"
    );
    assert!(
        ctx.network_exists(&format!("{}-net", ctx.project())).await,
        "network kept"
    );
    assert!(ctx.volume_exists().await, "volume kept");
    let lock = format!("{}-lock", ctx.project());
    assert!(
        ctx.docker.inspect_volume(&lock).await.is_err(),
        "the stack's lock is given back at Ctrl-C"
    );
    // A later `up` converges.
    ctx.up_ok(&[]).await;
}

#[tokio::test]
async fn a_data_dir_is_bind_mounted_and_never_deleted() {
    let Some(ctx) = setup().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("postgres");
    let data_arg = data.to_str().unwrap().to_string();
    ctx.up_ok(&["--data-dir", &data_arg]).await;
    assert!(
        data.join("PG_VERSION").is_file(),
        "Postgres initialised the directory"
    );
    assert!(
        !ctx.volume_exists().await,
        "no named volume with --data-dir"
    );
    let mounts = ctx.inspect("postgres").await.unwrap().mounts.unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.source.as_deref() == Some(data_arg.as_str())
                && m.destination.as_deref() == Some("/var/lib/postgresql/data")),
        "{mounts:?}"
    );
    let down = ctx.down(&["--volumes"]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    assert_eq!(
        down.action("data directory", &data_arg).as_deref(),
        Some("unchanged"),
        "{}",
        down.describe()
    );
    assert!(
        data.join("PG_VERSION").is_file(),
        "down --volumes never deletes a --data-dir directory"
    );
}

#[tokio::test]
async fn a_dry_run_and_a_missing_image_create_nothing() {
    let Some(ctx) = setup().await else { return };
    let dry = ctx.up(&["--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.describe());
    assert_eq!(
        dry.action("container", &ctx.name("postgres")).as_deref(),
        Some("created")
    );
    assert_eq!(
        dry.action("container", &ctx.name("keycloak")).as_deref(),
        Some("created")
    );
    assert_eq!(
        ctx.run.leftovers(&ctx.docker).await.unwrap(),
        Vec::<String>::new()
    );

    let missing = "iamstack-test/no-such-image:0";
    let up = ctx.up(&["--keycloak-image", missing]).await;
    assert_eq!(up.code, 9, "a missing image is exit 9: {}", up.describe());
    assert!(
        up.stderr.contains(&format!("image `{missing}`")),
        "{}",
        up.stderr
    );
    assert!(up.stderr.contains("--keycloak-image"), "{}", up.stderr);
    assert_eq!(
        ctx.run.leftovers(&ctx.docker).await.unwrap(),
        Vec::<String>::new()
    );
}

/// The whole product on a real engine: `up --verify` provisions the reference realm into the
/// Keycloak it started and runs the OAuth2/OIDC flows; a second `up` writes nothing; `verify`
/// and `env` find the running stack by themselves; `down --volumes` leaves nothing.
#[tokio::test]
async fn up_provisions_the_realm_verifies_it_and_a_second_up_writes_nothing() {
    let Some(ctx) = setup().await else { return };
    let provisioned = |extra: &[&str]| {
        let mut args = ctx.up_args(extra);
        args.retain(|a| a != "--no-provision");
        args
    };

    let first = ctx.iamstack(&provisioned(&["--verify"])).await;
    assert_eq!(first.code, 0, "up --verify failed: {}", first.describe());
    for (kind, name) in [
        ("realm", "testing"),
        ("client", "test-client"),
        ("user", "test-user"),
    ] {
        assert_eq!(
            first.action(kind, name).as_deref(),
            Some("created"),
            "{kind} {name}: {}",
            first.describe()
        );
    }
    let events = first.events();
    let checks: Vec<&Value> = events.iter().filter(|e| e["event"] == "check").collect();
    assert!(
        checks.len() >= 7,
        "every verify check ran: {}",
        first.describe()
    );
    assert!(
        checks.iter().all(|c| c["passed"] == true),
        "{}",
        first.describe()
    );
    let ready = events
        .iter()
        .find(|e| e["event"] == "stack_ready")
        .expect("final block");
    let oidc = |key: &str| {
        ready["oidc"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["key"] == key))
            .map(|v| v["value"].clone())
    };
    let kc_port = ctx.host_port("keycloak", 8080).await;
    assert_eq!(
        oidc("OIDC_ISSUER"),
        Some(Value::from(format!(
            "http://localhost:{kc_port}/realms/testing"
        )))
    );
    // Not on a terminal and no --show-secrets: the client secret stays hidden.
    assert_eq!(oidc("OIDC_CLIENT_SECRET"), Some(Value::Null));
    assert!(!first.stdout.contains("g9YAmxsq") && !first.stderr.contains("g9YAmxsq"));

    let second = ctx.iamstack(&provisioned(&[])).await;
    assert_eq!(second.code, 0, "{}", second.describe());
    for (kind, name) in [
        ("realm", "testing"),
        ("client", "test-client"),
        ("user", "test-user"),
    ] {
        assert_eq!(
            second.action(kind, name).as_deref(),
            Some("unchanged"),
            "{}",
            second.describe()
        );
    }

    let project = ctx.project().to_string();
    let verify = ctx
        .iamstack(&["verify", "--output", "json", "--project", &project].map(String::from))
        .await;
    assert_eq!(
        verify.code,
        0,
        "verify found the stack by itself: {}",
        verify.describe()
    );

    let env = ctx
        .iamstack(&["env", "--format", "json", "--project", &project].map(String::from))
        .await;
    assert_eq!(env.code, 0, "{}", env.describe());
    let vars: Value = serde_json::from_str(env.stdout.trim()).expect("env --format json");
    let pg_port = ctx.host_port("postgres", 5432).await;
    assert_eq!(
        vars["OIDC_CLIENT_SECRET"],
        "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"
    );
    assert!(
        vars["POSTGRES_URL"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!(":{pg_port}/keycloak")),
        "{vars}"
    );

    logs_interleave_both_services_and_follow_new_output(&ctx, &project, kc_port).await;
    export_applies_back_unchanged(&ctx, &project).await;
    token_prints_tokens_of_the_running_stack(&ctx, &project).await;
    demo_serves_the_three_apps_against_the_stack(&ctx, &project, kc_port).await;

    let down = ctx.down(&["--volumes"]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    assert!(ctx.inspect("keycloak").await.is_none() && !ctx.volume_exists().await);
}

/// `iamstack demo` against the running stack, on a free port that a realm applied for it
/// allows: the home page, the login redirect to Keycloak with PKCE, and the two direct grants.
async fn demo_serves_the_three_apps_against_the_stack(ctx: &Ctx, project: &str, kc_port: u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let file = format!("{}/demo-{project}.yaml", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(
        &file,
        format!(
            "realm: demo\nclients:\n  - clientId: demo-app\n    secret: demo-app-secret-1\n    \
             directAccessGrantsEnabled: true\n    serviceAccountsEnabled: true\n    \
             redirectUris: [\"http://localhost:{port}/*\"]\nusers:\n  - username: dana\n    \
             email: dana@demo.test\n    firstName: Dana\n    lastName: Demo\n    \
             credentials: [{{type: password, value: dana-pass-1}}]\n"
        ),
    )
    .unwrap();
    let args = |verb: &str| {
        let mut a = vec![verb, "--project", project, "--realm", &file];
        if verb == "demo" {
            a.push("--port");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let applied = ctx.iamstack(&args("apply")).await;
    assert_eq!(applied.code, 0, "{}", applied.describe());

    use tokio::io::AsyncBufReadExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"));
    let mut demo_args = args("demo");
    demo_args.push(port.to_string());
    cmd.args(&demo_args)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("demo starts");
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let started = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Ok(Some(line)) = stderr.next_line().await {
            if line.contains("iamstack demo: open") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(started, Ok(true), "the demo says where it serves");

    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let home = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let home = home.text().await.unwrap();
    assert!(
        home.contains("Log in with Keycloak") && home.contains("demo-app"),
        "{home}"
    );

    let login = http.get(format!("{base}/login")).send().await.unwrap();
    assert!(login.status().is_redirection(), "{}", login.status());
    let to = login.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with(&format!(
            "http://localhost:{kc_port}/realms/demo/protocol/openid-connect/auth?"
        )) && to.contains("code_challenge_method=S256"),
        "{to}"
    );

    let password = http
        .post(format!("{base}/password"))
        .form(&[("username", "dana"), ("password", "dana-pass-1")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        password.contains("<strong id=\"subject\">dana</strong>")
            && password.contains("access_token"),
        "{password}"
    );
    let service = http
        .post(format!("{base}/client-credentials"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(service.contains("service-account-demo-app"), "{service}");
    child.kill().await.ok();
    std::fs::remove_file(&file).ok();
}

/// `iamstack token` on the running stack: a bare JWT on stdout for the service account, and
/// the password grant's claims once `--decode` has checked the signature.
async fn token_prints_tokens_of_the_running_stack(ctx: &Ctx, project: &str) {
    let token = ctx
        .iamstack(&["token", "--project", project].map(String::from))
        .await;
    assert_eq!(token.code, 0, "{}", token.describe());
    let jwt = token.stdout.trim();
    assert_eq!(
        jwt.split('.').count(),
        3,
        "one JWT and nothing else: {}",
        token.stdout
    );
    assert_eq!(token.stdout.lines().count(), 1, "{}", token.stdout);

    let decoded = ctx
        .iamstack(
            &[
                "token",
                "--project",
                project,
                "--grant",
                "password",
                "--decode",
            ]
            .map(String::from),
        )
        .await;
    assert_eq!(decoded.code, 0, "{}", decoded.describe());
    let parts: Value = serde_json::from_str(&decoded.stdout).expect("--decode prints JSON");
    assert_eq!(
        parts["claims"]["preferred_username"], "test-user",
        "{parts}"
    );
    assert_eq!(parts["header"]["alg"], "RS256", "{parts}");
}

/// `iamstack export` of the provisioned realm: a file only its owner may read, with the
/// client's secret and a placeholder for the password; applied back with the password set,
/// nothing changes.
async fn export_applies_back_unchanged(ctx: &Ctx, project: &str) {
    let path = format!("{}/export-{project}.yaml", env!("CARGO_TARGET_TMPDIR"));
    let export = ctx
        .iamstack(&["export", "--project", project, "--out", &path].map(String::from))
        .await;
    assert_eq!(export.code, 0, "{}", export.describe());
    let text = std::fs::read_to_string(&path).expect("the export file");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the export holds secrets");
    assert!(text.contains("g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"), "{text}");
    assert!(text.contains("${TEST_USER_PASSWORD}"), "{text}");
    let args = [
        "apply",
        "--output",
        "json",
        "--project",
        project,
        "--realm",
        &path,
    ];
    let apply = ctx
        .iamstack_env(
            &args.map(String::from),
            &[("TEST_USER_PASSWORD", "test-user$123")],
        )
        .await;
    std::fs::remove_file(&path).ok();
    assert_eq!(apply.code, 0, "{}", apply.describe());
    for (kind, name) in [
        ("realm", "testing"),
        ("client", "test-client"),
        ("user", "test-user"),
    ] {
        assert_eq!(
            apply.action(kind, name).as_deref(),
            Some("unchanged"),
            "{}",
            apply.describe()
        );
    }
}

/// `iamstack logs` on the running stack: both services in time order with their prefix, one
/// service's tail, and `--follow` printing a request Keycloak logs after it started.
async fn logs_interleave_both_services_and_follow_new_output(
    ctx: &Ctx,
    project: &str,
    kc_port: u16,
) {
    let args = |extra: &[&str]| {
        let mut a = vec!["logs".to_string(), "--project".into(), project.to_string()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let all = ctx.iamstack(&args(&["--timestamps"])).await;
    assert_eq!(all.code, 0, "{}", all.describe());
    let lines: Vec<&str> = all.stdout.lines().collect();
    let services: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap_or_default())
        .collect();
    assert!(
        services.contains(&"postgres") && services.contains(&"keycloak"),
        "{}",
        all.stdout
    );
    assert!(
        services
            .iter()
            .all(|s| *s == "postgres" || *s == "keycloak"),
        "{}",
        all.stdout
    );
    let stamps: Vec<&str> = lines
        .iter()
        .map(|l| l.split(' ').next().unwrap_or_default())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "time order: {}",
        all.stdout
    );
    assert!(all.stdout.contains("Listening on:"), "{}", all.stdout);

    let tail = ctx.iamstack(&args(&["keycloak", "--tail", "3"])).await;
    assert_eq!(tail.code, 0, "{}", tail.describe());
    let tail_lines: Vec<&str> = tail.stdout.lines().collect();
    assert_eq!(tail_lines.len(), 3, "{}", tail.stdout);
    assert!(
        tail_lines.iter().all(|l| l.starts_with("keycloak | ")),
        "{}",
        tail.stdout
    );

    // --follow: a request made after it started shows up in Keycloak's access log.
    use tokio::io::AsyncBufReadExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_iamstack"));
    cmd.args(args(&["keycloak", "--follow", "--tail", "0"]))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("IAMSTACK_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd.spawn().expect("logs --follow starts");
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let marker = format!("/realms/master?follow-{}", std::process::id());
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let _ = reqwest::get(format!("http://127.0.0.1:{kc_port}{marker}")).await;
            match tokio::time::timeout(Duration::from_millis(500), out.next_line()).await {
                Ok(Ok(Some(line))) if line.contains("follow-") => return line,
                Ok(Ok(None)) => panic!("logs --follow ended"),
                _ => {}
            }
        }
    })
    .await
    .expect("the request appears while following");
    assert!(seen.starts_with("keycloak | "), "{seen}");
    child.kill().await.ok();
}

/// What a run reported of `up`'s change list, in order: each object of the stack with its
/// action, and each step of the list (a real run's finished waits, provisioning, verify; a dry
/// run's `planned` steps).
fn change_list(out: &Out) -> Vec<String> {
    out.events()
        .into_iter()
        .filter_map(|e| match e["event"].as_str() {
            Some("object")
                if ["image", "network", "volume", "container"]
                    .contains(&e["kind"].as_str().unwrap_or_default()) =>
            {
                Some(format!("{} {}: {}", e["kind"], e["name"], e["action"]))
            }
            Some("planned") => Some(format!("step {}", e["step"])),
            Some("step_finished") => {
                let step = e["step"].as_str().unwrap_or_default();
                (step.starts_with("wait ") || ["provision", "verify"].contains(&step))
                    .then(|| format!("step {}", e["step"]))
            }
            _ => None,
        })
        .collect()
}

/// The dry run prints exactly the list `up` then executes: from nothing, after a changed
/// setting, and on a partial stack.
#[tokio::test]
async fn a_dry_run_lists_exactly_what_up_then_does() {
    let Some(ctx) = setup().await else { return };
    for (case, extra) in [
        ("from nothing", &[][..]),
        ("a changed setting", &["--hostname", "kc.example.test"][..]),
        ("a stopped Postgres", &["--hostname", "kc.example.test"][..]),
    ] {
        if case == "a stopped Postgres" {
            ctx.stop("postgres").await;
        }
        let mut dry_args = extra.to_vec();
        dry_args.push("--dry-run");
        let dry = ctx.up(&dry_args).await;
        assert_eq!(dry.code, 0, "{case}: {}", dry.describe());
        let real = ctx.up_ok(extra).await;
        let (planned, done) = (change_list(&dry), change_list(&real));
        assert!(planned.len() >= 8, "{case}: {planned:?}");
        assert_eq!(planned, done, "{case}: the dry run listed otherwise");
    }
}

/// What Keycloak itself says at the published port: discovery's `issuer`, and the `iss` of a
/// client-credentials token of the reference client.
async fn keycloaks_issuers(kc_port: u16) -> (String, String) {
    use base64::Engine as _;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{kc_port}/realms/testing");
    let discovery: Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery answers")
        .json()
        .await
        .expect("discovery is JSON");
    let token: Value = http
        .post(format!("{base}/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "test-client"),
            ("client_secret", "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6"),
        ])
        .send()
        .await
        .expect("token endpoint answers")
        .json()
        .await
        .expect("token response is JSON");
    let access = token["access_token"].as_str().expect("an access token");
    let payload = access.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url payload"),
    )
    .expect("JSON claims");
    (
        discovery["issuer"].as_str().unwrap_or_default().to_string(),
        claims["iss"].as_str().unwrap_or_default().to_string(),
    )
}

/// `env` publishes Keycloak's own issuer (KC_HOSTNAME with the published port), not the
/// 127.0.0.1 address iamstack probes: an application validating `iss` against OIDC_ISSUER
/// accepts the tokens. With a hostname that is not this machine, it says how to reach it.
#[tokio::test]
async fn env_publishes_the_issuer_keycloak_puts_in_its_tokens() {
    let Some(ctx) = setup().await else { return };
    let project = ctx.project().to_string();
    let env_args = ["env", "--format", "json", "--project", &project].map(String::from);
    for hostname in ["localhost", "kc.invalid"] {
        let mut args = ctx.up_args(&["--hostname", hostname]);
        args.retain(|a| a != "--no-provision");
        let up = ctx.iamstack(&args).await;
        assert_eq!(up.code, 0, "up --hostname {hostname}: {}", up.describe());

        let kc_port = ctx.host_port("keycloak", 8080).await;
        let env = ctx.iamstack(&env_args).await;
        assert_eq!(env.code, 0, "{}", env.describe());
        let vars: Value = serde_json::from_str(env.stdout.trim()).expect("env --format json");
        let (discovered, token_iss) = keycloaks_issuers(kc_port).await;
        let expected = format!("http://{hostname}:{kc_port}/realms/testing");
        assert_eq!(discovered, expected, "the double follows KC_HOSTNAME");
        assert_eq!(vars["OIDC_ISSUER"], Value::from(discovered.clone()));
        assert_eq!(vars["OIDC_ISSUER"], Value::from(token_iss));
        assert_eq!(
            vars["KEYCLOAK_URL"],
            Value::from(format!("http://{hostname}:{kc_port}"))
        );
        assert_eq!(
            vars["OIDC_TOKEN_URL"],
            Value::from(format!("{expected}/protocol/openid-connect/token"))
        );
        let hosts_hint = format!("127.0.0.1 {hostname}");
        assert_eq!(
            env.stderr.contains(&hosts_hint),
            hostname == "kc.invalid",
            "the /etc/hosts hint only for a host that is not this machine: {}",
            env.describe()
        );
    }
}
