//! REAL-ENGINE test (Docker): the two stand-ins together, wired as the reference setup wires the
//! official images (one network, aliases `postgres` and `keycloak`, the reference env, command
//! `start`): the Keycloak stand-in reaches the Postgres stand-in by its alias and reports ready on
//! its management port. This is what `iamstack up` does on the stand-ins; it proves the images
//! (glibc of the double on trixie, uid 1000, entrypoint, ports) fit together, independently of
//! iamstack's own code. Skipped without an engine, failing under `CI=true`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;
use iamstack_test_support::{container_logs, engine, standin, TestRun};

const READY_BUDGET: Duration = Duration::from_secs(300);

fn on_network(network: &str, alias: &str) -> NetworkingConfig {
    NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            network.to_string(),
            EndpointSettings {
                aliases: Some(vec![alias.to_string()]),
                ..Default::default()
            },
        )])),
    }
}

fn loopback_port_0(port: &str) -> (String, Option<Vec<PortBinding>>) {
    (
        port.to_string(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some("0".into()),
        }]),
    )
}

async fn host_port(docker: &Docker, name: &str, port: &str) -> u16 {
    docker
        .inspect_container(name, None)
        .await
        .expect("inspect")
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get(port).cloned().flatten())
        .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
        .and_then(|p| p.parse().ok())
        .expect("a published port")
}

#[tokio::test]
async fn the_keycloak_stand_in_reaches_the_postgres_stand_in_by_alias_and_becomes_ready() {
    let Some(docker) = engine().await else { return };
    let images = standin::ensure_all(&docker)
        .await
        .expect("build the stand-ins");
    let run = TestRun::with_engine(&docker).await;
    let network = format!("{}-net", run.project());
    let volume = format!("{}-pgdata", run.project());
    docker
        .create_network(NetworkCreateRequest {
            name: network.clone(),
            labels: Some(run.labels()),
            ..Default::default()
        })
        .await
        .expect("create the network");
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(run.labels()),
            ..Default::default()
        })
        .await
        .expect("create the volume");

    let pg = format!("{}-postgres", run.project());
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&pg).build()),
            ContainerCreateBody {
                image: Some(images.postgres.clone()),
                env: Some(vec![
                    "POSTGRES_DB=keycloak".into(),
                    "POSTGRES_USER=keycloak".into(),
                    "POSTGRES_PASSWORD=keycloak$123".into(),
                ]),
                labels: Some(run.labels()),
                exposed_ports: Some(vec!["5432/tcp".into()]),
                host_config: Some(HostConfig {
                    binds: Some(vec![format!("{volume}:/var/lib/postgresql/data")]),
                    port_bindings: Some(HashMap::from([loopback_port_0("5432/tcp")])),
                    ..Default::default()
                }),
                networking_config: Some(on_network(&network, "postgres")),
                ..Default::default()
            },
        )
        .await
        .expect("create postgres");
    docker
        .start_container(&pg, None)
        .await
        .expect("start postgres");

    // Keycloak with the reference's env; its own wait for the database is part of what we test.
    let kc = format!("{}-keycloak", run.project());
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&kc).build()),
            ContainerCreateBody {
                image: Some(images.keycloak.clone()),
                cmd: Some(vec!["start".into()]),
                env: Some(vec![
                    "KC_DB=postgres".into(),
                    "KC_DB_URL=jdbc:postgresql://postgres:5432/keycloak".into(),
                    "KC_DB_USERNAME=keycloak".into(),
                    "KC_DB_PASSWORD=keycloak$123".into(),
                    "KC_BOOTSTRAP_ADMIN_USERNAME=admin".into(),
                    "KC_BOOTSTRAP_ADMIN_PASSWORD=kc_admin$123".into(),
                    "KC_HTTP_ENABLED=true".into(),
                    "KC_HOSTNAME=localhost".into(),
                    "KC_HEALTH_ENABLED=true".into(),
                ]),
                labels: Some(run.labels()),
                exposed_ports: Some(vec!["8080/tcp".into(), "9000/tcp".into()]),
                host_config: Some(HostConfig {
                    port_bindings: Some(HashMap::from([
                        loopback_port_0("8080/tcp"),
                        loopback_port_0("9000/tcp"),
                    ])),
                    ..Default::default()
                }),
                networking_config: Some(on_network(&network, "keycloak")),
                ..Default::default()
            },
        )
        .await
        .expect("create keycloak");

    // Start Keycloak only once Postgres takes logins, as `up` does: the double exits when the
    // database is unreachable, like Keycloak.
    let pg_port = host_port(&docker, &pg, "5432/tcp").await;
    let deadline = Instant::now() + READY_BUDGET;
    loop {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(pg_port)
            .user("keycloak")
            .password("keycloak$123")
            .dbname("keycloak")
            .connect_timeout(Duration::from_secs(3));
        match config.connect(tokio_postgres::NoTls).await {
            Ok(_) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "postgres never took a login: {e}\n{}",
                container_logs(&docker, &pg).await
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    docker
        .start_container(&kc, None)
        .await
        .expect("start keycloak");
    let management = host_port(&docker, &kc, "9000/tcp").await;
    let url = format!("http://127.0.0.1:{management}/health/ready");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("http client");
    let deadline = Instant::now() + READY_BUDGET;
    let body = loop {
        let state = docker
            .inspect_container(&kc, None)
            .await
            .expect("inspect keycloak")
            .state
            .expect("state");
        assert!(
            state.running == Some(true),
            "the Keycloak stand-in exited ({:?}):\n{}",
            state.exit_code,
            container_logs(&docker, &kc).await
        );
        if let Ok(resp) = http.get(&url).send().await {
            if resp.status().is_success() {
                break resp.text().await.expect("body");
            }
        }
        assert!(
            Instant::now() < deadline,
            "not ready in time:\n{}",
            container_logs(&docker, &kc).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "the Keycloak stand-in was ready {:.1} s after its start",
        started.elapsed().as_secs_f64()
    );
    let health: serde_json::Value = serde_json::from_str(&body).expect("health is JSON");
    assert_eq!(health["status"], "UP", "{body}");

    // The user the process runs as is the official image's uid 1000, not root.
    let info = docker
        .inspect_container(&kc, None)
        .await
        .expect("inspect keycloak");
    assert_eq!(info.config.and_then(|c| c.user).as_deref(), Some("1000"));
}
