//! `status`: per service, its container's state, readiness (the same probes as `up`), image
//! and published ports. Credentials for the Postgres probe come from the container's own env.

use std::net::{IpAddr, SocketAddr};

use crate::docker::{ContainerInfo, Engine};
use crate::names::{self, Role};
use crate::stack::plan::{probe_host, KEYCLOAK_MANAGEMENT_PORT, POSTGRES_CONTAINER_PORT};
use crate::wait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    pub service: String,
    pub container: String,
    /// The engine's state, or `missing` / `foreign`.
    pub state: String,
    pub ready: bool,
    pub image: Option<String>,
    pub ports: Vec<String>,
    pub detail: Option<String>,
}

fn port_lines(c: &ContainerInfo) -> Vec<String> {
    c.ports
        .iter()
        .map(|(container, ip, host)| {
            let ip: String = if ip.is_empty() {
                "0.0.0.0".into()
            } else {
                ip.clone()
            };
            format!("{ip}:{host}->{container}/tcp")
        })
        .collect()
}

pub(crate) fn probe_addr(c: &ContainerInfo, container_port: u16) -> Option<SocketAddr> {
    let (_, ip, host) = c.ports.iter().find(|(p, _, _)| *p == container_port)?;
    let ip: IpAddr = ip
        .parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    Some(SocketAddr::new(probe_host(ip), *host))
}

async fn readiness(c: &ContainerInfo, role: Role) -> Result<(), String> {
    match role {
        Role::Postgres => {
            let addr =
                probe_addr(c, POSTGRES_CONTAINER_PORT).ok_or("no published port for 5432/tcp")?;
            let user = c.env_value("POSTGRES_USER").unwrap_or("postgres");
            let password = c.env_value("POSTGRES_PASSWORD").unwrap_or_default();
            let db = c.env_value("POSTGRES_DB").unwrap_or(user);
            wait::postgres_login(addr, user, password, db)
                .await
                .map_err(|(_, text)| format!("login failed: {text}"))
        }
        Role::Keycloak => {
            let addr =
                probe_addr(c, KEYCLOAK_MANAGEMENT_PORT).ok_or("no published port for 9000/tcp")?;
            let client = wait::http_client().map_err(|e| e.to_string())?;
            let url = format!("http://{addr}/health/ready");
            wait::keycloak_health(&client, &url).await
        }
        Role::Network | Role::Data => Err("not a service: no readiness probe".into()),
    }
}

pub async fn status(engine: &Engine, project: &str) -> anyhow::Result<Vec<ServiceStatus>> {
    let mut out = Vec::new();
    for role in [Role::Postgres, Role::Keycloak] {
        let name = names::container_name(project, role);
        let mut s = ServiceStatus {
            service: role.as_str().to_string(),
            container: name.clone(),
            state: "missing".into(),
            ready: false,
            image: None,
            ports: vec![],
            detail: None,
        };
        match engine.container(&name).await? {
            None => s.detail = Some("no such container: run `iamstack up`".into()),
            Some(c) if c.label(names::LABEL_STACK) != Some(project) => {
                s.state = "foreign".into();
                s.image = Some(c.image.clone());
                s.detail =
                    Some("a container with this name exists but iamstack did not create it".into());
            }
            Some(c) => {
                s.state = c.status.clone();
                s.image = Some(c.image.clone());
                s.ports = port_lines(&c);
                if c.running {
                    match readiness(&c, role).await {
                        Ok(()) => s.ready = true,
                        Err(why) => s.detail = Some(why),
                    }
                } else if let Some(code) = c.exit_code.filter(|_| c.status == "exited") {
                    s.detail = Some(format!("exited with code {code}"));
                }
            }
        }
        out.push(s);
    }
    Ok(out)
}
