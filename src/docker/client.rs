//! [`Engine`]: connecting with API version negotiation, then one method per engine operation
//! on containers, networks, volumes and images. "Not found" is a state (`None`, or done
//! already for removals), not an error.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, NetworkCreateRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::Docker;

use super::error::{engine_reason, is_not_found, is_port_conflict, status_code};
use super::{ContainerInfo, EngineError, NetworkInfo, VolumeInfo};
use crate::config::EngineConfig;

/// The oldest engine API iamstack is tested with (Docker 20.10).
pub const MIN_API: (u64, u64) = (1, 41);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected engine whose API version has been negotiated.
#[derive(Clone)]
pub struct Engine {
    pub(super) docker: Docker,
    host: String,
    api_version: String,
}

/// A 404 as `None`: the object does not exist.
fn found<T>(result: Result<T, BollardError>) -> Result<Option<T>, BollardError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn label_filter(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let values = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    [("label".to_string(), values)].into_iter().collect()
}

impl Engine {
    /// Connect to the engine named by `DOCKER_HOST` (or the default socket), negotiate the API
    /// version, and check it is new enough. Failures are exit 3.
    pub async fn connect(config: &EngineConfig) -> Result<Engine, EngineError> {
        let host = config.host.clone();
        let unreachable = |cause| EngineError::Unreachable {
            host: host.clone(),
            cause,
        };
        let docker = Docker::connect_with_host(&host).map_err(unreachable)?;
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
            .await
            .map_err(|_| EngineError::NoAnswer {
                host: host.clone(),
                waited: CONNECT_TIMEOUT,
            })?
            .map_err(unreachable)?;
        let version = docker.client_version();
        let api_version = format!("{}.{}", version.major_version, version.minor_version);
        let (major, minor) = (version.major_version as u64, version.minor_version as u64);
        if (major, minor) < MIN_API {
            return Err(EngineError::TooOld { host, api_version });
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

    /// Where the engine keeps images and volumes (`DockerRootDir`), when it says.
    pub async fn data_root(&self) -> Option<String> {
        self.docker.info().await.ok()?.docker_root_dir
    }

    /// Every container carrying the label `key` (any value), with its labels and state.
    pub async fn containers_with_label(
        &self,
        key: &str,
    ) -> Result<Vec<(String, BTreeMap<String, String>, bool)>, EngineError> {
        let filters: HashMap<String, Vec<String>> =
            [("label".to_string(), vec![key.to_string()])].into();
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|source| EngineError::ListContainers { source })?;
        Ok(list
            .into_iter()
            .map(|c| {
                let name = c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string();
                let running = c.state.is_some_and(|s| s.to_string() == "running");
                (
                    name,
                    c.labels.unwrap_or_default().into_iter().collect(),
                    running,
                )
            })
            .collect())
    }

    // ---- containers ----

    /// A container by exact name, or `None`.
    pub async fn container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        let inspected =
            found(self.docker.inspect_container(name, None).await).map_err(|source| {
                EngineError::InspectContainer {
                    name: name.to_string(),
                    source,
                }
            })?;
        // Inspect also matches ID prefixes; only an exact name counts.
        Ok(inspected
            .map(ContainerInfo::from_inspect)
            .filter(|info| info.name == name))
    }

