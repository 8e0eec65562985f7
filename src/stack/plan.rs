//! `StackConfig` -> `StackPlan`: every name, label, env var, port and mount of the stack,
//! decided without I/O so unit tests can read it. `up` only executes it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, PortBinding,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{DataSource, StackConfig};
use crate::names::{self, Role};
use crate::stack::optimize::{optimized_container, BuildPlan};

/// Where Postgres keeps its data inside the container (the Postgres 17 image's `PGDATA`).
pub const PGDATA: &str = "/var/lib/postgresql/data";
pub const POSTGRES_CONTAINER_PORT: u16 = 5432;
pub const KEYCLOAK_HTTP_PORT: u16 = 8080;
pub const KEYCLOAK_MANAGEMENT_PORT: u16 = 9000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackPlan {
    pub project: String,
    pub network: NetworkPlan,
    pub data: DataPlan,
    pub postgres: ContainerPlan,
    pub keycloak: ContainerPlan,
    /// The optimized Keycloak image to build and run instead of `keycloak.image` as it is
    /// (`None` with `--no-optimize`). Its tag needs the base image's ID, so `up` settles it
    /// with [`StackPlan::with_optimized`] once the base is present.
    pub keycloak_build: Option<BuildPlan>,
    /// The host address ports are published on.
    pub bind_address: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPlan {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataPlan {
    Volume {
        name: String,
        labels: BTreeMap<String, String>,
    },
    HostDir(PathBuf),
    /// `--ephemeral`: a tmpfs at [`PGDATA`], gone with the container.
    Memory,
}

impl DataPlan {
    /// The `Binds` entry mounting the data at [`PGDATA`] (none for memory).
    pub fn bind(&self) -> Option<String> {
        match self {
            DataPlan::Volume { name, .. } => Some(format!("{name}:{PGDATA}")),
            DataPlan::HostDir(dir) => Some(format!("{}:{PGDATA}", dir.display())),
            DataPlan::Memory => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DataPlan::Volume { name, .. } => format!("volume `{name}`"),
            DataPlan::HostDir(dir) => format!("data directory `{}`", dir.display()),
            DataPlan::Memory => "memory (--ephemeral)".to_string(),
        }
    }
}

/// A published port: container port -> host address and port (0 = the engine picks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortPlan {
    pub container_port: u16,
    pub host_ip: IpAddr,
    pub host_port: u16,
    /// The flag that changes `host_port`, for error messages.
    #[serde(skip)]
    pub flag: &'static str,
}

impl PortPlan {
    pub fn key(&self) -> String {
        format!("{}/tcp", self.container_port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPlan {
    pub role: Role,
    pub name: String,
    pub image: String,
    /// Arguments after the image's entrypoint (`start` for Keycloak); empty = the image's default.
    pub cmd: Vec<String>,
    /// In a fixed order (the order they are listed in the reference).
    pub env: Vec<(String, String)>,
    pub ports: Vec<PortPlan>,
    pub binds: Vec<String>,
    /// tmpfs mounts: path -> mount options.
    pub tmpfs: BTreeMap<String, String>,
    pub network: String,
    pub aliases: Vec<String>,
    /// Ours (stack, role, config hash) plus `--label`s.
    pub labels: BTreeMap<String, String>,
}

impl ContainerPlan {
    pub fn config_hash(&self) -> &str {
        self.labels
            .get(names::LABEL_CONFIG_HASH)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn port(&self, container_port: u16) -> Option<&PortPlan> {
        self.ports
            .iter()
            .find(|p| p.container_port == container_port)
    }

    /// The engine's create request for this container.
    pub fn create_body(&self) -> ContainerCreateBody {
        let port_bindings = self
            .ports
            .iter()
            .map(|p| {
                (
                    p.key(),
                    Some(vec![PortBinding {
                        host_ip: Some(p.host_ip.to_string()),
                        // "" (not "0") asks the engine for a free port.
                        host_port: Some(if p.host_port == 0 {
                            String::new()
                        } else {
                            p.host_port.to_string()
                        }),
                    }]),
                )
            })
            .collect();
        let endpoint = EndpointSettings {
            aliases: Some(self.aliases.clone()),
            ..Default::default()
        };
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: (!self.cmd.is_empty()).then(|| self.cmd.clone()),
            env: Some(self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            exposed_ports: Some(self.ports.iter().map(PortPlan::key).collect()),
            labels: Some(self.labels.clone().into_iter().collect()),
            host_config: Some(HostConfig {
                port_bindings: Some(port_bindings),
                binds: (!self.binds.is_empty()).then(|| self.binds.clone()),
                tmpfs: (!self.tmpfs.is_empty()).then(|| self.tmpfs.clone().into_iter().collect()),
                network_mode: Some(self.network.clone()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some([(self.network.clone(), endpoint)].into_iter().collect()),
            }),
            ..Default::default()
        }
    }
}

/// What goes into a container's config hash: everything that needs a new container to change.
#[derive(Serialize)]
struct HashInput<'a> {
    image: &'a str,
    cmd: &'a [String],
    env: &'a [(String, String)],
    ports: &'a [PortPlan],
    binds: &'a [String],
    tmpfs: &'a BTreeMap<String, String>,
    network: &'a str,
    aliases: &'a [String],
    labels: &'a BTreeMap<String, String>,
}

fn config_hash(c: &ContainerPlan) -> String {
    let input = HashInput {
        image: &c.image,
        cmd: &c.cmd,
        env: &c.env,
        ports: &c.ports,
        binds: &c.binds,
        tmpfs: &c.tmpfs,
        network: &c.network,
        aliases: &c.aliases,
        labels: &c.labels,
    };
    let json = serde_json::to_vec(&input).unwrap_or_default();
    let digest = Sha256::digest(&json);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Labels on every object of the stack: `--label`s first, then ours (ours win).
fn object_labels(config: &StackConfig, role: Role) -> BTreeMap<String, String> {
    let mut labels = config.labels.clone();
    labels.insert(names::LABEL_STACK.to_string(), config.project.clone());
    labels.insert(names::LABEL_ROLE.to_string(), role.as_str().to_string());
    labels
}

/// The plan with its config-hash label worked out again (after a change to it).
pub fn rehash(c: ContainerPlan) -> ContainerPlan {
    with_hash(c)
}

fn with_hash(mut c: ContainerPlan) -> ContainerPlan {
    c.labels.remove(names::LABEL_CONFIG_HASH);
    let hash = config_hash(&c);
    c.labels.insert(names::LABEL_CONFIG_HASH.to_string(), hash);
    c
}

pub fn plan(config: &StackConfig) -> StackPlan {
    let project = &config.project;
    let network = names::network_name(project);
    let data = match &config.data {
        DataSource::Volume => DataPlan::Volume {
            name: names::volume_name(project),
            labels: object_labels(config, Role::Data),
        },
        DataSource::HostDir(dir) => DataPlan::HostDir(dir.clone()),
        DataSource::Ephemeral => DataPlan::Memory,
    };
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    let postgres = with_hash(ContainerPlan {
        role: Role::Postgres,
        name: names::container_name(project, Role::Postgres),
        image: config.postgres_image.clone(),
        cmd: postgres_cmd(&data),
        env: vec![
            kv("POSTGRES_DB", &config.postgres_db),
            kv("POSTGRES_USER", &config.postgres_user),
            kv("POSTGRES_PASSWORD", &config.postgres_password),
        ],
        ports: vec![PortPlan {
            container_port: POSTGRES_CONTAINER_PORT,
            host_ip: config.bind_address,
            host_port: config.postgres_port,
            flag: "--postgres-port",
        }],
        binds: data.bind().into_iter().collect(),
        tmpfs: match data {
            DataPlan::Memory => BTreeMap::from([(PGDATA.to_string(), String::new())]),
            _ => BTreeMap::new(),
        },
        network: network.clone(),
        aliases: vec![names::alias(Role::Postgres).to_string()],
        labels: object_labels(config, Role::Postgres),
    });
    let db_host = names::alias(Role::Postgres);
    let keycloak = with_hash(ContainerPlan {
        role: Role::Keycloak,
        name: names::container_name(project, Role::Keycloak),
        image: config.keycloak_image.clone(),
        cmd: vec!["start".to_string()],
        env: vec![
            kv("KC_DB", "postgres"),
            kv(
                "KC_DB_URL",
                &format!(
                    "jdbc:postgresql://{db_host}:{POSTGRES_CONTAINER_PORT}/{}",
                    config.postgres_db
                ),
            ),
            kv("KC_DB_URL_HOST", db_host),
            kv("KC_DB_URL_PORT", &POSTGRES_CONTAINER_PORT.to_string()),
            kv("KC_DB_USERNAME", &config.postgres_user),
            kv("KC_DB_PASSWORD", &config.postgres_password),
            kv("KC_BOOTSTRAP_ADMIN_USERNAME", &config.admin.username),
            kv("KC_BOOTSTRAP_ADMIN_PASSWORD", &config.admin.password),
            kv("KC_HTTP_ENABLED", "true"),
            kv("KC_HOSTNAME", &config.hostname),
            kv("KC_HEALTH_ENABLED", "true"),
        ]
        .into_iter()
        .chain(config.keycloak_env.iter().cloned())
        .fold(Vec::new(), |mut env: Vec<(String, String)>, (k, v)| {
            match env.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => env.push((k, v)),
            }
            env
        }),
        ports: vec![
            PortPlan {
                container_port: KEYCLOAK_HTTP_PORT,
                host_ip: config.bind_address,
                host_port: config.keycloak_port,
                flag: "--keycloak-port",
            },
            PortPlan {
                container_port: KEYCLOAK_MANAGEMENT_PORT,
                host_ip: config.bind_address,
                host_port: config.management_port,
                flag: "--management-port",
            },
        ],
        binds: Vec::new(),
        tmpfs: BTreeMap::new(),
        network: network.clone(),
        aliases: vec![names::alias(Role::Keycloak).to_string()],
        labels: object_labels(config, Role::Keycloak),
    });
    let keycloak_build = config.optimize.then(|| BuildPlan::for_container(&keycloak));
    StackPlan {
        project: project.clone(),
        network: NetworkPlan {
            name: network,
            labels: object_labels(config, Role::Network),
        },
        data,
        postgres,
        keycloak,
        keycloak_build,
        bind_address: config.bind_address,
    }
}

/// Postgres's arguments: the image's default, or, for data in memory that nobody keeps, no
/// waiting for the disk (`fsync`, synchronous commits and full-page writes off).
fn postgres_cmd(data: &DataPlan) -> Vec<String> {
    match data {
        DataPlan::Memory => [
            "postgres",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        .map(String::from)
        .to_vec(),
        DataPlan::Volume { .. } | DataPlan::HostDir(_) => Vec::new(),
    }
}

impl StackPlan {
    /// The plan with Keycloak on its optimized image, once the base image's ID is known (the
    /// plan as it is without a build, or while the base is missing).
    pub fn with_optimized(&self, base_id: Option<&str>) -> StackPlan {
        let mut plan = self.clone();
        if let (Some(build), Some(id)) = (&self.keycloak_build, base_id) {
            plan.keycloak = optimized_container(&self.keycloak, &build.tag(id));
        }
        plan
    }

    pub fn containers(&self) -> [&ContainerPlan; 2] {
        [&self.postgres, &self.keycloak]
    }

    /// The container of a service role (`None` for the network and data roles).
    pub fn container(&self, role: Role) -> Option<&ContainerPlan> {
        match role {
            Role::Postgres => Some(&self.postgres),
            Role::Keycloak => Some(&self.keycloak),
            Role::Network | Role::Data => None,
        }
    }

    /// The address probes use to reach a published port: the bind address, or loopback when
    /// ports are published on every interface.
    pub fn probe_host(&self) -> IpAddr {
        probe_host(self.bind_address)
    }
}

pub fn probe_host(bind: IpAddr) -> IpAddr {
    match bind {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// An address as the host part of a URL (IPv6 in brackets).
pub fn url_host(host: IpAddr) -> String {
    match host {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// `host:port` for a URL (IPv6 in brackets).
pub fn host_port(host: IpAddr, port: u16) -> String {
    format!("{}:{port}", url_host(host))
}

#[cfg(test)]
pub(crate) mod tests;
