//! Whether a container registry answers: the quick check made before a pull.
//!
//! Where no registry can be reached, a pull can hang for minutes while the engine retries. So
//! before a pull we make one short HTTPS GET of the registry's `/v2/` (the registry API's version
//! check), with a short connect and total timeout. Any HTTP answer counts, even 401: Docker Hub
//! answers 401 to an anonymous `/v2/`, and that still proves it is there.
//!
//! `iamstack doctor` makes this check for the images `up` would pull, and the test support
//! compiles this same file (`#[path]`, no dependency on the product) to choose its backend, so the
//! tests and doctor never disagree about whether a registry answers. It uses only `reqwest`,
//! `tokio` and `std` for that reason.
//!
//! The check runs from this process, not from the engine. An engine that reaches the registry
//! only through its own proxy or mirror may succeed where this check fails; `IAMSTACK_TEST_PULL=1`
//! covers that case by skipping the check.

use std::fmt;
use std::time::Duration;

/// Docker Hub, where both official images (`postgres:17.4`, `keycloak/keycloak:26.2`) come from.
pub const DOCKER_HUB: &str = "https://registry-1.docker.io/v2/";
/// How long connecting (DNS, TCP, TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the whole check may take, answer included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);

/// The `/v2/` URL of the registry an image reference names: the first path segment when it
/// looks like a host (has a `.` or a `:`, or is `localhost`), else Docker Hub. A loopback
/// registry is asked over HTTP, as the engine does (it treats 127.0.0.0/8 as insecure).
pub fn registry_url(image: &str) -> String {
    let Some(first) = host_segment(image) else {
        return DOCKER_HUB.to_string();
    };
    let name = first.rsplit_once(':').map_or(first, |(h, _)| h);
    let loopback = name == "localhost"
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{first}/v2/")
}

/// The host of the registry an image reference names, as `docker login` takes it: the first
/// path segment when it looks like a host (as for [`registry_url`]), else `docker.io`. Docker
/// Hub's other names (`index.docker.io`, `registry-1.docker.io`) are `docker.io` too, as the
/// docker CLI normalises them.
pub fn registry_host(image: &str) -> String {
    match host_segment(image) {
        Some(host) if !is_docker_hub(host) => host.to_string(),
        _ => "docker.io".to_string(),
    }
}

/// Whether a registry host is one of Docker Hub's names.
pub fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// The first path segment of an image reference when it names a registry host: it has a `.`
/// or a `:`, or is `localhost`, and more path follows (the docker CLI's rule).
fn host_segment(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// What [`check_registry`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryCheck {
    /// An HTTP answer with this status. Any status counts: 401 is Docker Hub's anonymous answer.
    Answers { url: String, status: u16 },
    /// No HTTP answer within the timeout; `cause` says why (DNS, refused, timed out, TLS).
    NoAnswer { url: String, cause: String },
}

impl RegistryCheck {
    /// Whether a pull from this registry is worth trying.
    pub fn answers(&self) -> bool {
        matches!(self, RegistryCheck::Answers { .. })
    }
}

impl fmt::Display for RegistryCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryCheck::Answers { url, status } => {
                write!(f, "the registry `{url}` answers (HTTP {status})")
            }
            RegistryCheck::NoAnswer { url, cause } => {
                write!(f, "the registry `{url}` does not answer ({cause})")
            }
        }
    }
}

