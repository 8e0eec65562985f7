//! `up`'s optimized Keycloak image: kept when built already, else built — beside the steps
//! before Keycloak's container when no Keycloak container exists yet, since only Keycloak
//! needs the image. A failed build then removes what this run made meanwhile, so a failed
//! build still leaves nothing behind.

use crate::names;
use crate::report::{Action, Event, Step};
use crate::stack::changes::{Change, Observed};
use crate::stack::error::StackError;
use crate::stack::optimize::{self, BuildPlan};
use crate::stack::rollback;

use super::{Learnt, Run};

/// A build still to do: what, on which base ID, under which tag.
pub(super) struct PendingBuild<'p> {
    build: &'p BuildPlan,
    base_id: String,
    tag: String,
}

impl<'a> Run<'a> {
    /// Keep the optimized image when it is built already (`observed.built_image`), or build it
    /// now when a Keycloak container exists (whether it is kept depends on the build's ID);
    /// else return the build to run beside the steps before Keycloak.
    pub(super) async fn keep_or_build(
        &self,
        observed: &mut Observed,
    ) -> anyhow::Result<Option<PendingBuild<'a>>> {
        let Some(build) = &self.plan.keycloak_build else {
            return Ok(None);
        };
        let base_id = observed.keycloak_image.clone().unwrap_or_default();
        let tag = build.tag(&base_id);
        if observed.built_image.is_some() {
            self.report(&Change::KeepBuilt { image: tag });
            return Ok(None);
        }
        let pending = PendingBuild {
            build,
            base_id,
            tag,
        };
        if observed.keycloak.is_some() {
            observed.built_image = Some(self.build_image(&pending).await?);
            return Ok(None);
        }
        Ok(Some(pending))
    }

    /// Run the build and `before` at once. A failed build removes what `before` made (the
    /// containers this run created, and the network and volume when `before` created them);
    /// a failure of `before` alone is reported as it would be without the build. Neither side
    /// is cut short when the other fails: an engine request dropped in flight could still
    /// create its object after the removal looked.
    pub(super) async fn build_beside(
        &self,
        pending: &PendingBuild<'_>,
        before: &[Change],
        learnt: &mut Learnt,
    ) -> anyhow::Result<()> {
        let build = self.build_image(pending);
        let beside = async {
            for change in before {
                self.execute_one(change, learnt).await?;
            }
            anyhow::Ok(())
        };
        match tokio::join!(build, beside) {
            (Ok(_), beside) => beside,
            (Err(error), _) => {
                self.undo(before).await;
                Err(error)
            }
        }
    }

    /// Build the image as its own step (its output as the step's progress); returns its ID.
    /// Older builds of the same base repository are removed afterwards.
    async fn build_image(&self, pending: &PendingBuild<'_>) -> anyhow::Result<String> {
        let PendingBuild {
            build,
            base_id,
            tag,
        } = pending;
        let change = Change::Build {
            base: build.base.clone(),
            tag: Some(tag.clone()),
        };
        let step = Step::start(self.reporter, change.step().unwrap_or_default());
        let built = self
            .engine
            .build_image(tag, &build.dockerfile(base_id), |line| step.progress(line))
            .await
            .map_err(|error| StackError::build(build, tag, error));
        let id = step.close(built)?;
        self.report(&change);
        self.prune_older_builds(build, tag).await;
        Ok(id)
    }

    /// Remove what `before` made: the containers this run created, then its volume and
    /// network if this run created them (a volume made now holds no one's data yet).
    async fn undo(&self, before: &[Change]) {
        let engine = self.engine;
        let rollback = rollback::remove_created(engine, &self.plan.project, self.created).await;
        for name in &rollback.removed {
            self.removed("container", name);
        }
        for change in before {
            let removed = match change {
                Change::CreateVolume { name } => engine
                    .remove_volume(name)
                    .await
                    .is_ok()
                    .then_some(("volume", name)),
                Change::CreateNetwork { name } => match engine.network(name).await {
                    Ok(Some(network)) => engine
                        .remove_network(&network.id, name)
                        .await
                        .is_ok()
                        .then_some(("network", name)),
                    _ => None,
                },
                _ => None,
            };
            if let Some((kind, name)) = removed {
                self.removed(kind, name);
            }
        }
    }

    fn removed(&self, kind: &str, name: &str) {
        self.reporter.emit(Event::Object {
            kind: kind.into(),
            name: name.into(),
            action: Action::Removed,
            changes: vec!["made by this run before its build failed".into()],
        });
    }

    /// Keep the newest build per base repository: remove iamstack's other builds of it, by
    /// tag (a build that lost its tag to a parallel build of the same tag goes too). In use,
    /// or any engine error: left as it is; `up` does not fail for a cache's tidiness.
    async fn prune_older_builds(&self, build: &BuildPlan, tag: &str) {
        let repository = optimize::repository(&build.base);
        let Ok(images) = self
            .engine
            .images_labelled(names::LABEL_BASE_REPOSITORY, Some(repository))
            .await
        else {
            return;
        };
        for image in images {
            if !image.labels.contains_key(names::LABEL_BUILT) || image.tags.iter().any(|t| t == tag)
            {
                continue;
            }
            let _ = self.engine.remove_image(&image.id).await;
        }
    }
}
