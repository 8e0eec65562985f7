//! [`TestRun`]: a unique id, project name and label per test, and sweeping by that label.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use bollard::Docker;
use futures_util::future::join_all;

use crate::engine::connect;
use crate::slot::Slot;
use crate::LABEL_TEST_RUN;

/// One per test. Carries a unique id `<pid>-<nanos>` (the pid lets a later run recognise the
/// leftovers of a run whose process is gone), a unique short project name valid for
/// `iamstack --project`, and the label `dev.iamstack.test-run=<id>` to pass to `iamstack up
/// --label` (or to put on objects the test creates itself).
///
/// Creating the test's first `TestRun` takes one of the two real-engine slots shared by all test
/// processes (waiting for one if needed) and starts the test's time limit; the slot is released
/// when the test's last `TestRun` drops. A test that overruns fails with a message naming it and
/// the limit (see `slot.rs`).
///
/// [`TestRun::new`] first sweeps the leftovers of dead runs (objects whose test-run label names a
/// pid that no longer runs). Dropping it removes every container (forced, with its anonymous
/// volumes), network, volume and image carrying its label. The drop sweep runs synchronously on a
/// thread of its own with its own runtime, so it also runs when the test panics, whatever runtime
/// the test used.
///
/// ```no_run
/// # async fn t() {
/// let Some(docker) = iamstack_test_support::engine().await else { return };
/// let run = iamstack_test_support::TestRun::new().await;
/// // iamstack up --project <run.project()> --label <run.label_arg()> --postgres-port 0 ...
/// # let _ = (docker, run); }
/// ```
pub struct TestRun {
    id: String,
    project: String,
    /// The test's real-engine slot (shared by the test's runs): at most two tests at once, each
    /// within its time limit (see `slot.rs`).
    slot: Arc<Slot>,
}

impl std::fmt::Debug for TestRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRun")
            .field("id", &self.id)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl TestRun {
    /// A fresh run; sweeps the leftovers of dead runs first. Connects to the engine itself and
    /// panics if there is none: check [`crate::engine`] first.
    pub async fn new() -> TestRun {
        let docker = match connect().await {
            Ok(docker) => docker,
            Err(e) => panic!("TestRun needs a Docker engine ({e:#}); call engine() first"),
        };
        TestRun::with_engine(&docker).await
    }

    /// As [`TestRun::new`], with a client the test already has.
    pub async fn with_engine(docker: &Docker) -> TestRun {
        let slot = match Slot::for_this_test().await {
            Ok(slot) => slot,
            Err(e) => panic!("no real-engine test slot: {e:#}"),
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let (id, project) = identity(std::process::id(), nanos);
        let run = TestRun { id, project, slot };
        run.slot.track(run.label_arg());
        if let Err(e) = sweep_dead_runs(docker).await {
            eprintln!("warning: sweeping the leftovers of dead test runs failed: {e:#}");
        }
        // Nothing can carry a label this fresh, but a test must start clean: check, do not assume.
        if let Err(e) = sweep_label(docker, &run.label_arg()).await {
            eprintln!("warning: sweeping `{}` failed: {e:#}", run.label_arg());
        }
        run
    }

    /// The run id, `<pid>-<nanos since the epoch>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A unique project name (`t<pid>-<nanos>`, base 36), valid for `--project`.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// `dev.iamstack.test-run=<id>`: the argument of `iamstack up --label`, and the label filter
    /// that finds everything this run made.
    pub fn label_arg(&self) -> String {
        format!("{LABEL_TEST_RUN}={}", self.id)
    }

    /// The label as a map, for objects a test creates through bollard itself.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(LABEL_TEST_RUN.to_string(), self.id.clone())])
    }

    /// What still carries this run's label, as `kind name` lines (containers, networks, volumes,
    /// images): tests use it to assert that `down` (or a sweep) left nothing behind.
    pub async fn leftovers(&self, docker: &Docker) -> anyhow::Result<Vec<String>> {
        labelled_objects(docker, &self.label_arg()).await
    }

    /// Sweep now (the drop sweeps again; a second sweep finds nothing).
    pub async fn sweep(&self, docker: &Docker) -> anyhow::Result<()> {
        sweep_label(docker, &self.label_arg()).await
    }
}

