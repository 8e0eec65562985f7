//! The container form: `kc.sh` emulation for the stand-in image `iamstack-test/keycloak:26.2-double`.
//!
//! Behaves like `keycloak/keycloak:26.2` with the reference environment: `start` (also
//! `start --optimized`) and `start-dev`; Keycloak's `KC_*` variables (and the matching `--option=value`
//! arguments); Keycloak-like log lines on stdout (errors on stderr); a boot delay
//! (`KC_DOUBLE_BOOT_SECONDS`, default 8) before listening; state kept in PostgreSQL; the bootstrap
//! admin created only on the first start of an empty database; health on the management port
//! only with `KC_HEALTH_ENABLED=true`; SIGTERM/SIGINT stop it at once with exit code 0.
//!
//! Everything but [`run`] is pure and unit-tested.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::Clock;
use crate::model::{State, KEYCLOAK_VERSION};
use crate::server::{DoubleConfig, RealmConflict, RecordedRequest, Serving, Shared};
use crate::store::{describe_connect_error, PgParams, PgStore, Store};

/// The env variable setting the boot delay, in seconds (fractions allowed).
pub const BOOT_SECONDS_ENV: &str = "KC_DOUBLE_BOOT_SECONDS";
/// Default boot delay: several seconds, so that callers' readiness waits are exercised.
pub const DEFAULT_BOOT_SECONDS: f64 = 8.0;
/// `KC_DOUBLE_REALM_CONFLICT=400` reproduces 26.2.0–26.2.4's duplicate-realm status.
pub const REALM_CONFLICT_ENV: &str = "KC_DOUBLE_REALM_CONFLICT";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Production mode (`start`), optionally `--optimized` (no augmentation step).
    Start { optimized: bool },
    /// Development mode (`start-dev`).
    StartDev,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Start { .. } => "production",
            Mode::StartDev => "development",
        }
    }
}

/// The resolved configuration of one container run.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerConfig {
    pub mode: Mode,
    /// `None`: no `KC_DB` (Keycloak's dev-file database; the double keeps state in memory).
    pub db: Option<PgParams>,
    pub admin_user: Option<String>,
    pub admin_password: Option<String>,
    pub http_enabled: bool,
    pub hostname: Option<String>,
    pub hostname_strict: bool,
    pub health_enabled: bool,
    pub http_port: u16,
    pub management_port: u16,
    pub boot: Duration,
    pub realm_conflict: RealmConflict,
    /// Warnings to log at start (deprecated variables, ...).
    pub warnings: Vec<String>,
}

