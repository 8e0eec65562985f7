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
}

impl DataPlan {
    /// The `Binds` entry mounting the data at [`PGDATA`].
    pub fn bind(&self) -> String {
        match self {
            DataPlan::Volume { name, .. } => format!("{name}:{PGDATA}"),
            DataPlan::HostDir(dir) => format!("{}:{PGDATA}", dir.display()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DataPlan::Volume { name, .. } => format!("volume `{name}`"),
            DataPlan::HostDir(dir) => format!("data directory `{}`", dir.display()),
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

fn with_hash(mut c: ContainerPlan) -> ContainerPlan {
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
    };
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    let postgres = with_hash(ContainerPlan {
        role: Role::Postgres,
        name: names::container_name(project, Role::Postgres),
        image: config.postgres_image.clone(),
        cmd: Vec::new(),
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
        binds: vec![data.bind()],
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
        network: network.clone(),
        aliases: vec![names::alias(Role::Keycloak).to_string()],
        labels: object_labels(config, Role::Keycloak),
    });
    StackPlan {
        project: project.clone(),
        network: NetworkPlan {
            name: network,
            labels: object_labels(config, Role::Network),
        },
        data,
        postgres,
        keycloak,
        bind_address: config.bind_address,
    }
}

impl StackPlan {
    pub fn containers(&self) -> [&ContainerPlan; 2] {
        [&self.postgres, &self.keycloak]
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

/// `host:port` for a URL (IPv6 in brackets).
pub fn host_port(host: IpAddr, port: u16) -> String {
    match host {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::PullPolicy;
    use crate::config::{AdminCredentials, EngineConfig};

    fn config() -> StackConfig {
        StackConfig {
            project: "iam".into(),
            engine: EngineConfig::from_value(None),
            postgres_image: "postgres:17.4".into(),
            keycloak_image: "keycloak/keycloak:26.2".into(),
            pull: PullPolicy::Missing,
            bind_address: "127.0.0.1".parse().unwrap(),
            postgres_port: 5432,
            keycloak_port: 8080,
            management_port: 9000,
            data: DataSource::Volume,
            postgres_db: "keycloak".into(),
            postgres_user: "keycloak".into(),
            postgres_password: "keycloak$123".into(),
            hostname: "localhost".into(),
            timeout: std::time::Duration::from_secs(300),
            labels: BTreeMap::new(),
            keycloak_env: Vec::new(),
            admin: AdminCredentials {
                username: "admin".into(),
                password: "kc_admin$123".into(),
            },
        }
    }

    #[test]
    fn default_plan_matches_the_reference() {
        let p = plan(&config());
        assert_eq!(p.network.name, "my-iam-net");
        assert_eq!(p.postgres.name, "iam-postgres");
        assert_eq!(p.keycloak.name, "iam-keycloak");
        assert_eq!(p.postgres.image, "postgres:17.4");
        assert_eq!(
            p.postgres.env_value("POSTGRES_PASSWORD"),
            Some("keycloak$123")
        );
        assert_eq!(
            p.postgres.binds,
            vec!["iam-pgdata:/var/lib/postgresql/data"]
        );
        assert_eq!(p.postgres.aliases, vec!["postgres"]);
        assert_eq!(p.keycloak.cmd, vec!["start"]);
        for (k, v) in [
            ("KC_DB", "postgres"),
            ("KC_DB_URL", "jdbc:postgresql://postgres:5432/keycloak"),
            ("KC_DB_URL_HOST", "postgres"),
            ("KC_DB_URL_PORT", "5432"),
            ("KC_DB_USERNAME", "keycloak"),
            ("KC_DB_PASSWORD", "keycloak$123"),
            ("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"),
            ("KC_BOOTSTRAP_ADMIN_PASSWORD", "kc_admin$123"),
            ("KC_HTTP_ENABLED", "true"),
            ("KC_HOSTNAME", "localhost"),
            ("KC_HEALTH_ENABLED", "true"),
        ] {
            assert_eq!(p.keycloak.env_value(k), Some(v), "{k}");
        }
    }

    #[test]
    fn every_port_is_published_on_loopback() {
        let p = plan(&config());
        let ports: Vec<_> = p
            .containers()
            .iter()
            .flat_map(|c| c.ports.iter())
            .map(|p| (p.container_port, p.host_ip.to_string(), p.host_port))
            .collect();
        assert_eq!(
            ports,
            vec![
                (5432, "127.0.0.1".into(), 5432),
                (8080, "127.0.0.1".into(), 8080),
                (9000, "127.0.0.1".into(), 9000)
            ]
        );
        let body = serde_json::to_value(p.keycloak.create_body()).unwrap();
        assert_eq!(
            body["HostConfig"]["PortBindings"]["9000/tcp"][0]["HostIp"],
            "127.0.0.1"
        );
        assert_eq!(body["ExposedPorts"]["8080/tcp"], serde_json::json!({}));
        assert_eq!(body["HostConfig"]["NetworkMode"], "my-iam-net");
        assert_eq!(
            body["NetworkingConfig"]["EndpointsConfig"]["my-iam-net"]["Aliases"][0],
            "keycloak"
        );
    }

    #[test]
    fn port_zero_asks_the_engine_for_a_free_port() {
        let mut c = config();
        c.postgres_port = 0;
        let body = serde_json::to_value(plan(&c).postgres.create_body()).unwrap();
        assert_eq!(
            body["HostConfig"]["PortBindings"]["5432/tcp"][0]["HostPort"],
            ""
        );
    }

    #[test]
    fn everything_carries_our_labels_and_the_extra_ones() {
        let mut c = config();
        c.project = "t1".into();
        c.labels
            .insert("dev.iamstack.test-run".into(), "run-9".into());
        let p = plan(&c);
        let DataPlan::Volume { name, labels } = &p.data else {
            panic!("volume expected")
        };
        assert_eq!(name, "t1-pgdata");
        for (labels, role) in [
            (&p.network.labels, "network"),
            (labels, "data"),
            (&p.postgres.labels, "postgres"),
            (&p.keycloak.labels, "keycloak"),
        ] {
            assert_eq!(labels["dev.iamstack.stack"], "t1");
            assert_eq!(labels["dev.iamstack.role"], role);
            assert_eq!(labels["dev.iamstack.test-run"], "run-9");
        }
        assert_eq!(p.network.name, "t1-net");
        assert_eq!(p.postgres.config_hash().len(), 16);
    }

    #[test]
    fn a_changed_setting_changes_only_the_hash_of_the_container_it_affects() {
        let base = plan(&config());
        let mut c = config();
        c.hostname = "kc.local".into();
        let changed = plan(&c);
        assert_eq!(base.postgres.config_hash(), changed.postgres.config_hash());
        assert_ne!(base.keycloak.config_hash(), changed.keycloak.config_hash());

        let mut c = config();
        c.postgres_image = "postgres:17.5".into();
        let changed = plan(&c);
        assert_ne!(base.postgres.config_hash(), changed.postgres.config_hash());
        assert_eq!(base.keycloak.config_hash(), changed.keycloak.config_hash());

        // The database password is both Postgres's and Keycloak's.
        let mut c = config();
        c.postgres_password = "other".into();
        let changed = plan(&c);
        assert_ne!(base.postgres.config_hash(), changed.postgres.config_hash());
        assert_ne!(base.keycloak.config_hash(), changed.keycloak.config_hash());

        // Same input, same hash: `up` twice is a no-op.
        assert_eq!(plan(&config()), base);
    }

    #[test]
    fn extra_keycloak_env_is_added_or_replaces() {
        let mut c = config();
        c.keycloak_env = vec![
            ("KC_LOG_LEVEL".into(), "debug".into()),
            ("KC_HOSTNAME".into(), "kc.test".into()),
        ];
        let p = plan(&c);
        assert_eq!(p.keycloak.env_value("KC_LOG_LEVEL"), Some("debug"));
        assert_eq!(p.keycloak.env_value("KC_HOSTNAME"), Some("kc.test"));
        assert_eq!(
            p.keycloak
                .env
                .iter()
                .filter(|(k, _)| k == "KC_HOSTNAME")
                .count(),
            1
        );
        assert_ne!(
            p.keycloak.config_hash(),
            plan(&config()).keycloak.config_hash()
        );
        assert_eq!(p.postgres, plan(&config()).postgres);
    }

    #[test]
    fn a_data_dir_is_bind_mounted_as_in_the_reference() {
        let mut c = config();
        c.data = DataSource::HostDir("/home/me/Downloads/DATA/postgres".into());
        let p = plan(&c);
        assert_eq!(
            p.postgres.binds,
            vec!["/home/me/Downloads/DATA/postgres:/var/lib/postgresql/data"]
        );
    }

    /// Compose's interpolation, as far as the file uses it: `${VAR}` and `$$`.
    fn interpolate(s: &str, vars: &crate::config::EnvFile) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(inner) = after.strip_prefix('{') {
                let end = inner.find('}').expect("closed ${");
                let key = &inner[..end];
                out.push_str(
                    vars.get(key)
                        .unwrap_or_else(|| panic!("{key} not in vars.env.example")),
                );
                rest = &inner[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }

    fn yaml_str(v: &serde_yaml::Value) -> String {
        match v {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            serde_yaml::Value::Number(n) => n.to_string(),
            other => panic!("expected a scalar, found {other:?}"),
        }
    }

    #[test]
    fn the_compose_file_runs_what_iamstack_runs() {
        let yaml = include_str!("../../compose/postgres-keycloak.yml");
        let vars = crate::config::EnvFile::parse(
            include_str!("../../compose/vars.env.example"),
            "vars.env.example",
        )
        .unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(yaml).expect("compose file parses");
        let mut c = config();
        c.postgres_password = vars.get("POSTGRES_PASSWORD").unwrap().to_string();
        c.admin.password = vars.get("KEYCLOAK_PASSWORD").unwrap().to_string();
        // The example passwords are the reference's, i.e. iamstack's defaults.
        assert_eq!(plan(&c), plan(&config()));
        let p = plan(&c);

        let net = &doc["networks"][p.network.name.as_str()];
        assert_eq!(net["external"], serde_yaml::Value::Bool(true));
        assert_eq!(yaml_str(&net["name"]), p.network.name);

        for container in p.containers() {
            let svc = &doc["services"][container.role.as_str()];
            assert!(
                svc.is_mapping(),
                "service {} missing",
                container.role.as_str()
            );
            assert_eq!(yaml_str(&svc["image"]), container.image);
            assert_eq!(yaml_str(&svc["container_name"]), container.name);
            let env: BTreeMap<String, String> = svc["environment"]
                .as_mapping()
                .expect("environment is a mapping")
                .iter()
                .map(|(k, v)| (yaml_str(k), interpolate(&yaml_str(v), &vars)))
                .collect();
            let want: BTreeMap<String, String> = container.env.iter().cloned().collect();
            assert_eq!(env, want, "environment of {}", container.name);
            let ports: Vec<String> = svc["ports"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(yaml_str)
                .collect();
            let want: Vec<String> = container
                .ports
                .iter()
                .map(|p| format!("{}:{}:{}", p.host_ip, p.host_port, p.container_port))
                .collect();
            assert_eq!(ports, want, "ports of {}", container.name);
            let aliases: Vec<String> = svc["networks"][container.network.as_str()]["aliases"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(yaml_str)
                .collect();
            assert_eq!(aliases, container.aliases);
            let cmd = svc.get("command").map(yaml_str).unwrap_or_default();
            assert_eq!(cmd, container.cmd.join(" "));
            assert!(
                svc["healthcheck"]["test"].is_sequence(),
                "{} has a health check",
                container.name
            );
        }
        // The data volume: same name, same mount point.
        let DataPlan::Volume { name, .. } = &p.data else {
            panic!("volume expected")
        };
        assert_eq!(yaml_str(&doc["volumes"]["pgdata"]["name"]), *name);
        let mounts: Vec<String> = doc["services"]["postgres"]["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(yaml_str)
            .collect();
        assert_eq!(mounts, vec![format!("pgdata:{PGDATA}")]);
        // Keycloak waits for a healthy Postgres, as `up` does.
        assert_eq!(
            yaml_str(&doc["services"]["keycloak"]["depends_on"]["postgres"]["condition"]),
            "service_healthy"
        );
    }

    #[test]
    fn probes_use_loopback_when_bound_everywhere() {
        assert_eq!(
            probe_host("0.0.0.0".parse().unwrap()).to_string(),
            "127.0.0.1"
        );
        assert_eq!(probe_host("::".parse().unwrap()).to_string(), "::1");
        assert_eq!(host_port("::1".parse().unwrap(), 80), "[::1]:80");
    }
}
