//! `down`: find the stack's objects by label (never by name alone), stop and remove its
//! containers at once, then its network if iamstack created it and nothing else is attached,
//! then (only with `--volumes`) its data volume. Every error is collected; idempotent.

use std::time::Duration;

use futures_util::future::join_all;

use crate::docker::{Engine, ImageRemoval};
use crate::names::{self, Role};
use crate::report::Step;
use crate::report::{Action, Event, Reporter};
use crate::stack::plan::PGDATA;

/// How long a container gets between its stop signal (the image's own: SIGINT for Postgres,
/// SIGTERM for Keycloak) and SIGKILL. Both stop in about a second when signalled properly.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct DownOptions {
    pub volumes: bool,
    /// Also remove the optimized Keycloak images iamstack built (every project's: they are a
    /// cache shared by all; one still used by another stack's container stays).
    pub images: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DownOutcome {
    pub containers_removed: Vec<String>,
    pub network_removed: Option<String>,
    pub volumes_removed: Vec<String>,
    pub images_removed: Vec<String>,
    /// Whether there was anything of this stack to begin with.
    pub found_anything: bool,
}

fn removed(reporter: &Reporter, kind: &str, name: &str) {
    reporter.emit(Event::Object {
        kind: kind.into(),
        name: name.into(),
        action: Action::Removed,
        changes: vec![],
    });
}

fn kept(reporter: &Reporter, kind: &str, name: &str, why: String) {
    reporter.emit(Event::Object {
        kind: kind.into(),
        name: name.into(),
        action: Action::Unchanged,
        changes: vec![why],
    });
}

pub async fn down(
    engine: &Engine,
    project: &str,
    opts: DownOptions,
    reporter: &Reporter,
) -> anyhow::Result<DownOutcome> {
    let ours = [(names::LABEL_STACK, project)];
    let mut outcome = DownOutcome::default();
    let mut errors: Vec<anyhow::Error> = Vec::new();

    // Someone else's container under our name: say we leave it alone.
    for role in [Role::Postgres, Role::Keycloak] {
        let name = names::container_name(project, role);
        if let Ok(Some(c)) = engine.container(&name).await {
            if c.label(names::LABEL_STACK) != Some(project) {
                kept(
                    reporter,
                    "container",
                    &name,
                    "not created by iamstack: left alone".into(),
                );
            }
        }
    }

    // 1. Containers, all at once.
    let containers = engine.containers_labelled(&ours).await?;
    let step = Step::start(reporter, "remove containers");
    let mut data_dirs = Vec::new();
    let names: Vec<String> = containers
        .iter()
        .filter_map(|c| c.names.as_ref().and_then(|n| n.first()))
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    for c in &containers {
        for m in c.mounts.iter().flatten() {
            if m.destination.as_deref() == Some(PGDATA) && m.typ.as_deref() == Some("bind") {
                if let Some(src) = &m.source {
                    data_dirs.push(src.clone());
                }
            }
        }
    }
    let results = join_all(names.iter().map(|name| async move {
        engine.stop_container(name, STOP_TIMEOUT).await?;
        engine.remove_container(name).await
    }))
    .await;
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(()) => {
                removed(reporter, "container", name);
                outcome.containers_removed.push(name.clone());
            }
            Err(e) => errors.push(e.into()),
        }
    }
    step.done(Some(format!(
        "{} removed",
        outcome.containers_removed.len()
    )));

    // 2. The network: only ours, only when nothing else is attached.
    for net in engine.networks_labelled(&ours).await? {
        if net.containers.is_empty() {
            match engine.remove_network(&net.id, &net.name).await {
                Ok(()) => {
                    removed(reporter, "network", &net.name);
                    outcome.network_removed = Some(net.name.clone());
                }
                Err(e) => errors.push(e.into()),
            }
        } else {
            kept(
                reporter,
                "network",
                &net.name,
                format!("still used by {}: kept", net.containers.join(", ")),
            );
        }
    }
    let network_name = names::network_name(project);
    if let Ok(Some(net)) = engine.network(&network_name).await {
        if net.labels.get(names::LABEL_STACK).map(String::as_str) != Some(project) {
            kept(
                reporter,
                "network",
                &network_name,
                "not created by iamstack: kept".into(),
            );
        }
    }

    // 3. Data: the volume only with --volumes; a --data-dir directory never.
    let volumes = engine
        .volumes_labelled(&[
            (names::LABEL_STACK, project),
            (names::LABEL_ROLE, Role::Data.as_str()),
        ])
        .await?;
    for v in &volumes {
        if opts.volumes {
            match engine.remove_volume(&v.name).await {
                Ok(()) => {
                    removed(reporter, "volume", &v.name);
                    outcome.volumes_removed.push(v.name.clone());
                }
                Err(e) => errors.push(e.into()),
            }
        } else {
            kept(
                reporter,
                "volume",
                &v.name,
                "kept with the data (--volumes removes it)".into(),
            );
        }
    }
    data_dirs.sort();
    data_dirs.dedup();
    for dir in &data_dirs {
        kept(
            reporter,
            "data directory",
            dir,
            "kept: down never deletes a --data-dir directory".into(),
        );
    }

    // 4. The optimized images iamstack built, only with --images.
    if opts.images {
        if let Err(e) = remove_built_images(engine, reporter, &mut outcome).await {
            errors.push(e);
        }
    }

    outcome.found_anything = !containers.is_empty()
        || outcome.network_removed.is_some()
        || !volumes.is_empty()
        || !outcome.images_removed.is_empty();

    match errors.len() {
        0 => Ok(outcome),
        1 => Err(errors.remove(0)),
        n => {
            let all = errors
                .iter()
                .map(|e| format!("{e:#}"))
                .collect::<Vec<_>>()
                .join("; ");
            Err(anyhow::anyhow!("{n} objects could not be removed: {all}"))
        }
    }
}

/// Remove every image carrying iamstack's build label; report each by its tag (or ID once a
/// newer build took the tag).
async fn remove_built_images(
    engine: &Engine,
    reporter: &Reporter,
    outcome: &mut DownOutcome,
) -> anyhow::Result<()> {
    for image in engine.images_labelled(names::LABEL_BUILT, None).await? {
        let name = image
            .tags
            .first()
            .cloned()
            .unwrap_or_else(|| image.id.clone());
        match engine.remove_image(&image.id).await? {
            ImageRemoval::Removed => {
                removed(reporter, "image", &name);
                outcome.images_removed.push(name);
            }
            ImageRemoval::InUse => kept(
                reporter,
                "image",
                &name,
                "kept: a container of another stack uses it".into(),
            ),
        }
    }
    Ok(())
}