/// A finished run before serving: exit code and lines for stdout/stderr.
#[derive(Debug, PartialEq, Eq)]
pub struct Exit {
    pub code: u8,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

const OPTIONS: &[&str] = &[
    "db",
    "db-url",
    "db-url-host",
    "db-url-port",
    "db-url-database",
    "db-username",
    "db-password",
    "bootstrap-admin-username",
    "bootstrap-admin-password",
    "http-enabled",
    "http-port",
    "http-management-port",
    "hostname",
    "hostname-strict",
    "health-enabled",
];

fn env_name(option: &str) -> String {
    format!("KC_{}", option.to_uppercase().replace('-', "_"))
}

fn usage_error(message: String) -> Exit {
    Exit {
        code: 2,
        stdout: Vec::new(),
        stderr: vec![
            message,
            "Try 'kc.sh --help' for more information on the available options.".to_owned(),
        ],
    }
}

/// Parses `kc.sh` arguments and environment into a configuration, or an early exit.
pub fn parse(args: &[String], env: &HashMap<String, String>) -> Result<ContainerConfig, Exit> {
    let Some(command) = args.first() else {
        return Err(Exit {
            code: 0,
            stdout: vec![
                "Keycloak - Open Source Identity and Access Management (test double)".to_owned(),
                "Usage: kc.sh [OPTIONS] [COMMAND]".to_owned(),
                "Commands: start, start-dev".to_owned(),
            ],
            stderr: Vec::new(),
        });
    };
    let mut optimized = false;
    let mut options: HashMap<String, String> = HashMap::new();
    for arg in &args[1..] {
        if arg == "--optimized" {
            optimized = true;
            continue;
        }
        let Some(option) = arg.strip_prefix("--") else {
            return Err(usage_error(format!("Unknown option: '{arg}'")));
        };
        let (key, value) = option.split_once('=').unwrap_or((option, "true"));
        if !OPTIONS.contains(&key) {
            return Err(usage_error(format!("Unknown option: '--{key}'")));
        }
        options.insert(key.to_owned(), value.to_owned());
    }
    let mode = match command.as_str() {
        "start" => Mode::Start { optimized },
        "start-dev" if !optimized => Mode::StartDev,
        "start-dev" => return Err(usage_error("Unknown option: '--optimized'".to_owned())),
        other => {
            return Err(usage_error(format!(
                "Unmatched argument at index 0: '{other}'"
            )))
        }
    };
    let mut warnings = Vec::new();
    let get = |key: &str| -> Option<String> {
        options
            .get(key)
            .cloned()
            .or_else(|| env.get(&env_name(key)).cloned())
            .filter(|v| !v.is_empty())
    };
    let flag = |key: &str, default: bool| -> bool {
        get(key)
            .map(|v| v.eq_ignore_ascii_case("true"))
            .unwrap_or(default)
    };
    let mut admin_user = get("bootstrap-admin-username");
    let mut admin_password = get("bootstrap-admin-password");
    for (legacy, current, slot) in [
        (
            "KEYCLOAK_ADMIN",
            "KC_BOOTSTRAP_ADMIN_USERNAME",
            &mut admin_user,
        ),
        (
            "KEYCLOAK_ADMIN_PASSWORD",
            "KC_BOOTSTRAP_ADMIN_PASSWORD",
            &mut admin_password,
        ),
    ] {
        if slot.is_none() {
            if let Some(v) = env.get(legacy).filter(|v| !v.is_empty()) {
                *slot = Some(v.clone());
                warnings.push(format!(
                    "KC-SERVICES0110: Environment variable '{legacy}' is deprecated, use '{current}' instead"
                ));
            }
        }
    }
    let db = match get("db").as_deref() {
        None | Some("dev-file") | Some("dev-mem") => None,
        Some("postgres") => Some(pg_params(&get)?),
        Some(other) => {
            return Err(Exit {
                code: 2,
                stdout: Vec::new(),
                stderr: vec![format!(
                    "Invalid value for option '--db': {other}. Expected values are: postgres (the test double supports only postgres)"
                )],
            })
        }
    };
    let boot = env
        .get(BOOT_SECONDS_ENV)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(DEFAULT_BOOT_SECONDS);
    let port = |key: &str, default: u16| -> Result<u16, Exit> {
        match get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| usage_error(format!("Invalid value for option '--{key}': {v}"))),
        }
    };
    Ok(ContainerConfig {
        mode,
        db,
        admin_user,
        admin_password,
        http_enabled: flag("http-enabled", mode == Mode::StartDev),
        hostname: get("hostname"),
        hostname_strict: flag("hostname-strict", mode != Mode::StartDev),
        health_enabled: flag("health-enabled", false),
        http_port: port("http-port", 8080)?,
        management_port: port("http-management-port", 9000)?,
        boot: Duration::from_secs_f64(boot),
        realm_conflict: match env.get(REALM_CONFLICT_ENV).map(String::as_str) {
            Some("400") => RealmConflict::Status400,
            _ => RealmConflict::Status409,
        },
        warnings,
    })
}

