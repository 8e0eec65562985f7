//! REAL-ENGINE tests (Docker): the Postgres stand-in `iamstack-test/postgres:17` honours the
//! official postgres image's contract. Skipped without an engine, failing under `CI=true`.
//!
//! Each test builds the stand-in if needed (cached by input hash), runs containers labelled with
//! its `TestRun`, publishes 5432 on 127.0.0.1 port 0, and logs in with tokio-postgres over TCP.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use iamstack_test_support::standin::{self, FileEntry, Layout};
use iamstack_test_support::{container_logs, engine, TestRun};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

const PASSWORD: &str = "keycloak$123";
/// Generous: on a loaded 2-core machine initdb alone can take many seconds.
const READY_BUDGET: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(100);

async fn postgres_image(docker: &Docker) -> String {
    let layout = Layout::discover();
    let spec = standin::postgres_spec();
    standin::ensure(docker, &layout, &spec)
        .await
        .expect("build the Postgres stand-in");
    spec.exact_image()
}

struct Pg {
    name: String,
    port: u16,
}

/// Create (not start) a stand-in container with the reference env, `data` mounted at PGDATA
/// (`volume:` name or host path), 5432 published on 127.0.0.1:0.
async fn create_pg(
    docker: &Docker,
    run: &TestRun,
    image: &str,
    suffix: &str,
    data: &str,
    env: &[(&str, &str)],
) -> String {
    let name = format!("{}-{suffix}", run.project());
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(run.labels()),
        exposed_ports: Some(vec!["5432/tcp".into()]),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{data}:/var/lib/postgresql/data")]),
            port_bindings: Some(HashMap::from([(
                "5432/tcp".to_string(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some("0".into()),
                }]),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .expect("create the postgres container");
    name
}

async fn start(docker: &Docker, name: &str) -> Pg {
    docker
        .start_container(name, None)
        .await
        .expect("start the postgres container");
    let info = docker
        .inspect_container(name, None)
        .await
        .expect("inspect the postgres container");
    let port = info
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get("5432/tcp").cloned().flatten())
        .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
        .and_then(|p| p.parse().ok())
        .expect("5432 published on a host port");
    Pg {
        name: name.to_string(),
        port,
    }
}

fn reference_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("POSTGRES_DB", "keycloak"),
        ("POSTGRES_USER", "keycloak"),
        ("POSTGRES_PASSWORD", PASSWORD),
    ]
}

