//! REAL-ENGINE tests (Docker): the Keycloak double's image, and the input-hash cache every
//! stand-in relies on (a changed input rebuilds, an unchanged one does not, parallel callers
//! build once). Skipped without an engine, failing under `CI=true`.

use std::collections::BTreeMap;
use std::io::Read;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::TryStreamExt;
use iamstack_test_support::standin::{
    self, FileEntry, ImageConfig, ImageSpec, Layout, Outcome, Payload, LABEL_STANDIN_HASH,
};
use iamstack_test_support::{container_logs, engine, TestRun, LABEL_TEST_RUN};
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

async fn download(docker: &Docker, container: &str, path: &str) -> (u32, Vec<u8>) {
    let tar: Vec<u8> = docker
        .download_from_container(
            container,
            Some(
                DownloadFromContainerOptionsBuilder::default()
                    .path(path)
                    .build(),
            ),
        )
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .expect("download from the container");
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut entry = archive
        .entries()
        .expect("a tar")
        .next()
        .expect("one entry")
        .expect("a readable entry");
    let mode = entry.header().mode().expect("mode");
    let mut content = Vec::new();
    entry.read_to_end(&mut content).expect("read the entry");
    (mode, content)
}

#[tokio::test]
async fn the_keycloak_double_image_runs_the_double_binary_as_kc_sh() {
    let Some(docker) = engine().await else { return };
    let layout = Layout::discover();
    let spec = standin::keycloak_spec(&layout).expect("the double's sources");
    standin::ensure(&docker, &layout, &spec)
        .await
        .expect("build the Keycloak stand-in");

    let image = docker
        .inspect_image(&spec.exact_image())
        .await
        .expect("the image exists");
    assert!(spec.exact_image().starts_with(standin::KEYCLOAK_IMAGE));
    let config = image.config.expect("config");
    assert_eq!(
        config.entrypoint,
        Some(vec!["/opt/keycloak/bin/kc.sh".to_string()])
    );
    assert_eq!(config.stop_signal.as_deref(), Some("SIGTERM"));
    let ports = config.exposed_ports.unwrap_or_default();
    for port in ["8080/tcp", "8443/tcp", "9000/tcp"] {
        assert!(ports.iter().any(|p| p == port), "{port} in {ports:?}");
    }
    assert_eq!(
        config.labels.unwrap_or_default().get(LABEL_STANDIN_HASH),
        Some(&spec.hash())
    );
    for tag in image.repo_tags.unwrap_or_default() {
        assert!(
            tag.starts_with("iamstack-test/"),
            "official-looking tag {tag}"
        );
    }

    // The file at the entrypoint is the binary the nested cargo build produced, executable.
    let run = TestRun::with_engine(&docker).await;
    let name = format!("{}-kc", run.project());
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            ContainerCreateBody {
                image: Some(spec.exact_image()),
                labels: Some(run.labels()),
                ..Default::default()
            },
        )
        .await
        .expect("create a container of the image");
    let (mode, content) = download(&docker, &name, "/opt/keycloak/bin/kc.sh").await;
    assert_eq!(mode & 0o111, 0o111, "kc.sh is executable (mode {mode:o})");
    assert_eq!(&content[..4], b"\x7fELF");
    match std::fs::read(layout.cargo_target().join("standin/keycloak-double")) {
        // Built by this checkout: the image holds exactly that binary.
        Ok(built) => assert_eq!(
            sha256(&content),
            sha256(&built),
            "kc.sh is the double binary"
        ),
        // The image is current for these sources but was built by another checkout (the engine
        // is shared): show that kc.sh is the double by running it — `start` without any
        // configuration augments, then fails to start in production mode, exit 1.
        Err(_) => {
            let (code, output) = run_to_exit(
                &docker,
                &run,
                &spec.exact_image(),
                Some(&["start"]),
                "start",
            )
            .await;
            assert_eq!(code, 1, "kc.sh start without configuration: {output}");
            assert!(
                output.contains("Updating the server image")
                    && output.contains("ERROR: Failed to start server in (production) mode"),
                "kc.sh is the double: {output}"
            );
        }
    }
}

/// Run `image` with `cmd` (none: the image's own) until it exits, as container
/// `<project>-<suffix>`; its exit code and everything it printed.
async fn run_to_exit(
    docker: &Docker,
    run: &TestRun,
    image: &str,
    cmd: Option<&[&str]>,
    suffix: &str,
) -> (i64, String) {
    let name = format!("{}-{suffix}", run.project());
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            ContainerCreateBody {
                image: Some(image.to_string()),
                cmd: cmd.map(|c| c.iter().map(|s| s.to_string()).collect()),
                labels: Some(run.labels()),
                ..Default::default()
            },
        )
        .await
        .expect("create the container");
    docker
        .start_container(&name, None)
        .await
        .expect("start the container");
    // A non-zero exit is an Err from bollard's wait; the code is read back below.
    let _ = docker
        .wait_container(&name, None)
        .try_collect::<Vec<_>>()
        .await;
    let code = docker
        .inspect_container(&name, None)
        .await
        .expect("inspect")
        .state
        .and_then(|s| s.exit_code)
        .expect("exit code");
    (code, container_logs(docker, &name).await)
}

