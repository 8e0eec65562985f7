//! One thin client over bollard: one method per engine operation, 404/409 mapped to states,
//! errors carrying the object's name. No policy here; `stack` decides what to call.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, NetworkCreateRequest,
    NetworkInspect, Volume, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use crate::config::EngineConfig;
use crate::error::{fail, Kind};

/// The oldest engine API iamstack is tested with (Docker 20.10).
pub const MIN_API: (u64, u64) = (1, 41);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected engine whose API version has been negotiated.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
    api_version: String,
}

/// The state of a container as `up`, `down` and `status` need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// The image ID the container was created from.
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    /// `running`, `exited`, `created`, ...
    pub status: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub env: Vec<String>,
    /// Published ports: (container port, host ip, host port).
    pub ports: Vec<(u16, String, u16)>,
    /// Bind-mount and volume sources, by destination.
    pub mounts: Vec<(String, String, String)>,
}

impl ContainerInfo {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    pub fn host_port(&self, container_port: u16) -> Option<u16> {
        self.ports
            .iter()
            .find(|(c, _, _)| *c == container_port)
            .map(|(_, _, h)| *h)
    }

    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v)
        })
    }

    fn from_inspect(c: ContainerInspectResponse) -> ContainerInfo {
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        let mut ports = Vec::new();
        if let Some(map) = c.network_settings.and_then(|n| n.ports) {
            for (key, bindings) in map {
                let Some(container_port) = key.split('/').next().and_then(|p| p.parse().ok())
                else {
                    continue;
                };
                for b in bindings.unwrap_or_default() {
                    if let Some(host_port) = b.host_port.and_then(|p| p.parse().ok()) {
                        ports.push((container_port, b.host_ip.unwrap_or_default(), host_port));
                    }
                }
            }
        }
        ports.sort();
        ports.dedup_by_key(|(c, _, h)| (*c, *h));
        let mounts = c
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                (
                    m.destination.unwrap_or_default(),
                    m.typ.map(|t| t.to_string()).unwrap_or_default(),
                    m.name.or(m.source).unwrap_or_default(),
                )
            })
            .collect();
        ContainerInfo {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            image_id: c.image.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            status: state.status.map(|s| s.to_string()).unwrap_or_default(),
            running: state.running.unwrap_or(false),
            exit_code: state.exit_code,
            oom_killed: state.oom_killed.unwrap_or(false),
            env: config.env.unwrap_or_default(),
            ports,
            mounts,
        }
    }
}

/// A network found by exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Names of the containers attached.
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

fn status_code(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's own message (without bollard's "Docker responded with status code" prefix).
pub fn engine_reason(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => other.to_string(),
    }
}

fn is_not_found(e: &BollardError) -> bool {
    status_code(e) == Some(404)
}

/// Engine messages meaning a host port is taken (a race the pre-flight cannot close).
pub fn is_port_conflict(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("port is already allocated") || m.contains("address already in use")
}