async fn login(port: u16, password: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user("keycloak")
        .password(password)
        .dbname("keycloak")
        .connect_timeout(Duration::from_secs(3));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn running(docker: &Docker, name: &str) -> bool {
    docker
        .inspect_container(name, None)
        .await
        .ok()
        .and_then(|i| i.state)
        .and_then(|s| s.running)
        .unwrap_or(false)
}

/// Log in until it works (the deadline fails the test with the last error and the logs).
async fn wait_login(docker: &Docker, pg: &Pg, password: &str) -> tokio_postgres::Client {
    let deadline = Instant::now() + READY_BUDGET;
    loop {
        match login(pg.port, password).await {
            Ok(client) => return client,
            Err(e) => {
                if Instant::now() > deadline || !running(docker, &pg.name).await {
                    panic!(
                        "postgres never accepted a login: {e}\n--- logs ---\n{}",
                        container_logs(docker, &pg.name).await
                    );
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn select_one(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("SELECT 1", &[])
        .await
        .expect("SELECT 1")
        .get(0)
}

#[tokio::test]
async fn postgres_standin_serves_tcp_logins_only_after_its_unix_socket_only_initialisation() {
    let Some(docker) = engine().await else { return };
    let image = postgres_image(&docker).await;
    let run = TestRun::with_engine(&docker).await;
    let volume = format!("{}-pgdata", run.project());
    docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(run.labels()),
            ..Default::default()
        })
        .await
        .expect("create the data volume");
    let name = create_pg(&docker, &run, &image, "postgres", &volume, &reference_env()).await;

    // Hold the temporary server up for a while, so the window in which it runs is wide enough
    // to probe: an init script that takes 3 s (run by the temporary server, as in the official
    // image).
    let slow = standin::files_tar(&[FileEntry {
        path: "/docker-entrypoint-initdb.d/10-slow.sql".into(),
        mode: 0o644,
        content: b"SELECT pg_sleep(3);\n".to_vec(),
    }])
    .expect("tar");
    docker
        .upload_to_container(
            &name,
            Some(UploadToContainerOptionsBuilder::default().path("/").build()),
            bollard::body_full(slow.into()),
        )
        .await
        .expect("upload the init script");

    let pg = start(&docker, &name).await;
    let deadline = Instant::now() + READY_BUDGET;
    let mut refused_during_init = 0;
    let client = loop {
        let before = container_logs(&docker, &pg.name).await;
        let attempt = login(pg.port, PASSWORD).await;
        let after = container_logs(&docker, &pg.name).await;
        let init_running = before.contains("running /docker-entrypoint-initdb.d/10-slow.sql");
        let init_done = after.contains("PostgreSQL init process complete");
        match attempt {
            Ok(client) => {
                assert!(
                    before.contains("PostgreSQL init process complete"),
                    "a TCP login succeeded before initialisation completed:\n{before}"
                );
                break client;
            }
            Err(_) if init_running && !init_done => refused_during_init += 1,
            Err(e) => assert!(
                Instant::now() < deadline && running(&docker, &pg.name).await,
                "postgres never accepted a login: {e}\n--- logs ---\n{after}"
            ),
        }
        tokio::time::sleep(POLL).await;
    };
    assert!(
        refused_during_init > 0,
        "no login attempt fell inside the temporary server's run; the probe proves nothing"
    );
    eprintln!("{refused_during_init} TCP logins refused while the temporary server ran");

    assert_eq!(select_one(&client).await, 1);
    let row = client
        .query_one("SELECT current_user::text, current_database()::text", &[])
        .await
        .expect("who am I");
    assert_eq!(row.get::<_, String>(0), "keycloak");
    assert_eq!(row.get::<_, String>(1), "keycloak");
    // Host connections need the password (scram-sha-256 in pg_hba, not trust).
    let wrong = login(pg.port, "not-the-password")
        .await
        .expect_err("a wrong password is refused");
    assert_eq!(wrong.code(), Some(&SqlState::INVALID_PASSWORD), "{wrong}");
}

#[tokio::test]
async fn postgres_standin_keeps_an_initialised_volume_and_stops_fast_on_sigint() {
    let Some(docker) = engine().await else { return };
    let image = postgres_image(&docker).await;
    let run = TestRun::with_engine(&docker).await;
    let volume = format!("{}-pgdata", run.project());
    docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(run.labels()),
            ..Default::default()
        })
        .await
        .expect("create the data volume");

    let first = create_pg(&docker, &run, &image, "first", &volume, &reference_env()).await;
    let pg = start(&docker, &first).await;
    let client = wait_login(&docker, &pg, PASSWORD).await;
    client
        .batch_execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here');")
        .await
        .expect("write a row");
    drop(client);

    // The image's stop signal is SIGINT: postgres's fast shutdown, exit code 0.
    let stopping = Instant::now();
    docker
        .stop_container(
            &pg.name,
            Some(StopContainerOptionsBuilder::default().t(60).build()),
        )
        .await
        .expect("stop");
    let stop_time = stopping.elapsed();
    let state = docker
        .inspect_container(&pg.name, None)
        .await
        .expect("inspect")
        .state
        .expect("state");
    let first_logs = container_logs(&docker, &pg.name).await;
    assert_eq!(state.exit_code, Some(0), "{first_logs}");
    assert!(
        first_logs.contains("received fast shutdown request"),
        "SIGINT means fast shutdown:\n{first_logs}"
    );
    eprintln!("stop with SIGINT took {} ms", stop_time.as_millis());

    // Same volume, another password: the stored password stays; the new one is refused.
    let mut env = reference_env();
    env[2] = ("POSTGRES_PASSWORD", "another$456");
    let second = create_pg(&docker, &run, &image, "second", &volume, &env).await;
    let pg = start(&docker, &second).await;
    let deadline = Instant::now() + READY_BUDGET;
    let refused = loop {
        match login(pg.port, "another$456").await {
            Ok(_) => panic!("a new POSTGRES_PASSWORD changed the stored password"),
            // 57P03 "the database system is starting up": the server's answer, but not yet the
            // one about our password.
            Err(e) if e.code().is_some() && e.code() != Some(&SqlState::CANNOT_CONNECT_NOW) => {
                break e
            }
            Err(e) => assert!(
                Instant::now() < deadline && running(&docker, &pg.name).await,
                "the second server never answered: {e}\n{}",
                container_logs(&docker, &pg.name).await
            ),
        }
        tokio::time::sleep(POLL).await;
    };
    assert_eq!(
        refused.code(),
        Some(&SqlState::INVALID_PASSWORD),
        "{refused}"
    );
    let client = wait_login(&docker, &pg, PASSWORD).await;
    let kept: String = client
        .query_one("SELECT v FROM kept", &[])
        .await
        .expect("the row survives")
        .get(0);
    assert_eq!(kept, "still here");
    assert!(container_logs(&docker, &pg.name)
        .await
        .contains("skipping initialization"));
}
