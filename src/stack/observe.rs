//! Look before touching: what exists under the plan's names, and whether it is ours. An object
//! of our name without our label is someone else's: `up` stops before creating anything.

use futures_util::future::try_join4;

use crate::docker::Engine;
use crate::names;
use crate::stack::changes::{NetworkState, Observed};
use crate::stack::error::StackError;
use crate::stack::plan::{DataPlan, StackPlan};

pub async fn observe(engine: &Engine, plan: &StackPlan) -> anyhow::Result<Observed> {
    let (postgres, keycloak, postgres_image, keycloak_image) = try_join4(
        engine.container(&plan.postgres.name),
        engine.container(&plan.keycloak.name),
        engine.image_id(&plan.postgres.image),
        engine.image_id(&plan.keycloak.image),
    )
    .await?;
    let not_ours = |object: &'static str, name: &str| StackError::NotOurs {
        object,
        name: name.to_string(),
        project: plan.project.clone(),
    };
    for c in [&postgres, &keycloak].into_iter().flatten() {
        if c.label(names::LABEL_STACK) != Some(plan.project.as_str()) {
            return Err(not_ours("container", &c.name).into());
        }
    }
    let network = match engine.network(&plan.network.name).await? {
        None => NetworkState::Missing,
        Some(n) if n.labels.get(names::LABEL_STACK) == Some(&plan.project) => NetworkState::Ours,
        Some(_) => NetworkState::Foreign,
    };
    let volume_exists = match &plan.data {
        DataPlan::Volume { name, .. } => match engine.volume(name).await? {
            Some(v) if v.labels.get(names::LABEL_STACK) != Some(&plan.project) => {
                return Err(not_ours("volume", name).into())
            }
            Some(_) => true,
            None => false,
        },
        DataPlan::HostDir(_) | DataPlan::Memory => false,
    };
    let built_image = built_image(engine, plan, keycloak_image.as_deref()).await?;
    Ok(Observed {
        postgres,
        keycloak,
        network,
        volume_exists,
        postgres_image,
        keycloak_image,
        built_image,
    })
}

/// The local ID of the optimized Keycloak image for the base image with `base_id`, when it is
/// built. Its tag needs the base's ID: nothing to look up while the base is missing.
pub async fn built_image(
    engine: &Engine,
    plan: &StackPlan,
    base_id: Option<&str>,
) -> Result<Option<String>, crate::docker::EngineError> {
    match (&plan.keycloak_build, base_id) {
        (Some(build), Some(id)) => engine.image_id(&build.tag(id)).await,
        _ => Ok(None),
    }
}
