//! `iamstack doctor`: would `up` succeed here, and if not, what to do. The checks are `up`'s
//! own, run without creating anything: the engine, objects of the stack's names, host ports,
//! images (present, or a registry that answers), free disk where the engine keeps its data;
//! plus objects of other stacks that look abandoned (advice only). Exit 0 only when `up`
//! would succeed; else the exit code `up` would give for the first problem.

use std::time::Instant;

use crate::cli::{DoctorArgs, PullPolicy};
use crate::config::{EngineConfig, StackConfig};
use crate::docker::registry::{check_registry, registry_url, CONNECT_TIMEOUT, TOTAL_TIMEOUT};
use crate::docker::Engine;
use crate::error::{exit, Kind};
use crate::names;
use crate::report::{CheckFailure, CheckResult, Event, Reporter};
use crate::stack::doctor::{disk_needed, human_bytes, leftovers};
use crate::stack::lock::{process_runs, this_host, LOCK_ROLE};
use crate::stack::{observe, plan, ports};

/// One check's result: what was seen, or the problem and the exit code `up` would give.
type Outcome = Result<String, (String, Kind)>;

pub async fn run(args: DoctorArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let config = StackConfig::resolve(&args.stack, &args.admin, EngineConfig::from_env())?;
    let plan = plan::plan(&config);
    let mut problems: Vec<Kind> = Vec::new();
    let mut report = |name: &str, started: Instant, outcome: Outcome| {
        let elapsed = started.elapsed().as_millis() as u64;
        let outcome = outcome.map_err(|(message, kind)| {
            problems.push(kind);
            CheckFailure::new("up would fail", message)
        });
        reporter.emit(Event::Check(CheckResult::new(name, elapsed, outcome)));
    };

    let started = Instant::now();
    let engine = match Engine::connect(&config.engine).await {
        Ok(engine) => {
            let seen = format!("Docker API {} at {}", engine.api_version(), engine.host());
            report("engine", started, Ok(seen));
            engine
        }
        Err(e) => {
            let kind = e.kind().unwrap_or(Kind::Engine);
            report("engine", started, Err((e.to_string(), kind)));
            return summary(reporter, &problems);
        }
    };

    let started = Instant::now();
    let observed = observe::observe(&engine, &plan).await;
    let observed = match observed {
        Ok(o) => {
            report("names", started, Ok(names_seen(&o)));
            Some(o)
        }
        Err(e) => {
            report("names", started, Err(problem(&e)));
            None
        }
    };

    if let Some(observed) = &observed {
        let started = Instant::now();
        let outcome = if !config.engine.is_local() {
            Ok("not checked: the engine is on another machine".to_string())
        } else {
            match ports::preflight(&engine, &plan, observed).await {
                Ok(()) => Ok(ports_seen(&plan)),
                Err(e) => Err(problem(&e)),
            }
        };
        report("ports", started, outcome);
    }

    let mut to_pull = 0;
    for c in plan.containers() {
        let started = Instant::now();
        let present = engine.image_id(&c.image).await.ok().flatten().is_some();
        let outcome = match (present, config.pull) {
            (true, PullPolicy::Always) | (false, PullPolicy::Missing | PullPolicy::Always) => {
                to_pull += 1;
                let url = registry_url(&c.image);
                let check = check_registry(&url, CONNECT_TIMEOUT, TOTAL_TIMEOUT).await;
                if check.answers() {
                    Ok(format!("`{}` will be pulled: {check}", c.image))
                } else {
                    Err((
                        format!(
                            "`{}` is not here and cannot be pulled: {check}; pull or load it \
                             another way, or name a local image with {}",
                            c.image,
                            crate::stack::changes::image_flag(c.role)
                        ),
                        Kind::Image,
                    ))
                }
            }
            (true, _) => Ok(format!("`{}` is present", c.image)),
            (false, PullPolicy::Never) => Err((
                format!(
                    "`{}` is not present and --pull never forbids pulling it; pull or build it \
                     first, or name a local image with {}",
                    c.image,
                    crate::stack::changes::image_flag(c.role)
                ),
                Kind::Image,
            )),
        };
        report(&format!("{} image", c.role.as_str()), started, outcome);
    }

    let started = Instant::now();
    let outcome = disk(&engine, config.engine.is_local(), to_pull).await;
    report("disk", started, outcome);

    // Advice: other stacks that look abandoned.
    let containers = engine
        .containers_with_label(names::LABEL_STACK)
        .await
        .unwrap_or_default();
    let locks = engine
        .volumes_labelled(&[(names::LABEL_ROLE, LOCK_ROLE)])
        .await
        .unwrap_or_default();
    let here = this_host();
    for message in leftovers(&containers, &locks, &config.project, &here, process_runs) {
        reporter.emit(Event::Warning { message });
    }
    summary(reporter, &problems)
}

