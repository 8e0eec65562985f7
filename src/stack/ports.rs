//! Host port pre-flight: every host port the plan publishes must be free on the bind address,
//! unless one of our running containers holds it; if not, who holds it. All conflicts are
//! reported at once, before anything is created.

use std::net::{IpAddr, SocketAddr, TcpListener};

use crate::docker::Engine;
use crate::stack::changes::Observed;
use crate::stack::error::{PortTaken, StackError};
use crate::stack::plan::StackPlan;

pub async fn preflight(
    engine: &Engine,
    plan: &StackPlan,
    observed: &Observed,
) -> anyhow::Result<()> {
    let ours: Vec<u16> = [&observed.postgres, &observed.keycloak]
        .into_iter()
        .flatten()
        .filter(|c| c.running)
        .flat_map(|c| c.ports.iter().map(|(_, _, h)| *h))
        .collect();
    let mut taken = Vec::new();
    for container in plan.containers() {
        for p in &container.ports {
            if p.host_port == 0 || ours.contains(&p.host_port) || is_free(p.host_ip, p.host_port) {
                continue;
            }
            // Best effort: who holds it is a hint, not a condition.
            let holders = engine
                .containers_publishing(p.host_port)
                .await
                .unwrap_or_default();
            let holder = match holders.first() {
                Some(name) => Some(format!("container `{name}`")),
                None => local_holder(p.host_port),
            };
            taken.push(PortTaken {
                host_ip: p.host_ip,
                host_port: p.host_port,
                service: container.role.as_str(),
                container_port: p.container_port,
                holder,
                flag: p.flag,
            });
        }
    }
    if taken.is_empty() {
        Ok(())
    } else {
        Err(StackError::PortsTaken(taken).into())
    }
}

/// Free when we can bind it ourselves (and release it at once).
pub fn is_free(addr: IpAddr, port: u16) -> bool {
    TcpListener::bind(SocketAddr::new(addr, port)).is_ok()
}

/// Best effort, Linux only: the process listening on `port` (any address), as
/// "process `name` (pid N)". `None` when it cannot tell (e.g. another user's process).
pub fn local_holder(port: u16) -> Option<String> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if wanted.iter().any(|w| target.as_os_str() == w.as_str()) {
                let name = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "?".to_string());
                return Some(format!("process `{name}` (pid {pid})"));
            }
        }
    }
    None
}

/// Pure: socket inodes listening on `port` in a `/proc/net/tcp{,6}` table.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local = cols.get(1)?;
            let state = cols.get(3)?;
            let inode = cols.get(9)?.parse::<u64>().ok()?;
            let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            (local_port == port && *state == LISTEN && inode != 0).then_some(inode)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D2C4 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 777 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn listening_sockets_are_found_by_port() {
        assert_eq!(listening_inodes(TABLE, 8080), vec![12345]);
        assert_eq!(listening_inodes(TABLE, 5432), vec![777]);
        assert!(listening_inodes(TABLE, 9000).is_empty());
    }

    #[test]
    fn a_port_we_hold_is_not_free_and_its_holder_is_us() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!is_free("127.0.0.1".parse().unwrap(), port));
        let holder = local_holder(port).expect("our own process is visible in /proc");
        assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "{holder}"
        );
        drop(listener);
        assert!(is_free("127.0.0.1".parse().unwrap(), port));
    }
}