/// GET `url` (a registry's `/v2/`) and report whether any HTTP answer came back. Returns within
/// `total`, plus a little scheduling slack, whatever the network does. Proxies from the
/// environment (`HTTPS_PROXY`, `NO_PROXY`) are honoured, as the engine's client would honour them.
pub async fn check_registry(url: &str, connect: Duration, total: Duration) -> RegistryCheck {
    let no_answer = |cause: String| RegistryCheck::NoAnswer {
        url: url.to_string(),
        cause,
    };
    let client = match reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(total)
        .build()
    {
        Ok(client) => client,
        Err(e) => return no_answer(format!("cannot set up an HTTP client: {e}")),
    };
    // reqwest's own timeout covers the request; this outer one also covers name resolution,
    // which runs on a blocking thread that a timeout cannot always interrupt.
    match tokio::time::timeout(total, client.get(url).send()).await {
        Ok(Ok(response)) => RegistryCheck::Answers {
            url: url.to_string(),
            status: response.status().as_u16(),
        },
        Ok(Err(e)) => no_answer(error_chain(&e)),
        Err(_) => no_answer(format!("no answer within {} s", total.as_secs_f64())),
    }
}

/// The error with its causes (`reqwest` puts the useful part, e.g. the DNS failure, in a cause).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    #[test]
    fn an_image_names_its_registry_or_docker_hub() {
        assert_eq!(registry_url("postgres:17.4"), DOCKER_HUB);
        assert_eq!(registry_url("keycloak/keycloak:26.2"), DOCKER_HUB);
        assert_eq!(
            registry_url("quay.io/keycloak/keycloak:26.2"),
            "https://quay.io/v2/"
        );
        assert_eq!(
            registry_url("127.0.0.1:5000/library/postgres:17.4"),
            "http://127.0.0.1:5000/v2/"
        );
        assert_eq!(
            registry_url("localhost:5000/keycloak/keycloak:26.2"),
            "http://localhost:5000/v2/"
        );
    }

    #[test]
    fn an_image_names_its_registry_host_or_docker_io() {
        assert_eq!(registry_host("postgres:17.4"), "docker.io");
        assert_eq!(registry_host("keycloak/keycloak:26.2"), "docker.io");
        assert_eq!(registry_host("docker.io/library/postgres"), "docker.io");
        assert_eq!(
            registry_host("index.docker.io/library/postgres"),
            "docker.io"
        );
        assert_eq!(registry_host("quay.io/keycloak/keycloak:26.2"), "quay.io");
        assert_eq!(registry_host("127.0.0.1:5000/kc:1"), "127.0.0.1:5000");
        assert_eq!(registry_host("localhost/kc"), "localhost");
        assert_eq!(registry_host("localhost:5000"), "docker.io");
    }

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn any_http_answer_counts_even_401() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn
                .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        let check = check_registry(
            &format!("http://{addr}/v2/"),
            Duration::from_secs(2),
            Duration::from_secs(4),
        )
        .await;
        assert_eq!(
            check,
            RegistryCheck::Answers {
                url: format!("http://{addr}/v2/"),
                status: 401
            }
        );
        assert!(check.answers());
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_reported_within_the_timeout() {
        // 10.255.255.1 is private and routed nowhere: a connect there hangs (or fails at once
        // where there is no route). Either way the check must return within its timeout.
        let (connect, total) = (Duration::from_millis(500), Duration::from_secs(1));
        let started = Instant::now();
        let check = check_registry("https://10.255.255.1/v2/", connect, total).await;
        let took = started.elapsed();
        assert!(!check.answers(), "{check}");
        assert!(
            took < total + Duration::from_millis(500),
            "took {took:?}: {check}"
        );
        assert!(check.to_string().contains("does not answer"), "{check}");
    }

    #[tokio::test]
    async fn a_registry_that_accepts_but_never_answers_is_cut_off_at_the_total_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let held = tokio::spawn(async move {
            // Accept and hold the connection without answering.
            let (conn, _) = listener.accept().await.expect("accept");
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(conn);
        });
        let total = Duration::from_millis(800);
        let started = Instant::now();
        let check =
            check_registry(&format!("http://{addr}/v2/"), Duration::from_secs(2), total).await;
        let took = started.elapsed();
        held.abort();
        assert!(!check.answers(), "{check}");
        assert!(
            took < total + Duration::from_millis(500),
            "took {took:?}: {check}"
        );
    }
}
