//! `up`: observe what exists, check ownership and ports (nothing is created before both pass),
//! work out the list of changes ([`changes`]), then execute it in order: images, network and
//! data, Postgres (wait until a real login works), Keycloak (wait until `/health/ready` is UP),
//! provisioning and `--verify`. `--dry-run` prints the same list and changes nothing.
//! Idempotent: on a ready stack every entry is a `Keep` or a wait that passes at once.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use url::Url;

use crate::cli::PullPolicy;
use crate::docker::{ContainerInfo, Engine};
use crate::names::Role;
use crate::report::{Event, Reporter, Step};
use crate::snapshot::restore::Restore;
use crate::stack::changes::{self, image_flag, Change, ContainerAction, Observed, Tense, Wanted};
use crate::stack::error::StackError;
use crate::stack::plan::{
    host_port, ContainerPlan, DataPlan, StackPlan, KEYCLOAK_HTTP_PORT, KEYCLOAK_MANAGEMENT_PORT,
    POSTGRES_CONTAINER_PORT,
};
use crate::stack::provision::{self, Provisioning};
use crate::stack::readiness::{current, wait_keycloak, wait_postgres};
use crate::stack::rollback::CreatedLog;
use crate::stack::{observe, ports};

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub pull: PullPolicy,
    /// Readiness budget per service.
    pub timeout: Duration,
    pub dry_run: bool,
    /// Check host ports on this machine first (only meaningful for a local engine).
    pub check_ports: bool,
    /// `--from-snapshot`: Postgres starts on the snapshot's data (`snapshot::restore`).
    pub snapshot: Option<std::sync::Arc<Restore>>,
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

    /// Read back from running containers.
    fn of(
        host: IpAddr,
        postgres: &ContainerInfo,
        keycloak: &ContainerInfo,
    ) -> anyhow::Result<Self> {
        Ok(Endpoints {
            host,
            postgres_port: published(postgres, POSTGRES_CONTAINER_PORT)?,
            keycloak_port: published(keycloak, KEYCLOAK_HTTP_PORT)?,
            management_port: published(keycloak, KEYCLOAK_MANAGEMENT_PORT)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct UpOutcome {
    /// `None` after a dry run on a stack that is not running.
    pub endpoints: Option<Endpoints>,
    /// Whether anything was (or, in a dry run, would be) pulled, created, recreated or started.
    pub changed: bool,
}

/// Bring the stack up per `plan`. See the module docs for the order of steps.
pub async fn up(
    engine: &Engine,
    plan: &StackPlan,
    opts: &UpOptions,
    provisioning: &Provisioning<'_>,
    reporter: &Reporter,
    created: &CreatedLog,
) -> anyhow::Result<UpOutcome> {
    // Look, check ownership and ports: nothing is created if these fail.
    let observed = observe::observe(engine, plan).await?;
    if opts.check_ports {
        ports::preflight(engine, plan, &observed).await?;
    }
    let wanted = Wanted {
        pull: opts.pull,
        provision: provisioning.provision,
        verify: provisioning.verify.is_some(),
    };
    if let Some(snapshot) = &opts.snapshot {
        snapshot.refuse_existing(plan, &observed)?;
        // The images kept are the ones `up` will use; `--pull always` may bring others, so
        // then only the real run checks, after its pulls.
        if opts.pull != PullPolicy::Always {
            snapshot.check_images(plan, &observed)?;
        }
    }
    let list = changes::changes(plan, &observed, &wanted)?;
    let run = Run {
        engine,
        plan,
        opts,
        provisioning,
        reporter,
        created,
    };
    if opts.dry_run {
        run.dry_run(&observed, list).await
    } else {
        run.execute(observed, list, &wanted).await
    }
}

/// One `up`: what it works on and where it reports.
struct Run<'a> {
    engine: &'a Engine,
    plan: &'a StackPlan,
    opts: &'a UpOptions,
    provisioning: &'a Provisioning<'a>,
    reporter: &'a Reporter,
    created: &'a CreatedLog,
}

/// Published ports learnt while executing: each wait reads back its service's ports.
#[derive(Default)]
struct Learnt {
    postgres_port: Option<u16>,
    endpoints: Option<Endpoints>,
}

impl Run<'_> {
    /// Execute the list in order. The images come first (pulled at once), then the optimized
    /// Keycloak image is built if it is not yet; the rest of the list is worked out again with
    /// the images' IDs (a pull or a build brings an ID the list could not know).
    async fn execute(
        &self,
        mut observed: Observed,
        list: Vec<Change>,
        wanted: &Wanted,
    ) -> anyhow::Result<UpOutcome> {
        let images: Vec<Change> = list
            .into_iter()
            .filter(|c| matches!(c, Change::Pull { .. } | Change::KeepImage { .. }))
            .collect();
        for (role, id) in self.images(&images).await? {
            match role {
                Role::Postgres => observed.postgres_image = Some(id),
                Role::Keycloak => {
                    // A new base has its own optimized image (its tag hashes the base's ID).
                    observed.built_image =
                        observe::built_image(self.engine, self.plan, Some(&id)).await?;
                    observed.keycloak_image = Some(id);
                }
                Role::Network | Role::Data => {}
            }
        }
        if let Some(snapshot) = &self.opts.snapshot {
            snapshot.check_images(self.plan, &observed)?;
        }
        let build = changes::build_change(self.plan, &observed);
        let pending = self.keep_or_build(&mut observed).await?;
        let (plan, observed) = changes::optimized_view(self.plan, &observed);
        let rest = changes::stack_changes(&plan, &observed, wanted);
        let run = Run {
            plan: &plan,
            ..*self
        };
        let mut learnt = Learnt::default();
        // A build still to do runs beside everything before Keycloak's container (network,
        // data, Postgres and its wait): only Keycloak needs the image.
        let keycloak_at = rest
            .iter()
            .position(|c| {
                matches!(
                    c,
                    Change::Container {
                        role: Role::Keycloak,
                        ..
                    }
                )
            })
            .unwrap_or(rest.len());
        let (before, after) = rest.split_at(if pending.is_some() { keycloak_at } else { 0 });
        match &pending {
            Some(pending) => run.build_beside(pending, before, &mut learnt).await?,
            None => {
                for change in before {
                    run.execute_one(change, &mut learnt).await?;
                }
            }
        }
        for change in after {
            run.execute_one(change, &mut learnt).await?;
        }
        Ok(UpOutcome {
            endpoints: learnt.endpoints,
            changed: images
                .iter()
                .chain(&build)
                .chain(&rest)
                .any(Change::changes_something),
        })
    }

    /// The images step: keep or pull each image (pulls run at once); returns the pulled ones'
    /// new IDs.
    async fn images(&self, images: &[Change]) -> anyhow::Result<Vec<(Role, String)>> {
        let step = Step::start(self.reporter, "images");
        let mut pulls = Vec::new();
        for change in images {
            match change {
                Change::Pull { role, image } => pulls.push(self.pull(*role, image, change)),
                _ => self.report(change),
            }
        }
        step.close(try_join_all(pulls).await)
    }

    /// Pull one image as its own step (with a byte bar); returns its new local ID.
    async fn pull(
        &self,
        role: Role,
        image: &str,
        change: &Change,
    ) -> anyhow::Result<(Role, String)> {
        let step = Step::start(self.reporter, change.step().unwrap_or_default());
        let mut last_emit: Option<Instant> = None;
        let mut last_total = 0;
        let pulled = self
            .engine
            .pull(image, |downloaded, total| {
                // At most ten updates a second per image, but never miss the first known size
                // or the end (a fast pull is over within the tenth of a second).
                let news = total != last_total || (total > 0 && downloaded == total);
                last_total = total;
                if news || last_emit.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
                    last_emit = Some(Instant::now());
                    self.reporter.emit(Event::Pull {
                        step: step.name().to_string(),
                        image: image.to_string(),
                        downloaded,
                        total,
                    });
                }
            })
            .await;
        let result = async {
            if let Err(error) = pulled {
                return Err(StackError::pull(image, error, image_flag(role)).into());
            }
            let id = self.engine.image_id(image).await?;
            id.ok_or_else(|| {
                anyhow::Error::from(StackError::MissingAfterPull {
                    image: image.to_string(),
                })
            })
        }
        .await;
        let id = step.close(result)?;
        self.report(change);
        Ok((role, id))
    }

    async fn execute_one(&self, change: &Change, learnt: &mut Learnt) -> anyhow::Result<()> {
        let engine = self.engine;
        match change {
            Change::Pull { .. }
            | Change::KeepImage { .. }
            | Change::Build { .. }
            | Change::KeepBuilt { .. } => {}
            Change::CreateNetwork { name } => {
                engine
                    .create_network(name, &self.plan.network.labels)
                    .await?;
            }
            Change::CreateVolume { name } => {
                if let DataPlan::Volume { labels, .. } = &self.plan.data {
                    engine.create_volume(name, labels).await?;
                }
            }
            Change::KeepNetwork { .. } | Change::KeepVolume { .. } => {}
            Change::Container { role, action, .. } => {
                if let Some(plan) = self.plan.container(*role) {
                    self.apply_container(plan, action).await?;
                }
            }
            Change::Wait(_) | Change::Provision | Change::Verify => {
                let step = Step::start(self.reporter, change.step().unwrap_or_default());
                let result = self.run_step(change, &step, learnt).await;
                return step.close_with(result, Option::clone).map(drop);
            }
        }
        self.report(change);
        Ok(())
    }

    /// A change that runs as a step; returns the step's detail.
    async fn run_step(
        &self,
        change: &Change,
        step: &Step<'_>,
        learnt: &mut Learnt,
    ) -> anyhow::Result<Option<String>> {
        let (engine, plan, budget) = (self.engine, self.plan, self.opts.timeout);
        let host = plan.probe_host();
        match change {
            Change::Wait(Role::Postgres) => {
                let pg = current(engine, &plan.postgres.name).await?;
                let port = published(&pg, POSTGRES_CONTAINER_PORT)?;
                wait_postgres(engine, plan, SocketAddr::new(host, port), budget, step).await?;
                learnt.postgres_port = Some(port);
            }
            Change::Wait(Role::Keycloak) => {
                let kc = current(engine, &plan.keycloak.name).await?;
                let endpoints = Endpoints {
                    host,
                    postgres_port: learnt.postgres_port.unwrap_or_default(),
                    keycloak_port: published(&kc, KEYCLOAK_HTTP_PORT)?,
                    management_port: published(&kc, KEYCLOAK_MANAGEMENT_PORT)?,
                };
                wait_keycloak(engine, plan, &endpoints.health_url(), budget, step).await?;
                learnt.endpoints = Some(endpoints);
            }
            Change::Provision => {
                let url = self.keycloak_url(learnt.endpoints.as_ref())?;
                let detail =
                    provision::provision(&url, self.provisioning, false, self.reporter).await?;
                return Ok(Some(detail));
            }
            Change::Verify => {
                if let Some(target_for) = self.provisioning.verify {
                    let url = self.keycloak_url(learnt.endpoints.as_ref())?;
                    provision::verify(&url, target_for, self.reporter).await?;
                }
            }
            Change::Wait(Role::Network | Role::Data)
            | Change::Pull { .. }
            | Change::KeepImage { .. }
            | Change::Build { .. }
            | Change::KeepBuilt { .. }
            | Change::CreateNetwork { .. }
            | Change::KeepNetwork { .. }
            | Change::CreateVolume { .. }
            | Change::KeepVolume { .. }
            | Change::Container { .. } => {}
        }
        Ok(None)
    }

    fn keycloak_url(&self, endpoints: Option<&Endpoints>) -> anyhow::Result<Url> {
        let url = endpoints
            .map(Endpoints::keycloak_url)
            .ok_or_else(|| anyhow::anyhow!("Keycloak's URL is not known before its wait"))?;
        Ok(Url::parse(&url)?)
    }

    /// Carry out one container decision.
    async fn apply_container(
        &self,
        plan: &ContainerPlan,
        action: &ContainerAction,
    ) -> anyhow::Result<()> {
        let engine = self.engine;
        match action {
            ContainerAction::Keep => {}
            ContainerAction::Start => engine.start_container(&plan.name).await?,
            ContainerAction::Unpause => engine.unpause_container(&plan.name).await?,
            ContainerAction::Restart(_) => {
                engine
                    .stop_container(&plan.name, crate::stack::down::STOP_TIMEOUT)
                    .await?;
                engine.start_container(&plan.name).await?;
            }
            ContainerAction::Create | ContainerAction::Recreate(_) => {
                if matches!(action, ContainerAction::Recreate(_)) {
                    engine.remove_container(&plan.name).await?;
                }
                self.created.record(&plan.name);
                engine
                    .create_container(&plan.name, plan.create_body())
                    .await?;
                if let (Role::Postgres, Some(snapshot)) = (plan.role, &self.opts.snapshot) {
                    snapshot
                        .restore_into(engine, self.plan, self.reporter)
                        .await?;
                }
                engine.start_container(&plan.name).await?;
            }
        }
        Ok(())
    }

    fn report(&self, change: &Change) {
        if let Some(event) = change.object(Tense::Done) {
            self.reporter.emit(event);
        }
    }

    /// Print the list; change nothing. A running stack that stays as it is can be provisioned
    /// in dry-run mode (the realm's own dry run says what it would change).
    async fn dry_run(&self, observed: &Observed, list: Vec<Change>) -> anyhow::Result<UpOutcome> {
        let changed = list.iter().any(Change::changes_something);
        let endpoints = match (&observed.postgres, &observed.keycloak) {
            (Some(pg), Some(kc)) if !changed && kc.running => {
                Some(Endpoints::of(self.plan.probe_host(), pg, kc)?)
            }
            _ => None,
        };
        for change in &list {
            if let Some(event) = change.object(Tense::DryRun) {
                self.reporter.emit(event);
                let snapshot = self.opts.snapshot.as_ref();
                if let Some(step) = snapshot.and_then(|s| s.planned_after(change)) {
                    self.reporter.emit(Event::Planned { step });
                }
                continue;
            }
            match (change, &endpoints) {
                (Change::Provision, Some(endpoints)) => {
                    let url = Url::parse(&endpoints.keycloak_url())?;
                    let step = Step::start(self.reporter, "provision");
                    let result =
                        provision::provision(&url, self.provisioning, true, self.reporter).await;
                    step.close_with(result, |detail| Some(detail.clone()))?;
                }
                _ => self.reporter.emit(Event::Planned {
                    step: change.step().unwrap_or_default(),
                }),
            }
        }
        Ok(UpOutcome { endpoints, changed })
    }
}

fn published(c: &ContainerInfo, container_port: u16) -> anyhow::Result<u16> {
    c.host_port(container_port).ok_or_else(|| {
        StackError::NoPublishedPort {
            name: c.name.clone(),
            port: container_port,
        }
        .into()
    })
}

mod build;

#[cfg(test)]
mod tests {
    use super::*;

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
}
