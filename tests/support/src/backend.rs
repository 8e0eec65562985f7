//! Which images the real-engine tests run on: the official ones or the offline stand-ins.

use std::time::Duration;

use anyhow::{bail, Context};
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures_util::TryStreamExt;

use crate::engine::connect;
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

/// How long a pull may take before we give up (a pull can hang where no registry is reachable).
const PULL_BUDGET: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Auto,
    Official,
    Standin,
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

fn pull_allowed() -> bool {
    std::env::var("IAMSTACK_TEST_PULL").is_ok_and(|v| v.trim() == "1" || v.trim() == "true")
}

/// The images real-engine tests run on, chosen by `IAMSTACK_TEST_BACKEND`:
/// - `auto` (default): the official images when BOTH are present locally; else, with
///   `IAMSTACK_TEST_PULL=1`, they are pulled (both must succeed); else the stand-ins, built or
///   rebuilt as needed ([`standin::ensure_all`]).
/// - `official`: the official images; missing ones are pulled only with `IAMSTACK_TEST_PULL=1`,
///   otherwise this fails naming them.
/// - `standin`: the stand-ins, even when the official images are present.
///
/// Prints (stderr) which backend ran and the image names. Connects to the engine itself; a test
/// that already has a client can call [`images_with`].
pub async fn images() -> anyhow::Result<TestImages> {
    let docker = connect().await?;
    images_with(&docker).await
}

/// As [`images`], with the test's client.
pub async fn images_with(docker: &Docker) -> anyhow::Result<TestImages> {
    let wanted = wanted()?;
    let official = TestImages {
        backend: Backend::Official,
        postgres: OFFICIAL_POSTGRES_IMAGE.to_string(),
        keycloak: OFFICIAL_KEYCLOAK_IMAGE.to_string(),
    };
    let chosen = match wanted {
        Wanted::Standin => standins(docker).await?,
        Wanted::Official | Wanted::Auto => {
            let missing =
                missing_images(docker, &[OFFICIAL_POSTGRES_IMAGE, OFFICIAL_KEYCLOAK_IMAGE]).await?;
            if missing.is_empty() {
                official
            } else if pull_allowed() {
                match pull_all(docker, &missing).await {
                    Ok(()) => official,
                    Err(e) if wanted == Wanted::Auto => {
                        eprintln!(
                            "pulling the official images failed ({e:#}); using the stand-ins"
                        );
                        standins(docker).await?
                    }
                    Err(e) => return Err(e),
                }
            } else if wanted == Wanted::Official {
                bail!(
                    "IAMSTACK_TEST_BACKEND=official but {} not present locally; pull them, set \
                     IAMSTACK_TEST_PULL=1, or use IAMSTACK_TEST_BACKEND=standin",
                    missing.join(" and ")
                )
            } else {
                standins(docker).await?
            }
        }
    };
    let why = match (wanted, chosen.backend) {
        (Wanted::Auto, Backend::Official) => "auto: official images present",
        (Wanted::Auto, Backend::Standin) => "auto: official images not all present",
        _ => "as IAMSTACK_TEST_BACKEND asks",
    };
    eprintln!(
        "iamstack test backend: {} ({why}): postgres image `{}`, keycloak image `{}`",
        match chosen.backend {
            Backend::Official => "official",
            Backend::Standin => "standin (offline test doubles, not the official images)",
        },
        chosen.postgres,
        chosen.keycloak
    );
    Ok(chosen)
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
