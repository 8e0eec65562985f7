//! The container's configuration from `kc.sh`'s arguments and Keycloak's `KC_*` environment:
//! the mode, the options, the database connection, and the usage errors Keycloak prints.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::server::RealmConflict;
use crate::store::PgParams;

use super::build::{env_name, is_build_time, key, spi_option_from_env, BUILD_TIME_OPTIONS};
use super::{
    AUGMENT_SECONDS_ENV, BOOT_SECONDS_ENV, DEFAULT_AUGMENT_SECONDS, DEFAULT_BOOT_SECONDS,
    DEFAULT_SCHEMA_SECONDS, REALM_CONFLICT_ENV, SCHEMA_SECONDS_ENV,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Production mode (`start`); `--optimized` uses the persisted build as it is.
    Start { optimized: bool },
    /// Development mode (`start-dev`).
    StartDev,
    /// `kc.sh build`: persist the build-time options and exit.
    Build,
}

impl Mode {
    pub(super) fn label(self) -> &'static str {
        match self {
            Mode::Start { .. } | Mode::Build => "production",
            Mode::StartDev => "development",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Start { .. } => "start",
            Mode::StartDev => "start-dev",
            Mode::Build => "build",
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
    /// `KC_DB` or `--db` as given (`None`: not given; with `--optimized` the persisted one counts).
    pub db_vendor: Option<String>,
    /// The PostgreSQL connection the `KC_DB_URL*` settings describe, whatever the vendor.
    pub pg: Option<PgParams>,
    pub http_enabled: bool,
    pub hostname: Option<String>,
    pub hostname_strict: bool,
    pub health_enabled: bool,
    /// `KC_HEALTH_ENABLED` or `--health-enabled` as given.
    pub health_given: Option<bool>,
    pub http_port: u16,
    pub management_port: u16,
    /// The rest of the boot (not augmentation, not schema creation).
    pub boot: Duration,
    /// What `kc.sh build` and an auto-build spend (`KC_DOUBLE_AUGMENT_SECONDS`).
    pub augment: Duration,
    /// What creating the schema of an empty database spends (`KC_DOUBLE_SCHEMA_SECONDS`).
    pub schema: Duration,
    /// The build-time options given (CLI over env, non-empty) as persisted keys `kc.<option>`.
    pub given_build: Vec<(String, String)>,
    /// Run-time options set in the environment, as `kc.<option>` (`kc.sh build` warns about them).
    pub runtime_env: Vec<String>,
    /// The command-line arguments that are not build-time options (the "Next time" hint).
    pub runtime_cli: Vec<String>,
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

/// The run-time options the double reads (`db` and `health-enabled` are build-time, in
/// [`BUILD_TIME_OPTIONS`]).
const RUN_TIME_OPTIONS: &[&str] = &[
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
];

/// A double-only knob in seconds (fractions allowed); invalid values fall back to the default.
fn seconds(env: &HashMap<String, String>, name: &str, default: f64) -> Duration {
    let s = env
        .get(name)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(default);
    Duration::from_secs_f64(s)
}

/// Picocli's usage error; `command` is the qualified name of the command that failed.
fn usage_error(message: String, command: &str) -> Exit {
    Exit {
        code: 2,
        stdout: Vec::new(),
        stderr: vec![
            message,
            format!("Try '{command} --help' for more information on the available options."),
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
                "Commands: build, start, start-dev".to_owned(),
            ],
            stderr: Vec::new(),
        });
    };
    let optimized = args[1..].iter().any(|a| a == "--optimized");
    let mode = match command.as_str() {
        "start" => Mode::Start { optimized },
        "start-dev" => Mode::StartDev,
        "build" => Mode::Build,
        other => {
            return Err(usage_error(
                format!("Unmatched argument at index 0: '{other}'"),
                "kc.sh",
            ))
        }
    };
    let qualified = format!("kc.sh {}", mode.name());
    let mut options: HashMap<String, String> = HashMap::new();
    let mut runtime_cli = Vec::new();
    for arg in &args[1..] {
        if arg == "--optimized" && matches!(mode, Mode::Start { .. }) {
            continue;
        }
        let Some(option) = arg.strip_prefix("--") else {
            return Err(usage_error(format!("Unknown option: '{arg}'"), &qualified));
        };
        let (key, value) = option.split_once('=').unwrap_or((option, "true"));
        let spi = key.starts_with("spi-");
        let build_time = is_build_time(key);
        if !build_time && !spi && !RUN_TIME_OPTIONS.contains(&key) {
            return Err(usage_error(
                format!("Unknown option: '--{key}'"),
                &qualified,
            ));
        }
        // SPI options are no Picocli options: they are checked by value, not rejected here.
        if mode == Mode::Build && !build_time && !spi {
            return Err(usage_error(
                format!("Run time option: '--{key}' not usable with build"),
                &qualified,
            ));
        }
        if mode == (Mode::Start { optimized: true }) && build_time && !spi {
            return Err(usage_error(
                format!(
                    "Build time option: '--{key}' not usable with pre-built image and --optimized"
                ),
                &qualified,
            ));
        }
        if !build_time {
            runtime_cli.push(arg.clone());
        }
        options.insert(key.to_owned(), value.to_owned());
    }
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
    let pg = match (&db, pg_params(&get)) {
        (Some(params), _) => Some(params.clone()),
        (None, params) => params.ok(),
    };
    let (given_build, runtime_env) = build_options(&options, env);
    let port = |key: &str, default: u16| -> Result<u16, Exit> {
        match get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                usage_error(
                    format!("Invalid value for option '--{key}': {v}"),
                    &qualified,
                )
            }),
        }
    };
    Ok(ContainerConfig {
        mode,
        db_vendor: get("db"),
        db,
        pg,
        admin_user,
        admin_password,
        http_enabled: flag("http-enabled", mode == Mode::StartDev),
        hostname: get("hostname"),
        hostname_strict: flag("hostname-strict", mode != Mode::StartDev),
        health_enabled: flag("health-enabled", false),
        health_given: get("health-enabled").map(|v| v.eq_ignore_ascii_case("true")),
        http_port: port("http-port", 8080)?,
        management_port: port("http-management-port", 9000)?,
        boot: seconds(env, BOOT_SECONDS_ENV, DEFAULT_BOOT_SECONDS),
        augment: seconds(env, AUGMENT_SECONDS_ENV, DEFAULT_AUGMENT_SECONDS),
        schema: seconds(env, SCHEMA_SECONDS_ENV, DEFAULT_SCHEMA_SECONDS),
        given_build,
        runtime_env,
        runtime_cli,
        realm_conflict: match env.get(REALM_CONFLICT_ENV).map(String::as_str) {
            Some("400") => RealmConflict::Status400,
            _ => RealmConflict::Status409,
        },
        warnings,
    })
}

