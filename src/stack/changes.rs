//! The decisions of `up`, once: [`changes`] turns the plan and what was observed into the
//! ordered list of [`Change`]s. `up` executes that list; `up --dry-run` prints it. Pure.
//!
//! The list names every object of the stack, also those left as they are (`Keep*`, reported
//! as `unchanged`), so both runs list the whole stack.

use crate::cli::PullPolicy;
use crate::docker::ContainerInfo;
use crate::names::{self, Role};
use crate::report::{Action, Event};
use crate::stack::error::StackError;
use crate::stack::optimize::REPOSITORY;
use crate::stack::plan::{ContainerPlan, DataPlan, StackPlan};

/// What exists now under the plan's names (ownership already checked).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub postgres: Option<ContainerInfo>,
    pub keycloak: Option<ContainerInfo>,
    pub network: NetworkState,
    pub volume_exists: bool,
    /// The local image IDs of the plan's Postgres and Keycloak images (`None`: not present).
    pub postgres_image: Option<String>,
    pub keycloak_image: Option<String>,
    /// The local ID of the optimized Keycloak image for the present base (`None`: not built
    /// yet, the base is missing, or no build is planned).
    pub built_image: Option<String>,
}

impl Observed {
    pub fn container(&self, role: Role) -> Option<&ContainerInfo> {
        match role {
            Role::Postgres => self.postgres.as_ref(),
            Role::Keycloak => self.keycloak.as_ref(),
            Role::Network | Role::Data => None,
        }
    }

    pub fn image_id(&self, role: Role) -> Option<&str> {
        match role {
            Role::Postgres => self.postgres_image.as_deref(),
            Role::Keycloak => self.keycloak_image.as_deref(),
            Role::Network | Role::Data => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkState {
    #[default]
    Missing,
    /// Created by iamstack for this project.
    Ours,
    /// Of our name but not created by iamstack (e.g. the reference's `my-iam-net` made by hand):
    /// reused, never removed.
    Foreign,
}

/// What `up` asks for beyond the containers.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub pull: PullPolicy,
    /// Provision the realm files once Keycloak is ready.
    pub provision: bool,
    /// `--verify` after provisioning.
    pub verify: bool,
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

/// One entry of `up`'s list, in execution order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Pull {
        role: Role,
        image: String,
    },
    KeepImage {
        image: String,
    },
    /// Build the optimized Keycloak image from `base`; `tag` is `None` while the base's ID is
    /// not known (a dry run before its pull).
    Build {
        base: String,
        tag: Option<String>,
    },
    /// The optimized Keycloak image is built already: used as it is.
    KeepBuilt {
        image: String,
    },
    CreateNetwork {
        name: String,
    },
    KeepNetwork {
        name: String,
        foreign: bool,
    },
    CreateVolume {
        name: String,
    },
    KeepVolume {
        name: String,
    },
    Container {
        role: Role,
        name: String,
        action: ContainerAction,
    },
    /// Wait until the service is ready (Postgres: a real login; Keycloak: `/health/ready`).
    Wait(Role),
    Provision,
    Verify,
}

/// Whether a change is reported as done or as what would be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tense {
    Done,
    DryRun,
}

/// The whole list: images first, then the optimized image's build, then [`stack_changes`] on
/// the plan with Keycloak on that image.
pub fn changes(
    plan: &StackPlan,
    observed: &Observed,
    wanted: &Wanted,
) -> Result<Vec<Change>, StackError> {
    let mut list = image_changes(plan, observed, wanted.pull)?;
    list.extend(build_change(plan, observed));
    let (plan, observed) = optimized_view(plan, observed);
    list.extend(stack_changes(&plan, &observed, wanted));
    Ok(list)
}

/// Build the optimized image, or keep the one built for this base and these options; `None`
/// without a build (`--no-optimize`).
pub fn build_change(plan: &StackPlan, observed: &Observed) -> Option<Change> {
    let build = plan.keycloak_build.as_ref()?;
    let tag = observed.keycloak_image.as_deref().map(|id| build.tag(id));
    Some(match (tag, &observed.built_image) {
        (Some(image), Some(_)) => Change::KeepBuilt { image },
        (tag, _) => Change::Build {
            base: build.base.clone(),
            tag,
        },
    })
}

