//! REAL-ENGINE tests (Docker) of the Keycloak double's container form, on the Postgres stand-in:
//! the contract of `iamstack-test/keycloak:26.2-double` as a user of the reference setup sees it.
//! Skipped without an engine, failing under `CI=true`.
//!
//! These run ONLY the stand-ins (built through `iamstack_test_support::standin::ensure_all`, the
//! entry point `images()` uses for its stand-in backend): they specify the double's container
//! contract, which the official image does not need to be tested against.
//!
//! Everything goes through the engine API (bollard): a user-defined network, a Postgres stand-in
//! (alias `postgres`, the reference env, a named volume), then the double with the reference env
//! and command `start`, ports 8080 and 9000 published on 127.0.0.1 port 0. Assertions are made
//! from the host through the published ports (HTTP) and through the engine (exit codes, logs).
//! Every object carries the `TestRun` label and is swept when the run drops, even on panic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::TryStreamExt;
use iamstack_test_support::standin::{self, Standins};
use iamstack_test_support::{admin_token, container_logs, engine, TestRun, ADMIN_PASSWORD};
use serde_json::{json, Value};

const PG_PASSWORD: &str = "keycloak$123";
/// Generous: on a loaded 2-core machine initdb alone can take many seconds.
const BUDGET: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(200);

/// A network, a data volume and a running Postgres stand-in reachable as `postgres` on it.
struct Stack {
    docker: Docker,
    images: Standins,
    network: String,
    volume: String,
    postgres: String,
    // Last: dropped (swept) after everything above.
    run: TestRun,
}

/// A started double: its container and the host ports 8080 and 9000 are published on.
struct Kc {
    name: String,
    http: u16,
    management: u16,
}

/// The reference environment of the Keycloak container, plus a short boot and health enabled.
fn reference_kc_env() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("KC_DB", "postgres".to_owned()),
        (
            "KC_DB_URL",
            "jdbc:postgresql://postgres:5432/keycloak".to_owned(),
        ),
        ("KC_DB_USERNAME", "keycloak".to_owned()),
        ("KC_DB_PASSWORD", PG_PASSWORD.to_owned()),
        ("KC_BOOTSTRAP_ADMIN_USERNAME", "admin".to_owned()),
        ("KC_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ("KC_HTTP_ENABLED", "true".to_owned()),
        ("KC_HOSTNAME", "localhost".to_owned()),
        ("KC_HEALTH_ENABLED", "true".to_owned()),
        // Small modelled costs: these tests are about the container contract, not the timings.
        ("KC_DOUBLE_BOOT_SECONDS", "0.5".to_owned()),
        ("KC_DOUBLE_AUGMENT_SECONDS", "0.3".to_owned()),
        ("KC_DOUBLE_SCHEMA_SECONDS", "0.3".to_owned()),
    ])
}

fn loopback_port_0(ports: &[&str]) -> HashMap<String, Option<Vec<PortBinding>>> {
    ports
        .iter()
        .map(|p| {
            (
                (*p).to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some("0".into()),
                }]),
            )
        })
        .collect()
}

fn on_network(network: &str, alias: Option<&str>) -> NetworkingConfig {
    NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            network.to_owned(),
            EndpointSettings {
                aliases: alias.map(|a| vec![a.to_owned()]),
                ..Default::default()
            },
        )])),
    }
}

async fn published_port(docker: &Docker, name: &str, port: &str) -> u16 {
    let info = docker
        .inspect_container(name, None)
        .await
        .unwrap_or_else(|e| panic!("inspect `{name}`: {e}"));
    info.network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get(port).cloned().flatten())
        .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("`{name}`: {port} is not published on a host port"))
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

