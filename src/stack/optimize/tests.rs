use super::*;
use crate::stack::plan::{plan, tests::config};

fn build() -> BuildPlan {
    BuildPlan::for_container(&plan(&config()).keycloak)
}

#[test]
fn the_build_takes_the_build_time_options_iamstack_sets() {
    assert_eq!(
        build().arguments(),
        ["--db=postgres", "--health-enabled=true"]
    );
    assert_eq!(build().base, "keycloak/keycloak:26.2");
}

#[test]
fn build_time_options_given_with_keycloak_env_join_the_build_and_run_time_ones_do_not() {
    let mut c = config();
    c.keycloak_env = vec![
        ("KC_FEATURES".into(), "token-exchange".into()),
        ("KC_LOG_LEVEL".into(), "debug".into()),
        (
            "KC_SPI_EVENTS_LISTENER__JBOSS_LOGGING__ENABLED".into(),
            "false".into(),
        ),
        ("KC_HEALTH_ENABLED".into(), "false".into()),
    ];
    let b = BuildPlan::for_container(&plan(&c).keycloak);
    assert_eq!(
        b.arguments(),
        [
            "--db=postgres",
            "--features=token-exchange",
            "--health-enabled=false",
            "--spi-events-listener--jboss-logging--enabled=false",
        ]
    );
}

#[test]
fn the_tag_names_the_base_tag_and_changes_with_the_base_id_and_the_options() {
    let b = build();
    let tag = b.tag("sha256:aaa");
    let (name, suffix) = tag.split_once(':').unwrap();
    assert_eq!(name, "iamstack-local/keycloak");
    let (base_tag, hash) = suffix.rsplit_once('-').unwrap();
    assert_eq!(base_tag, "26.2");
    assert_eq!(hash.len(), 12);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    assert_eq!(b.tag("sha256:aaa"), tag, "same inputs, same tag");
    assert_ne!(b.tag("sha256:bbb"), tag, "a new base image");
    let mut other = b.clone();
    other.options.push(("features".into(), "preview".into()));
    assert_ne!(other.tag("sha256:aaa"), tag, "another option");
}

#[test]
fn base_references_become_valid_tags() {
    let tag_of = |base: &str| {
        let b = BuildPlan {
            base: base.into(),
            options: vec![],
        };
        let tag = b.tag("sha256:x");
        tag["iamstack-local/keycloak:".len()..]
            .rsplit_once('-')
            .unwrap()
            .0
            .to_string()
    };
    assert_eq!(tag_of("quay.io/keycloak/keycloak:26.2.5"), "26.2.5");
    assert_eq!(tag_of("keycloak/keycloak"), "latest");
    assert_eq!(tag_of("localhost:5000/keycloak"), "latest");
    assert_eq!(tag_of("localhost:5000/keycloak:nightly"), "nightly");
    assert_eq!(tag_of("keycloak/keycloak@sha256:abc"), "latest");
    assert_eq!(
        repository("localhost:5000/kc:1@sha256:abc"),
        "localhost:5000/kc"
    );
    assert_eq!(repository("keycloak/keycloak:26.2"), "keycloak/keycloak");
}

#[test]
fn the_dockerfile_runs_kc_sh_build_in_exec_form_on_the_base_and_labels_the_result() {
    assert_eq!(
        build().dockerfile("sha256:aaa"),
        "FROM keycloak/keycloak:26.2\n\
         RUN [\"/opt/keycloak/bin/kc.sh\",\"build\",\"--db=postgres\",\"--health-enabled=true\"]\n\
         LABEL \"dev.iamstack.base-image\"=\"keycloak/keycloak:26.2\" \
         \"dev.iamstack.base-image-id\"=\"sha256:aaa\" \
         \"dev.iamstack.base-repository\"=\"keycloak/keycloak\" \
         \"dev.iamstack.build-options\"=\"--db=postgres --health-enabled=true\" \
         \"dev.iamstack.built\"=\"keycloak\"\n"
    );
}

#[test]
fn the_labels_say_what_the_image_was_built_from() {
    let labels = build().labels("sha256:aaa");
    assert_eq!(labels[names::LABEL_BUILT], "keycloak");
    assert_eq!(labels[names::LABEL_BASE_IMAGE], "keycloak/keycloak:26.2");
    assert_eq!(labels[names::LABEL_BASE_IMAGE_ID], "sha256:aaa");
    assert_eq!(labels[names::LABEL_BASE_REPOSITORY], "keycloak/keycloak");
    assert_eq!(
        labels[names::LABEL_BUILD_OPTIONS],
        "--db=postgres --health-enabled=true"
    );
    assert!(
        !labels.contains_key(names::LABEL_STACK),
        "a build is shared by every project, so it belongs to none"
    );
}

#[test]
fn the_optimized_container_starts_optimized_on_the_tag_with_its_own_hash() {
    let p = plan(&config());
    let tag = build().tag("sha256:aaa");
    let optimized = p.with_optimized(Some("sha256:aaa")).keycloak;
    assert_eq!(optimized.image, tag);
    assert_eq!(optimized.cmd, ["start", "--optimized"]);
    assert_eq!(optimized.env, p.keycloak.env, "the same environment");
    assert_ne!(optimized.config_hash(), p.keycloak.config_hash());
    assert_eq!(
        p.with_optimized(None).keycloak,
        p.keycloak,
        "without the base's ID the plan stays as it is"
    );
    let mut c = config();
    c.optimize = false;
    let unoptimized = plan(&c);
    assert_eq!(unoptimized.keycloak_build, None);
    assert_eq!(
        unoptimized.with_optimized(Some("sha256:aaa")).keycloak.cmd,
        ["start"]
    );
}
