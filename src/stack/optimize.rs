//! The optimized Keycloak image, decided once and without I/O: which of the container's options
//! are Keycloak's build-time options, the image's tag and labels, and its Dockerfile.
//!
//! Why: Keycloak's stock image was built with default build-time options. `start` with other
//! values (`KC_DB=postgres`, `KC_HEALTH_ENABLED=true`) re-augments the server in every new
//! container before it can start (`docs/keycloak-behaviour.md`, "Build-time options"). An image
//! built once with `kc.sh build` and those options starts with `start --optimized` and skips it.
//! The tag hashes the base image's ID and the options, so a later `up` reuses the build until
//! either changes.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::names;
use crate::stack::plan::ContainerPlan;

/// The repository iamstack's own Keycloak builds are tagged in (`docs/conventions.md`).
pub const REPOSITORY: &str = "iamstack-local/keycloak";

/// Keycloak 26.2's build-time options (`KC_` + upper snake case of the option), from its
/// `*Options.java` (`buildTime(true)`); see `docs/keycloak-behaviour.md` §14. The cache options
/// are run-time since 26.0. One missing here would make `start --optimized` exit with
/// Keycloak's "values that differ from what is persisted" error, naming it.
const BUILD_TIME_OPTIONS: &[&str] = &[
    "db",
    "db-dialect",
    "db-driver",
    "event-metrics-user-enabled",
    "features",
    "features-disabled",
    "fips-mode",
    "health-enabled",
    "http-management-relative-path",
    "http-relative-path",
    "https-management-client-auth",
    "legacy-observability-interface",
    "metrics-enabled",
    "tracing-enabled",
    "tracing-jdbc-enabled",
    "transaction-xa-enabled",
    "vault",
];

/// What `up` builds: the base image and the build-time options, as `kc.sh build` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildPlan {
    /// The base image reference (`--keycloak-image`).
    pub base: String,
    /// `(option, value)`, sorted by option: `("db", "postgres")`.
    pub options: Vec<(String, String)>,
}

impl BuildPlan {
    /// The build for a Keycloak container whose environment is `env`: every build-time option
    /// set there, the ones iamstack sets and those given with `--keycloak-env`.
    pub fn for_container(keycloak: &ContainerPlan) -> BuildPlan {
        let mut options: Vec<(String, String)> = keycloak
            .env
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .filter_map(|(key, value)| Some((build_time_option(key)?, value.clone())))
            .collect();
        options.sort();
        options.dedup_by(|a, b| a.0 == b.0);
        BuildPlan {
            base: keycloak.image.clone(),
            options,
        }
    }

    /// `--db=postgres --health-enabled=true`, as `kc.sh build` takes them.
    pub fn arguments(&self) -> Vec<String> {
        self.options
            .iter()
            .map(|(option, value)| format!("--{option}={value}"))
            .collect()
    }

    /// The tag for a build on the base image with this ID:
    /// `iamstack-local/keycloak:<base tag>-<12 hex of the hash of the ID and the options>`.
    pub fn tag(&self, base_id: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(base_id.as_bytes());
        for argument in self.arguments() {
            hasher.update(b"\n");
            hasher.update(argument.as_bytes());
        }
        let hash: String = hasher.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{REPOSITORY}:{}-{hash}", tag_part(&self.base))
    }

    /// The build's Dockerfile: the base, `kc.sh build` (exec form: no shell needed in the
    /// image), which runs as the image's user like Keycloak's own documented Containerfile, and
    /// the labels in one instruction (the engine's build `labels` parameter adds a step per
    /// label, each a container commit of about a second).
    pub fn dockerfile(&self, base_id: &str) -> String {
        let mut run = vec!["/opt/keycloak/bin/kc.sh".to_string(), "build".to_string()];
        run.extend(self.arguments());
        let run = serde_json::to_string(&run).unwrap_or_default();
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let labels: Vec<String> = self
            .labels(base_id)
            .iter()
            .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
            .collect();
        format!(
            "FROM {}\nRUN {run}\nLABEL {}\n",
            self.base,
            labels.join(" ")
        )
    }

    /// What the built image says about itself; `down --images` and the pruning of older
    /// builds find iamstack's builds by these, never by name alone.
    pub fn labels(&self, base_id: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (names::LABEL_BUILT.to_string(), "keycloak".to_string()),
            (names::LABEL_BASE_IMAGE.to_string(), self.base.clone()),
            (names::LABEL_BASE_IMAGE_ID.to_string(), base_id.to_string()),
            (
                names::LABEL_BASE_REPOSITORY.to_string(),
                repository(&self.base).to_string(),
            ),
            (
                names::LABEL_BUILD_OPTIONS.to_string(),
                self.arguments().join(" "),
            ),
        ])
    }
}

/// The Keycloak container on the optimized image: same environment (Keycloak accepts build-time
/// options at run time when they equal the build's), `start --optimized`.
pub fn optimized_container(keycloak: &ContainerPlan, tag: &str) -> ContainerPlan {
    let mut c = keycloak.clone();
    c.image = tag.to_string();
    c.cmd = vec!["start".to_string(), "--optimized".to_string()];
    crate::stack::plan::rehash(c)
}

/// `KC_HEALTH_ENABLED` -> `health-enabled` when it is a build-time option, else `None`.
/// SPI options are build-time when they pick or switch providers (`KC_SPI_*_PROVIDER`,
/// `*_PROVIDER_DEFAULT`, `*_ENABLED`), as Keycloak's `PropertyMappers#isSpiBuildTimeProperty`.
pub fn build_time_option(env_key: &str) -> Option<String> {
    let option = env_key
        .strip_prefix("KC_")?
        .to_lowercase()
        .replace('_', "-");
    let spi_build_time = option.starts_with("spi-")
        && ["-provider", "-provider-default", "-enabled"]
            .iter()
            .any(|end| option.ends_with(end));
    (BUILD_TIME_OPTIONS.contains(&option.as_str()) || spi_build_time).then_some(option)
}

/// `quay.io/keycloak/keycloak:26.2` -> `quay.io/keycloak/keycloak` (no tag, no digest).
pub fn repository(reference: &str) -> &str {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    match without_digest.rsplit_once(':') {
        // A colon after the last slash is a tag; before it, a registry port.
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_digest,
    }
}

/// The base's tag as part of ours: `26.2`; `latest` when there is none; characters a tag
/// cannot hold become `_`; short enough that the whole tag stays within Docker's 128.
fn tag_part(reference: &str) -> String {
    let repo = repository(reference);
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let tag = without_digest
        .strip_prefix(repo)
        .and_then(|t| t.strip_prefix(':'))
        .filter(|t| !t.is_empty())
        .unwrap_or("latest");
    let part: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    // A tag starts with a letter, a digit or `_`.
    if part.starts_with(['.', '-']) {
        format!("_{part}")
    } else {
        part
    }
}

#[cfg(test)]
mod tests;
