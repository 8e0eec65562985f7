//! Real-engine tests of snapshots: `iamstack snapshot save` on a provisioned stack, then
//! `up --from-snapshot` on a fresh project: no initdb, no admin writes, the realm works; and
//! the refusals (data already there, other settings, a file that is no snapshot), each before
//! anything is created. Each test has its own project and test-run label (`engine_common`).

use std::io::Read;
use std::path::Path;

use serde_json::Value;

mod engine_common;
use engine_common::{setup, Ctx, Out};

use iamstack_test_support::Backend;

/// `up` that provisions the built-in realm (the common defaults minus `--no-provision`).
fn provisioned(ctx: &Ctx, extra: &[&str]) -> Vec<String> {
    let mut args = ctx.up_args(extra);
    args.retain(|a| a != "--no-provision");
    args
}

fn step_ms(out: &Out, step: &str) -> Option<u64> {
    out.events()
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == step)
        .and_then(|e| e["elapsed_ms"].as_u64())
}

async fn save(ctx: &Ctx, file: &Path) -> Out {
    let args = [
        "snapshot",
        "save",
        file.to_str().unwrap(),
        "--output",
        "json",
        "--project",
        ctx.project(),
    ];
    ctx.iamstack(&args.map(String::from)).await
}

async fn logs(ctx: &Ctx, service: &str) -> String {
    let args = ["logs", "--project", ctx.project(), service];
    let out = ctx.iamstack(&args.map(String::from)).await;
    assert_eq!(out.code, 0, "{}", out.describe());
    out.stdout
}

/// The metadata entry of a snapshot file, as JSON.
fn metadata(file: &Path) -> Value {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut first = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(
        first.path().unwrap().to_str(),
        Some("iamstack-snapshot.json")
    );
    let mut json = String::new();
    first.read_to_string(&mut json).unwrap();
    serde_json::from_str(&json).unwrap()
}

/// Nothing of the project exists (the lock volume was given back too).
async fn nothing_left(ctx: &Ctx) {
    assert_eq!(
        ctx.run.leftovers(&ctx.docker).await.unwrap(),
        Vec::<String>::new(),
        "nothing may be created"
    );
}

/// What Keycloak logs when it creates its schema in an empty database.
const SCHEMA_CREATED: &str = "Initializing database schema";

