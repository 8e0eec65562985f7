//! Connecting to the Docker engine the way iamstack does: `DOCKER_HOST` or the default socket,
//! API version negotiated (this machine's engine 20.10 speaks API 1.41, older than bollard's);
//! and what a test container printed, for failure messages and assertions.

use anyhow::Context;
use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use futures_util::TryStreamExt;

/// A connected client: `DOCKER_HOST` honoured, API version negotiated, the engine pinged.
pub async fn connect() -> anyhow::Result<Docker> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let docker = Docker::connect_with_defaults()
        .with_context(|| format!("cannot set up a Docker client for `{host}`"))?;
    let docker = docker
        .negotiate_version()
        .await
        .with_context(|| format!("no Docker engine answers at `{host}`"))?;
    docker
        .ping()
        .await
        .with_context(|| format!("the Docker engine at `{host}` does not answer a ping"))?;
    Ok(docker)
}

/// Whether we run in CI (`CI` set to anything but `false`/`0`/empty): Docker tests must then fail,
/// not skip, without an engine.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"))
        .unwrap_or(false)
}

/// A connected engine client, or:
/// - under `CI=true` without an engine: a panic naming the cause (a Docker test must fail in CI);
/// - elsewhere: `None`, after printing `skipped: no Docker engine (<cause>)`; the test returns.
///
/// ```no_run
/// # async fn t() {
/// let Some(docker) = iamstack_test_support::engine().await else { return };
/// # let _ = docker; }
/// ```
pub async fn engine() -> Option<Docker> {
    match connect().await {
        Ok(docker) => Some(docker),
        Err(e) if in_ci() => panic!(
            "CI is set and there is no usable Docker engine: {e:#}; start dockerd or set DOCKER_HOST \
             (Docker tests fail rather than skip in CI)"
        ),
        Err(e) => {
            eprintln!("skipped: no Docker engine ({e:#})");
            None
        }
    }
}

/// Everything a container printed (stdout and stderr, interleaved); empty if the engine cannot
/// say (the caller asserts on it or prints it, so a missing container is not a second failure).
pub async fn container_logs(docker: &Docker, name: &str) -> String {
    let chunks: Vec<_> = docker
        .logs(
            name,
            Some(
                LogsOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        )
        .try_collect()
        .await
        .unwrap_or_default();
    chunks.iter().map(|c| c.to_string()).collect()
}