/// What the probe image printed (it must exit 0).
async fn run_probe(docker: &Docker, run: &TestRun, image: &str, suffix: &str) -> String {
    let (code, output) = run_to_exit(docker, run, image, None, suffix).await;
    assert_eq!(code, 0, "the probe exits 0: {output}");
    output
}

/// A small stand-in on the minbase rootfs: `cat` of one file whose content we control.
fn probe_spec(run: &TestRun, content: &str) -> ImageSpec {
    let files = vec![FileEntry {
        path: "/opt/probe/input.txt".into(),
        mode: 0o644,
        content: content.as_bytes().to_vec(),
    }];
    ImageSpec {
        image: format!("iamstack-test/probe:{}", run.project()),
        rootfs: standin::ROOTFS_MINBASE,
        input_hash: standin::files_hash(&files),
        payload: Payload::Files(files),
        config: ImageConfig {
            entrypoint: vec!["/bin/cat".into(), "/opt/probe/input.txt".into()],
            stop_signal: "SIGTERM".into(),
            // Swept with the run, like every other object a test makes.
            labels: BTreeMap::from([(LABEL_TEST_RUN.to_string(), run.id().to_string())]),
            ..Default::default()
        },
    }
}

async fn image_id(docker: &Docker, image: &str) -> Option<String> {
    docker.inspect_image(image).await.ok().and_then(|i| i.id)
}

#[tokio::test]
async fn a_changed_input_rebuilds_a_stand_in_and_an_unchanged_one_does_not() {
    let Some(docker) = engine().await else { return };
    let layout = Layout::discover();
    let run = TestRun::with_engine(&docker).await;

    let one = probe_spec(&run, "one\n");
    assert_eq!(
        standin::ensure(&docker, &layout, &one)
            .await
            .expect("build"),
        Outcome::Built
    );
    let first_id = image_id(&docker, &one.exact_image()).await.expect("built");
    assert_eq!(
        standin::image_hash(&docker, &one.exact_image())
            .await
            .expect("inspect"),
        Some(one.hash())
    );
    assert_eq!(
        image_id(&docker, &one.image).await,
        Some(first_id.clone()),
        "plain tag"
    );
    // (No container of this build yet: a container would pin the image and hide a wrong removal
    // when the plain tag moves away from it below.)

    assert_eq!(
        standin::ensure(&docker, &layout, &one)
            .await
            .expect("cached"),
        Outcome::Fresh,
        "same inputs: no rebuild"
    );
    assert_eq!(
        image_id(&docker, &one.exact_image()).await,
        Some(first_id.clone())
    );

    let two = probe_spec(&run, "two\n");
    assert_ne!(two.hash(), one.hash());
    assert_eq!(
        standin::ensure(&docker, &layout, &two)
            .await
            .expect("rebuild"),
        Outcome::Built,
        "a changed input: rebuilt, never served stale"
    );
    let second_id = image_id(&docker, &two.exact_image())
        .await
        .expect("rebuilt");
    assert_ne!(second_id, first_id);
    assert_eq!(
        standin::image_hash(&docker, &two.exact_image())
            .await
            .expect("inspect"),
        Some(two.hash())
    );
    assert_eq!(
        image_id(&docker, &two.image).await,
        Some(second_id),
        "plain tag moved"
    );
    assert_eq!(
        run_probe(&docker, &run, &two.exact_image(), "two").await,
        "two\n"
    );
    assert_eq!(
        run_probe(&docker, &run, &one.exact_image(), "one-again").await,
        "one\n",
        "the earlier build (no container used it) is still there under its exact name"
    );
}

#[tokio::test]
async fn concurrent_callers_build_a_stale_stand_in_once() {
    let Some(docker) = engine().await else { return };
    let layout = Layout::discover();
    let run = TestRun::with_engine(&docker).await;
    let spec = probe_spec(&run, "built once\n");
    // Each call opens the lock file anew: flock locks conflict between open files just as
    // between processes, which is what nextest runs (one process per test).
    let (a, b) = tokio::join!(
        standin::ensure(&docker, &layout, &spec),
        standin::ensure(&docker, &layout, &spec)
    );
    let mut outcomes = [a.expect("first caller"), b.expect("second caller")];
    outcomes.sort_by_key(|o| matches!(o, Outcome::Fresh));
    assert_eq!(outcomes, [Outcome::Built, Outcome::Fresh]);
    assert_eq!(
        standin::image_hash(&docker, &spec.exact_image())
            .await
            .expect("inspect"),
        Some(spec.hash())
    );
}
