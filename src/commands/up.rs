//! `iamstack up`: resolve the configuration and the realm files, plan, then let `stack::up`
//! execute its list (containers, waits, provisioning, `--verify`); report the final block.

use std::io::IsTerminal;
use std::time::Instant;

use crate::cli::UpArgs;
use crate::config::{self, EngineConfig, StackConfig};
use crate::docker::Engine;
use crate::error::{exit, Interrupted};
use crate::keycloak::discovery::front_end_url;
use crate::keycloak::{self, RealmFile};
use crate::report::{Event, OidcValue, Reporter, Step};
use crate::snapshot::restore::Restore;
use crate::stack::lock::StackLock;
use crate::stack::plan::{self, host_port, StackPlan};
use crate::stack::provision::Provisioning;
use crate::stack::rollback::{self, CreatedLog, Rollback};
use crate::stack::up::{self as stack_up, Endpoints, UpOptions};
use crate::verify::VerifyTarget;

pub async fn run(args: UpArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let config = StackConfig::resolve(&args.stack, &args.admin, EngineConfig::from_env())?;
    // Realm files are read and validated before anything is created: a malformed file fails
    // here (exit 7) and leaves nothing half-made.
    let realms = if args.no_provision {
        Vec::new()
    } else {
        keycloak::load_realm_files(&args.realm.realm_files)?
    };
    // The realm files were checked against 26.2's schema: say so when the image is another.
    let image_warning = keycloak::realm_file::schema_version_warning(&config.keycloak_image);
    if let (false, Some(message)) = (args.no_provision, image_warning) {
        reporter.emit(Event::Warning { message });
    }
    // A snapshot is read whole and compared with the settings before anything else.
    let snapshot = match &args.snapshot.from_snapshot {
        Some(file) => Some(std::sync::Arc::new(Restore::open(file, &config).await?)),
        None => None,
    };
    let plan = plan::plan(&config);
    let started = Instant::now();

    // Ctrl-C before anything is created (connecting, waiting for the lock) stops at once,
    // as later ones do: exit 130 with a message, not the default signal death.
    let step = Step::start(reporter, "connect");
    let connected = tokio::select! {
        connected = Engine::connect(&config.engine) => connected,
        _ = tokio::signal::ctrl_c() => return Err(nothing_created()),
    };
    let engine = step.close_with(connected, |engine| {
        Some(format!(
            "Docker API {} at {}",
            engine.api_version(),
            engine.host()
        ))
    })?;

    let opts = UpOptions {
        pull: config.pull,
        timeout: config.timeout,
        dry_run: args.dry_run,
        check_ports: config.engine.is_local(),
        snapshot,
    };
    // `--verify` checks the realm files' values, with the issuer host pinned to KC_HOSTNAME.
    let verify_target = |url: url::Url| {
        crate::verify::target_for(
            &realms,
            crate::verify::Choice::default(),
            url,
            Some(config.hostname.clone()),
        )
        .map_err(anyhow::Error::from)
    };
    let apply_options = args.provisioning.options();
    let provisioning = Provisioning {
        admin: &config.admin,
        realms: &realms,
        options: &apply_options,
        provision: !args.no_provision,
        verify: args
            .verify
            .then_some(&verify_target as &dyn Fn(url::Url) -> anyhow::Result<VerifyTarget>),
    };
    // One `up` or `down` of the project at a time (a dry run changes nothing: no lock).
    let lock = if args.dry_run {
        None
    } else {
        let budget = config.timeout;
        let labels = &config.labels;
        let acquire = StackLock::acquire(&engine, &plan.project, "up", labels, budget, reporter);
        tokio::select! {
            lock = acquire => Some(lock?),
            _ = tokio::signal::ctrl_c() => return Err(nothing_created()),
        }
    };
    let created = CreatedLog::default();
    let result = tokio::select! {
        result = stack_up::up(&engine, &plan, &opts, &provisioning, reporter, &created) => result,
        _ = tokio::signal::ctrl_c() => {
            let stopped = interrupted(&engine, &plan, &created, reporter).await;
            if let Some(snapshot) = &opts.snapshot {
                snapshot.remove_partial(&engine, &plan, reporter).await;
            }
            release(lock, &engine, reporter).await;
            return stopped;
        }
    };
    release(lock, &engine, reporter).await;
    let outcome = result?;

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
        realms.first(),
        show_secrets,
        started.elapsed().as_millis() as u64,
    ));
    Ok(exit::OK)
}

/// The final block: URLs for people (with `--hostname`) and for machines (probe address).
fn ready_event(
    config: &StackConfig,
    endpoints: &Endpoints,
    realm: Option<&RealmFile>,
    show_secrets: bool,
    elapsed_ms: u64,
) -> Event {
    // What Keycloak calls itself: KC_HOSTNAME with the published port.
    let front_end = url::Url::parse(&endpoints.keycloak_url())
        .map(|probe| front_end_url(&probe, Some(&config.hostname)));
    let keycloak_url = match &front_end {
        Ok(url) => url.as_str().trim_end_matches('/').to_string(),
        Err(_) => endpoints.keycloak_url(),
    };
    let oidc = match (realm, front_end) {
        (Some(realm), Ok(url)) => keycloak::endpoints::env_vars(&keycloak::endpoints::EnvInputs {
            keycloak_url: &url,
            discovered: None,
            admin: &config.admin,
            realm,
            client_secret_override: None,
            postgres_url: None,
        })
        .into_iter()
        .filter(|v| v.key.starts_with("OIDC_"))
        .map(|v| OidcValue {
            key: v.key.to_string(),
            value: (!v.secret || show_secrets).then_some(v.value),
        })
        .collect(),
        _ => Vec::new(),
    };
    Event::StackReady {
        project: config.project.clone(),
        admin_console_url: format!("{keycloak_url}/admin/"),
        keycloak_url,
        health_url: endpoints.health_url(),
        postgres_url: format!(
            "postgres://{}@{}/{}",
            config.postgres_user,
            host_port(endpoints.host, endpoints.postgres_port),
            config.postgres_db
        ),
        admin_user: config.admin.username.clone(),
        admin_password: show_secrets.then(|| config.admin.password.clone()),
        postgres_user: config.postgres_user.clone(),
        postgres_password: show_secrets.then(|| config.postgres_password.clone()),
        oidc,
        elapsed_ms,
    }
}

/// Give the project's lock back; a failure only warns (the next run takes a dead run's lock
/// over).
/// Bounded, since it may run after a Ctrl-C on an engine that no longer answers.
pub async fn release(lock: Option<StackLock>, engine: &Engine, reporter: &Reporter) {
    let Some(lock) = lock else { return };
    let released = tokio::time::timeout(RELEASE_WITHIN, lock.release(engine)).await;
    let problem = match released {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", RELEASE_WITHIN.as_secs()),
    };
    reporter.emit(Event::Warning {
        message: format!(
            "could not give back the stack's lock ({problem}): the next run on this machine \
             takes it over"
        ),
    });
}

/// How long giving back the lock may take.
const RELEASE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Ctrl-C before this run created anything.
fn nothing_created() -> anyhow::Error {
    anyhow::Error::new(Interrupted).context("stopped at Ctrl-C: nothing was created")
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
    let rollback = tokio::select! {
        rollback = rollback::remove_created(engine, &plan.project, created) => rollback,
        _ = tokio::signal::ctrl_c() => Rollback::abandoned(created),
    };
    Err(anyhow::Error::new(Interrupted)
        .context(format!("stopped at Ctrl-C: {}", rollback.message())))
}
