//! Real-engine tests of how `up` makes Keycloak start fast: the optimized image it builds once
//! (`kc.sh build`, `start --optimized`), `--no-optimize`, a failed build, `down --images`, and
//! `--ephemeral` Postgres. Each test has its own project and test-run label, swept before and
//! after.
//!
//! The optimized images are a cache shared by every project, so they carry no test-run label
//! (a sweep must not force rebuilds). The test that builds and removes one does it on a base
//! image of its own, so it never takes another test's build away.

use std::collections::HashMap;

use bollard::query_parameters::{BuildImageOptionsBuilder, RemoveImageOptionsBuilder};
use futures_util::StreamExt;

mod engine_common;
use engine_common::{setup, Ctx, Out};

/// Keycloak's own line when `start` re-augments (the double logs it the same way).
const AUGMENTING: &str = "Updating the server image";

/// The one image object of the output whose name starts with `prefix`: (name, action, changes).
fn image_object(out: &Out, prefix: &str) -> Option<(String, String, Vec<String>)> {
    out.events()
        .into_iter()
        .find(|e| {
            e["event"] == "object"
                && e["kind"] == "image"
                && e["name"].as_str().is_some_and(|n| n.starts_with(prefix))
        })
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_string(),
                e["action"].as_str().unwrap_or_default().to_string(),
                e["changes"]
                    .as_array()
                    .map(|c| {
                        c.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
}

/// A Keycloak base image only this test uses: the test image plus a label, so its ID (and so
/// the optimized image's tag) is this test's own.
async fn own_base(ctx: &Ctx) -> String {
    let tag = format!("iamstack-test/keycloak-base-{}:26.2-double", ctx.run.id());
    let dockerfile = format!(
        "FROM {}\nLABEL dev.iamstack.test-run={}\n",
        ctx.images.keycloak,
        ctx.run.id()
    );
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let mut context = tar::Builder::new(Vec::new());
    context
        .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    let body = context.into_inner().unwrap();
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(&tag)
        .rm(true)
        .build();
    let mut build = ctx
        .docker
        .build_image(options, None, Some(bollard::body_full(body.into())));
    while let Some(item) = build.next().await {
        let info = item.expect("base image build");
        assert!(info.error_detail.is_none(), "{info:?}");
    }
    tag
}

async fn remove_image(ctx: &Ctx, image: &str) {
    let _ = ctx
        .docker
        .remove_image(
            image,
            Some(RemoveImageOptionsBuilder::new().force(true).build()),
            None,
        )
        .await;
}

async fn image_labels(ctx: &Ctx, image: &str) -> Option<HashMap<String, String>> {
    let inspected = ctx.docker.inspect_image(image).await.ok()?;
    inspected.config.and_then(|c| c.labels)
}

async fn keycloak_image_and_cmd(ctx: &Ctx) -> (String, Vec<String>) {
    let config = ctx.inspect("keycloak").await.unwrap().config.unwrap();
    (config.image.unwrap(), config.cmd.unwrap_or_default())
}

#[tokio::test]
async fn the_optimized_image_is_built_once_reused_by_other_projects_and_started_optimized() {
    let Some(ctx) = setup().await else { return };
    let base = own_base(&ctx).await;
    let base_id = ctx.docker.inspect_image(&base).await.unwrap().id.unwrap();
    let with_base = ["--keycloak-image", base.as_str()];

    // First up: the image is built from the base, and Keycloak runs it optimized.
    let first = ctx.up_ok(&with_base).await;
    let (tag, action, changes) =
        image_object(&first, "iamstack-local/keycloak:").expect("an image object for the build");
    assert_eq!(action, "created", "{}", first.describe());
    assert!(
        changes.iter().any(|c| c.contains(&base)),
        "{changes:?} names the base"
    );
    assert!(
        tag.starts_with("iamstack-local/keycloak:26.2-double-"),
        "{tag}"
    );
    assert_eq!(
        keycloak_image_and_cmd(&ctx).await,
        (tag.clone(), vec!["start".into(), "--optimized".into()])
    );
    let log = ctx.container_log("keycloak").await;
    assert!(
        !log.contains(AUGMENTING),
        "no augmentation at start:\n{log}"
    );
    let labels = image_labels(&ctx, &tag).await.expect("the build exists");
    assert_eq!(labels["dev.iamstack.built"], "keycloak");
    assert_eq!(labels["dev.iamstack.base-image"], base);
    assert_eq!(labels["dev.iamstack.base-image-id"], base_id);
    assert_eq!(
        labels["dev.iamstack.build-options"],
        "--db=postgres --health-enabled=true"
    );

    // Up again, and another project on the same base: the build is reused, never redone.
    let again = ctx.up_ok(&with_base).await;
    assert_eq!(
        image_object(&again, "iamstack-local/keycloak:").map(|(n, a, _)| (n, a)),
        Some((tag.clone(), "unchanged".to_string())),
        "{}",
        again.describe()
    );
    let other = setup().await.expect("engine");
    let other_up = other.up_ok(&with_base).await;
    assert_eq!(
        image_object(&other_up, "iamstack-local/keycloak:").map(|(n, a, _)| (n, a)),
        Some((tag.clone(), "unchanged".to_string())),
        "{}",
        other_up.describe()
    );

    // `down` keeps the cache; `down --images` removes iamstack's builds, never the base.
    let down = ctx.down(&[]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    assert!(image_labels(&ctx, &tag).await.is_some(), "down keeps it");
    let in_use = ctx.down(&["--images"]).await;
    assert_eq!(in_use.code, 0, "{}", in_use.describe());
    assert_eq!(
        in_use.action("image", &tag).as_deref(),
        Some("unchanged"),
        "the other project's Keycloak still uses it: {}",
        in_use.describe()
    );
    let other_down = other.down(&["--images"]).await;
    assert_eq!(other_down.code, 0, "{}", other_down.describe());
    assert_eq!(
        other_down.action("image", &tag).as_deref(),
        Some("removed"),
        "{}",
        other_down.describe()
    );
    assert!(
        image_labels(&ctx, &tag).await.is_none(),
        "the build is gone"
    );
    assert!(
        image_labels(&ctx, &base).await.is_some(),
        "the base is not iamstack's: kept"
    );
    remove_image(&ctx, &base).await;
}

#[tokio::test]
async fn no_optimize_runs_the_image_as_it_is_which_updates_itself_at_start() {
    let Some(ctx) = setup().await else { return };
    let up = ctx.up_ok(&["--no-optimize"]).await;
    assert_eq!(
        image_object(&up, "iamstack-local/"),
        None,
        "nothing is built: {}",
        up.describe()
    );
    assert_eq!(
        keycloak_image_and_cmd(&ctx).await,
        (ctx.images.keycloak.clone(), vec!["start".to_string()])
    );
    let log = ctx.container_log("keycloak").await;
    assert!(
        log.contains(AUGMENTING),
        "the stock image re-augments:\n{log}"
    );

    // Switching optimization on recreates Keycloak on the built image; the data stays.
    let optimized = ctx.up_ok(&[]).await;
    assert_eq!(
        optimized
            .action("container", &ctx.name("keycloak"))
            .as_deref(),
        Some("updated"),
        "{}",
        optimized.describe()
    );
    assert_eq!(
        optimized
            .action("volume", &format!("{}-pgdata", ctx.project()))
            .as_deref(),
        Some("unchanged")
    );
    let (image, cmd) = keycloak_image_and_cmd(&ctx).await;
    assert!(image.starts_with("iamstack-local/keycloak:"), "{image}");
    assert_eq!(cmd, ["start", "--optimized"]);
}

#[tokio::test]
async fn a_failed_build_is_exit_9_with_the_build_output_and_leaves_nothing() {
    let Some(ctx) = setup().await else { return };
    // Not a database Keycloak knows: `kc.sh build` rejects it.
    let out = ctx.up(&["--keycloak-env", "KC_DB=nosuchdb"]).await;
    assert_eq!(out.code, 9, "{}", out.describe());
    // The error as the user reads it (stderr), not only the failed step's event.
    let failure = &out.stderr;
    for part in [
        "failed to build the optimized Keycloak image",
        "--db=nosuchdb",
        "nosuchdb",
        "--no-optimize",
    ] {
        assert!(failure.contains(part), "`{part}` in: {}", out.describe());
    }
    assert!(
        !failure.contains('\u{1b}'),
        "the build's colours are stripped: {failure:?}"
    );
    // The build ran beside Postgres's start: what that made is removed again.
    assert!(ctx.inspect("postgres").await.is_none());
    assert!(ctx.inspect("keycloak").await.is_none());
    assert!(!ctx.volume_exists().await);
    assert!(
        ctx.run.leftovers(&ctx.docker).await.unwrap().is_empty(),
        "nothing of the test run exists"
    );
}

#[tokio::test]
async fn an_ephemeral_stack_keeps_postgres_in_memory_and_down_leaves_nothing() {
    let Some(ctx) = setup().await else { return };
    let up = ctx.up_ok(&["--ephemeral"]).await;
    assert_eq!(
        up.action("volume", &format!("{}-pgdata", ctx.project())),
        None,
        "no data volume: {}",
        up.describe()
    );
    let pg = ctx.inspect("postgres").await.unwrap();
    let host = pg.host_config.unwrap();
    assert!(
        host.tmpfs
            .unwrap_or_default()
            .contains_key("/var/lib/postgresql/data"),
        "PGDATA on a tmpfs"
    );
    let mounts = pg.mounts.unwrap_or_default();
    assert!(
        !mounts.iter().any(
            |m| m.destination.as_deref() == Some("/var/lib/postgresql/data")
                && m.typ.as_deref() != Some("tmpfs")
        ),
        "no volume at PGDATA: {mounts:?}"
    );
    let client = ctx.postgres().await;
    let row = client.query_one("SHOW fsync", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "off");
    let row = client
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "off");

    let down = ctx.down(&[]).await;
    assert_eq!(down.code, 0, "{}", down.describe());
    assert!(
        ctx.run.leftovers(&ctx.docker).await.unwrap().is_empty(),
        "down leaves nothing of an ephemeral stack"
    );
    let volumes = ctx
        .docker
        .list_volumes(None::<bollard::query_parameters::ListVolumesOptions>)
        .await
        .unwrap()
        .volumes
        .unwrap_or_default();
    assert!(
        !volumes
            .iter()
            .any(|v| v.name.starts_with(&format!("{}-", ctx.project()))),
        "no volume of the project"
    );
}
