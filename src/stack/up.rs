//! `up`: observe what exists, check ownership and ports (nothing is created before both pass),
//! ensure images, network and data, then Postgres (wait until a real login works), then
//! Keycloak (wait until `/health/ready` is UP). Idempotent: a ready stack is left as it is.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::try_join;

use crate::cli::PullPolicy;
use crate::docker::{ContainerInfo, Engine};
use crate::error::{fail, Kind};
use crate::names::{self, Role};
use crate::report::{Action, Event, Reporter};
use crate::stack::plan::{
    host_port, probe_host, ContainerPlan, DataPlan, StackPlan, KEYCLOAK_HTTP_PORT,
    KEYCLOAK_MANAGEMENT_PORT, POSTGRES_CONTAINER_PORT,
};
use crate::stack::{ports, Step};
use crate::wait::{self, PgRefusal, Probe, WaitError};

/// How many log lines a crash or timeout report shows.
pub const LOG_TAIL: usize = 30;
/// How often the wait refreshes the container's latest log line.
const LOG_REFRESH: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub pull: PullPolicy,
    /// Readiness budget per service.
    pub timeout: Duration,
    pub dry_run: bool,
    /// Check host ports on this machine first (only meaningful for a local engine).
    pub check_ports: bool,
}

/// Names of the containers this run created: what Ctrl-C removes. Recorded *before* the
/// create request is sent, so a request cut short by Ctrl-C is still cleaned up.
#[derive(Debug, Clone, Default)]
pub struct CreatedLog(Arc<Mutex<Vec<String>>>);

impl CreatedLog {
    fn record(&self, name: &str) {
        if let Ok(mut v) = self.0.lock() {
            if !v.iter().any(|n| n == name) {
                v.push(name.to_string());
            }
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// What to do with one container. Pure decision: [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerAction {
    Create,
    /// Remove and create again; the reason is shown.
    Recreate(String),
    Start,
    Unpause,
    /// Stop and start the same container; the reason is shown.
    Restart(String),
    Keep,
}

/// Pure: Keycloak does not reliably reconnect when its database goes away under it, so a
/// running Keycloak kept as it is gets restarted (same container) when Postgres was created,
/// recreated or started by this run.
pub fn follow_database(keycloak: ContainerAction, postgres: &ContainerAction) -> ContainerAction {
    match (keycloak, postgres) {
        (ContainerAction::Keep, ContainerAction::Keep | ContainerAction::Unpause) => {
            ContainerAction::Keep
        }
        (ContainerAction::Keep, _) => {
            ContainerAction::Restart("its database container was replaced or restarted".into())
        }
        (other, _) => other,
    }
}

/// Pure: compare what exists with the plan. `image_id` is the local image's current ID (if
/// known): a container made from an older image of the same name is recreated.
pub fn decide(
    existing: Option<&ContainerInfo>,
    plan: &ContainerPlan,
    image_id: Option<&str>,
) -> ContainerAction {
    let Some(c) = existing else {
        return ContainerAction::Create;
    };
    if c.label(names::LABEL_CONFIG_HASH) != Some(plan.config_hash()) {
        return ContainerAction::Recreate("configuration changed".to_string());
    }
    if let Some(id) = image_id {
        if !id.is_empty() && !c.image_id.is_empty() && c.image_id != id {
            return ContainerAction::Recreate(format!("image `{}` was updated", plan.image));
        }
    }
    match c.status.as_str() {
        "running" => ContainerAction::Keep,
        "paused" => ContainerAction::Unpause,
        _ => ContainerAction::Start,
    }
}

/// Where the stack answers, read back from the containers (ports may be engine-chosen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The address probes and URLs for machines use (loopback when bound everywhere).
    pub host: IpAddr,
    pub postgres_port: u16,
    pub keycloak_port: u16,
    pub management_port: u16,
}

impl Endpoints {
    /// Base URL of Keycloak for API calls from this machine.
    pub fn keycloak_url(&self) -> String {
        format!("http://{}", host_port(self.host, self.keycloak_port))
    }