/// `KC_DB_URL` (`jdbc:postgresql://host[:port]/db[?...]`) wins over `KC_DB_URL_HOST/PORT/DATABASE`.
fn pg_params(get: &dyn Fn(&str) -> Option<String>) -> Result<PgParams, Exit> {
    let mut host = get("db-url-host").unwrap_or_else(|| "localhost".to_owned());
    let mut port: u16 = get("db-url-port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(5432);
    let mut database = get("db-url-database").unwrap_or_else(|| "keycloak".to_owned());
    if let Some(url) = get("db-url") {
        let rest = url.strip_prefix("jdbc:postgresql://").ok_or_else(|| Exit {
            code: 1,
            stdout: Vec::new(),
            stderr: vec![format!(
                "ERROR: Driver does not support the provided URL: {url}"
            )],
        })?;
        let rest = rest.split('?').next().unwrap_or("");
        let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
        match authority.rsplit_once(':') {
            Some((h, p)) => {
                host = h.to_owned();
                port = p.parse().unwrap_or(5432);
            }
            None => host = authority.to_owned(),
        }
        if !db.is_empty() {
            database = db.to_owned();
        }
    }
    Ok(PgParams {
        host,
        port,
        database,
        user: get("db-username").unwrap_or_default(),
        password: get("db-password").unwrap_or_default(),
    })
}

const MORE_DETAILS: &str = "For more details run the same command passing the '--verbose' option. Also you can use '--help' to see the details about the usage of the particular command.";

/// The start-time checks production mode makes (HTTPS material, then hostname).
pub fn startup_errors(config: &ContainerConfig) -> Option<Vec<String>> {
    let mode = config.mode.label();
    if !config.http_enabled {
        return Some(vec![
            format!("ERROR: Failed to start server in ({mode}) mode"),
            "ERROR: Key material not provided to setup HTTPS. Please configure your keys/certificates or start the server in development mode.".to_owned(),
            MORE_DETAILS.to_owned(),
        ]);
    }
    if config.hostname_strict && config.hostname.is_none() {
        return Some(vec![
            format!("ERROR: Failed to start server in ({mode}) mode"),
            "ERROR: Failed to start quarkus".to_owned(),
            "ERROR: hostname is not configured; either configure hostname, or set hostname-strict to false".to_owned(),
            MORE_DETAILS.to_owned(),
        ]);
    }
    None
}

/// What Keycloak logs when it cannot reach its database: one `ERROR:` line per message of the
/// exception chain (`causes`), as its `ExecutionExceptionHandler` prints them.
pub fn db_failure_lines(mode: Mode, causes: &[String]) -> Vec<String> {
    let mut lines = vec![
        format!("ERROR: Failed to start server in ({}) mode", mode.label()),
        "ERROR: Failed to obtain JDBC connection".to_owned(),
    ];
    lines.extend(causes.iter().map(|c| format!("ERROR: {c}")));
    lines.push(MORE_DETAILS.to_owned());
    lines
}

/// Lines of the auto-build step (`start` without `--optimized`).
pub fn augmentation_lines() -> Vec<String> {
    vec![
        "Changes detected in configuration. Updating the server image.".to_owned(),
        "Updating the configuration and installing your custom providers, if any. Please wait."
            .to_owned(),
    ]
}

pub fn augmentation_done_lines() -> Vec<String> {
    vec![
        "Server configuration updated and persisted. Run the following command to review the configuration:".to_owned(),
        String::new(),
        "\tkc.sh show-config".to_owned(),
        String::new(),
        "Next time you run the server, just run:".to_owned(),
        String::new(),
        "\tkc.sh start --optimized".to_owned(),
        String::new(),
    ]
}

/// `2025-05-26 10:11:12,345` in UTC.
pub fn timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A Keycloak-style log line.
pub fn log_line(level: &str, category: &str, message: &str) -> String {
    format!(
        "{} {level:<5} [{category}] (main) {message}",
        timestamp(now_ms())
    )
}

/// The line logged for each request served.
pub fn request_line(r: &RecordedRequest) -> String {
    let target = match &r.query {
        Some(q) => format!("{}?{q}", r.path),
        None => r.path.clone(),
    };
    let remote = r
        .remote
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "-".into());
    format!(
        "{} INFO  [keycloak-double.access] (executor-thread-1) {remote} \"{} {target}\" {}",
        timestamp(now_ms()),
        r.method,
        r.status
    )
}

fn out(line: &str) {
    println!("{line}");
}

fn err(line: &str) {
    eprintln!("{line}");
}

/// SIGTERM/SIGINT listeners, registered once at start so that no signal is lost between phases.
struct StopSignal {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignal {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => Some((term, int)),
                _ => None,
            };
            Self { streams }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Resolves on SIGTERM or SIGINT.
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some((term, int)) = &mut self.streams {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }

    /// Sleeps `d`, or returns `false` early when a stop signal arrives.
    async fn pause(&mut self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.recv() => false,
        }
    }
}