/// Waits for the container to exit; its exit code.
async fn exit_code(docker: &Docker, name: &str) -> i64 {
    // The stream errs for a non-zero exit (bollard's DockerContainerWaitError): read the state.
    let _ = docker
        .wait_container(name, None)
        .try_collect::<Vec<_>>()
        .await;
    let state = docker
        .inspect_container(name, None)
        .await
        .unwrap_or_else(|e| panic!("inspect `{name}`: {e}"))
        .state
        .expect("container state");
    assert_eq!(state.running, Some(false), "`{name}` still runs");
    state.exit_code.expect("an exit code")
}

async fn pg_login(port: u16) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("keycloak")
        .password(PG_PASSWORD)
        .dbname("keycloak")
        .connect_timeout(Duration::from_secs(3))
        .connect(tokio_postgres::NoTls)
        .await?;
    let connection = tokio::spawn(connection);
    client.simple_query("SELECT 1").await?;
    drop(client);
    let _ = connection.await;
    Ok(())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

impl Stack {
    /// The stand-ins, a fresh run, its network and volume, and Postgres accepting logins.
    /// `None` when there is no engine (outside CI).
    async fn up() -> Option<Stack> {
        let docker = engine().await?;
        let images = standin::ensure_all(&docker)
            .await
            .expect("build the stand-in images");
        eprintln!(
            "images: postgres `{}`, keycloak `{}` (stand-ins: these tests specify the double)",
            images.postgres, images.keycloak
        );
        let run = TestRun::with_engine(&docker).await;
        let network = format!("{}-net", run.project());
        docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("bridge".into()),
                labels: Some(run.labels()),
                ..Default::default()
            })
            .await
            .expect("create the network");
        let volume = format!("{}-pgdata", run.project());
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(volume.clone()),
                labels: Some(run.labels()),
                ..Default::default()
            })
            .await
            .expect("create the data volume");
        let postgres = format!("{}-postgres", run.project());
        docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&postgres)
                        .build(),
                ),
                ContainerCreateBody {
                    image: Some(images.postgres.clone()),
                    env: Some(vec![
                        "POSTGRES_DB=keycloak".into(),
                        "POSTGRES_USER=keycloak".into(),
                        format!("POSTGRES_PASSWORD={PG_PASSWORD}"),
                    ]),
                    labels: Some(run.labels()),
                    exposed_ports: Some(vec!["5432/tcp".into()]),
                    host_config: Some(HostConfig {
                        binds: Some(vec![format!("{volume}:/var/lib/postgresql/data")]),
                        port_bindings: Some(loopback_port_0(&["5432/tcp"])),
                        ..Default::default()
                    }),
                    networking_config: Some(on_network(&network, Some("postgres"))),
                    ..Default::default()
                },
            )
            .await
            .expect("create the postgres container");
        docker
            .start_container(&postgres, None)
            .await
            .expect("start the postgres container");
        let port = published_port(&docker, &postgres, "5432/tcp").await;
        let stack = Stack {
            docker,
            images,
            network,
            volume,
            postgres,
            run,
        };
        let started = Instant::now();
        loop {
            match pg_login(port).await {
                Ok(()) => break,
                Err(e) => assert!(
                    started.elapsed() < BUDGET && running(&stack.docker, &stack.postgres).await,
                    "postgres never accepted a login: {e}\n--- logs ---\n{}",
                    container_logs(&stack.docker, &stack.postgres).await
                ),
            }
            tokio::time::sleep(POLL).await;
        }
        eprintln!("postgres ready after {} ms", started.elapsed().as_millis());
        Some(stack)
    }

    /// Creates and starts the double (`start`) with `env`, ports 8080 and 9000 published on
    /// 127.0.0.1 port 0 (read back from the engine).
    async fn start_kc(&self, suffix: &str, env: &BTreeMap<&str, String>) -> Kc {
        let name = format!("{}-{suffix}", self.run.project());
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                ContainerCreateBody {
                    image: Some(self.images.keycloak.clone()),
                    cmd: Some(vec!["start".into()]),
                    env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                    labels: Some(self.run.labels()),
                    exposed_ports: Some(vec!["8080/tcp".into(), "9000/tcp".into()]),
                    host_config: Some(HostConfig {
                        port_bindings: Some(loopback_port_0(&["8080/tcp", "9000/tcp"])),
                        ..Default::default()
                    }),
                    networking_config: Some(on_network(&self.network, None)),
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create `{name}`: {e}"));
        self.docker
            .start_container(&name, None)
            .await
            .unwrap_or_else(|e| panic!("start `{name}`: {e}"));
        Kc {
            http: published_port(&self.docker, &name, "8080/tcp").await,
            management: published_port(&self.docker, &name, "9000/tcp").await,
            name,
        }
    }

    /// Polls `url` until it answers `status`; fails at once (with the logs) if the container
    /// exits, or after the budget. The body of that answer.
    async fn wait_for(&self, kc: &Kc, url: &str, status: u16) -> Value {
        let http = http();
        let started = Instant::now();
        loop {
            let last = match http.get(url).send().await {
                Ok(r) if r.status() == status => {
                    eprintln!(
                        "`{}`: {url} answered {status} after {} ms",
                        kc.name,
                        started.elapsed().as_millis()
                    );
                    return r.json().await.unwrap_or(Value::Null);
                }
                Ok(r) => format!("status {}", r.status()),
                Err(e) => e.to_string(),
            };
            if !running(&self.docker, &kc.name).await || started.elapsed() > BUDGET {
                panic!(
                    "`{}`: {url} never answered {status} (last: {last})\n--- logs ---\n{}",
                    kc.name,
                    container_logs(&self.docker, &kc.name).await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `docker stop` (SIGTERM, the image's stop signal; SIGKILL only after 30 s); the exit code.
    async fn stop(&self, name: &str) -> i64 {
        self.docker
            .stop_container(
                name,
                Some(StopContainerOptionsBuilder::default().t(30).build()),
            )
            .await
            .unwrap_or_else(|e| panic!("stop `{name}`: {e}"));
        exit_code(&self.docker, name).await
    }
}

async fn token(port: u16, realm: &str, form: &[(&str, &str)]) -> reqwest::Response {
    http()
        .post(format!(
            "http://127.0.0.1:{port}/realms/{realm}/protocol/openid-connect/token"
        ))
        .form(form)
        .send()
        .await
        .expect("the token endpoint answers")
}

async fn admin_login(kc: &Kc, password: &str) -> reqwest::Response {
    token(
        kc.http,
        "master",
        &[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "admin"),
            ("password", password),
        ],
    )
    .await
}

async fn admin_post(kc: &Kc, bearer: &str, path: &str, body: Value) {
    let r = http()
        .post(format!("http://127.0.0.1:{}/admin/realms{path}", kc.http))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .expect("the admin API answers");
    let status = r.status();
    assert_eq!(
        status,
        201,
        "POST /admin/realms{path}: {}",
        r.text().await.unwrap_or_default()
    );
}

/// The `kid`s of the realm's JWKS (signature and encryption keys).
async fn jwks_kids(kc: &Kc, realm: &str) -> BTreeSet<String> {
    let jwks: Value = http()
        .get(format!(
            "http://127.0.0.1:{}/realms/{realm}/protocol/openid-connect/certs",
            kc.http
        ))
        .send()
        .await
        .expect("the JWKS endpoint answers")
        .json()
        .await
        .expect("JWKS JSON");
    let kids: BTreeSet<String> = jwks["keys"]
        .as_array()
        .expect("a key list")
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect();
    assert!(
        jwks["keys"]
            .as_array()
            .is_some_and(|keys| keys.iter().any(|k| k["use"] == "sig")),
        "a signing key in {jwks}"
    );
    kids
}

async fn user_login(kc: &Kc) -> reqwest::Response {
    token(
        kc.http,
        "kept",
        &[
            ("grant_type", "password"),
            ("client_id", "kept-client"),
            ("client_secret", "kept-secret-0123456789"),
            ("username", "kept-user"),
            ("password", "kept-user$123"),
        ],
    )
    .await
}

#[tokio::test]
async fn state_survives_container_recreation_and_the_bootstrap_admin_is_created_once() {
    let Some(stack) = Stack::up().await else {
        return;
    };
    let http = http();

    // First container, without KC_HEALTH_ENABLED: nothing answers on 9000.
    let mut env = reference_kc_env();
    env.remove("KC_HEALTH_ENABLED");
    let first = stack.start_kc("keycloak-1", &env).await;
    stack
        .wait_for(
            &first,
            &format!("http://127.0.0.1:{}/realms/master", first.http),
            200,
        )
        .await;
    let management = http
        .get(format!(
            "http://127.0.0.1:{}/health/ready",
            first.management
        ))
        .send()
        .await;
    assert!(
        management.is_err(),
        "without KC_HEALTH_ENABLED nothing may answer on 9000, got {:?}",
        management.map(|r| r.status())
    );
    let first_logs = container_logs(&stack.docker, &first.name).await;
    assert!(
        first_logs.contains("KC-SERVICES0077: Created temporary admin user with username admin"),
        "{first_logs}"
    );

    // A realm, a confidential client with a supplied secret, a user with a password.
    let bearer = admin_token(&format!("http://127.0.0.1:{}", first.http)).await;
    admin_post(
        &first,
        &bearer,
        "",
        json!({"realm": "kept", "enabled": true}),
    )
    .await;
    admin_post(
        &first,
        &bearer,
        "/kept/clients",
        json!({
            "clientId": "kept-client",
            "protocol": "openid-connect",
            "publicClient": false,
            "secret": "kept-secret-0123456789",
            "standardFlowEnabled": true,
            "directAccessGrantsEnabled": true,
            "redirectUris": ["http://localhost:5000/*"]
        }),
    )
    .await;
    admin_post(
        &first,
        &bearer,
        "/kept/users",
        json!({
            "username": "kept-user",
            "enabled": true,
            "email": "kept-user@localhost",
            "firstName": "Kept",
            "lastName": "User",
            "credentials": [{"type": "password", "value": "kept-user$123", "temporary": false}]
        }),
    )
    .await;
    assert_eq!(user_login(&first).await.status(), 200, "user login");
    let kids_before = jwks_kids(&first, "kept").await;

    // SIGTERM (docker stop) ends it cleanly: exit code 0.
    let code = stack.stop(&first.name).await;
    let first_logs = container_logs(&stack.docker, &first.name).await;
    assert_eq!(code, 0, "SIGTERM exit code\n{first_logs}");
    assert!(first_logs.contains("Keycloak stopped in"), "{first_logs}");
    stack
        .docker
        .remove_container(
            &first.name,
            Some(RemoveContainerOptionsBuilder::default().build()),
        )
        .await
        .expect("remove the first double");

    // A new container on the same database, with another bootstrap password and health on.
    let mut env = reference_kc_env();
    env.insert("KC_BOOTSTRAP_ADMIN_PASSWORD", "changed$456".to_owned());
    let second = stack.start_kc("keycloak-2", &env).await;
    let ready = stack
        .wait_for(
            &second,
            &format!("http://127.0.0.1:{}/health/ready", second.management),
            200,
        )
        .await;
    assert_eq!(ready["status"], "UP", "{ready}");

    let second_logs = container_logs(&stack.docker, &second.name).await;
    assert!(
        !second_logs.contains("KC-SERVICES0077"),
        "the bootstrap admin was created again:\n{second_logs}"
    );
    assert_eq!(
        admin_login(&second, "changed$456").await.status(),
        401,
        "the changed bootstrap password must not log in"
    );
    assert_eq!(
        admin_login(&second, ADMIN_PASSWORD).await.status(),
        200,
        "the first bootstrap password still logs in"
    );

    let bearer = admin_token(&format!("http://127.0.0.1:{}", second.http)).await;
    let clients: Value = http
        .get(format!(
            "http://127.0.0.1:{}/admin/realms/kept/clients?clientId=kept-client",
            second.http
        ))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("the admin API answers")
        .json()
        .await
        .expect("clients JSON");
    assert_eq!(
        clients[0]["secret"], "kept-secret-0123456789",
        "the client and its secret survive: {clients}"
    );
    assert_eq!(
        user_login(&second).await.status(),
        200,
        "the user's password and the client secret survive"
    );
    assert_eq!(
        jwks_kids(&second, "kept").await,
        kids_before,
        "the realm's keys survive"
    );

    // Postgres gone: readiness turns DOWN (the database check), the server keeps running.
    let code = stack.stop(&stack.postgres).await;
    assert_eq!(code, 0, "postgres fast shutdown");
    let down = stack
        .wait_for(
            &second,
            &format!("http://127.0.0.1:{}/health/ready", second.management),
            503,
        )
        .await;
    assert_eq!(down["status"], "DOWN", "{down}");

    let code = stack.stop(&second.name).await;
    assert_eq!(
        code,
        0,
        "SIGTERM exit code\n{}",
        container_logs(&stack.docker, &second.name).await
    );

    // Everything made here carries the run's label (so the drop sweeps it).
    let labelled = stack
        .run
        .leftovers(&stack.docker)
        .await
        .expect("list labelled objects");
    for object in [
        format!("network {}", stack.network),
        format!("volume {}", stack.volume),
        format!("container {}", stack.postgres),
        format!("container {}", second.name),
    ] {
        assert!(labelled.contains(&object), "{object} in {labelled:?}");
    }
}

#[tokio::test]
async fn an_unreachable_or_refusing_database_makes_the_double_exit_non_zero_with_jdbc_errors() {
    let Some(stack) = Stack::up().await else {
        return;
    };
    let mut no_host = reference_kc_env();
    no_host.insert(
        "KC_DB_URL",
        "jdbc:postgresql://no-such-postgres:5432/keycloak".into(),
    );
    let mut no_server = reference_kc_env();
    no_server.insert(
        "KC_DB_URL",
        "jdbc:postgresql://postgres:5433/keycloak".into(),
    );
    let mut wrong_password = reference_kc_env();
    wrong_password.insert("KC_DB_PASSWORD", "not-the-password".into());

    let cases = [
        (
            "no-host",
            no_host,
            vec!["The connection attempt failed.", "no-such-postgres"],
        ),
        (
            "refused",
            no_server,
            vec!["Connection to postgres:5433 refused."],
        ),
        (
            "bad-password",
            wrong_password,
            vec!["FATAL: password authentication failed for user \"keycloak\""],
        ),
    ];
    let mut started = Vec::new();
    for (suffix, env, _) in &cases {
        started.push(stack.start_kc(suffix, env).await);
    }
    for ((suffix, _, causes), kc) in cases.iter().zip(&started) {
        let code = exit_code(&stack.docker, &kc.name).await;
        let output = container_logs(&stack.docker, &kc.name).await;
        assert_ne!(code, 0, "{suffix}: exit code\n{output}");
        assert!(
            output.contains("ERROR: Failed to start server in (production) mode"),
            "{suffix}:\n{output}"
        );
        assert!(
            output.contains("ERROR: Failed to obtain JDBC connection"),
            "{suffix}:\n{output}"
        );
        for cause in causes {
            assert!(
                output
                    .lines()
                    .any(|l| l.starts_with(&format!("ERROR: {cause}"))),
                "{suffix}: no line starting `ERROR: {cause}`:\n{output}"
            );
        }
        assert!(
            !output.contains("Listening on:"),
            "{suffix}: it must not serve\n{output}"
        );
        eprintln!("{suffix}: exit code {code}");
    }
}