impl Drop for TestRun {
    fn drop(&mut self) {
        if let Err(e) = sweep_on_own_thread(&self.label_arg()) {
            eprintln!("warning: sweeping test run `{}` failed: {e:#}", self.id);
        }
        if let Some(overrun) = self.slot.overrun() {
            if std::thread::panicking() {
                // The test already fails; say why, next to its own message.
                eprintln!("{overrun}");
            } else {
                panic!("{overrun}");
            }
        }
    }
}

/// Sweep `label` on a thread of its own with its own runtime: callable from a drop, during a
/// panic, from the time-limit watchdog, whatever runtime (if any) the caller runs on.
pub(crate) fn sweep_on_own_thread(label: &str) -> anyhow::Result<()> {
    let label = label.to_string();
    std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot build a runtime for the sweep")?;
        runtime.block_on(async {
            let docker = connect().await?;
            sweep_label(&docker, &label).await
        })
    })
    .join()
    .unwrap_or_else(|_| Err(anyhow::anyhow!("the sweep panicked")))
}

/// The run id `<pid>-<nanos>` and the project name `t<pid>-<nanos>` (base 36, lowercase: a valid
/// `--project`, 22 characters at most).
fn identity(pid: u32, nanos: u128) -> (String, String) {
    (
        format!("{pid}-{nanos}"),
        format!("t{}-{}", base36(u128::from(pid)), base36(nanos)),
    )
}

/// Every container, network, volume and image carrying the label `filter` (`key` or
/// `key=value`), as `kind name` lines.
pub async fn labelled_objects(docker: &Docker, filter: &str) -> anyhow::Result<Vec<String>> {
    Ok(list_labelled(docker, filter).await?.describe())
}

fn base36(mut n: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The objects carrying a label (filter `key` or `key=value`).
#[derive(Default)]
struct Labelled {
    containers: Vec<(String, String, Option<String>)>, // id, name, label value
    networks: Vec<(String, String, Option<String>)>,
    volumes: Vec<(String, Option<String>)>,
    images: Vec<(String, Vec<String>, Option<String>)>, // id, tags, label value
}

impl Labelled {
    fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(
            self.containers
                .iter()
                .map(|(_, n, _)| format!("container {n}")),
        );
        out.extend(self.networks.iter().map(|(_, n, _)| format!("network {n}")));
        out.extend(self.volumes.iter().map(|(n, _)| format!("volume {n}")));
        out.extend(
            self.images
                .iter()
                .map(|(id, tags, _)| format!("image {}", tags.first().unwrap_or(id))),
        );
        out
    }

    fn values(&self) -> BTreeSet<String> {
        self.containers
            .iter()
            .map(|(_, _, v)| v)
            .chain(self.networks.iter().map(|(_, _, v)| v))
            .chain(self.volumes.iter().map(|(_, v)| v))
            .chain(self.images.iter().map(|(_, _, v)| v))
            .flatten()
            .cloned()
            .collect()
    }
}

async fn list_labelled(docker: &Docker, filter: &str) -> anyhow::Result<Labelled> {
    let filters = HashMap::from([("label", vec![filter])]);
    let value = |labels: Option<&HashMap<String, String>>| {
        labels.and_then(|l| l.get(LABEL_TEST_RUN)).cloned()
    };
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .context("cannot list containers")?;
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .context("cannot list networks")?;
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .context("cannot list volumes")?;
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .all(false)
                .filters(&filters)
                .build(),
        ))
        .await
        .context("cannot list images")?;
    Ok(Labelled {
        containers: containers
            .into_iter()
            .map(|c| {
                let name = c
                    .names
                    .as_ref()
                    .and_then(|n| n.first())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default();
                let v = value(c.labels.as_ref());
                (c.id.unwrap_or_default(), name, v)
            })
            .collect(),
        networks: networks
            .into_iter()
            .map(|n| {
                let v = value(n.labels.as_ref());
                (n.id.unwrap_or_default(), n.name.unwrap_or_default(), v)
            })
            .collect(),
        volumes: volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                let value = value(Some(&v.labels));
                (v.name, value)
            })
            .collect(),
        images: images
            .into_iter()
            .map(|i| {
                let v = value(Some(&i.labels));
                (i.id, i.repo_tags, v)
            })
            .collect(),
    })
}

