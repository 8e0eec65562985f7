//! The container form's persistence in PostgreSQL. ENV-GATED: runs only when
//! `KEYCLOAK_DOUBLE_TEST_PG` names a database the test may wipe, e.g.
//! `postgres://keycloak:keycloak%24123@127.0.0.1:55432/keycloak` (see this crate's README for a
//! throw-away local cluster). Without it the test returns at once, saying so. CI covers the same
//! behaviour through the stand-in image in the root crate's engine tests.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_keycloak-double");

struct Pg {
    host: String,
    port: u16,
    db: String,
    user: String,
    password: String,
}

fn pg_from_env() -> Option<Pg> {
    let raw = std::env::var("KEYCLOAK_DOUBLE_TEST_PG").ok()?;
    let url = url::Url::parse(&raw).expect("KEYCLOAK_DOUBLE_TEST_PG is a postgres:// URL");
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(Pg {
        host: url.host_str().expect("host").to_owned(),
        port: url.port().unwrap_or(5432),
        db: url.path().trim_start_matches('/').to_owned(),
        user: decode(url.username()),
        password: decode(url.password().unwrap_or("")),
    })
}

async fn sql(pg: &Pg, statement: &str) {
    let (client, conn) = tokio_postgres::Config::new()
        .host(&pg.host)
        .port(pg.port)
        .dbname(&pg.db)
        .user(&pg.user)
        .password(&pg.password)
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    let task = tokio::spawn(conn);
    client.batch_execute(statement).await.expect("sql");
    drop(client);
    let _ = task.await;
}

async fn start(pg: &Pg, admin_password: &str) -> (Child, u16, u16, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["start", "--http-port=0", "--http-management-port=0"])
        .env_clear()
        .env("KC_DB", "postgres")
        .env(
            "KC_DB_URL",
            format!("jdbc:postgresql://{}:{}/{}", pg.host, pg.port, pg.db),
        )
        .env("KC_DB_USERNAME", &pg.user)
        .env("KC_DB_PASSWORD", &pg.password)
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", "admin")
        .env("KC_BOOTSTRAP_ADMIN_PASSWORD", admin_password)
        .env("KC_HTTP_ENABLED", "true")
        .env("KC_HOSTNAME", "localhost")
        .env("KC_HEALTH_ENABLED", "true")
        .env("KC_DOUBLE_BOOT_SECONDS", "0.2")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let line = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            if line.contains("Listening on: http://0.0.0.0:") {
                return line;
            }
        }
        panic!("exited before listening: {seen:?}")
    })
    .await
    .expect("starts");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let port_after = |marker: &str| -> u16 {
        let rest = line.split(marker).nth(1).expect("marker");
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .expect("port")
    };
    let http = port_after("Listening on: http://0.0.0.0:");
    let mgmt = port_after("Management interface listening on http://0.0.0.0:");
    (child, http, mgmt, seen)
}

async fn stop(mut child: Child) {
    let pid = child.id().expect("pid").to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("stops")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
}

async fn token(port: u16, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/realms/master/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "admin"),
            ("password", password),
        ])
        .send()
        .await
        .expect("token")
}

#[tokio::test]
async fn state_survives_restarts_and_the_bootstrap_admin_is_created_once() {
    let Some(pg) = pg_from_env() else {
        eprintln!(
            "KEYCLOAK_DOUBLE_TEST_PG not set: PostgreSQL persistence test not run (env-gated)"
        );
        return;
    };
    sql(&pg, "DROP TABLE IF EXISTS keycloak_double_state").await;
    let http = reqwest::Client::new();

    let (first, port, _, log) = start(&pg, "first-pw").await;
    assert!(log.iter().any(|l| l.contains("KC-SERVICES0077")), "{log:?}");
    let t: Value = token(port, "first-pw").await.json().await.expect("json");
    let t = t["access_token"].as_str().expect("at").to_owned();
    let r = http
        .post(format!("http://127.0.0.1:{port}/admin/realms"))
        .bearer_auth(&t)
        .json(&json!({"realm":"kept","enabled":true,
            "clients":[{"clientId":"c1","publicClient":false,"secret":"s1","directAccessGrantsEnabled":true}],
            "users":[{"username":"kept-user","enabled":true,"email":"k@x.test","firstName":"K","lastName":"U",
                      "credentials":[{"type":"password","value":"pw"}]}]}))
        .send()
        .await
        .expect("create realm");
    assert_eq!(r.status(), 201);
    let key_before: Value = http
        .get(format!("http://127.0.0.1:{port}/realms/kept"))
        .send()
        .await
        .expect("info")
        .json()
        .await
        .expect("json");
    stop(first).await;

    // Re-created "container" with another bootstrap password: the old admin stays.
    let (second, port, mgmt, log) = start(&pg, "second-pw").await;
    assert!(
        !log.iter().any(|l| l.contains("KC-SERVICES0077")),
        "admin created again: {log:?}"
    );
    assert_eq!(token(port, "second-pw").await.status(), 401);
    assert_eq!(token(port, "first-pw").await.status(), 200);
    let key_after: Value = http
        .get(format!("http://127.0.0.1:{port}/realms/kept"))
        .send()
        .await
        .expect("info")
        .json()
        .await
        .expect("json");
    assert_eq!(
        key_before["public_key"], key_after["public_key"],
        "signing key persisted"
    );
    let login = http
        .post(format!(
            "http://127.0.0.1:{port}/realms/kept/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "c1"),
            ("client_secret", "s1"),
            ("username", "kept-user"),
            ("password", "pw"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(
        login.status(),
        200,
        "client secret and user password persisted"
    );

    // Losing the database connection turns readiness DOWN.
    let ready = http
        .get(format!("http://127.0.0.1:{mgmt}/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    sql(&pg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keycloak-double'").await;
    let ready = http
        .get(format!("http://127.0.0.1:{mgmt}/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.expect("json")["status"], "DOWN");
    stop(second).await;
}

#[tokio::test]
async fn a_wrong_database_password_exits_1_with_the_servers_message() {
    let Some(pg) = pg_from_env() else {
        eprintln!(
            "KEYCLOAK_DOUBLE_TEST_PG not set: PostgreSQL persistence test not run (env-gated)"
        );
        return;
    };
    let output = Command::new(BIN)
        .args(["start", "--optimized"])
        .env_clear()
        .env("KC_DB", "postgres")
        .env(
            "KC_DB_URL",
            format!("jdbc:postgresql://{}:{}/{}", pg.host, pg.port, pg.db),
        )
        .env("KC_DB_USERNAME", &pg.user)
        .env("KC_DB_PASSWORD", "certainly-not-the-password")
        .env("KC_HTTP_ENABLED", "true")
        .env("KC_HOSTNAME", "localhost")
        .env("KC_DOUBLE_BOOT_SECONDS", "0")
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ERROR: Failed to obtain JDBC connection"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "FATAL: password authentication failed for user \"{}\"",
            pg.user
        )),
        "{stderr}"
    );
}
