//! The container's configuration from `kc.sh`'s arguments and Keycloak's `KC_*` environment:
//! the mode, the options, the database connection, and the usage errors Keycloak prints.

use std::collections::HashMap;
use std::time::Duration;

use crate::server::RealmConflict;
use crate::store::PgParams;

use super::{BOOT_SECONDS_ENV, DEFAULT_BOOT_SECONDS, REALM_CONFLICT_ENV};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Production mode (`start`), optionally `--optimized` (no augmentation step).
    Start { optimized: bool },
    /// Development mode (`start-dev`).
    StartDev,
}

impl Mode {
    pub(super) fn label(self) -> &'static str {
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