/// Free space where the engine keeps images and volumes (a local engine's data root).
async fn disk(engine: &Engine, local: bool, to_pull: usize) -> Outcome {
    let need = disk_needed(to_pull);
    let Some(root) = engine.data_root().await.filter(|_| local) else {
        return Ok("not checked: the engine's data is on another machine".into());
    };
    let free = match rustix::fs::statvfs(root.as_str()) {
        Ok(st) => st.f_bavail.saturating_mul(st.f_frsize),
        Err(e) => return Ok(format!("not checked: cannot read {root} ({e})")),
    };
    if free >= need {
        Ok(format!(
            "{} free in {root} ({} needed)",
            human_bytes(free),
            human_bytes(need)
        ))
    } else {
        Err((
            format!(
                "only {} free in {root}, and `up` needs about {} (the data volume{}); free some \
                 (`docker system prune` removes unused images and build cache)",
                human_bytes(free),
                human_bytes(need),
                if to_pull > 0 {
                    " and the images to pull"
                } else {
                    ""
                }
            ),
            Kind::NotReady,
        ))
    }
}

fn problem(e: &anyhow::Error) -> (String, Kind) {
    let kind = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::stack::StackError>()?.kind())
        .unwrap_or(Kind::Conflict);
    (e.to_string(), kind)
}

fn names_seen(o: &crate::stack::changes::Observed) -> String {
    let existing = [&o.postgres, &o.keycloak]
        .into_iter()
        .flatten()
        .map(|c| format!("`{}` ({})", c.name, c.status))
        .collect::<Vec<_>>();
    if existing.is_empty() {
        "no object of the stack's names: `up` creates them".into()
    } else {
        format!("the stack's own containers: {}", existing.join(", "))
    }
}

fn ports_seen(plan: &plan::StackPlan) -> String {
    let ports: Vec<String> = plan
        .containers()
        .iter()
        .flat_map(|c| c.ports.iter())
        .map(|p| {
            if p.host_port == 0 {
                "an engine-chosen port".to_string()
            } else {
                p.host_port.to_string()
            }
        })
        .collect();
    format!("free (or the stack's own): {}", ports.join(", "))
}

/// `up` would fail: the problems were shown as failed checks; the first decides the exit code.
#[derive(Debug, thiserror::Error)]
#[error("`up` would fail here: {count} problem(s) above, each with what to do")]
pub struct DoctorFound {
    pub count: usize,
    pub first: Kind,
}

/// The closing line when all is well, else [`DoctorFound`].
fn summary(reporter: &Reporter, problems: &[Kind]) -> anyhow::Result<u8> {
    match problems.first() {
        None => {
            reporter.emit(Event::StepFinished {
                step: "doctor".into(),
                elapsed_ms: 0,
                detail: Some("`up` would succeed".into()),
            });
            Ok(exit::OK)
        }
        Some(first) => Err(DoctorFound {
            count: problems.len(),
            first: *first,
        }
        .into()),
    }
}