    pub fn health_url(&self) -> String {
        format!(
            "http://{}/health/ready",
            host_port(self.host, self.management_port)
        )
    }
}

#[derive(Debug, Clone)]
pub struct UpOutcome {
    /// `None` after a dry run on a stack that is not running.
    pub endpoints: Option<Endpoints>,
    /// Whether anything was created, recreated or started.
    pub changed: bool,
}

/// What exists now under the plan's names.
struct Observed {
    postgres: Option<ContainerInfo>,
    keycloak: Option<ContainerInfo>,
    network_exists: bool,
    network_ours: bool,
    volume_exists: bool,
}

fn not_ours(kind: &str, name: &str, project: &str) -> anyhow::Error {
    fail(
        Kind::Conflict,
        format!(
            "{kind} `{name}` exists but iamstack did not create it (it lacks the label \
             `{}={project}`); iamstack never touches it: remove or rename it, or pick another \
             --project",
            names::LABEL_STACK
        ),
    )
}

async fn observe(engine: &Engine, plan: &StackPlan) -> anyhow::Result<Observed> {
    let (postgres, keycloak) = try_join(
        engine.container(&plan.postgres.name),
        engine.container(&plan.keycloak.name),
    )
    .await?;
    for c in [&postgres, &keycloak].into_iter().flatten() {
        if c.label(names::LABEL_STACK) != Some(plan.project.as_str()) {
            return Err(not_ours("container", &c.name, &plan.project));
        }
    }
    let network = engine.network(&plan.network.name).await?;
    let volume_exists = match &plan.data {
        DataPlan::Volume { name, .. } => match engine.volume(name).await? {
            Some(v) if v.labels.get(names::LABEL_STACK) != Some(&plan.project) => {
                return Err(not_ours("volume", name, &plan.project))
            }
            Some(_) => true,
            None => false,
        },
        DataPlan::HostDir(_) => false,
    };
    Ok(Observed {
        postgres,
        keycloak,
        network_exists: network.is_some(),
        network_ours: network
            .as_ref()
            .is_some_and(|n| n.labels.get(names::LABEL_STACK) == Some(&plan.project)),
        volume_exists,
    })
}

/// Every host port the plan publishes must be free, unless one of our running containers
/// holds it. All conflicts are reported at once; nothing has been created yet.
async fn preflight_ports(
    engine: &Engine,
    plan: &StackPlan,
    observed: &Observed,
) -> anyhow::Result<()> {
    let ours: Vec<u16> = [&observed.postgres, &observed.keycloak]
        .into_iter()
        .flatten()
        .filter(|c| c.running)
        .flat_map(|c| c.ports.iter().map(|(_, _, h)| *h))
        .collect();
    let mut problems = Vec::new();
    for container in plan.containers() {
        for p in &container.ports {
            if p.host_port == 0
                || ours.contains(&p.host_port)
                || ports::is_free(p.host_ip, p.host_port)
            {
                continue;
            }
            let holders = engine
                .containers_publishing(p.host_port)
                .await
                .unwrap_or_default();
            let holder = match holders.first() {
                Some(name) => Some(format!("container `{name}`")),
                None => ports::local_holder(p.host_port),
            };
            let held = holder.map(|h| format!(" by {h}")).unwrap_or_default();
            problems.push(format!(
                "port {} on {} (for {} {}) is taken{held}: free it, or choose another with {} \
                 (0 lets the engine choose)",
                p.host_port,
                p.host_ip,
                container.role.as_str(),
                p.container_port,
                p.flag
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(Kind::Conflict, problems.join("; ")))
    }
}

fn image_flag(role: Role) -> &'static str {
    match role {
        Role::Postgres => "--postgres-image",
        _ => "--keycloak-image",
    }
}

/// Make one image available per the pull policy; returns its local ID.
async fn ensure_image(
    engine: &Engine,
    image: &str,
    role: Role,
    policy: PullPolicy,
    reporter: &Reporter,
) -> anyhow::Result<String> {
    let present = engine.image_id(image).await?;
    match (policy, present) {
        (PullPolicy::Never | PullPolicy::Missing, Some(id)) => {
            reporter.emit(Event::Object {
                kind: "image".into(),
                name: image.to_string(),
                action: Action::Unchanged,
                changes: vec![],
            });
            return Ok(id);
        }
        (PullPolicy::Never, None) => {
            return Err(anyhow::anyhow!(
                "image `{image}` is not present locally and --pull never forbids pulling it; \
                 pull or build it first, or name a local image with {}",
                image_flag(role)
            ))
        }
        _ => {}
    }
    let step = Step::start(reporter, format!("pull {image}"));
    let mut last_emit: Option<Instant> = None;
    let result = engine
        .pull(image, |downloaded, total| {
            // At most ten updates a second per image.
            if last_emit.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
                last_emit = Some(Instant::now());
                reporter.emit(Event::Pull {
                    image: image.to_string(),
                    downloaded,
                    total,
                });
            }
        })
        .await;
    if let Err(reason) = result {
        return Err(anyhow::anyhow!(
            "failed to pull image `{image}`: {reason}; check the name, the registry and your \
             network, or name another image (one present locally, e.g. a mirror) with {}",
            image_flag(role)
        ));
    }
    let id = engine
        .image_id(image)
        .await?
        .ok_or_else(|| anyhow::anyhow!("image `{image}` is still missing after its pull"))?;
    step.done(None);
    Ok(id)
}

/// Apply a decision; returns whether something changed.
async fn apply_container(
    engine: &Engine,
    plan: &ContainerPlan,
    action: &ContainerAction,
    created: &CreatedLog,
    reporter: &Reporter,
) -> anyhow::Result<bool> {
    let (result, changes) = match action {
        ContainerAction::Keep => (Action::Unchanged, vec![]),
        ContainerAction::Start => {
            engine.start_container(&plan.name).await?;
            (Action::Updated, vec!["started".to_string()])
        }
        ContainerAction::Unpause => {
            engine.unpause_container(&plan.name).await?;
            (Action::Updated, vec!["unpaused".to_string()])
        }
        ContainerAction::Restart(reason) => {
            engine
                .stop_container(&plan.name, crate::stack::down::STOP_TIMEOUT)
                .await?;
            engine.start_container(&plan.name).await?;
            (Action::Updated, vec![format!("restarted: {reason}")])
        }
        ContainerAction::Create | ContainerAction::Recreate(_) => {
            if matches!(action, ContainerAction::Recreate(_)) {
                engine.remove_container(&plan.name).await?;
            }
            created.record(&plan.name);
            engine
                .create_container(&plan.name, plan.create_body())
                .await?;
            engine.start_container(&plan.name).await?;
            match action {
                ContainerAction::Recreate(reason) => {
                    (Action::Updated, vec![format!("recreated: {reason}")])
                }
                _ => (Action::Created, vec![]),
            }
        }
    };
    reporter.emit(Event::Object {
        kind: "container".into(),
        name: plan.name.clone(),
        action: result,
        changes,
    });
    Ok(result != Action::Unchanged)
}

/// The container's state right now, failing if it is gone.
async fn current(engine: &Engine, name: &str) -> anyhow::Result<ContainerInfo> {
    engine
        .container(name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("container `{name}` disappeared"))
}

fn indent(lines: &[String]) -> String {
    if lines.is_empty() {
        return "  (no output)".to_string();
    }
    lines
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The failure for a container that exited while we waited for it.
async fn exited(engine: &Engine, c: &ContainerInfo) -> anyhow::Error {
    let logs = engine.log_tail(&c.name, LOG_TAIL).await.unwrap_or_default();
    let code = c
        .exit_code
        .map(|c| c.to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let oom = if c.oom_killed {
        " (killed for lack of memory: give Docker more)"
    } else {
        ""
    };
    fail(
        Kind::NotReady,
        format!(
            "container `{}` exited with code {code}{oom} before it was ready; its last {} log \
             lines:\n{}",
            c.name,
            LOG_TAIL,
            indent(&logs)
        ),
    )
}

/// Wait for a service, refreshing the spinner with the elapsed time and the latest log line,
/// failing at once if the container exits. `probe` returns Ok(()) when ready.
async fn wait_ready<F, Fut>(
    engine: &Engine,
    name: &str,
    what: &str,
    budget: Duration,
    reporter: &Reporter,
    mut probe: F,
) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Probe<()>>>,
{
    let step = Step::start(reporter, format!("wait {what}"));
    let last_line = std::cell::RefCell::new(String::new());
    let mut last_refresh: Option<Instant> = None;
    let result = wait::poll(budget, wait::POLL_INTERVAL, |elapsed| {
        let refresh = last_refresh.is_none_or(|t| t.elapsed() >= LOG_REFRESH);
        if refresh {
            last_refresh = Some(Instant::now());
        }
        let probe_round = probe();
        let step = &step;
        let last_line = &last_line;
        async move {
            let c = match current(engine, name).await {
                Ok(c) => c,
                Err(e) => return Probe::Failed(e),
            };
            if !c.running {
                return Probe::Failed(exited(engine, &c).await);
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
        Ok(()) => Ok(step.done(None)),
        Err(WaitError::Failed(e)) => Err(e),
        Err(WaitError::TimedOut { elapsed, last }) => {
            let logs = engine.log_tail(name, LOG_TAIL).await.unwrap_or_default();
            Err(fail(
                Kind::NotReady,
                format!(
                    "{what} (container `{name}`) was not ready after {} s; last probe: {last}; \
                     raise --timeout if this machine is slow; its last {LOG_TAIL} log lines:\n{}",
                    elapsed.as_secs(),
                    indent(&logs)
                ),
            ))
        }
    }
}

fn wrong_credentials(plan: &StackPlan, refusal: PgRefusal, text: &str) -> anyhow::Error {
    let data = plan.data.describe();
    let (what, old) = match refusal {
        PgRefusal::WrongPassword => (
            "another password",
            "the old password (--postgres-password or POSTGRES_PASSWORD in --env-file)",
        ),
        PgRefusal::NoSuchRole => ("another user", "the old user (--postgres-user)"),
        _ => (
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
    };
    fail(
        Kind::NotReady,
        format!(
            "Postgres refused the login ({text}): its {data} was initialised with {what}, and \
             Postgres only reads POSTGRES_* settings on first start; use {old}, or {reset}"
        ),
    )
}

/// Bring the stack up per `plan`. See the module docs for the order of steps.
pub async fn up(
    engine: &Engine,
    plan: &StackPlan,
    opts: &UpOptions,
    reporter: &Reporter,
    created: &CreatedLog,
) -> anyhow::Result<UpOutcome> {
    // 1. Look, check ownership and ports: nothing is created if these fail.
    let observed = observe(engine, plan).await?;
    if opts.check_ports {
        preflight_ports(engine, plan, &observed).await?;
    }

    if opts.dry_run {
        return dry_run(engine, plan, opts, &observed, reporter).await;
    }

    // 2. Images, both at once.
    let step = Step::start(reporter, "images");
    let (pg_image, kc_image) = try_join(
        ensure_image(
            engine,
            &plan.postgres.image,
            Role::Postgres,
            opts.pull,
            reporter,
        ),
        ensure_image(
            engine,
            &plan.keycloak.image,
            Role::Keycloak,
            opts.pull,
            reporter,
        ),
    )
    .await?;
    step.done(None);

    let mut changed = false;

    // 3. Network: reuse one of that name (the reference's `my-iam-net` may exist already).
    if observed.network_exists {
        reporter.emit(Event::Object {
            kind: "network".into(),
            name: plan.network.name.clone(),
            action: Action::Unchanged,
            changes: if observed.network_ours {
                vec![]
            } else {
                vec!["not created by iamstack: reused, never removed".into()]
            },
        });
    } else {
        engine
            .create_network(&plan.network.name, &plan.network.labels)
            .await?;
        changed = true;
        reporter.emit(Event::Object {
            kind: "network".into(),
            name: plan.network.name.clone(),
            action: Action::Created,
            changes: vec![],
        });
    }

    // 4. Data.
    if let DataPlan::Volume { name, labels } = &plan.data {
        let action = if observed.volume_exists {
            Action::Unchanged
        } else {
            engine.create_volume(name, labels).await?;
            changed = true;
            Action::Created
        };
        reporter.emit(Event::Object {
            kind: "volume".into(),
            name: name.clone(),
            action,
            changes: vec![],
        });
    }

    // 5. Postgres, then wait for a real login.
    let pg_action = decide(observed.postgres.as_ref(), &plan.postgres, Some(&pg_image));
    changed |= apply_container(engine, &plan.postgres, &pg_action, created, reporter).await?;
    let pg = current(engine, &plan.postgres.name).await?;
    let host = plan.probe_host();
    let postgres_port = published(&pg, POSTGRES_CONTAINER_PORT)?;
    let pg_addr = SocketAddr::new(host, postgres_port);
    let user = plan.postgres.env_value("POSTGRES_USER").unwrap_or_default();
    let password = plan
        .postgres
        .env_value("POSTGRES_PASSWORD")
        .unwrap_or_default();
    let db = plan.postgres.env_value("POSTGRES_DB").unwrap_or_default();
    wait_ready(
        engine,
        &plan.postgres.name,
        "postgres",
        opts.timeout,
        reporter,
        || async move {
            match wait::postgres_login(pg_addr, user, password, db).await {
                Ok(()) => Ok(()),
                Err((PgRefusal::Transient, text)) => Err(Probe::NotYet(text)),
                Err((refusal, text)) => Err(Probe::Failed(wrong_credentials(plan, refusal, &text))),
            }
        },
    )
    .await?;

    // 6. Keycloak, only now, then wait for /health/ready on the management port.
    let kc_action = follow_database(
        decide(observed.keycloak.as_ref(), &plan.keycloak, Some(&kc_image)),
        &pg_action,
    );
    changed |= apply_container(engine, &plan.keycloak, &kc_action, created, reporter).await?;
    let kc = current(engine, &plan.keycloak.name).await?;
    let endpoints = Endpoints {
        host,
        postgres_port,
        keycloak_port: published(&kc, KEYCLOAK_HTTP_PORT)?,
        management_port: published(&kc, KEYCLOAK_MANAGEMENT_PORT)?,
    };
    let client = wait::http_client()?;
    let health = endpoints.health_url();
    let (client, health) = (&client, health.as_str());
    wait_ready(
        engine,
        &plan.keycloak.name,
        "keycloak",
        opts.timeout,
        reporter,
        || async move {
            wait::keycloak_health(client, health)
                .await
                .map_err(Probe::NotYet)
        },
    )
    .await?;

    Ok(UpOutcome {
        endpoints: Some(endpoints),
        changed,
    })
}

fn published(c: &ContainerInfo, container_port: u16) -> anyhow::Result<u16> {
    c.host_port(container_port).ok_or_else(|| {
        anyhow::anyhow!(
            "container `{}` publishes no host port for {container_port}/tcp",
            c.name
        )
    })
}

/// Report what `up` would do; change nothing.
async fn dry_run(
    engine: &Engine,
    plan: &StackPlan,
    opts: &UpOptions,
    observed: &Observed,
    reporter: &Reporter,
) -> anyhow::Result<UpOutcome> {
    let would = |kind: &str, name: &str, action: Action, changes: Vec<String>| {
        reporter.emit(Event::Object {
            kind: kind.into(),
            name: name.into(),
            action,
            changes,
        })
    };
    let mut changed = false;
    let mut image_ids = Vec::new();
    for c in plan.containers() {
        let id = engine.image_id(&c.image).await?;
        let pull = match (opts.pull, &id) {
            (PullPolicy::Always, _) | (PullPolicy::Missing, None) => Some("would pull"),
            (PullPolicy::Never, None) => Some("missing, and --pull never forbids pulling"),
            _ => None,
        };
        match pull {
            Some(p) => would("image", &c.image, Action::Updated, vec![p.into()]),
            None => would("image", &c.image, Action::Unchanged, vec![]),
        }
        image_ids.push(id);
    }
    if !observed.network_exists {
        changed = true;
        would(
            "network",
            &plan.network.name,
            Action::Created,
            vec!["would create".into()],
        );
    } else {
        would("network", &plan.network.name, Action::Unchanged, vec![]);
    }
    if let DataPlan::Volume { name, .. } = &plan.data {
        if observed.volume_exists {
            would("volume", name, Action::Unchanged, vec![]);
        } else {
            changed = true;
            would("volume", name, Action::Created, vec!["would create".into()]);
        }
    }
    let pg_action = decide(
        observed.postgres.as_ref(),
        &plan.postgres,
        image_ids[0].as_deref(),
    );
    let kc_action = follow_database(
        decide(
            observed.keycloak.as_ref(),
            &plan.keycloak,
            image_ids[1].as_deref(),
        ),
        &pg_action,
    );
    for (c, action) in plan.containers().into_iter().zip([pg_action, kc_action]) {
        let (a, changes) = match action {
            ContainerAction::Keep => (Action::Unchanged, vec![]),
            ContainerAction::Create => (Action::Created, vec!["would create".into()]),
            ContainerAction::Recreate(r) => (Action::Updated, vec![format!("would recreate: {r}")]),
            ContainerAction::Start => (Action::Updated, vec!["would start".into()]),
            ContainerAction::Unpause => (Action::Updated, vec!["would unpause".into()]),
            ContainerAction::Restart(r) => (Action::Updated, vec![format!("would restart: {r}")]),
        };
        changed |= a != Action::Unchanged;
        would("container", &c.name, a, changes);
    }
    // A running Keycloak that stays as it is can be provisioned in dry-run mode.
    let endpoints = match (&observed.postgres, &observed.keycloak) {
        (Some(pg), Some(kc)) if !changed && kc.running => Some(Endpoints {
            host: probe_host(plan.bind_address),
            postgres_port: published(pg, POSTGRES_CONTAINER_PORT)?,
            keycloak_port: published(kc, KEYCLOAK_HTTP_PORT)?,
            management_port: published(kc, KEYCLOAK_MANAGEMENT_PORT)?,
        }),
        _ => None,
    };
    Ok(UpOutcome { endpoints, changed })
}

/// Ctrl-C: remove the containers this run created (only those still carrying our label).
/// Network and volume stay; a later `up` converges.
pub async fn remove_created(engine: &Engine, project: &str, created: &CreatedLog) -> Vec<String> {
    let mut removed = Vec::new();
    for name in created.names() {
        if let Ok(Some(c)) = engine.container(&name).await {
            if c.label(names::LABEL_STACK) == Some(project)
                && engine.remove_container(&name).await.is_ok()
            {
                removed.push(name);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn plan_container() -> ContainerPlan {
        let mut labels = BTreeMap::new();
        labels.insert(names::LABEL_STACK.to_string(), "iam".to_string());
        labels.insert(names::LABEL_CONFIG_HASH.to_string(), "abc".to_string());
        ContainerPlan {
            role: Role::Postgres,
            name: "iam-postgres".into(),
            image: "postgres:17.4".into(),
            cmd: vec![],
            env: vec![],
            ports: vec![],
            binds: vec![],
            network: "my-iam-net".into(),
            aliases: vec![],
            labels,
        }
    }

    fn existing(hash: &str, status: &str, image_id: &str) -> ContainerInfo {
        ContainerInfo {
            name: "iam-postgres".into(),
            image: "postgres:17.4".into(),
            image_id: image_id.into(),
            labels: [
                (names::LABEL_STACK.to_string(), "iam".to_string()),
                (names::LABEL_CONFIG_HASH.to_string(), hash.to_string()),
            ]
            .into_iter()
            .collect(),
            status: status.into(),
            running: status == "running",
            exit_code: None,
            oom_killed: false,
            env: vec![],
            ports: vec![],
        }
    }

    #[test]
    fn decisions_follow_the_config_hash_and_state() {
        let p = plan_container();
        assert_eq!(decide(None, &p, None), ContainerAction::Create);
        assert_eq!(
            decide(
                Some(&existing("abc", "running", "sha256:1")),
                &p,
                Some("sha256:1")
            ),
            ContainerAction::Keep
        );
        assert_eq!(
            decide(
                Some(&existing("abc", "exited", "sha256:1")),
                &p,
                Some("sha256:1")
            ),
            ContainerAction::Start
        );
        assert_eq!(
            decide(Some(&existing("abc", "created", "sha256:1")), &p, None),
            ContainerAction::Start
        );
        assert_eq!(
            decide(Some(&existing("abc", "paused", "sha256:1")), &p, None),
            ContainerAction::Unpause
        );
        assert!(matches!(
            decide(Some(&existing("old", "running", "sha256:1")), &p, Some("sha256:1")),
            ContainerAction::Recreate(r) if r.contains("configuration")
        ));
        assert!(matches!(
            decide(Some(&existing("abc", "running", "sha256:1")), &p, Some("sha256:2")),
            ContainerAction::Recreate(r) if r.contains("image")
        ));
    }

    #[test]
    fn a_running_keycloak_is_restarted_when_its_database_changed() {
        let recreate = ContainerAction::Recreate("x".into());
        assert_eq!(
            follow_database(ContainerAction::Keep, &ContainerAction::Keep),
            ContainerAction::Keep
        );
        for pg in [
            ContainerAction::Create,
            ContainerAction::Start,
            recreate.clone(),
        ] {
            assert!(matches!(
                follow_database(ContainerAction::Keep, &pg),
                ContainerAction::Restart(_)
            ));
        }
        // A Keycloak that is being created or recreated anyway is left to that.
        assert_eq!(
            follow_database(ContainerAction::Create, &recreate),
            ContainerAction::Create
        );
        assert_eq!(
            follow_database(ContainerAction::Start, &ContainerAction::Start),
            ContainerAction::Start
        );
    }

    #[test]
    fn endpoints_render_urls() {
        let e = Endpoints {
            host: "127.0.0.1".parse().unwrap(),
            postgres_port: 5432,
            keycloak_port: 8080,
            management_port: 9000,
        };
        assert_eq!(e.keycloak_url(), "http://127.0.0.1:8080");
        assert_eq!(e.health_url(), "http://127.0.0.1:9000/health/ready");
    }

    #[test]
    fn a_wrong_password_names_the_volume_and_both_ways_out() {
        let mut config_plan = crate::stack::plan::plan(&crate::config::StackConfig {
            project: "demo".into(),
            engine: crate::config::EngineConfig::from_value(None),
            postgres_image: "postgres:17.4".into(),
            keycloak_image: "keycloak/keycloak:26.2".into(),
            pull: PullPolicy::Missing,
            bind_address: "127.0.0.1".parse().unwrap(),
            postgres_port: 5432,
            keycloak_port: 8080,
            management_port: 9000,
            data: crate::config::DataSource::Volume,
            postgres_db: "keycloak".into(),
            postgres_user: "keycloak".into(),
            postgres_password: "x".into(),
            hostname: "localhost".into(),
            timeout: Duration::from_secs(300),
            labels: BTreeMap::new(),
            keycloak_env: Vec::new(),
            admin: crate::config::AdminCredentials {
                username: "admin".into(),
                password: "y".into(),
            },
        });
        let err = wrong_credentials(
            &config_plan,
            PgRefusal::WrongPassword,
            "FATAL: password authentication failed",
        );
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