    /// Containers (running or not) carrying all these labels.
    pub async fn containers_labelled(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filter(labels))
            .build();
        self.docker
            .list_containers(Some(options))
            .await
            .map_err(|source| EngineError::ListContainers { source })
    }

    /// Running containers publishing `port` on the host, by name.
    pub async fn containers_publishing(&self, port: u16) -> Result<Vec<String>, EngineError> {
        let options = ListContainersOptionsBuilder::new().build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|source| EngineError::ListContainers { source })?;
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

    /// Create a container; the name taken already is a conflict (exit 4).
    pub async fn create_container(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<String, EngineError> {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        match self.docker.create_container(Some(options), body).await {
            Ok(r) => Ok(r.id),
            Err(cause) if status_code(&cause) == Some(409) => Err(EngineError::NameTaken {
                name: name.to_string(),
                cause,
            }),
            Err(source) => Err(EngineError::CreateContainer {
                name: name.to_string(),
                source,
            }),
        }
    }

    /// Start a container; a host port taken meanwhile is a conflict (exit 4).
    pub async fn start_container(&self, name: &str) -> Result<(), EngineError> {
        match self.docker.start_container(name, None).await {
            Ok(()) => Ok(()),
            Err(cause) if is_port_conflict(&engine_reason(&cause)) => Err(EngineError::PortTaken {
                name: name.to_string(),
                cause,
            }),
            Err(source) => Err(EngineError::StartContainer {
                name: name.to_string(),
                source,
            }),
        }
    }

    pub async fn unpause_container(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .unpause_container(name)
            .await
            .map_err(|source| EngineError::UnpauseContainer {
                name: name.to_string(),
                source,
            })
    }

    /// Stop with the container's own stop signal (the image's `STOPSIGNAL`), killing after
    /// `timeout`. A container already stopped (304) or gone (404) is fine.
    pub async fn stop_container(&self, name: &str, timeout: Duration) -> Result<(), EngineError> {
        let options = StopContainerOptionsBuilder::new()
            .t(timeout.as_secs() as i32)
            .build();
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(status_code(&e), Some(304) | Some(404)) => Ok(()),
            Err(source) => Err(EngineError::StopContainer {
                name: name.to_string(),
                source,
            }),
        }
    }

    /// Remove (forcibly: kills if still running). Gone already, or being removed by someone
    /// else (409 "removal already in progress"), is fine.
    pub async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) if status_code(&e) == Some(409) && engine_reason(&e).contains("in progress") => {
                Ok(())
            }
            Err(source) => Err(EngineError::RemoveContainer {
                name: name.to_string(),
                source,
            }),
        }
    }

    // ---- networks ----

    /// A network by exact name (the engine's name filter matches substrings, and older engines
    /// allow duplicates: the first exact match wins).
    pub async fn network(&self, name: &str) -> Result<Option<NetworkInfo>, EngineError> {
        let filters: HashMap<String, Vec<String>> = [("name".to_string(), vec![name.to_string()])]
            .into_iter()
            .collect();
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|source| EngineError::LookUpNetwork {
                name: name.to_string(),
                source,
            })?;
        let Some(id) = list
            .into_iter()
            .find(|n| n.name.as_deref() == Some(name))
            .and_then(|n| n.id)
        else {
            return Ok(None);
        };
        self.inspect_network(id, name.to_string()).await
    }

    /// Networks carrying all these labels (one removed meanwhile is skipped).
    pub async fn networks_labelled(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<NetworkInfo>, EngineError> {
        let options = ListNetworksOptionsBuilder::new()
            .filters(&label_filter(labels))
            .build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|source| EngineError::ListNetworks { source })?;
        let mut out = Vec::new();
        for n in list {
            let (Some(id), Some(name)) = (n.id, n.name) else {
                continue;
            };
            out.extend(self.inspect_network(id, name).await?);
        }
        Ok(out)
    }

    /// Inspect by ID (for the attached containers and the labels); `None` when gone.
    async fn inspect_network(
        &self,
        id: String,
        name: String,
    ) -> Result<Option<NetworkInfo>, EngineError> {
        match found(self.docker.inspect_network(&id, None).await) {
            Ok(inspected) => Ok(inspected.map(|n| NetworkInfo::from_inspect(id, name, n))),
            Err(source) => Err(EngineError::InspectNetwork { name, source }),
        }
    }

    pub async fn create_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
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
            .map_err(|source| EngineError::CreateNetwork {
                name: name.to_string(),
                source,
            })?;
        Ok(r.id)
    }

    /// Remove by ID (names can be ambiguous on old engines). Gone already is fine.
    pub async fn remove_network(&self, id: &str, name: &str) -> Result<(), EngineError> {
        match found(self.docker.remove_network(id).await) {
            Ok(_) => Ok(()),
            Err(source) => Err(EngineError::RemoveNetwork {
                name: name.to_string(),
                source,
            }),
        }
    }

    // ---- volumes ----

    /// A volume by name, or `None`.
    pub async fn volume(&self, name: &str) -> Result<Option<VolumeInfo>, EngineError> {
        match found(self.docker.inspect_volume(name).await) {
            Ok(inspected) => Ok(inspected.map(VolumeInfo::from)),
            Err(source) => Err(EngineError::InspectVolume {
                name: name.to_string(),
                source,
            }),
        }
    }

    pub async fn volumes_labelled(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<VolumeInfo>, EngineError> {
        let options = ListVolumesOptionsBuilder::new()
            .filters(&label_filter(labels))
            .build();
        let r = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(|source| EngineError::ListVolumes { source })?;
        Ok(r.volumes
            .unwrap_or_default()
            .into_iter()
            .map(VolumeInfo::from)
            .collect())
    }

    pub async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map_err(|source| EngineError::CreateVolume {
                name: name.to_string(),
                source,
            })?;
        Ok(())
    }

    /// Remove a volume; gone already is fine.
    pub async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        let options = RemoveVolumeOptionsBuilder::new().build();
        match found(self.docker.remove_volume(name, Some(options)).await) {
            Ok(_) => Ok(()),
            Err(source) => Err(EngineError::RemoveVolume {
                name: name.to_string(),
                source,
            }),
        }
    }

    // ---- images ----

    /// The local image's ID, or `None` when it is not present.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        match found(self.docker.inspect_image(image).await) {
            Ok(inspected) => Ok(inspected.map(|i| i.id.unwrap_or_default())),
            Err(source) => Err(EngineError::InspectImage {
                image: image.to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_engine_is_exit_3_naming_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let host = format!("unix://{}/nope.sock", dir.path().display());
        let err = Engine::connect(&EngineConfig { host: host.clone() })
            .await
            .err()
            .expect("no engine there");
        let err = anyhow::Error::new(err);
        assert_eq!(crate::error::exit_code(&err), 3);
        let msg = err.to_string();
        assert!(msg.contains(&host), "{msg}");
        assert!(msg.contains("DOCKER_HOST"), "{msg}");
    }
}
