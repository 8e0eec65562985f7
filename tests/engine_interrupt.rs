//! Ctrl-C at each step of `up`, on this machine's engine: while it waits for another run's
//! lock (nothing created yet), during the Postgres wait, during provisioning (the Keycloak wait
//! and the pull have their own tests in engine_stack.rs and engine_pull.rs). Each time: exit 130
//! with what happened, the containers this run created removed, network and data volume kept,
//! nothing foreign touched, and a later `up` converges.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use serde_json::Value;

mod engine_common;
use engine_common::{interrupt_when, setup, Ctx};

fn step_started(step: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["event"] == "step_started" && e["step"] == step
}

async fn network_exists(ctx: &Ctx) -> bool {
    ctx.docker
        .inspect_network(
            &format!("{}-net", ctx.project()),
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .is_ok()
}

#[tokio::test]
async fn ctrl_c_while_waiting_for_the_lock_stops_with_nothing_created() {
    let Some(ctx) = setup().await else { return };
    let lock = format!("{}-lock", ctx.project());
    let mut labels: HashMap<String, String> = ctx.run.labels();
    labels.insert("dev.iamstack.stack".into(), ctx.project().into());
    labels.insert("dev.iamstack.role".into(), "lock".into());
    labels.insert(
        "dev.iamstack.lock-holder".into(),
        "ci-runner-9 77 1764500000 up".into(),
    );
    ctx.docker
        .create_volume(VolumeCreateRequest {
            name: Some(lock.clone()),
            labels: Some(labels),
            ..Default::default()
        })
        .await
        .unwrap();
    let waiting = |e: &Value| {
        e["event"] == "warning"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("waiting for another run"))
    };
    let (code, stderr) = interrupt_when(&ctx.up_args(&[]), waiting).await;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("stopped at Ctrl-C: nothing was created"),
        "{stderr}"
    );
    assert!(ctx.inspect("postgres").await.is_none() && !network_exists(&ctx).await);
    assert!(
        ctx.docker.inspect_volume(&lock).await.is_ok(),
        "the other run's lock is left alone"
    );
}

#[tokio::test]
async fn ctrl_c_during_the_postgres_wait_removes_postgres_and_keeps_network_and_volume() {
    let Some(ctx) = setup().await else { return };
    let (code, stderr) = interrupt_when(&ctx.up_args(&[]), step_started("wait postgres")).await;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        ctx.inspect("postgres").await.is_none(),
        "created by this run: removed"
    );
    assert!(ctx.inspect("keycloak").await.is_none(), "never created");
    assert!(
        network_exists(&ctx).await && ctx.volume_exists().await,
        "kept"
    );
    ctx.up_ok(&[]).await;
}

#[tokio::test]
async fn ctrl_c_during_provisioning_removes_what_this_run_created() {
    let Some(ctx) = setup().await else { return };
    // 300 users: the realm import hashes each password, so provisioning lasts a while.
    let file = format!(
        "{}/interrupt-{}.yaml",
        env!("CARGO_TARGET_TMPDIR"),
        ctx.project()
    );
    std::fs::write(&file, iamstack_test_support::scale_realm_yaml(300, 1)).unwrap();
    let mut args = ctx.up_args(&["--realm", &file]);
    args.retain(|a| a != "--no-provision");
    let (code, stderr) = interrupt_when(&args, step_started("provision")).await;
    std::fs::remove_file(&file).ok();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("removed"),
        "{stderr}"
    );
    assert!(ctx.inspect("postgres").await.is_none() && ctx.inspect("keycloak").await.is_none());
    assert!(
        network_exists(&ctx).await && ctx.volume_exists().await,
        "kept"
    );
    assert!(
        ctx.docker
            .inspect_volume(&format!("{}-lock", ctx.project()))
            .await
            .is_err(),
        "the lock is given back"
    );
    ctx.up_ok(&[]).await;
}
