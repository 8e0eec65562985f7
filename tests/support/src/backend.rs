//! Which images the real-engine tests run on: the official ones or the offline stand-ins.

use std::time::Duration;

use anyhow::{bail, Context};
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures_util::TryStreamExt;

use crate::engine::connect;
use crate::registry::{self, RegistryCheck};
use crate::slot::ImageWork;
use crate::standin;
use crate::{OFFICIAL_KEYCLOAK_IMAGE, OFFICIAL_POSTGRES_IMAGE};

/// The images a real-engine test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres:17.4` and `keycloak/keycloak:26.2`.
    Official,
    /// `iamstack-test/postgres:17` and `iamstack-test/keycloak:26.2-double`, built offline.
    Standin,
}

/// What [`images`] chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestImages {
    pub backend: Backend,
    /// Pass as `--postgres-image`.
    pub postgres: String,
    /// Pass as `--keycloak-image`.
    pub keycloak: String,
}

/// How long a pull may take before we give up. The registry check says a registry is there,
/// not that it is fast; 10 minutes covers Keycloak's 450 MB on a slow line.
const PULL_BUDGET: Duration = Duration::from_secs(600);

/// `IAMSTACK_TEST_BACKEND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Auto,
    Official,
    Standin,
}

/// `IAMSTACK_TEST_PULL`: whether missing official images may be pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PullPolicy {
    /// `0`/`false`: never.
    Never,
    /// Unset or empty (the default): when the registry answers the quick check.
    IfRegistryAnswers,
    /// `1`/`true`: always, without the check (for an engine that reaches the registry through a
    /// proxy or mirror of its own, which this process cannot see).
    Always,
}

impl Wanted {
    fn name(self) -> &'static str {
        match self {
            Wanted::Auto => "auto",
            Wanted::Official => "official",
            Wanted::Standin => "standin",
        }
    }
}

fn wanted() -> anyhow::Result<Wanted> {
    match std::env::var("IAMSTACK_TEST_BACKEND")
        .as_deref()
        .map(str::trim)
    {
        Err(_) | Ok("") | Ok("auto") => Ok(Wanted::Auto),
        Ok("official") => Ok(Wanted::Official),
        Ok("standin") => Ok(Wanted::Standin),
        Ok(other) => bail!("IAMSTACK_TEST_BACKEND=`{other}` is not one of auto, official, standin"),
    }
}

fn pull_policy() -> anyhow::Result<PullPolicy> {
    match std::env::var("IAMSTACK_TEST_PULL")
        .as_deref()
        .map(str::trim)
    {
        Err(_) | Ok("") => Ok(PullPolicy::IfRegistryAnswers),
        Ok("1" | "true") => Ok(PullPolicy::Always),
        Ok("0" | "false") => Ok(PullPolicy::Never),
        Ok(other) => bail!("IAMSTACK_TEST_PULL=`{other}` is not one of 1, true, 0, false"),
    }
}

/// What is known about this machine when the backend is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Facts {
    /// Both official images are present locally.
    official_present: bool,
    /// The registry answered the quick check (only asked when [`needs_registry_check`] says so).
    registry_answers: bool,
    /// The stand-ins exist already, or can be built here (`mmdebstrap` on PATH).
    standins_buildable: bool,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Run the official images, present locally.
    Official,
    /// Pull the missing official images, then run them.
    PullOfficial,
    /// Run the stand-ins, building them if needed.
    Standins,
    /// None of the three ways to get images works here.
    NoImages,
}

/// The choice of images, from the settings and the facts (a pure function: see its test).
fn plan(wanted: Wanted, pull: PullPolicy, facts: Facts) -> Plan {
    let may_pull = match pull {
        PullPolicy::Never => false,
        PullPolicy::IfRegistryAnswers => facts.registry_answers,
        PullPolicy::Always => true,
    };
    match wanted {
        // Asked for by name: the build itself says what is missing.
        Wanted::Standin => Plan::Standins,
        _ if facts.official_present => Plan::Official,
        _ if may_pull => Plan::PullOfficial,
        Wanted::Auto if facts.standins_buildable => Plan::Standins,
        Wanted::Auto | Wanted::Official => Plan::NoImages,
    }
}