/// The build-time options given (listed ones first, then SPI options, CLI over env, empty
/// values ignored) and the run-time options found in the environment.
fn build_options(
    cli: &HashMap<String, String>,
    env: &HashMap<String, String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut given = Vec::new();
    let mut spi: BTreeMap<String, String> = BTreeMap::new();
    for option in BUILD_TIME_OPTIONS {
        let value = cli.get(*option).or_else(|| env.get(&env_name(option)));
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            given.push((key(option), v.clone()));
        }
    }
    let mut runtime_env: Vec<String> = RUN_TIME_OPTIONS
        .iter()
        .filter(|o| env.get(&env_name(o)).is_some_and(|v| !v.is_empty()))
        .map(|o| key(o))
        .collect();
    let mut spi_runtime = Vec::new();
    for (var, value) in env.iter().filter(|(_, v)| !v.is_empty()) {
        if let Some(option) = spi_option_from_env(var) {
            if is_build_time(&option) {
                spi.insert(option, value.clone());
            } else {
                spi_runtime.push(key(&option));
            }
        }
    }
    for (option, value) in cli.iter().filter(|(o, _)| o.starts_with("spi-")) {
        if is_build_time(option) {
            spi.insert(option.clone(), value.clone());
        }
    }
    spi_runtime.sort();
    runtime_env.splice(0..0, spi_runtime);
    given.extend(spi.into_iter().map(|(o, v)| (key(&o), v)));
    (given, runtime_env)
}

impl ContainerConfig {
    /// `start --optimized`: a build-time option not given now takes its persisted value.
    pub fn with_persisted(&mut self, persisted: &BTreeMap<String, String>) {
        if self.db_vendor.is_none() {
            self.db = match persisted.get("kc.db").map(String::as_str) {
                Some("postgres") => self.pg.clone(),
                _ => None,
            };
        }
        if self.health_given.is_none() {
            self.health_enabled = persisted
                .get("kc.health-enabled")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        }
    }
}

/// `KC_DB_URL` (`jdbc:postgresql://host[:port]/db[?...]`) wins over `KC_DB_URL_HOST/PORT/DATABASE`.
pub(super) fn pg_params(get: &dyn Fn(&str) -> Option<String>) -> Result<PgParams, Exit> {
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
