//! REAL-ENGINE tests (Docker): `TestRun` sweeps what carries its label when dropped, also when the
//! test panics, and sweeps the leftovers of dead runs but never those of live ones. Skipped
//! without an engine, failing under `CI=true`.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;
use iamstack_test_support::standin::{self, Layout};
use iamstack_test_support::{engine, labelled_objects, sweep_label, TestRun, LABEL_TEST_RUN};

/// A container, a network and a volume, all labelled `labels`, named after `prefix`. `wired`: the
/// container uses the volume and network and runs. Unwired objects are independent of each other,
/// so a concurrent sweep (any test process starting a `TestRun` sweeps dead runs) can take any of
/// them at any moment without breaking the creation of the others.
async fn make_objects(docker: &Docker, prefix: &str, labels: HashMap<String, String>, wired: bool) {
    let image = standin::ensure_rootfs_image(docker, &Layout::discover(), &standin::ROOTFS_MINBASE)
        .await
        .expect("the minbase image");
    docker
        .create_network(NetworkCreateRequest {
            name: format!("{prefix}-net"),
            labels: Some(labels.clone()),
            ..Default::default()
        })
        .await
        .expect("create a network");
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(format!("{prefix}-vol")),
            labels: Some(labels.clone()),
            ..Default::default()
        })
        .await
        .expect("create a volume");
    let name = format!("{prefix}-sleeper");
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            ContainerCreateBody {
                image: Some(image),
                cmd: Some(vec!["sleep".into(), "infinity".into()]),
                labels: Some(labels),
                host_config: wired.then(|| bollard::models::HostConfig {
                    binds: Some(vec![format!("{prefix}-vol:/data")]),
                    network_mode: Some(format!("{prefix}-net")),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("create a container");
    if wired {
        docker
            .start_container(&name, None)
            .await
            .expect("start the container");
    }
}

#[tokio::test]
async fn a_test_run_sweeps_its_objects_when_the_test_panics() {
    let Some(docker) = engine().await else { return };
    let (tx, rx) = std::sync::mpsc::channel();
    // The "test": its own thread and runtime, makes objects, reports its label, then panics.
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let run = TestRun::new().await;
            let docker = iamstack_test_support::connect().await.expect("engine");
            make_objects(&docker, run.project(), run.labels(), true).await;
            let made = run.leftovers(&docker).await.expect("list");
            tx.send((run.label_arg(), made)).expect("send");
            panic!("deliberate failure inside a test holding a TestRun");
        })
    })
    .join();
    assert!(outcome.is_err(), "the inner test was meant to panic");

    let (label, made) = rx.recv().expect("the inner test reported its label");
    assert_eq!(
        made.len(),
        3,
        "container, network and volume existed: {made:?}"
    );
    let left = labelled_objects(&docker, &label).await.expect("list");
    assert!(left.is_empty(), "left behind after the panic: {left:?}");
}

#[tokio::test]
async fn a_new_test_run_sweeps_dead_runs_and_spares_live_ones() {
    let Some(docker) = engine().await else { return };
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // No process can have a pid above pid_max: that run is dead. Ours is alive.
    let dead = format!("{}-{nanos}", pid_max + 1);
    let live = format!("{}-{}", std::process::id(), nanos + 1);
    let dead_label = format!("{LABEL_TEST_RUN}={dead}");
    let live_label = format!("{LABEL_TEST_RUN}={live}");
    let labels = |id: &str| HashMap::from([(LABEL_TEST_RUN.to_string(), id.to_string())]);
    make_objects(&docker, &format!("dead{nanos}"), labels(&dead), false).await;
    make_objects(&docker, &format!("live{nanos}"), labels(&live), true).await;

    let run = TestRun::with_engine(&docker).await;

    let dead_left = labelled_objects(&docker, &dead_label).await.expect("list");
    let live_left = labelled_objects(&docker, &live_label).await.expect("list");
    // Our own leftovers first, whatever the assertions say.
    sweep_label(&docker, &live_label).await.expect("sweep");
    assert!(
        dead_left.is_empty(),
        "a dead run's leftovers survived: {dead_left:?}"
    );
    assert_eq!(live_left.len(), 3, "a live run lost objects: {live_left:?}");
    assert!(run.leftovers(&docker).await.expect("list").is_empty());
}