/// Whether [`plan`] needs to know if the registry answers: only when the official images are
/// missing, may be used, and the pull depends on the check. A machine with the official images
/// never waits for a registry.
fn needs_registry_check(wanted: Wanted, pull: PullPolicy, official_present: bool) -> bool {
    wanted != Wanted::Standin && !official_present && pull == PullPolicy::IfRegistryAnswers
}

/// The images real-engine tests run on, chosen by `IAMSTACK_TEST_BACKEND`:
/// - `auto` (default): the official images when BOTH are present locally; else pulled, when a
///   quick check finds that the registry answers (`IAMSTACK_TEST_PULL`: `0` never pulls, `1`
///   pulls without the check); else the stand-ins, where they exist or can be built
///   ([`standin::ensure_all`]); else an error naming the three ways to get images.
/// - `official`: the official images, pulled as in `auto` when missing; else an error.
/// - `standin`: the stand-ins, even when the official images are present.
///
/// Prints (stderr) which backend ran, why, and the image names. Connects to the engine itself; a
/// test that already has a client can call [`images_with`].
pub async fn images() -> anyhow::Result<TestImages> {
    let docker = connect().await?;
    images_with(&docker).await
}

/// As [`images`], with the test's client.
pub async fn images_with(docker: &Docker) -> anyhow::Result<TestImages> {
    let wanted = wanted()?;
    let pull = pull_policy()?;
    let missing =
        missing_images(docker, &[OFFICIAL_POSTGRES_IMAGE, OFFICIAL_KEYCLOAK_IMAGE]).await?;
    let official_present = missing.is_empty();
    let registry = if needs_registry_check(wanted, pull, official_present) {
        Some(docker_hub_check().await)
    } else {
        None
    };
    let facts = Facts {
        official_present,
        registry_answers: registry.as_ref().is_some_and(RegistryCheck::answers),
        standins_buildable: wanted == Wanted::Standin || standins_buildable(docker).await,
    };
    let (chosen, why) = match plan(wanted, pull, facts) {
        Plan::Official => (official(), "official images present".to_string()),
        Plan::PullOfficial => {
            let why = match &registry {
                Some(check) => format!("official images pulled: {check}"),
                None => "official images pulled (IAMSTACK_TEST_PULL=1)".to_string(),
            };
            match pull_all(docker, &missing).await {
                Ok(()) => (official(), why),
                Err(e) if wanted == Wanted::Auto && standins_buildable(docker).await => {
                    let why = format!("pulling the official images failed ({e:#})");
                    (standins(docker).await?, why)
                }
                Err(e) => return Err(e),
            }
        }
        Plan::Standins if wanted == Wanted::Standin => (
            standins(docker).await?,
            "as IAMSTACK_TEST_BACKEND asks".to_string(),
        ),
        Plan::Standins => {
            let why = format!(
                "{} not present and {}",
                missing.join(" and "),
                no_pull_reason(pull, registry.as_ref())
            );
            (standins(docker).await?, why)
        }
        Plan::NoImages => bail!(no_images_message(wanted, &missing, pull, registry.as_ref())),
    };
    eprintln!(
        "iamstack test backend: {} ({}: {why}): postgres image `{}`, keycloak image `{}`",
        match chosen.backend {
            Backend::Official => "official",
            Backend::Standin => "standin (offline test doubles, not the official images)",
        },
        wanted.name(),
        chosen.postgres,
        chosen.keycloak
    );
    Ok(chosen)
}

fn official() -> TestImages {
    TestImages {
        backend: Backend::Official,
        postgres: OFFICIAL_POSTGRES_IMAGE.to_string(),
        keycloak: OFFICIAL_KEYCLOAK_IMAGE.to_string(),
    }
}

/// Why no pull was tried.
fn no_pull_reason(pull: PullPolicy, registry: Option<&RegistryCheck>) -> String {
    match (pull, registry) {
        (PullPolicy::Never, _) => "pulls are off (IAMSTACK_TEST_PULL=0)".to_string(),
        (_, Some(check)) => check.to_string(),
        (_, None) => "no pull was tried".to_string(),
    }
}