/// `a.b` API versions compare numerically.
pub fn parse_api_version(v: &str) -> Option<(u64, u64)> {
    let (a, b) = v.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Split `repo[:tag]` / `repo@digest` for the pull API; the tag defaults to `latest`.
pub fn split_image(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    match image.rsplit_once(':') {
        // A `:` after the last `/` is a tag; before it, a registry port.
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

fn label_filter(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let values = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    [("label".to_string(), values)].into_iter().collect()
}

fn unreachable_message(host: &str, cause: &str) -> String {
    format!(
        "cannot reach the Docker engine at {host}: {cause}; start Docker (e.g. `sudo systemctl \
         start docker`), or set DOCKER_HOST to the engine's socket (e.g. \
         unix:///run/user/1000/docker.sock for rootless Docker)"
    )
}

impl Engine {
    /// Connect to the engine named by `DOCKER_HOST` (or the default socket), negotiate the API
    /// version, and check it is new enough. Failures are `Kind::Engine` (exit 3).
    pub async fn connect(config: &EngineConfig) -> anyhow::Result<Engine> {
        let host = config.host.clone();
        let docker = Docker::connect_with_host(&host)
            .map_err(|e| fail(Kind::Engine, unreachable_message(&host, &e.to_string())))?;
        let docker = match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                return Err(fail(
                    Kind::Engine,
                    unreachable_message(&host, &engine_reason(&e)),
                ))
            }
            Err(_) => {
                return Err(fail(
                    Kind::Engine,
                    unreachable_message(
                        &host,
                        &format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                    ),
                ))
            }
        };
        let version = docker.client_version();
        let api_version = format!("{}.{}", version.major_version, version.minor_version);
        let (major, minor) = (version.major_version as u64, version.minor_version as u64);
        if (major, minor) < MIN_API {
            return Err(fail(
                Kind::Engine,
                format!(
                    "the Docker engine at {host} speaks API {api_version}, too old: iamstack \
                     needs API {}.{} (Docker 20.10) or newer; upgrade Docker",
                    MIN_API.0, MIN_API.1
                ),
            ));
        }
        Ok(Engine {
            docker,
            host,
            api_version,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    // ---- containers ----

    /// A container by exact name, or `None`.
    pub async fn container(&self, name: &str) -> anyhow::Result<Option<ContainerInfo>> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => {
                let info = ContainerInfo::from_inspect(c);
                // Inspect also matches ID prefixes; only an exact name counts.
                Ok((info.name == name).then_some(info))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to inspect container `{name}`")))
            }
        }
    }

    /// Containers (running or not) carrying all these labels.
    pub async fn containers_labelled(
        &self,
        labels: &[(&str, &str)],
    ) -> anyhow::Result<Vec<ContainerSummary>> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filter(labels))
            .build();
        self.docker
            .list_containers(Some(options))
            .await
            .context("failed to list containers")
    }

    /// Running containers publishing `port` on the host, by name.
    pub async fn containers_publishing(&self, port: u16) -> anyhow::Result<Vec<String>> {
        let options = ListContainersOptionsBuilder::new().build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .context("failed to list containers")?;
        Ok(list
            .into_iter()
            .filter(|c| {
                c.ports
                    .iter()
                    .flatten()
                    .any(|p| p.public_port == Some(port))
            })
            .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
            .map(|n| n.trim_start_matches('/').to_string())
            .collect())
    }

    pub async fn create_container(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> anyhow::Result<String> {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        match self.docker.create_container(Some(options), body).await {
            Ok(r) => Ok(r.id),
            Err(e) if status_code(&e) == Some(409) => Err(fail(
                Kind::Conflict,
                format!(
                    "cannot create container `{name}`: the name is taken ({}); remove it or \
                     choose another --project",
                    engine_reason(&e)
                ),
            )),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to create container `{name}`")))
            }
        }
    }

    /// Start a container; a host port taken meanwhile is a conflict (exit 4).
    pub async fn start_container(&self, name: &str) -> anyhow::Result<()> {
        match self.docker.start_container(name, None).await {
            Ok(()) => Ok(()),
            Err(e) if is_port_conflict(&engine_reason(&e)) => Err(fail(
                Kind::Conflict,
                format!(
                    "cannot start container `{name}`: a host port it publishes is taken ({}); \
                     free the port or choose another with the port flags",
                    engine_reason(&e)
                ),
            )),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to start container `{name}`")))
            }
        }
    }

    pub async fn unpause_container(&self, name: &str) -> anyhow::Result<()> {
        self.docker
            .unpause_container(name)
            .await
            .with_context(|| format!("failed to unpause container `{name}`"))
    }

    /// Stop with the container's own stop signal (the image's `STOPSIGNAL`), killing after
    /// `timeout`. A container already stopped or gone is fine.
    pub async fn stop_container(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        let options = StopContainerOptionsBuilder::new()
            .t(timeout.as_secs() as i32)
            .build();
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(status_code(&e), Some(304) | Some(404)) => Ok(()),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to stop container `{name}`")))
            }
        }
    }

    /// Remove (forcibly: kills if still running). Gone already is fine.
    pub async fn remove_container(&self, name: &str) -> anyhow::Result<()> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // "removal already in progress"
            Err(e) if status_code(&e) == Some(409) && engine_reason(&e).contains("in progress") => {
                Ok(())
            }
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to remove container `{name}`")))
            }
        }
    }

    /// The last `lines` lines of a container's output (stdout and stderr), oldest first.
    pub async fn log_tail(&self, name: &str, lines: usize) -> anyhow::Result<Vec<String>> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("failed to read the logs of `{name}`"))?;
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        let all: Vec<String> = text
            .lines()
            .map(clean_log_line)
            .filter(|l| !l.trim().is_empty())
            .collect();
        let skip = all.len().saturating_sub(lines);
        Ok(all.into_iter().skip(skip).collect())
    }

    // ---- networks ----

    /// A network by exact name (the engine's name filter matches substrings, and older engines
    /// allow duplicates: the first exact match wins).
    pub async fn network(&self, name: &str) -> anyhow::Result<Option<NetworkInfo>> {
        let filters: HashMap<String, Vec<String>> = [("name".to_string(), vec![name.to_string()])]
            .into_iter()
            .collect();
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .with_context(|| format!("failed to look up network `{name}`"))?;
        let Some(id) = list
            .into_iter()
            .find(|n| n.name.as_deref() == Some(name))
            .and_then(|n| n.id)
        else {
            return Ok(None);
        };
        match self.docker.inspect_network(&id, None).await {
            Ok(n) => Ok(Some(NetworkInfo {
                id,
                name: name.to_string(),
                containers: network_containers(&n),
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to inspect network `{name}`")))
            }
        }
    }

    pub async fn networks_labelled(
        &self,
        labels: &[(&str, &str)],
    ) -> anyhow::Result<Vec<NetworkInfo>> {
        let options = ListNetworksOptionsBuilder::new()
            .filters(&label_filter(labels))
            .build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .context("failed to list networks")?;
        let mut out = Vec::new();
        for n in list {
            let (Some(id), Some(name)) = (n.id, n.name) else {
                continue;
            };
            match self.docker.inspect_network(&id, None).await {
                Ok(i) => out.push(NetworkInfo {
                    id,
                    name,
                    labels: i.labels.clone().unwrap_or_default().into_iter().collect(),
                    containers: network_containers(&i),
                }),
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("failed to inspect network `{name}`")))
                }
            }
        }
        Ok(out)
    }

    pub async fn create_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> anyhow::Result<String> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let r = self
            .docker
            .create_network(request)
            .await
            .with_context(|| format!("failed to create network `{name}`"))?;
        Ok(r.id)
    }

    /// Remove by ID (names can be ambiguous on old engines). Gone already is fine.
    pub async fn remove_network(&self, id: &str, name: &str) -> anyhow::Result<()> {
        match self.docker.remove_network(id).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to remove network `{name}`")))
            }
        }
    }

    // ---- volumes ----

    pub async fn volume(&self, name: &str) -> anyhow::Result<Option<VolumeInfo>> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(Some(volume_info(v))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to inspect volume `{name}`")))
            }
        }
    }

    pub async fn volumes_labelled(
        &self,
        labels: &[(&str, &str)],
    ) -> anyhow::Result<Vec<VolumeInfo>> {
        let options = ListVolumesOptionsBuilder::new()
            .filters(&label_filter(labels))
            .build();
        let r = self
            .docker
            .list_volumes(Some(options))
            .await
            .context("failed to list volumes")?;
        Ok(r.volumes
            .unwrap_or_default()
            .into_iter()
            .map(volume_info)
            .collect())
    }

    pub async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .with_context(|| format!("failed to create volume `{name}`"))?;
        Ok(())
    }

    pub async fn remove_volume(&self, name: &str) -> anyhow::Result<()> {
        let options = RemoveVolumeOptionsBuilder::new().build();
        match self.docker.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to remove volume `{name}`")))
            }
        }
    }

    // ---- images ----

    /// The local image's ID, or `None` when it is not present.
    pub async fn image_id(&self, image: &str) -> anyhow::Result<Option<String>> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i.id.unwrap_or_default())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("failed to inspect image `{image}`")))
            }
        }
    }

    /// Pull an image, reporting (downloaded, total) bytes summed over its layers. A failure
    /// carries the engine's reason (the caller adds the fix).
    pub async fn pull(
        &self,
        image: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(), String> {
        let (repo, tag) = split_image(image);
        let options = CreateImageOptionsBuilder::new()
            .from_image(&repo)
            .tag(&tag)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        let mut layers = LayerProgress::default();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| engine_reason(&e))?;
            if let Some(detail) = info.error_detail {
                return Err(detail
                    .message
                    .unwrap_or_else(|| "the engine reported an error".to_string()));
            }
            if let (Some(id), Some(status)) = (info.id.as_deref(), info.status.as_deref()) {
                let detail = info.progress_detail.unwrap_or_default();
                if layers.update(id, status, detail.current, detail.total) {
                    let (done, total) = layers.sum();
                    progress(done, total);
                }
            }
        }
        Ok(())
    }
}

