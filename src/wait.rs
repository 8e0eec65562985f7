//! Readiness: a poll loop with a budget, a poll interval and the last observation kept, plus
//! the two probes (a real Postgres login and query; Keycloak's `/health/ready`).
//!
//! Crash detection lives in the caller's probe (it inspects the container each round and
//! returns [`Probe::Failed`] once it has exited), so a dead container fails the wait at once.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How often probes run ("readiness noticed within 0.25 s of happening").
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// One probe attempt may take at most this long; a hung attempt counts as "not yet".
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What one probe round saw.
#[derive(Debug)]
pub enum Probe<T> {
    Ready(T),
    /// Not ready yet; the text says what was seen (kept for the timeout message).
    NotYet(String),
    /// Will never become ready: stop waiting now.
    Failed(anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("not ready after {} s; last seen: {last}", elapsed.as_secs())]
    TimedOut { elapsed: Duration, last: String },
    #[error(transparent)]
    Failed(anyhow::Error),
}

/// Run `probe` every `interval` until it is ready, fails, or `budget` runs out. The probe gets
/// the time elapsed since the wait began. Rounds never overlap; a slow round delays the next.
pub async fn poll<T, F, Fut>(
    budget: Duration,
    interval: Duration,
    mut probe: F,
) -> Result<T, WaitError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Probe<T>>,
{
    let started = Instant::now();
    let deadline = started + budget;
    loop {
        let round = Instant::now();
        let last = match probe(started.elapsed()).await {
            Probe::Ready(v) => return Ok(v),
            Probe::Failed(e) => return Err(WaitError::Failed(e)),
            Probe::NotYet(seen) => seen,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitError::TimedOut {
                elapsed: started.elapsed(),
                last,
            });
        }
        let next = (round + interval).min(deadline);
        tokio::time::sleep_until(next.into()).await;
    }
}

/// Why a Postgres login failed, as far as waiting is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgRefusal {
    /// Starting, restarting after init, or not listening yet: keep waiting.
    Transient,
    /// 28P01: the data directory was initialised with another password.
    WrongPassword,
    /// 28000 (e.g. the role does not exist): initialised with another user.
    NoSuchRole,
    /// 3D000: initialised with another database name.
    NoSuchDatabase,
}

/// Pure: classify a login failure by its SQLSTATE (`None` = not a server error, e.g. a reset
/// connection while nothing listens behind the published port).
pub fn classify_pg_error(code: Option<&str>) -> PgRefusal {
    match code {
        Some("28P01") => PgRefusal::WrongPassword,
        Some("28000") => PgRefusal::NoSuchRole,
        Some("3D000") => PgRefusal::NoSuchDatabase,
        _ => PgRefusal::Transient,
    }
}

/// One Postgres readiness round: log in over TCP through the published port and run a query.
/// The official image's first-boot server listens on the Unix socket only, and the published
/// port accepts connections even when nothing listens inside, so only this proves readiness.
pub async fn postgres_login(
    addr: SocketAddr,
    user: &str,
    password: &str,
    dbname: &str,
) -> Result<(), (PgRefusal, String)> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(addr.ip().to_string())
        .port(addr.port())
        .user(user)
        .password(password)
        .dbname(dbname)
        .connect_timeout(PROBE_TIMEOUT);
    let attempt = async {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        let conn = tokio::spawn(connection);
        let result = client.simple_query("SELECT 1").await;
        drop(client);
        let _ = conn.await;
        result.map(|_| ())
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            let code = e.code().map(|c| c.code().to_string());
            let text = match e.as_db_error() {
                Some(db) => format!("{}: {}", db.severity(), db.message()),
                None => e.to_string(),
            };
            Err((classify_pg_error(code.as_deref()), text))
        }
        Err(_) => Err((PgRefusal::Transient, "login attempt timed out".to_string())),
    }
}

/// A client for health probes: no proxies (they would not reach our loopback ports), short
/// timeouts.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(PROBE_TIMEOUT)
        .connect_timeout(PROBE_TIMEOUT)
        .build()?)
}

/// Pure: does a `/health/ready` answer mean ready? (200 with `"status": "UP"`.)
pub fn health_is_up(status: u16, body: &str) -> bool {
    status == 200
        && serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(|s| s == "UP"))
            .unwrap_or(false)
}

/// One Keycloak readiness round: `GET <management>/health/ready`; Err holds what was seen.
pub async fn keycloak_health(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = client.get(url).send().await.map_err(|e| {
        if e.is_connect() {
            "management port not answering yet".to_string()
        } else if e.is_timeout() {
            "health check timed out".to_string()
        } else {
            format!("health check failed: {e}")
        }
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if health_is_up(status, &body) {
        Ok(())
    } else {
        let body: String = body.chars().take(200).collect();
        Err(format!("{url} answered {status}: {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn poll_returns_once_ready_and_passes_elapsed_time() {
        let mut rounds = 0;
        let r = poll(
            Duration::from_secs(5),
            Duration::from_millis(5),
            |elapsed| {
                rounds += 1;
                let n = rounds;
                async move {
                    if n < 3 {
                        Probe::NotYet(format!("round {n} at {elapsed:?}"))
                    } else {
                        Probe::Ready(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(r.unwrap(), 3);
    }

    #[tokio::test]
    async fn poll_times_out_with_the_last_observation() {
        let r: Result<(), _> = poll(
            Duration::from_millis(50),
            Duration::from_millis(5),
            |_| async { Probe::NotYet("connection refused".to_string()) },
        )
        .await;
        match r {
            Err(WaitError::TimedOut { last, .. }) => assert_eq!(last, "connection refused"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_failed_probe_stops_the_wait_at_once() {
        let started = Instant::now();
        let r: Result<(), _> = poll(
            Duration::from_secs(60),
            Duration::from_millis(5),
            |_| async { Probe::Failed(anyhow::anyhow!("container exited with code 1")) },
        )
        .await;
        assert!(matches!(r, Err(WaitError::Failed(_))));
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn login_failures_that_will_not_heal_are_recognised() {
        assert_eq!(classify_pg_error(Some("28P01")), PgRefusal::WrongPassword);
        assert_eq!(classify_pg_error(Some("28000")), PgRefusal::NoSuchRole);
        assert_eq!(classify_pg_error(Some("3D000")), PgRefusal::NoSuchDatabase);
        // 57P03: the database system is starting up.
        assert_eq!(classify_pg_error(Some("57P03")), PgRefusal::Transient);
        assert_eq!(classify_pg_error(None), PgRefusal::Transient);
    }

    #[test]
    fn health_needs_status_up() {
        assert!(health_is_up(200, r#"{"status":"UP","checks":[]}"#));
        assert!(!health_is_up(503, r#"{"status":"DOWN","checks":[]}"#));
        assert!(!health_is_up(200, "<html>"));
        assert!(!health_is_up(404, ""));
    }

    #[tokio::test]
    async fn postgres_login_against_a_closed_port_is_transient() {
        // Bind then drop to find a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let err = postgres_login(addr, "u", "p", "d").await.unwrap_err();
        assert_eq!(err.0, PgRefusal::Transient);
    }
}