/// Runs the container form to completion; returns the process exit code.
pub async fn run(args: Vec<String>, env: HashMap<String, String>) -> u8 {
    let mut stop = StopSignal::register();
    let config = match parse(&args, &env) {
        Ok(c) => c,
        Err(exit) => {
            exit.stdout.iter().for_each(|l| out(l));
            exit.stderr.iter().for_each(|l| err(l));
            return exit.code;
        }
    };
    let started = std::time::Instant::now();
    // Augmentation takes a share of the boot time, as Keycloak's re-build does on each `start`.
    let (augment, rest) = match config.mode {
        Mode::Start { optimized: false } => (config.boot.mul_f64(0.4), config.boot.mul_f64(0.6)),
        _ => (Duration::ZERO, config.boot),
    };
    if augment > Duration::ZERO {
        augmentation_lines().iter().for_each(|l| out(l));
        if !stop.pause(augment).await {
            return 0;
        }
        out(&log_line(
            "INFO",
            "io.quarkus.deployment.QuarkusAugmentor",
            &format!(
                "Quarkus augmentation completed in {}ms",
                augment.as_millis()
            ),
        ));
        augmentation_done_lines().iter().for_each(|l| out(l));
    }
    if let Some(lines) = startup_errors(&config) {
        lines.iter().for_each(|l| err(l));
        return 1;
    }
    for w in &config.warnings {
        out(&log_line(
            "WARN",
            "org.keycloak.quarkus.runtime.KeycloakMain",
            w,
        ));
    }
    let store = match &config.db {
        None => Store::Memory,
        Some(params) => match PgStore::connect(params).await {
            Ok(pg) => Store::Postgres(pg),
            Err(e) => {
                let causes = describe_connect_error(params, &e);
                out(&log_line(
                    "WARN",
                    "io.agroal.pool",
                    &format!("Datasource '<default>': {}", causes.join(": ")),
                ));
                db_failure_lines(config.mode, &causes)
                    .iter()
                    .for_each(|l| err(l));
                return 1;
            }
        },
    };
    let stored = match &store {
        Store::Postgres(pg) => match pg.load().await {
            Ok(s) => s,
            Err(e) => {
                db_failure_lines(config.mode, &[format!("{e:#}")])
                    .iter()
                    .for_each(|l| err(l));
                return 1;
            }
        },
        Store::Memory => None,
    };
    let clock = Clock::default();
    let state = match stored {
        Some(state) => state,
        None => {
            out(&log_line(
                "INFO",
                "org.keycloak.services",
                "KC-SERVICES0050: Initializing master realm",
            ));
            let state = match (&config.admin_user, &config.admin_password) {
                (Some(user), Some(password)) => {
                    let s = State::bootstrap(user, password, clock.now_ms());
                    out(&log_line(
                        "INFO",
                        "org.keycloak.services",
                        &format!(
                            "KC-SERVICES0077: Created temporary admin user with username {}",
                            user.to_lowercase()
                        ),
                    ));
                    s
                }
                _ => {
                    let mut s = State::bootstrap("admin", "", clock.now_ms());
                    if let Some(master) = s.realm_mut(crate::model::MASTER) {
                        master.users.clear();
                    }
                    s
                }
            };
            if let Err(e) = store.save(&state).await {
                db_failure_lines(config.mode, &[format!("{e:#}")])
                    .iter()
                    .for_each(|l| err(l));
                return 1;
            }
            state
        }
    };
    if !stop.pause(rest).await {
        return 0;
    }
    let double_config = DoubleConfig {
        admin_user: config.admin_user.clone().unwrap_or_default(),
        admin_password: config.admin_password.clone().unwrap_or_default(),
        hostname: config
            .hostname
            .clone()
            .unwrap_or_else(|| "localhost".to_owned()),
        realm_conflict: config.realm_conflict,
        health_enabled: config.health_enabled,
    };
    let hook: crate::server::RequestHook =
        std::sync::Arc::new(|r: &RecordedRequest| out(&request_line(r)));
    let app = Shared::new(double_config, state, store, clock, Some(hook));
    let http = SocketAddr::from(([0, 0, 0, 0], config.http_port));
    let management = config
        .health_enabled
        .then(|| SocketAddr::from(([0, 0, 0, 0], config.management_port)));
    let serving = match Serving::bind(app, http, management).await {
        Ok(s) => s,
        Err(e) => {
            err(&format!(
                "ERROR: Failed to start server in ({}) mode",
                config.mode.label()
            ));
            err(&format!("ERROR: Port(s) already bound: {e}"));
            return 1;
        }
    };
    let mut started_line = format!(
        "Keycloak {KEYCLOAK_VERSION} on JVM (powered by Quarkus 3.20.1) started in {:.3}s. Listening on: http://0.0.0.0:{}",
        started.elapsed().as_secs_f64(),
        serving.http_addr.port()
    );
    if let Some(addr) = serving.management_addr {
        started_line.push_str(&format!(
            ". Management interface listening on http://0.0.0.0:{}.",
            addr.port()
        ));
    }
    out(&log_line("INFO", "io.quarkus", &started_line));
    let profile = match config.mode {
        Mode::StartDev => "dev",
        _ => "prod",
    };
    out(&log_line(
        "INFO",
        "io.quarkus",
        &format!("Profile {profile} activated."),
    ));
    if config.mode == Mode::StartDev {
        out(&log_line(
            "WARN",
            "org.keycloak.quarkus.runtime.KeycloakMain",
            "Running the server in development mode. DO NOT use this configuration in production.",
        ));
    }
    stop.recv().await;
    let stopping = std::time::Instant::now();
    serving.shutdown(Duration::from_millis(300)).await;
    out(&log_line(
        "INFO",
        "io.quarkus",
        &format!(
            "Keycloak stopped in {:.3}s",
            stopping.elapsed().as_secs_f64()
        ),
    ));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(c.boot, Duration::from_secs(8));
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
        let exit =
            parse(&args(&["start", "--bogus=1"]), &reference_env()).expect_err("usage error");
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
}
