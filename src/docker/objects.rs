//! What inspecting the engine's objects returns, reduced to what `up`, `down` and `status`
//! need, so the rest of iamstack never reads bollard's models.

use std::collections::BTreeMap;

use bollard::models::{ContainerInspectResponse, NetworkInspect, Volume};

/// The state of a container as `up`, `down` and `status` need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
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

    pub(super) fn from_inspect(c: ContainerInspectResponse) -> ContainerInfo {
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
        // One entry per (container port, host port): IPv4 and IPv6 bindings of the same pair.
        ports.dedup_by_key(|(c, _, h)| (*c, *h));
        ContainerInfo {
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

impl NetworkInfo {
    pub(super) fn from_inspect(id: String, name: String, n: NetworkInspect) -> NetworkInfo {
        let containers = n
            .containers
            .into_iter()
            .flatten()
            .map(|(id, c)| c.name.unwrap_or(id))
            .collect();
        NetworkInfo {
            id,
            name,
            labels: n.labels.unwrap_or_default().into_iter().collect(),
            containers,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl From<Volume> for VolumeInfo {
    fn from(v: Volume) -> VolumeInfo {
        VolumeInfo {
            name: v.name,
            labels: v.labels.into_iter().collect(),
        }
    }
}
