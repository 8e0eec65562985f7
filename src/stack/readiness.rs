//! Waiting for a service to be ready, with crash detection: every probe round first inspects
//! the container, so one that exits fails the wait at once with its exit code and log tail.
//! While waiting, the step shows the elapsed time and the container's latest log line.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::docker::{ContainerInfo, Engine};
use crate::names::{self, Role};
use crate::report::Step;
use crate::stack::error::StackError;
use crate::stack::plan::{DataPlan, StackPlan};
use crate::wait::{self, PgRefusal, Probe, WaitError};

/// How many log lines a crash or timeout report shows.
pub const LOG_TAIL: usize = 30;
/// How often the wait refreshes the container's latest log line.
const LOG_REFRESH: Duration = Duration::from_secs(1);

/// Postgres is ready when a real login and query work through the published port. A login
/// refused for good (the data was initialised with other credentials) fails at once.
pub async fn wait_postgres(
    engine: &Engine,
    plan: &StackPlan,
    addr: SocketAddr,
    budget: Duration,
    step: &Step<'_>,
) -> anyhow::Result<()> {
    let env = |key| plan.postgres.env_value(key).unwrap_or_default();
    let (user, password, db) = (
        env("POSTGRES_USER"),
        env("POSTGRES_PASSWORD"),
        env("POSTGRES_DB"),
    );
    wait_ready(
        engine,
        &plan.postgres.name,
        Role::Postgres,
        budget,
        step,
        || async move {
            match wait::postgres_login(addr, user, password, db).await {
                Ok(()) => Ok(()),
                Err((PgRefusal::Transient, text)) => Err(Probe::NotYet(text)),
                Err((refusal, text)) => Err(Probe::Failed(
                    wrong_credentials(plan, refusal, &text).into(),
                )),
            }
        },
    )
    .await
}

/// Keycloak is ready when `/health/ready` on the management port answers UP.
pub async fn wait_keycloak(
    engine: &Engine,
    plan: &StackPlan,
    health_url: &str,
    budget: Duration,
    step: &Step<'_>,
) -> anyhow::Result<()> {
    let client = wait::http_client()?;
    let client = &client;
    wait_ready(
        engine,
        &plan.keycloak.name,
        Role::Keycloak,
        budget,
        step,
        || async move {
            wait::keycloak_health(client, health_url)
                .await
                .map_err(Probe::NotYet)
        },
    )
    .await
}

/// The container's state right now, failing if it is gone.
pub async fn current(engine: &Engine, name: &str) -> anyhow::Result<ContainerInfo> {
    engine
        .container(name)
        .await?
        .ok_or_else(|| StackError::Disappeared { name: name.into() }.into())
}

/// Poll `probe` (Ok(()) when ready) until ready, failed, exited or out of budget.
pub(crate) async fn wait_ready<F, Fut>(
    engine: &Engine,
    name: &str,
    role: Role,
    budget: Duration,
    step: &Step<'_>,
    mut probe: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Probe<()>>>,
{
    let last_line = std::cell::RefCell::new(String::new());
    let mut last_refresh: Option<Instant> = None;
    let result = wait::poll(budget, wait::POLL_INTERVAL, |elapsed| {
        let refresh = last_refresh.is_none_or(|t| t.elapsed() >= LOG_REFRESH);
        if refresh {
            last_refresh = Some(Instant::now());
        }
        let probe_round = probe();
        let last_line = &last_line;
        async move {
            let c = match current(engine, name).await {
                Ok(c) => c,
                Err(e) => return Probe::Failed(e),
            };
            if !c.running {
                return Probe::Failed(exited(engine, &c).await.into());
            }
            if refresh {
                if let Ok(lines) = engine.log_tail(name, 1).await {
                    if let Some(line) = lines.into_iter().next() {
                        if line != *last_line.borrow() {
                            let short: String = line.chars().take(160).collect();
                            step.progress(format!("{:.0} s: {short}", elapsed.as_secs_f64()));
                            *last_line.borrow_mut() = line;
                        }
                    }
                }
            }
            match probe_round.await {
                Ok(()) => Probe::Ready(()),
                Err(p) => p,
            }
        }
    })
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(WaitError::Failed(e)) => Err(e),
        Err(WaitError::TimedOut { elapsed, last }) => Err(StackError::TimedOut {
            service: role.as_str(),
            name: name.to_string(),
            secs: elapsed.as_secs(),
            last,
            logs: engine.log_tail(name, LOG_TAIL).await.unwrap_or_default(),
        }
        .into()),
    }
}

/// The failure for a container that exited while we waited for it.
async fn exited(engine: &Engine, c: &ContainerInfo) -> StackError {
    StackError::Exited {
        name: c.name.clone(),
        code: c
            .exit_code
            .map_or_else(|| "unknown".to_string(), |code| code.to_string()),
        oom_killed: c.oom_killed,
        logs: engine.log_tail(&c.name, LOG_TAIL).await.unwrap_or_default(),
    }
}

/// Postgres refused the login for good: name the data and both ways out.
pub fn wrong_credentials(plan: &StackPlan, refusal: PgRefusal, text: &str) -> StackError {
    let (initialised_with, use_instead) = match refusal {
        PgRefusal::WrongPassword => (
            "another password",
            "the old password (--postgres-password or POSTGRES_PASSWORD in --env-file)",
        ),
        PgRefusal::NoSuchRole => ("another user", "the old user (--postgres-user)"),
        // Transient refusals keep the wait going and never get here.
        PgRefusal::NoSuchDatabase | PgRefusal::Transient => (
            "another database name",
            "the old database name (--postgres-db)",
        ),
    };
    let reset = match &plan.data {
        DataPlan::Volume { .. } => format!(
            "`iamstack down --volumes{}` to start afresh (deletes the data)",
            if plan.project == names::DEFAULT_PROJECT {
                String::new()
            } else {
                format!(" --project {}", plan.project)
            }
        ),
        DataPlan::HostDir(dir) => format!(
            "empty the directory `{}` to start afresh (deletes the data)",
            dir.display()
        ),
        // A fresh container initialises an empty tmpfs with the current settings.
        DataPlan::Memory => "`iamstack down` then `iamstack up --ephemeral` to start afresh".into(),
    };
    StackError::WrongCredentials {
        refusal: text.to_string(),
        data: plan.data.describe(),
        initialised_with,
        use_instead,
        reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_password_names_the_volume_and_both_ways_out() {
        let mut config = crate::stack::plan::tests::config();
        config.project = "demo".into();
        let mut config_plan = crate::stack::plan::plan(&config);
        let err: anyhow::Error = wrong_credentials(
            &config_plan,
            PgRefusal::WrongPassword,
            "FATAL: password authentication failed",
        )
        .into();
        assert_eq!(crate::error::exit_code(&err), 5);
        let msg = err.to_string();
        assert!(msg.contains("volume `demo-pgdata`"), "{msg}");
        assert!(msg.contains("--postgres-password"), "{msg}");
        assert!(msg.contains("down --volumes --project demo"), "{msg}");
        config_plan.data = DataPlan::HostDir("/srv/pg".into());
        let msg = wrong_credentials(&config_plan, PgRefusal::WrongPassword, "x").to_string();
        assert!(msg.contains("`/srv/pg`"), "{msg}");
    }
}
