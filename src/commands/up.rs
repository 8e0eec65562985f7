//! `iamstack up`: resolve the configuration, plan, bring the stack up, provision, report.

use std::io::IsTerminal;
use std::time::Instant;

use crate::cli::{RealmArgs, UpArgs};
use crate::config::{self, AdminCredentials, EngineConfig, StackConfig};
use crate::docker::Engine;
use crate::error::{exit, fail, Kind};
use crate::report::{Event, Reporter};
use crate::stack::plan::{self, host_port, StackPlan};
use crate::stack::up::{self as stack_up, CreatedLog, Endpoints, UpOptions};
use crate::stack::Step;

pub async fn run(args: UpArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let config = StackConfig::resolve(&args.stack, &args.admin, EngineConfig::from_env())?;
    let plan = plan::plan(&config);
    let started = Instant::now();

    let step = Step::start(reporter, "connect");
    let engine = Engine::connect(&config.engine).await?;
    step.done(Some(format!(
        "Docker API {} at {}",
        engine.api_version(),
        engine.host()
    )));

    let opts = UpOptions {
        pull: config.pull,
        timeout: config.timeout,
        dry_run: args.dry_run,
        check_ports: config.engine.is_local(),
    };
    let created = CreatedLog::default();
    let work = async {
        let outcome = stack_up::up(&engine, &plan, &opts, reporter, &created).await?;
        if let Some(endpoints) = &outcome.endpoints {
            if !args.no_provision {
                provision(
                    &endpoints.keycloak_url(),
                    &config.admin,
                    &args.realm,
                    args.dry_run,
                    reporter,
                )
                .await?;
            }
            if args.verify && !args.dry_run {
                verify(&endpoints.keycloak_url(), &args.realm, reporter).await?;
            }
        }
        anyhow::Ok(outcome)
    };
    let outcome = tokio::select! {
        result = work => result?,
        _ = tokio::signal::ctrl_c() => {
            return interrupted(&engine, &plan, &created, reporter).await;
        }
    };

    if args.dry_run {
        reporter.emit(Event::StepFinished {
            step: "dry run".into(),
            elapsed_ms: started.elapsed().as_millis() as u64,
            detail: Some(if outcome.changed {
                "nothing was changed; the lines above say what `up` would do".into()
            } else {
                "the stack is up to date".into()
            }),
        });
        return Ok(exit::OK);
    }

    let Some(endpoints) = outcome.endpoints else {
        return Err(anyhow::anyhow!(
            "the stack came up but its ports could not be read back"
        ));
    };
    let show_secrets = args.show_secrets || (std::io::stdout().is_terminal() && !config::in_ci());
    reporter.emit(ready_event(
        &config,
        &endpoints,
        show_secrets,
        started.elapsed().as_millis() as u64,
    ));
    Ok(exit::OK)
}

/// The final block: URLs for people (with `--hostname`) and for machines (probe address).
fn ready_event(
    config: &StackConfig,
    endpoints: &Endpoints,
    show_secrets: bool,
    elapsed_ms: u64,
) -> Event {
    let keycloak_url = format!("http://{}:{}", config.hostname, endpoints.keycloak_port);
    Event::StackReady {
        project: config.project.clone(),
        admin_console_url: format!("{keycloak_url}/admin/"),
        keycloak_url,
        health_url: endpoints.health_url(),
        postgres_url: format!(
            "postgresql://{}@{}/{}",
            config.postgres_user,
            host_port(endpoints.host, endpoints.postgres_port),
            config.postgres_db
        ),
        admin_user: config.admin.username.clone(),
        admin_password: show_secrets.then(|| config.admin.password.clone()),
        postgres_user: config.postgres_user.clone(),
        postgres_password: show_secrets.then(|| config.postgres_password.clone()),
        elapsed_ms,
    }
}

/// Ctrl-C: remove the containers this run created, keep everything else, exit 130.
/// A second Ctrl-C abandons the cleanup.
async fn interrupted(
    engine: &Engine,
    plan: &StackPlan,
    created: &CreatedLog,
    reporter: &Reporter,
) -> anyhow::Result<u8> {
    reporter.finish();
    let removed = tokio::select! {
        removed = stack_up::remove_created(engine, &plan.project, created) => removed,
        _ = tokio::signal::ctrl_c() => Vec::new(),
    };
    let what = if removed.is_empty() {
        "no container had been created yet".to_string()
    } else {
        format!(
            "removed {} created by this run",
            removed
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        )
    };
    Err(fail(
        Kind::Interrupted,
        format!(
            "interrupted: {what}; network and data were kept; run `iamstack up` again to finish"
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// MERGE POINT (lead): realm provisioning. Wire `keycloak::apply` in here: it gets Keycloak's base
// URL (published port on this machine, e.g. http://127.0.0.1:8080), the bootstrap admin's
// credentials and the dry-run flag; `--realm` files are in `realm`. `up` calls it after Keycloak
// is ready (and in a dry run only when the stack is already running unchanged).
// Until then `up` fails here rather than pretend the realm exists: use `--no-provision`.
// ---------------------------------------------------------------------------------------------
async fn provision(
    keycloak_url: &str,
    admin: &AdminCredentials,
    realm: &RealmArgs,
    dry_run: bool,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let _ = (admin, realm, dry_run, reporter);
    Err(anyhow::anyhow!(
        "realm provisioning is not part of this build yet (Keycloak is ready at {keycloak_url}); \
         run `iamstack up --no-provision`"
    ))
}

// MERGE POINT (lead): `up --verify` runs the OAuth2/OIDC checks of `verify` here, after
// provisioning, against Keycloak's base URL.
async fn verify(keycloak_url: &str, realm: &RealmArgs, reporter: &Reporter) -> anyhow::Result<()> {
    let _ = (realm, reporter);
    Err(anyhow::anyhow!(
        "`up --verify` is not part of this build yet (Keycloak is ready at {keycloak_url})"
    ))
}