/// The failure when no images can be had: what is missing, and the three ways to get images.
fn no_images_message(
    wanted: Wanted,
    missing: &[String],
    pull: PullPolicy,
    registry: Option<&RegistryCheck>,
) -> String {
    let standins = match wanted {
        Wanted::Auto => {
            "; and the offline stand-ins are neither built nor buildable here (no `mmdebstrap` on \
             PATH)"
        }
        _ => "",
    };
    format!(
        "no images for the real-engine tests (IAMSTACK_TEST_BACKEND={}): {} not present locally; \
         {}{standins}. Get images one of three ways: (1) put the official images on this machine \
         (`docker pull {OFFICIAL_POSTGRES_IMAGE}` and `docker pull {OFFICIAL_KEYCLOAK_IMAGE}`, or \
         `docker load`); (2) run where the registry ({}) answers, and the tests pull them; (3) \
         install mmdebstrap (Debian, Ubuntu: `apt-get install mmdebstrap`) and the tests build \
         the offline stand-ins (IAMSTACK_TEST_BACKEND=auto or standin). See README.md, section \
         Tests",
        wanted.name(),
        missing.join(" and "),
        no_pull_reason(pull, registry),
        registry::DOCKER_HUB,
    )
}

/// The registry check against Docker Hub, made once per test process: every test asks, and
/// where nothing answers, each would wait out the timeout again.
async fn docker_hub_check() -> RegistryCheck {
    static CHECKED: tokio::sync::OnceCell<RegistryCheck> = tokio::sync::OnceCell::const_new();
    CHECKED
        .get_or_init(|| {
            registry::check_registry(
                registry::DOCKER_HUB,
                registry::CONNECT_TIMEOUT,
                registry::TOTAL_TIMEOUT,
            )
        })
        .await
        .clone()
}

/// The stand-ins can be had without a registry: both exist already (built earlier), both bases
/// exist (only our files go on top), or `mmdebstrap` can make the bases.
async fn standins_buildable(docker: &Docker) -> bool {
    if on_path("mmdebstrap") {
        return true;
    }
    let current = |image: String, hash: String| async move {
        standin::image_hash(docker, &image).await.ok().flatten() == Some(hash)
    };
    let mut bases = true;
    for rootfs in [standin::ROOTFS_POSTGRES, standin::ROOTFS_MINBASE] {
        bases &= current(rootfs.image(), rootfs.hash()).await;
    }
    if bases {
        return true;
    }
    let Ok(keycloak) = standin::keycloak_spec(&standin::Layout::discover()) else {
        return false;
    };
    let mut built = true;
    for spec in [standin::postgres_spec(), keycloak] {
        built &= current(spec.exact_image(), spec.hash()).await;
    }
    built
}

/// Whether an executable file `name` is in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name)).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    })
}

async fn standins(docker: &Docker) -> anyhow::Result<TestImages> {
    let built = standin::ensure_all(docker).await?;
    Ok(TestImages {
        backend: Backend::Standin,
        postgres: built.postgres,
        keycloak: built.keycloak,
    })
}

async fn missing_images(docker: &Docker, names: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for name in names {
        match docker.inspect_image(name).await {
            Ok(_) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => missing.push((*name).to_string()),
            Err(e) => return Err(e).with_context(|| format!("cannot inspect image `{name}`")),
        }
    }
    Ok(missing)
}