fn network_containers(n: &NetworkInspect) -> Vec<String> {
    n.containers
        .iter()
        .flatten()
        .map(|(id, c)| c.name.clone().unwrap_or_else(|| id.clone()))
        .collect()
}

fn volume_info(v: Volume) -> VolumeInfo {
    VolumeInfo {
        name: v.name,
        labels: v.labels.into_iter().collect(),
    }
}

/// Strip terminal control sequences and trailing whitespace from a log line.
pub fn clean_log_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c == '\r' || (c.is_control() && c != '\t') {
            continue;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

/// Byte progress of one image pull, per layer.
#[derive(Debug, Default)]
pub struct LayerProgress {
    layers: BTreeMap<String, (u64, u64)>,
}

impl LayerProgress {
    /// Apply one status message; true when the sums changed.
    pub fn update(
        &mut self,
        layer: &str,
        status: &str,
        current: Option<i64>,
        total: Option<i64>,
    ) -> bool {
        let before = self.layers.get(layer).copied();
        let entry = self.layers.entry(layer.to_string()).or_insert((0, 0));
        match status {
            "Downloading" => {
                if let Some(t) = total.filter(|t| *t > 0) {
                    entry.1 = t as u64;
                }
                if let Some(c) = current.filter(|c| *c >= 0) {
                    entry.0 = c as u64;
                }
            }
            "Download complete" | "Pull complete" | "Already exists" | "Verifying Checksum" => {
                entry.0 = entry.1;
            }
            _ => {}
        }
        before != Some(*entry)
    }

    pub fn sum(&self) -> (u64, u64) {
        self.layers
            .values()
            .fold((0, 0), |(d, t), (ld, lt)| (d + ld, t + lt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_repo_and_tag() {
        assert_eq!(
            split_image("postgres:17.4"),
            ("postgres".into(), "17.4".into())
        );
        assert_eq!(
            split_image("keycloak/keycloak:26.2"),
            ("keycloak/keycloak".into(), "26.2".into())
        );
        assert_eq!(split_image("alpine"), ("alpine".into(), "latest".into()));
        assert_eq!(
            split_image("localhost:5000/kc"),
            ("localhost:5000/kc".into(), "latest".into())
        );
        assert_eq!(
            split_image("localhost:5000/kc:1"),
            ("localhost:5000/kc".into(), "1".into())
        );
        assert_eq!(
            split_image("pg@sha256:abc"),
            ("pg".into(), "sha256:abc".into())
        );
    }

    #[test]
    fn api_versions_compare_numerically() {
        assert_eq!(parse_api_version("1.41"), Some((1, 41)));
        assert!(parse_api_version("1.9").unwrap() < MIN_API);
        assert!(parse_api_version("1.100").unwrap() > MIN_API);
        assert_eq!(parse_api_version("x"), None);
    }

    #[test]
    fn pull_progress_sums_layers() {
        let mut p = LayerProgress::default();
        assert!(p.update("a", "Pulling fs layer", None, None));
        assert!(p.update("a", "Downloading", Some(10), Some(100)));
        assert!(p.update("b", "Downloading", Some(5), Some(50)));
        assert_eq!(p.sum(), (15, 150));
        assert!(p.update("a", "Download complete", None, None));
        assert_eq!(p.sum(), (105, 150));
        assert!(!p.update("a", "Extracting", Some(3), Some(100)));
    }

    #[test]
    fn log_lines_lose_colours_and_carriage_returns() {
        assert_eq!(
            clean_log_line("\u{1b}[0m\u{1b}[32mINFO\u{1b}[0m started\r"),
            "INFO started"
        );
    }

    #[test]
    fn port_conflicts_are_recognised() {
        assert!(is_port_conflict(
            "driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:8080 failed: port is already allocated"
        ));
        assert!(is_port_conflict(
            "listen tcp4 127.0.0.1:5432: bind: address already in use"
        ));
        assert!(!is_port_conflict("no such image"));
    }

    #[tokio::test]
    async fn an_unreachable_engine_is_exit_3_naming_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let host = format!("unix://{}/nope.sock", dir.path().display());
        let err = Engine::connect(&EngineConfig { host: host.clone() })
            .await
            .err()
            .expect("no engine there");
        assert_eq!(crate::error::exit_code(&err), 3);
        let msg = err.to_string();
        assert!(msg.contains(&host), "{msg}");
        assert!(msg.contains("DOCKER_HOST"), "{msg}");
    }
}