/// The plan and the observation containers are decided on: with a build, Keycloak runs the
/// optimized image (its tag settled by the base's ID) and "its image" is that build.
pub fn optimized_view(plan: &StackPlan, observed: &Observed) -> (StackPlan, Observed) {
    let effective = plan.with_optimized(observed.keycloak_image.as_deref());
    let mut seen = observed.clone();
    if plan.keycloak_build.is_some() {
        seen.keycloak_image = observed.built_image.clone();
    }
    (effective, seen)
}

/// Per image: pull it, or use it as it is. `--pull never` on a missing image fails here, before
/// anything is created.
pub fn image_changes(
    plan: &StackPlan,
    observed: &Observed,
    policy: PullPolicy,
) -> Result<Vec<Change>, StackError> {
    plan.containers()
        .into_iter()
        .map(|c| {
            let image = c.image.clone();
            match (policy, observed.image_id(c.role)) {
                (PullPolicy::Always, _) | (PullPolicy::Missing, None) => Ok(Change::Pull {
                    role: c.role,
                    image,
                }),
                (PullPolicy::Never, None) => Err(StackError::ImageMissing {
                    image,
                    flag: image_flag(c.role),
                }),
                (PullPolicy::Never | PullPolicy::Missing, Some(_)) => {
                    Ok(Change::KeepImage { image })
                }
            }
        })
        .collect()
}

/// Network, data, Postgres and its wait, Keycloak and its wait, then provision and verify.
/// `up` works this out again after its pulls with the pulled images' IDs: a pull that brings
/// a new image recreates the containers made from the old one (the one thing a dry run cannot
/// know).
pub fn stack_changes(plan: &StackPlan, observed: &Observed, wanted: &Wanted) -> Vec<Change> {
    let mut list = vec![match observed.network {
        NetworkState::Missing => Change::CreateNetwork {
            name: plan.network.name.clone(),
        },
        NetworkState::Ours | NetworkState::Foreign => Change::KeepNetwork {
            name: plan.network.name.clone(),
            foreign: observed.network == NetworkState::Foreign,
        },
    }];
    if let DataPlan::Volume { name, .. } = &plan.data {
        let name = name.clone();
        list.push(if observed.volume_exists {
            Change::KeepVolume { name }
        } else {
            Change::CreateVolume { name }
        });
    }
    let network_gone = observed.network == NetworkState::Missing;
    let postgres = follow_network(
        decide(
            observed.postgres.as_ref(),
            &plan.postgres,
            observed.image_id(Role::Postgres),
        ),
        network_gone,
    );
    let keycloak = follow_database(
        follow_network(
            decide(
                observed.keycloak.as_ref(),
                &plan.keycloak,
                observed.image_id(Role::Keycloak),
            ),
            network_gone,
        ),
        &postgres,
    );
    for (c, action) in [(&plan.postgres, postgres), (&plan.keycloak, keycloak)] {
        list.push(Change::Container {
            role: c.role,
            name: c.name.clone(),
            action,
        });
        list.push(Change::Wait(c.role));
    }
    if wanted.provision {
        list.push(Change::Provision);
    }
    if wanted.verify {
        list.push(Change::Verify);
    }
    list
}

pub fn image_flag(role: Role) -> &'static str {
    match role {
        Role::Postgres => "--postgres-image",
        Role::Keycloak => "--keycloak-image",
        Role::Network | Role::Data => "",
    }
}