async fn pull_all(docker: &Docker, names: &[String]) -> anyhow::Result<()> {
    // Not the test's time: a pull does not count against its limit.
    let _pulling = ImageWork::start();
    eprintln!("pulling {}", names.join(" and "));
    let pulls = names.iter().map(|name| async move {
        let pull = docker
            .create_image(
                Some(
                    CreateImageOptionsBuilder::default()
                        .from_image(name)
                        .build(),
                ),
                None,
                None,
            )
            .try_for_each(|_| async { Ok(()) });
        match tokio::time::timeout(PULL_BUDGET, pull).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!("cannot pull `{name}`"))),
            Err(_) => bail!(
                "pulling `{name}` took more than {} s",
                PULL_BUDGET.as_secs()
            ),
        }
    });
    futures_util::future::try_join_all(pulls).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANTED: [Wanted; 3] = [Wanted::Auto, Wanted::Official, Wanted::Standin];
    const PULLS: [PullPolicy; 3] = [
        PullPolicy::Never,
        PullPolicy::IfRegistryAnswers,
        PullPolicy::Always,
    ];

    fn facts(official_present: bool, registry_answers: bool, standins_buildable: bool) -> Facts {
        Facts {
            official_present,
            registry_answers,
            standins_buildable,
        }
    }

    /// Every combination of (official present?, registry answers?, stand-ins buildable?) under
    /// the default settings (auto, pull when the registry answers).
    #[test]
    fn auto_prefers_present_then_pulled_official_images_then_standins() {
        use Plan::*;
        let table = [
            // (official present, registry answers, stand-ins buildable) -> plan
            ((true, true, true), Official),
            ((true, true, false), Official),
            ((true, false, true), Official),
            ((true, false, false), Official),
            ((false, true, true), PullOfficial),
            ((false, true, false), PullOfficial),
            ((false, false, true), Standins),
            ((false, false, false), NoImages),
        ];
        for ((present, answers, buildable), want) in table {
            assert_eq!(
                plan(
                    Wanted::Auto,
                    PullPolicy::IfRegistryAnswers,
                    facts(present, answers, buildable)
                ),
                want,
                "present {present}, registry answers {answers}, buildable {buildable}"
            );
        }
    }

    #[test]
    fn the_settings_narrow_the_choice() {
        let all_facts = (0..8).map(|bits| facts(bits & 4 != 0, bits & 2 != 0, bits & 1 != 0));
        for f in all_facts {
            for pull in PULLS {
                // standin: always the stand-ins, whatever is present.
                assert_eq!(plan(Wanted::Standin, pull, f), Plan::Standins, "{f:?}");
                // official: never the stand-ins.
                let official = plan(Wanted::Official, pull, f);
                assert_ne!(official, Plan::Standins, "{pull:?} {f:?}");
                if f.official_present {
                    assert_eq!(official, Plan::Official, "{pull:?} {f:?}");
                }
            }
            if !f.official_present {
                // Pulls off: no pull, whatever the registry says.
                for w in [Wanted::Auto, Wanted::Official] {
                    assert_ne!(plan(w, PullPolicy::Never, f), Plan::PullOfficial, "{f:?}");
                    // Pulls forced: a pull, even where the check failed.
                    assert_eq!(plan(w, PullPolicy::Always, f), Plan::PullOfficial, "{f:?}");
                }
                assert_eq!(
                    plan(Wanted::Official, PullPolicy::IfRegistryAnswers, f),
                    if f.registry_answers {
                        Plan::PullOfficial
                    } else {
                        Plan::NoImages
                    },
                    "{f:?}"
                );
            }
        }
    }

    #[test]
    fn the_registry_is_asked_only_when_a_pull_depends_on_it() {
        for wanted in WANTED {
            for pull in PULLS {
                for present in [true, false] {
                    let asked = needs_registry_check(wanted, pull, present);
                    let expected = wanted != Wanted::Standin
                        && !present
                        && pull == PullPolicy::IfRegistryAnswers;
                    assert_eq!(asked, expected, "{wanted:?} {pull:?} present {present}");
                }
            }
        }
    }

    #[test]
    fn without_images_the_message_names_the_three_ways_to_get_them() {
        let silent = RegistryCheck::NoAnswer {
            url: registry::DOCKER_HUB.to_string(),
            cause: "dns error".to_string(),
        };
        let missing = [
            OFFICIAL_POSTGRES_IMAGE.to_string(),
            OFFICIAL_KEYCLOAK_IMAGE.to_string(),
        ];
        let message = no_images_message(
            Wanted::Auto,
            &missing,
            PullPolicy::IfRegistryAnswers,
            Some(&silent),
        );
        for part in [
            "IAMSTACK_TEST_BACKEND=auto",
            "postgres:17.4 and keycloak/keycloak:26.2 not present locally",
            "does not answer (dns error)",
            "no `mmdebstrap` on PATH",
            "(1) put the official images on this machine",
            "docker pull keycloak/keycloak:26.2",
            "(2) run where the registry",
            "(3) install mmdebstrap",
        ] {
            assert!(message.contains(part), "`{part}` in: {message}");
        }
        let off = no_images_message(Wanted::Official, &missing, PullPolicy::Never, None);
        assert!(
            off.contains("pulls are off (IAMSTACK_TEST_PULL=0)"),
            "{off}"
        );
        assert!(!off.contains("mmdebstrap` on PATH"), "{off}");
    }
}