/// A 404 means someone else removed it first (e.g. `iamstack down`): that is what we wanted.
fn gone(r: Result<(), DockerError>) -> Result<(), DockerError> {
    match r {
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        other => other,
    }
}

/// Remove every container (forced, with anonymous volumes), then every network, volume and image
/// carrying the label `filter` (`key` or `key=value`). Collects every failure; returns the first
/// with the count.
pub async fn sweep_label(docker: &Docker, filter: &str) -> anyhow::Result<()> {
    let found = list_labelled(docker, filter).await?;
    let mut errors: Vec<String> = Vec::new();

    let rm = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let results = join_all(found.containers.iter().map(|(id, name, _)| {
        let rm = rm.clone();
        async move {
            gone(docker.remove_container(id, Some(rm)).await)
                .map_err(|e| format!("container `{name}`: {e}"))
        }
    }))
    .await;
    errors.extend(results.into_iter().filter_map(Result::err));

    let results = join_all(found.networks.iter().map(|(id, name, _)| async move {
        gone(docker.remove_network(id).await).map_err(|e| format!("network `{name}`: {e}"))
    }))
    .await;
    errors.extend(results.into_iter().filter_map(Result::err));

    let results = join_all(found.volumes.iter().map(|(name, _)| async move {
        gone(
            docker
                .remove_volume(
                    name,
                    Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
                )
                .await,
        )
        .map_err(|e| format!("volume `{name}`: {e}"))
    }))
    .await;
    errors.extend(results.into_iter().filter_map(Result::err));

    for (id, tags, _) in &found.images {
        let r = docker
            .remove_image(
                id,
                Some(RemoveImageOptionsBuilder::default().force(true).build()),
                None,
            )
            .await
            .map(|_| ());
        if let Err(e) = gone(r) {
            errors.push(format!("image `{}`: {e}", tags.first().unwrap_or(id)));
        }
    }

    match errors.first() {
        None => Ok(()),
        Some(first) => anyhow::bail!(
            "{} object(s) labelled `{filter}` could not be removed; first: {first}",
            errors.len()
        ),
    }
}

/// The pid in a run id `<pid>-<nanos>`, if it has that shape.
fn run_pid(id: &str) -> Option<u32> {
    let (pid, nanos) = id.split_once('-')?;
    nanos.parse::<u128>().ok()?;
    pid.parse().ok()
}

/// Whether a process with this pid runs on this machine. Without /proc we cannot tell: alive.
fn pid_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Sweep every test run whose id names a pid that no longer runs here.
async fn sweep_dead_runs(docker: &Docker) -> anyhow::Result<()> {
    let found = list_labelled(docker, LABEL_TEST_RUN).await?;
    for id in found.values() {
        if run_pid(&id).is_some_and(|pid| !pid_alive(pid)) {
            eprintln!("sweeping the leftovers of dead test run `{id}`");
            sweep_label(docker, &format!("{LABEL_TEST_RUN}={id}")).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_carry_the_pid() {
        assert_eq!(run_pid("1234-1732640000000000000"), Some(1234));
        assert_eq!(run_pid("my-run"), None);
        assert_eq!(run_pid("1234"), None);
    }

    #[test]
    fn our_own_pid_is_alive_and_one_above_pid_max_is_not() {
        assert!(pid_alive(std::process::id()));
        let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4_194_304);
        assert!(!pid_alive(pid_max + 1));
    }

    /// The rule of `iamstack::names::validate_project`: `[a-z0-9][a-z0-9_.-]*`, at most 40.
    fn valid_project(p: &str) -> bool {
        let mut chars = p.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
            && p.len() <= 40
    }

    #[test]
    fn identities_are_valid_projects_even_at_the_largest_pid_and_time() {
        let (id, project) = identity(u32::MAX, u128::from(u64::MAX));
        assert_eq!(run_pid(&id), Some(u32::MAX));
        assert!(valid_project(&project), "{project}");
        let (id, project) = identity(4242, 1_732_640_000_123_456_789);
        assert_eq!(id, "4242-1732640000123456789");
        assert!(valid_project(&project), "{project}");
        let (_, other) = identity(4242, 1_732_640_000_123_456_790);
        assert_ne!(project, other, "one nanosecond apart must differ");
    }

    #[test]
    fn base36_is_lowercase_alphanumeric() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
