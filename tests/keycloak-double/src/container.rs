//! The container form: `kc.sh` emulation for the stand-in image `iamstack-test/keycloak:26.2-double`.
//!
//! Behaves like `keycloak/keycloak:26.2` with the reference environment: `build`, `start` (also
//! `start --optimized`) and `start-dev`; Keycloak's `KC_*` variables (and the matching `--option=value`
//! arguments); Keycloak-like log lines on stdout (errors on stderr); the modelled costs of an
//! augmentation, of creating the schema of an empty database and of the rest of the boot; state
//! kept in PostgreSQL; the bootstrap admin created only on the first start of an empty database;
//! health on the management port only with `KC_HEALTH_ENABLED=true`; SIGTERM/SIGINT stop it at
//! once with exit code 0.
//!
//! [`config`] reads the configuration, [`build`] decides about build-time options (pure),
//! [`persisted`] keeps them where Keycloak does, [`augment`] runs the build step, [`log`] writes
//! Keycloak's lines; this module runs the server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::Clock;
use crate::model::{State, KEYCLOAK_VERSION};
use crate::server::{DoubleConfig, RecordedRequest, Serving, Shared};
use crate::store::{describe_connect_error, PgStore, Store};

mod augment;
pub mod build;
mod config;
mod log;
pub mod persisted;

pub use config::{parse, ContainerConfig, Exit, Mode};
use log::{db_failure_lines, err, log_line, out, request_line, startup_errors};

/// The env variable setting the rest of the boot (neither augmentation nor schema), in seconds
/// (fractions allowed; invalid values fall back to the default).
pub const BOOT_SECONDS_ENV: &str = "KC_DOUBLE_BOOT_SECONDS";

/// The rest of the boot. With the augmentation and schema defaults it keeps the proportions
/// measured in keycloak#27307 (README, "Modelled costs").
pub const DEFAULT_BOOT_SECONDS: f64 = 3.0;

/// What `kc.sh build` and an auto-build spend, in seconds.
pub const AUGMENT_SECONDS_ENV: &str = "KC_DOUBLE_AUGMENT_SECONDS";

pub const DEFAULT_AUGMENT_SECONDS: f64 = 4.0;

/// What the first start on an empty database spends creating the schema, in seconds.
pub const SCHEMA_SECONDS_ENV: &str = "KC_DOUBLE_SCHEMA_SECONDS";

pub const DEFAULT_SCHEMA_SECONDS: f64 = 4.0;

/// Keycloak's Liquibase updater logs this before it creates the schema of an empty database.
const SCHEMA_CATEGORY: &str =
    "org.keycloak.quarkus.runtime.storage.database.liquibase.QuarkusJpaUpdaterProvider";

/// `KC_DOUBLE_REALM_CONFLICT=400` reproduces 26.2.0–26.2.4's duplicate-realm status.
pub const REALM_CONFLICT_ENV: &str = "KC_DOUBLE_REALM_CONFLICT";

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
    let mut config = match parse(&args, &env) {
        Ok(c) => c,
        Err(exit) => {
            exit.stdout.iter().for_each(|l| out(l));
            exit.stderr.iter().for_each(|l| err(l));
            return exit.code;
        }
    };
    if config.mode == Mode::Build {
        return augment::build(&config, &env, &mut stop).await;
    }
    if let Err(code) = augment::before_start(&mut config, &env, &mut stop).await {
        return code;
    }
    // The server's own clock starts after the build step (Keycloak runs it in a JVM of its own).
    let started = std::time::Instant::now();
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
            // No state yet: Keycloak creates its schema first (Liquibase), then the master realm.
            out(&log_line(
                "INFO",
                SCHEMA_CATEGORY,
                "Initializing database schema. Using changelog META-INF/jpa-changelog-master.xml",
            ));
            if !stop.pause(config.schema).await {
                return 0;
            }
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
    if !stop.pause(config.boot).await {
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
        ..DoubleConfig::default()
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
        Mode::Start { .. } | Mode::Build => "prod",
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
mod tests;