/// Pure: a container whose network is gone (removed under a stopped stack) cannot start: the
/// engine keeps the old network's id in it. It is made again on the new network; the data
/// volume is not touched.
pub fn follow_network(action: ContainerAction, network_gone: bool) -> ContainerAction {
    match action {
        ContainerAction::Create => ContainerAction::Create,
        _ if network_gone => ContainerAction::Recreate("the stack's network was removed".into()),
        other => other,
    }
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

impl Change {
    /// Whether executing it changes the stack (anything but a `Keep*`, a wait or a check).
    pub fn changes_something(&self) -> bool {
        match self {
            Change::Pull { .. }
            | Change::Build { .. }
            | Change::CreateNetwork { .. }
            | Change::CreateVolume { .. }
            | Change::Provision => true,
            Change::Container { action, .. } => *action != ContainerAction::Keep,
            Change::KeepImage { .. }
            | Change::KeepBuilt { .. }
            | Change::KeepNetwork { .. }
            | Change::KeepVolume { .. }
            | Change::Wait(_)
            | Change::Verify => false,
        }
    }

    /// The name of the step that runs it, for changes that run as a step (waits, provisioning,
    /// verify, pulls); `None` for object changes, which are reported by [`Change::object`].
    pub fn step(&self) -> Option<String> {
        match self {
            Change::Pull { image, .. } => Some(format!("pull {image}")),
            Change::Build { base, tag } => Some(match tag {
                Some(tag) => format!("build {tag}"),
                None => format!("build an optimized image of {base}"),
            }),
            Change::Wait(role) => Some(format!("wait {}", role.as_str())),
            Change::Provision => Some("provision".into()),
            Change::Verify => Some("verify".into()),
            Change::KeepImage { .. }
            | Change::KeepBuilt { .. }
            | Change::CreateNetwork { .. }
            | Change::KeepNetwork { .. }
            | Change::CreateVolume { .. }
            | Change::KeepVolume { .. }
            | Change::Container { .. } => None,
        }
    }

    /// The `object` event reporting this change, done or planned; `None` for a change that runs
    /// as a step only. Both runs report through here, so they say the same.
    pub fn object(&self, tense: Tense) -> Option<Event> {
        let would = |done: &str, planned: &str| match tense {
            Tense::Done => done.to_string(),
            Tense::DryRun => planned.to_string(),
        };
        let (kind, name, action, changes) = match self {
            Change::Pull { image, .. } => (
                "image",
                image,
                Action::Updated,
                vec![would("pulled", "would pull")],
            ),
            Change::KeepImage { image } | Change::KeepBuilt { image } => {
                ("image", image, Action::Unchanged, vec![])
            }
            Change::Build { base, tag } => {
                let name = tag.clone().unwrap_or_else(|| format!("{REPOSITORY}:…"));
                return Some(Event::Object {
                    kind: "image".into(),
                    name,
                    action: Action::Created,
                    changes: vec![format!(
                        "{} from {base} with kc.sh build",
                        would("built", "would build")
                    )],
                });
            }
            Change::CreateNetwork { name } => ("network", name, Action::Created, created(tense)),
            Change::KeepNetwork { name, foreign } => (
                "network",
                name,
                Action::Unchanged,
                foreign
                    .then(|| "not created by iamstack: reused, never removed".to_string())
                    .into_iter()
                    .collect(),
            ),
            Change::CreateVolume { name } => ("volume", name, Action::Created, created(tense)),
            Change::KeepVolume { name } => ("volume", name, Action::Unchanged, vec![]),
            Change::Container { name, action, .. } => {
                let (action, changes) = match action {
                    ContainerAction::Keep => (Action::Unchanged, vec![]),
                    ContainerAction::Create => (Action::Created, created(tense)),
                    ContainerAction::Recreate(r) => (
                        Action::Updated,
                        vec![format!("{}: {r}", would("recreated", "would recreate"))],
                    ),
                    ContainerAction::Start => {
                        (Action::Updated, vec![would("started", "would start")])
                    }
                    ContainerAction::Unpause => {
                        (Action::Updated, vec![would("unpaused", "would unpause")])
                    }
                    ContainerAction::Restart(r) => (
                        Action::Updated,
                        vec![format!("{}: {r}", would("restarted", "would restart"))],
                    ),
                };
                ("container", name, action, changes)
            }
            Change::Wait(_) | Change::Provision | Change::Verify => return None,
        };
        Some(Event::Object {
            kind: kind.into(),
            name: name.clone(),
            action,
            changes,
        })
    }
}

/// A created object says nothing more when done; in a dry run it says "would create".
fn created(tense: Tense) -> Vec<String> {
    match tense {
        Tense::Done => vec![],
        Tense::DryRun => vec!["would create".into()],
    }
}

#[cfg(test)]
mod tests;
