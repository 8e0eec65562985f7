use super::log::{db_failure_lines, startup_errors, timestamp};
use super::*;
use crate::store::PgParams;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn reference_env() -> HashMap<String, String> {
    env(&[
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
    ])
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_reference_environment_parses_to_a_postgres_production_start() {
    let c = parse(&args(&["start"]), &reference_env()).expect("config");
    assert_eq!(c.mode, Mode::Start { optimized: false });
    assert_eq!(
        c.db,
        Some(PgParams {
            host: "postgres".into(),
            port: 5432,
            database: "keycloak".into(),
            user: "keycloak".into(),
            password: "keycloak$123".into(),
        })
    );
    assert_eq!(c.admin_user.as_deref(), Some("admin"));
    assert_eq!(c.admin_password.as_deref(), Some("kc_admin$123"));
    assert!(c.http_enabled && c.health_enabled);
    assert_eq!(c.hostname.as_deref(), Some("localhost"));
    assert_eq!(c.boot, Duration::from_secs(3));
    assert!(startup_errors(&c).is_none());
    assert!(c.warnings.is_empty());
}

#[test]
fn optimized_and_dev_modes_and_the_boot_knob() {
    let mut e = reference_env();
    e.insert(BOOT_SECONDS_ENV.into(), "0.5".into());
    let c = parse(&args(&["start", "--optimized"]), &e).expect("config");
    assert_eq!(c.mode, Mode::Start { optimized: true });
    assert_eq!(c.boot, Duration::from_millis(500));
    let dev = parse(&args(&["start-dev"]), &env(&[])).expect("dev config");
    assert_eq!(dev.mode, Mode::StartDev);
    assert!(dev.http_enabled && !dev.hostname_strict && dev.db.is_none());
    assert!(startup_errors(&dev).is_none());
}

#[test]
fn other_commands_and_unknown_options_are_usage_errors() {
    let exit = parse(&args(&["serve"]), &reference_env()).expect_err("usage error");
    assert_eq!(exit.code, 2);
    assert!(exit.stderr[0].contains("'serve'"), "{:?}", exit.stderr);
    let exit = parse(&args(&["start", "--bogus=1"]), &reference_env()).expect_err("usage error");
    assert_eq!(exit.code, 2);
    assert_eq!(exit.stderr[0], "Unknown option: '--bogus'");
}

#[test]
fn command_line_options_override_the_environment() {
    let c = parse(
        &args(&["start", "--hostname=kc.example", "--db-password=x"]),
        &reference_env(),
    )
    .expect("config");
    assert_eq!(c.hostname.as_deref(), Some("kc.example"));
    assert_eq!(c.db.expect("db").password, "x");
}

#[test]
fn jdbc_url_wins_over_the_host_and_port_variables() {
    let mut e = reference_env();
    e.insert(
        "KC_DB_URL".into(),
        "jdbc:postgresql://db.internal:6543/kc?ssl=false".into(),
    );
    let db = parse(&args(&["start"]), &e)
        .expect("config")
        .db
        .expect("db");
    assert_eq!(
        (db.host.as_str(), db.port, db.database.as_str()),
        ("db.internal", 6543, "kc")
    );
    e.remove("KC_DB_URL");
    e.insert("KC_DB_URL_PORT".into(), "5433".into());
    e.insert("KC_DB_URL_DATABASE".into(), "other".into());
    let db = parse(&args(&["start"]), &e)
        .expect("config")
        .db
        .expect("db");
    assert_eq!(
        (db.host.as_str(), db.port, db.database.as_str()),
        ("postgres", 5433, "other")
    );
}

#[test]
fn production_start_without_http_or_hostname_fails_like_keycloak() {
    let mut e = reference_env();
    e.remove("KC_HTTP_ENABLED");
    let c = parse(&args(&["start"]), &e).expect("config");
    let lines = startup_errors(&c).expect("https error");
    assert_eq!(
        lines[0],
        "ERROR: Failed to start server in (production) mode"
    );
    assert!(lines[1].starts_with("ERROR: Key material not provided to setup HTTPS"));
    let mut e = reference_env();
    e.remove("KC_HOSTNAME");
    let c = parse(&args(&["start"]), &e).expect("config");
    let lines = startup_errors(&c).expect("hostname error");
    assert!(lines.contains(
        &"ERROR: hostname is not configured; either configure hostname, or set hostname-strict to false".to_owned()
    ));
    e.insert("KC_HOSTNAME_STRICT".into(), "false".into());
    assert!(startup_errors(&parse(&args(&["start"]), &e).expect("config")).is_none());
}

#[test]
fn legacy_admin_variables_work_with_the_deprecation_warning() {
    let mut e = reference_env();
    e.remove("KC_BOOTSTRAP_ADMIN_USERNAME");
    e.remove("KC_BOOTSTRAP_ADMIN_PASSWORD");
    e.insert("KEYCLOAK_ADMIN".into(), "root".into());
    e.insert("KEYCLOAK_ADMIN_PASSWORD".into(), "pw".into());
    let c = parse(&args(&["start"]), &e).expect("config");
    assert_eq!(c.admin_user.as_deref(), Some("root"));
    assert_eq!(c.admin_password.as_deref(), Some("pw"));
    assert!(c.warnings.iter().any(|w| w
        == "KC-SERVICES0110: Environment variable 'KEYCLOAK_ADMIN_PASSWORD' is deprecated, use 'KC_BOOTSTRAP_ADMIN_PASSWORD' instead"));
}

#[test]
fn database_failures_read_like_keycloaks() {
    let lines = db_failure_lines(
        Mode::Start { optimized: false },
        &["FATAL: password authentication failed for user \"keycloak\"".to_owned()],
    );
    assert_eq!(
        lines[0],
        "ERROR: Failed to start server in (production) mode"
    );
    assert_eq!(lines[1], "ERROR: Failed to obtain JDBC connection");
    assert_eq!(
        lines[2],
        "ERROR: FATAL: password authentication failed for user \"keycloak\""
    );
    // An unknown host: the driver's message, then the cause's (the host name), a line each.
    let lines = db_failure_lines(
        Mode::Start { optimized: true },
        &[
            "The connection attempt failed.".to_owned(),
            "no-such-host".to_owned(),
        ],
    );
    assert_eq!(
        &lines[1..4],
        [
            "ERROR: Failed to obtain JDBC connection",
            "ERROR: The connection attempt failed.",
            "ERROR: no-such-host"
        ]
    );
}

#[test]
fn timestamps_are_utc_calendar_dates() {
    assert_eq!(timestamp(0), "1970-01-01 00:00:00,000");
    assert_eq!(timestamp(1_748_254_272_345), "2025-05-26 10:11:12,345");
}
