//! `iamstack up`: resolve the configuration, plan, bring the stack up, provision, report.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::Context;

use crate::cli::UpArgs;
use crate::config::{self, AdminCredentials, EngineConfig, StackConfig};
use crate::docker::Engine;
use crate::error::{exit, fail, Kind};
use crate::keycloak::{self, RealmFile};
use crate::report::{Event, OidcValue, Reporter};
use crate::stack::plan::{self, host_port, StackPlan};
use crate::stack::up::{self as stack_up, CreatedLog, Endpoints, UpOptions};
use crate::stack::Step;

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
                    &realms,
                    args.dry_run,
                    reporter,
                )
                .await?;
            }
            if args.verify && !args.dry_run {
                verify(
                    &endpoints.keycloak_url(),
                    &config.hostname,
                    &realms,
                    reporter,
                )
                .await?;
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
    let keycloak_url = format!("http://{}:{}", config.hostname, endpoints.keycloak_port);
    let oidc = match (realm, url::Url::parse(&keycloak_url)) {
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
            "postgresql://{}@{}/{}",
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

/// Provision the realm files through the admin API (the same code as `iamstack apply`).
async fn provision(
    keycloak_url: &str,
    admin: &AdminCredentials,
    realms: &[RealmFile],
    dry_run: bool,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let url = url::Url::parse(keycloak_url)
        .with_context(|| format!("invalid Keycloak URL `{keycloak_url}`"))?;
    let step = Step::start(reporter, "provision");
    let summary = keycloak::apply(&url, admin, realms, dry_run, reporter).await?;
    let mut detail = format!("{}, {} requests", summary.counts_line(), summary.requests);
    if summary.dry_run {
        detail.push_str("; dry run: nothing was written");
    }
    step.done(Some(detail));
    Ok(())
}

/// `up --verify`: the OAuth2/OIDC checks of `iamstack verify`, with the values of the realm
/// files and the issuer host pinned to the stack's KC_HOSTNAME. Any failed check fails `up` (8).
async fn verify(
    keycloak_url: &str,
    hostname: &str,
    realms: &[RealmFile],
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let url = url::Url::parse(keycloak_url)
        .with_context(|| format!("invalid Keycloak URL `{keycloak_url}`"))?;
    let target = crate::verify::target_for(
        realms,
        crate::verify::Choice::default(),
        url,
        Some(hostname.to_string()),
    )?;
    let report = crate::verify::run(&target, reporter).await?;
    // Failed checks leave the stack up: say so, the user fixes and runs `iamstack verify`.
    report
        .ensure_passed()
        .context("the stack is up, but `up --verify` failed")?;
    Ok(())
}
