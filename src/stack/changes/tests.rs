use std::collections::BTreeMap;

use super::*;
use crate::stack::plan::plan;

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
        tmpfs: Default::default(),
        binds: vec![],
        network: "my-iam-net".into(),
        aliases: vec![],
        labels,
    }
}

/// The one place tests build an inspected container.
fn container(name: &str, hash: &str, status: &str, image_id: &str) -> ContainerInfo {
    ContainerInfo {
        name: name.into(),
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

fn existing(hash: &str, status: &str, image_id: &str) -> ContainerInfo {
    container("iam-postgres", hash, status, image_id)
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

// ---- the whole list -------------------------------------------------------------------------

/// The stack with Keycloak's image as it is (`--no-optimize`); the optimized image's tests
/// are further down.
fn stack_plan() -> StackPlan {
    let mut config = crate::stack::plan::tests::config();
    config.optimize = false;
    plan(&config)
}

const WANTED: Wanted = Wanted {
    pull: PullPolicy::Missing,
    provision: true,
    verify: true,
};

/// Images present, nothing else.
fn nothing() -> Observed {
    Observed {
        postgres_image: Some("sha256:pg".into()),
        keycloak_image: Some("sha256:kc".into()),
        ..Observed::default()
    }
}

/// The whole stack as `up` leaves it.
fn ready(plan: &StackPlan) -> Observed {
    let running =
        |c: &ContainerPlan, image: &str| container(&c.name, c.config_hash(), "running", image);
    Observed {
        postgres: Some(running(&plan.postgres, "sha256:pg")),
        keycloak: Some(running(&plan.keycloak, "sha256:kc")),
        network: NetworkState::Ours,
        volume_exists: true,
        ..nothing()
    }
}

fn container_change(role: Role, action: ContainerAction) -> Change {
    Change::Container {
        role,
        name: format!("iam-{}", role.as_str()),
        action,
    }
}

#[test]
fn from_nothing_everything_is_created_in_order_then_waited_for() {
    let p = stack_plan();
    let list = changes(&p, &nothing(), &WANTED).unwrap();
    assert_eq!(
        list,
        vec![
            Change::KeepImage {
                image: "postgres:17.4".into()
            },
            Change::KeepImage {
                image: "keycloak/keycloak:26.2".into()
            },
            Change::CreateNetwork {
                name: "my-iam-net".into()
            },
            Change::CreateVolume {
                name: "iam-pgdata".into()
            },
            container_change(Role::Postgres, ContainerAction::Create),
            Change::Wait(Role::Postgres),
            container_change(Role::Keycloak, ContainerAction::Create),
            Change::Wait(Role::Keycloak),
            Change::Provision,
            Change::Verify,
        ]
    );
}

#[test]
fn a_ready_stack_changes_nothing_but_is_still_waited_for() {
    let p = stack_plan();
    let wanted = Wanted {
        provision: false,
        verify: false,
        ..WANTED
    };
    let list = changes(&p, &ready(&p), &wanted).unwrap();
    assert!(!list.iter().any(Change::changes_something), "{list:?}");
    assert!(list.contains(&container_change(Role::Keycloak, ContainerAction::Keep)));
    assert!(list.contains(&Change::Wait(Role::Postgres)));
    assert!(list.contains(&Change::Wait(Role::Keycloak)));
    assert!(!list.contains(&Change::Provision));
}

#[test]
fn a_stopped_postgres_is_started_and_its_running_keycloak_restarted() {
    let p = stack_plan();
    let mut observed = ready(&p);
    observed.postgres = Some(container(
        &p.postgres.name,
        p.postgres.config_hash(),
        "exited",
        "sha256:pg",
    ));
    let list = stack_changes(&p, &observed, &WANTED);
    assert!(list.contains(&container_change(Role::Postgres, ContainerAction::Start)));
    assert!(list.iter().any(|c| matches!(
        c,
        Change::Container { role: Role::Keycloak, action: ContainerAction::Restart(r), .. }
            if r.contains("database")
    )));
}

#[test]
fn pulls_follow_the_policy_and_never_on_a_missing_image_fails_before_anything() {
    let p = stack_plan();
    let mut observed = nothing();
    observed.keycloak_image = None;
    let images = image_changes(&p, &observed, PullPolicy::Missing).unwrap();
    assert_eq!(
        images[1],
        Change::Pull {
            role: Role::Keycloak,
            image: "keycloak/keycloak:26.2".into()
        }
    );
    let always = image_changes(&p, &nothing(), PullPolicy::Always).unwrap();
    assert!(always.iter().all(|c| matches!(c, Change::Pull { .. })));
    let err = changes(
        &p,
        &observed,
        &Wanted {
            pull: PullPolicy::Never,
            ..WANTED
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("image `keycloak/keycloak:26.2`"), "{msg}");
    assert!(msg.contains("--keycloak-image"), "{msg}");
    // Image problems have their row: exit 9.
    assert_eq!(crate::error::exit_code(&err.into()), 9);
}

#[test]
fn a_pulled_image_with_a_new_id_recreates_the_containers_made_from_the_old_one() {
    let p = stack_plan();
    let mut observed = ready(&p);
    observed.keycloak_image = Some("sha256:newer".into());
    let list = stack_changes(&p, &observed, &WANTED);
    assert!(list.iter().any(|c| matches!(
        c,
        Change::Container { role: Role::Keycloak, action: ContainerAction::Recreate(r), .. }
            if r.contains("was updated")
    )));
}

#[test]
fn containers_whose_network_was_removed_are_made_again_on_the_new_one() {
    let p = stack_plan();
    let mut observed = ready(&p);
    observed.network = NetworkState::Missing;
    let list = stack_changes(&p, &observed, &WANTED);
    assert!(matches!(list[0], Change::CreateNetwork { .. }));
    for role in [Role::Postgres, Role::Keycloak] {
        assert!(
            list.contains(&container_change(
                role,
                ContainerAction::Recreate("the stack's network was removed".into())
            )),
            "{list:?}"
        );
    }
    assert!(list.iter().any(|c| matches!(c, Change::KeepVolume { .. })));
}

#[test]
fn a_foreign_network_is_reused_and_said_so() {
    let p = stack_plan();
    let mut observed = nothing();
    observed.network = NetworkState::Foreign;
    let list = stack_changes(&p, &observed, &WANTED);
    let Some(Event::Object {
        action, changes, ..
    }) = list[0].object(Tense::Done)
    else {
        panic!("the network is reported as an object")
    };
    assert_eq!(action, Action::Unchanged);
    assert_eq!(
        changes,
        vec!["not created by iamstack: reused, never removed"]
    );
}

/// The dry run and the real run report each change through the same function: the same
/// object with the same action, only the tense of the details differs; steps have names.
#[test]
fn the_dry_run_reports_each_change_as_the_real_run_does() {
    let p = stack_plan();
    let mut partial = ready(&p);
    partial.postgres = Some(container(&p.postgres.name, "old", "running", "sha256:pg"));
    partial.keycloak_image = None;
    for observed in [nothing(), ready(&p), partial] {
        let list = changes(&p, &observed, &WANTED).unwrap();
        for change in &list {
            match (change.object(Tense::DryRun), change.object(Tense::Done)) {
                (
                    Some(Event::Object {
                        kind,
                        name,
                        action,
                        changes: planned,
                    }),
                    Some(Event::Object {
                        kind: k,
                        name: n,
                        action: a,
                        changes: done,
                    }),
                ) => {
                    assert_eq!((kind, name, action), (k, n, a), "{change:?}");
                    if !done.is_empty() {
                        assert_eq!(planned.len(), done.len(), "{change:?}");
                    }
                    assert!(
                        planned.iter().all(|d| d.starts_with("would ")),
                        "{planned:?}"
                    );
                }
                (None, None) => assert!(change.step().is_some(), "{change:?}"),
                other => panic!("{change:?} is reported differently: {other:?}"),
            }
        }
    }
}

// ---- the optimized Keycloak image -----------------------------------------------------------

fn optimized_plan() -> StackPlan {
    plan(&crate::stack::plan::tests::config())
}

#[test]
fn without_the_build_the_optimized_image_is_built_after_the_images_and_keycloak_runs_it() {
    let p = optimized_plan();
    let tag = p.keycloak_build.as_ref().unwrap().tag("sha256:kc");
    let list = changes(&p, &nothing(), &WANTED).unwrap();
    assert_eq!(
        list[..3],
        [
            Change::KeepImage {
                image: "postgres:17.4".into()
            },
            Change::KeepImage {
                image: "keycloak/keycloak:26.2".into()
            },
            Change::Build {
                base: "keycloak/keycloak:26.2".into(),
                tag: Some(tag.clone()),
            },
        ]
    );
    let (effective, _) = optimized_view(&p, &nothing());
    assert_eq!(effective.keycloak.image, tag);
    assert!(list.contains(&container_change(Role::Keycloak, ContainerAction::Create)));
}

#[test]
fn a_present_build_is_kept_and_a_ready_optimized_stack_changes_nothing() {
    let p = optimized_plan();
    let tag = p.keycloak_build.as_ref().unwrap().tag("sha256:kc");
    let mut observed = nothing();
    observed.built_image = Some("sha256:built".into());
    let (effective, _) = optimized_view(&p, &observed);
    observed.postgres = Some(container(
        &p.postgres.name,
        p.postgres.config_hash(),
        "running",
        "sha256:pg",
    ));
    observed.keycloak = Some(container(
        &effective.keycloak.name,
        effective.keycloak.config_hash(),
        "running",
        "sha256:built",
    ));
    observed.network = NetworkState::Ours;
    observed.volume_exists = true;
    let wanted = Wanted {
        provision: false,
        verify: false,
        ..WANTED
    };
    let list = changes(&p, &observed, &wanted).unwrap();
    assert!(list.contains(&Change::KeepBuilt { image: tag }), "{list:?}");
    assert!(!list.iter().any(Change::changes_something), "{list:?}");

    // A rebuilt image (same tag, new ID) recreates the Keycloak made from the old one.
    observed.built_image = Some("sha256:rebuilt".into());
    let list = changes(&p, &observed, &wanted).unwrap();
    assert!(list.contains(&container_change(
        Role::Keycloak,
        ContainerAction::Recreate(format!("image `{}` was updated", effective.keycloak.image))
    )));
}

#[test]
fn a_keycloak_on_the_stock_image_is_recreated_on_the_optimized_one_and_back() {
    let optimized = optimized_plan();
    let stock = stack_plan();
    let mut observed = ready(&stock);
    observed.built_image = Some("sha256:built".into());
    let recreate = container_change(
        Role::Keycloak,
        ContainerAction::Recreate("configuration changed".into()),
    );
    assert!(changes(&optimized, &observed, &WANTED)
        .unwrap()
        .contains(&recreate));
    let (effective, _) = optimized_view(&optimized, &observed);
    observed.keycloak = Some(container(
        &effective.keycloak.name,
        effective.keycloak.config_hash(),
        "running",
        "sha256:built",
    ));
    assert!(changes(&stock, &observed, &WANTED)
        .unwrap()
        .contains(&recreate));
}

#[test]
fn before_its_base_is_pulled_the_build_has_no_tag_yet_and_the_dry_run_says_so() {
    let p = optimized_plan();
    let mut observed = nothing();
    observed.keycloak_image = None;
    let list = changes(&p, &observed, &WANTED).unwrap();
    let build = list
        .iter()
        .find(|c| matches!(c, Change::Build { .. }))
        .expect("a build");
    assert_eq!(
        build,
        &Change::Build {
            base: "keycloak/keycloak:26.2".into(),
            tag: None
        }
    );
    let Some(Event::Object { name, changes, .. }) = build.object(Tense::DryRun) else {
        panic!("an object event");
    };
    assert_eq!(name, "iamstack-local/keycloak:…");
    assert_eq!(
        changes,
        ["would build from keycloak/keycloak:26.2 with kc.sh build"]
    );
}