#[tokio::test]
async fn a_saved_snapshot_starts_a_fresh_stack_without_initdb_or_admin_writes() {
    let Some(ctx) = setup().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.snapshot.tar.gz");

    let first = ctx.iamstack(&provisioned(&ctx, &[])).await;
    assert_eq!(first.code, 0, "first up: {}", first.describe());
    assert_eq!(first.action("realm", "testing").as_deref(), Some("created"));
    // Keycloak's Liquibase line on a database without its schema (the double logs it too).
    let first_kc_log = logs(&ctx, "keycloak").await;
    assert!(
        first_kc_log.contains(SCHEMA_CREATED),
        "an empty database gets Keycloak's schema: {first_kc_log}"
    );

    let saved = save(&ctx, &file).await;
    assert_eq!(saved.code, 0, "snapshot save: {}", saved.describe());
    let status = ctx.status().await;
    assert_eq!(
        status.code,
        0,
        "ready after the save: {}",
        status.describe()
    );
    let size = std::fs::metadata(&file).unwrap().len();
    let meta = metadata(&file);
    assert_eq!(meta["format"], 1);
    assert_eq!(meta["admin_user"], "admin");
    assert_eq!(meta["postgres_user"], "keycloak");
    assert_eq!(meta["postgres"]["image"], ctx.images.postgres.as_str());
    assert!(meta["keycloak"]["image_id"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let text = meta.to_string();
    assert!(!text.contains("kc_admin$123") && !text.contains("keycloak$123"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left beside it");

    // Data already there: refused, and nothing of the running stack is touched.
    let ids = (
        ctx.container_id("postgres").await,
        ctx.container_id("keycloak").await,
    );
    let again = ctx
        .iamstack(&provisioned(
            &ctx,
            &["--from-snapshot", file.to_str().unwrap()],
        ))
        .await;
    assert_eq!(again.code, 4, "{}", again.describe());
    assert!(
        again.stderr.contains("down --volumes"),
        "{}",
        again.describe()
    );
    assert_eq!(
        (
            ctx.container_id("postgres").await,
            ctx.container_id("keycloak").await
        ),
        ids
    );

    let down = ctx.down(&["--volumes"]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    nothing_left(&ctx).await;

    // Another admin password than the snapshot's: refused before anything is created.
    let other = ctx
        .iamstack(&provisioned(
            &ctx,
            &[
                "--from-snapshot",
                file.to_str().unwrap(),
                "--admin-password",
                "another-admin-pw",
            ],
        ))
        .await;
    assert_eq!(other.code, 7, "{}", other.describe());
    assert!(
        other.stderr.contains("admin password"),
        "{}",
        other.describe()
    );
    assert!(
        !other.stderr.contains("another-admin-pw"),
        "{}",
        other.stderr
    );
    nothing_left(&ctx).await;

    // The dry run says what it would do, and does nothing.
    let dry = ctx
        .iamstack(&provisioned(
            &ctx,
            &["--from-snapshot", file.to_str().unwrap(), "--dry-run"],
        ))
        .await;
    assert_eq!(dry.code, 0, "{}", dry.describe());
    assert!(
        dry.stdout.contains("restore snapshot"),
        "{}",
        dry.describe()
    );
    nothing_left(&ctx).await;

    let restored = ctx
        .iamstack(&provisioned(
            &ctx,
            &["--from-snapshot", file.to_str().unwrap()],
        ))
        .await;
    assert_eq!(
        restored.code,
        0,
        "up --from-snapshot: {}",
        restored.describe()
    );
    for (kind, name) in [
        ("realm", "testing"),
        ("client", "test-client"),
        ("user", "test-user"),
    ] {
        assert_eq!(
            restored.action(kind, name).as_deref(),
            Some("unchanged"),
            "{kind} {name}: {}",
            restored.describe()
        );
    }
    let pg_log = logs(&ctx, "postgres").await;
    assert!(
        pg_log.contains("skipping initialization"),
        "Postgres started on the restored data: {pg_log}"
    );
    // Both the official entrypoint and the stand-in's say this after an initdb.
    assert!(!pg_log.contains("init process complete"), "{pg_log}");
    let restored_kc_log = logs(&ctx, "keycloak").await;
    assert!(
        !restored_kc_log.contains(SCHEMA_CREATED),
        "the restored database has Keycloak's schema: {restored_kc_log}"
    );

    // Zero admin writes: the double logs each request it serves; the official image does not.
    if ctx.images.backend == Backend::Standin {
        let kc_log = logs(&ctx, "keycloak").await;
        let requests: Vec<&str> = kc_log
            .lines()
            .filter(|l| l.contains("[keycloak-double.access]"))
            .collect();
        assert!(
            requests.iter().any(|l| l.contains("\"GET /admin/")),
            "provisioning read through the admin API: {kc_log}"
        );
        let writes: Vec<&&str> = requests
            .iter()
            .filter(|l| {
                ["POST", "PUT", "DELETE"]
                    .iter()
                    .any(|m| l.contains(&format!("\"{m} /admin/")))
            })
            .collect();
        assert!(
            writes.is_empty(),
            "admin writes after a restore: {writes:#?}"
        );
    } else {
        eprintln!(
            "official Keycloak image: it logs no request lines, so the zero-admin-writes check \
             rests on every realm object being reported unchanged"
        );
    }

    let token = ctx
        .iamstack(&["token", "--project", ctx.project()].map(String::from))
        .await;
    assert_eq!(token.code, 0, "{}", token.describe());
    assert_eq!(token.stdout.trim().split('.').count(), 3, "a JWT");

    let save_detail = saved
        .events()
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "snapshot save")
        .map(|e| e["detail"].to_string());
    eprintln!("measured: {save_detail:?}");
    eprintln!(
        "measured ({:?}): snapshot {size} bytes; first up {:?} ms (wait keycloak {:?} ms, \
         provision {:?} ms); save {:?} ms; up --from-snapshot {:?} ms (restore {:?} ms, wait \
         keycloak {:?} ms, provision {:?} ms)",
        ctx.images.backend,
        total_ms(&first),
        step_ms(&first, "wait keycloak"),
        step_ms(&first, "provision"),
        step_ms(&saved, "snapshot save"),
        total_ms(&restored),
        step_ms(&restored, "restore snapshot"),
        step_ms(&restored, "wait keycloak"),
        step_ms(&restored, "provision"),
    );
    let down = ctx.down(&["--volumes"]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    nothing_left(&ctx).await;
}

fn total_ms(out: &Out) -> Option<u64> {
    out.events()
        .into_iter()
        .find(|e| e["event"] == "stack_ready")
        .and_then(|e| e["elapsed_ms"].as_u64())
}

#[tokio::test]
async fn a_file_that_is_no_snapshot_or_a_data_dir_is_refused_before_anything_is_created() {
    let Some(ctx) = setup().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.tar.gz");
    std::fs::write(&garbage, b"this is not a snapshot").unwrap();
    let up = ctx
        .up(&["--from-snapshot", garbage.to_str().unwrap()])
        .await;
    assert_eq!(up.code, 7, "{}", up.describe());
    assert!(
        up.stderr.contains("not a usable iamstack snapshot"),
        "{}",
        up.describe()
    );
    nothing_left(&ctx).await;

    let missing = dir.path().join("missing.tar.gz");
    let up = ctx
        .up(&["--from-snapshot", missing.to_str().unwrap()])
        .await;
    assert_eq!(up.code, 7, "{}", up.describe());

    let data_dir = dir.path().join("pgdata");
    std::fs::create_dir(&data_dir).unwrap();
    let up = ctx
        .up(&[
            "--from-snapshot",
            garbage.to_str().unwrap(),
            "--data-dir",
            data_dir.to_str().unwrap(),
        ])
        .await;
    assert_eq!(up.code, 7, "{}", up.describe());
    assert!(up.stderr.contains("--data-dir"), "{}", up.describe());
    nothing_left(&ctx).await;
}
