//! Pulling an image, with byte progress summed over its layers, and the registry credentials
//! the `docker` CLI would send (see `credentials`): the engine has none of its own.

use std::collections::BTreeMap;

use bollard::errors::Error as BollardError;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::credentials::{CredentialsError, Lookup, Source};
use super::error::{engine_reason, status_code};
use super::{registry_host, Engine};

/// Why a pull failed, in the engine's own words. Its text is only the reason, because the
/// caller writes the sentence around it ("failed to pull image `x`: {reason}; check ...").
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The engine refused the pull, or the progress stream broke off.
    #[error("{}", engine_reason(.0))]
    Refused(BollardError),
    /// The engine reported an error in the progress stream (e.g. manifest unknown).
    #[error("{0}")]
    Reported(String),
    /// The registry wants credentials, or refused the ones sent (`sent`: where they came from).
    #[error("{reason}")]
    Unauthorized {
        reason: String,
        /// The registry host, as `docker login` takes it.
        registry: String,
        sent: Option<Source>,
    },
    /// The docker CLI's config file or credential helper could not be used; nothing was pulled.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

impl Engine {
    /// Pull an image, reporting (downloaded, total) bytes summed over its layers. Credentials
    /// come from the docker CLI's config ([`Lookup::from_env`]); none means an anonymous pull.
    pub async fn pull(
        &self,
        image: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(), PullError> {
        let registry = registry_host(image);
        let lookup_for = registry.clone();
        // A credential helper is a program that may wait on a prompt: off the async threads.
        let credentials = tokio::task::spawn_blocking(move || Lookup::from_env().find(&lookup_for))
            .await
            .map_err(|e| PullError::Reported(format!("looking up credentials failed: {e}")))??;
        let sent = credentials.as_ref().map(|c| c.source.clone());
        let refusal = |reason: String, status: Option<u16>| {
            if needs_login(&reason, status) {
                PullError::Unauthorized {
                    reason,
                    registry: registry.clone(),
                    sent: sent.clone(),
                }
            } else {
                PullError::Reported(reason)
            }
        };
        let (repo, tag) = split_image(image);
        let options = CreateImageOptionsBuilder::new()
            .from_image(&repo)
            .tag(&tag)
            .build();
        let auth = credentials.as_ref().map(|c| c.to_bollard());
        let mut stream = self.docker.create_image(Some(options), None, auth);
        let mut layers = LayerProgress::default();
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                // bollard turns an `errorDetail` of the stream into this error.
                Err(BollardError::DockerStreamError { error }) => return Err(refusal(error, None)),
                Err(e) if needs_login(&engine_reason(&e), status_code(&e)) => {
                    return Err(refusal(engine_reason(&e), status_code(&e)))
                }
                Err(e) => return Err(PullError::Refused(e)),
            };
            if let Some(detail) = info.error_detail {
                let reason = detail
                    .message
                    .unwrap_or_else(|| "the engine reported an error".into());
                return Err(refusal(
                    reason,
                    detail.code.and_then(|c| u16::try_from(c).ok()),
                ));
            }
            if let (Some(id), Some(status)) = (info.id.as_deref(), info.status.as_deref()) {
                let detail = info.progress_detail.unwrap_or_default();
                if layers.update(id, status, detail.current, detail.total) {
                    let (done, total) = layers.sum();
                    progress(done, total);
                }
            }
        }
        Ok(())
    }
}

/// Whether the engine's answer means the registry wants (other) credentials: HTTP 401, or the
/// words registries and the engine use for it (`registry:2`'s "no basic auth credentials", Docker
/// Hub's "pull access denied ... may require 'docker login'", "unauthorized: authentication
/// required"). Hub says the same for a repository that does not exist.
fn needs_login(reason: &str, status: Option<u16>) -> bool {
    let reason = reason.to_ascii_lowercase();
    status == Some(401)
        || [
            "unauthorized",
            "authentication required",
            "no basic auth credentials",
            "pull access denied",
            "may require 'docker login'",
        ]
        .iter()
        .any(|words| reason.contains(words))
}

/// Split `repo[:tag]` / `repo@digest` for the pull API; the tag defaults to `latest`.
fn split_image(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    match image.rsplit_once(':') {
        // A `:` after the last `/` is a tag; before it, a registry port.
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

/// Byte progress of one image pull, per layer.
#[derive(Debug, Default)]
struct LayerProgress {
    layers: BTreeMap<String, (u64, u64)>,
}

impl LayerProgress {
    /// Apply one status message; true when the sums changed.
    fn update(
        &mut self,
        layer: &str,
        status: &str,
        current: Option<i64>,
        total: Option<i64>,
    ) -> bool {
        let before = self.layers.get(layer).copied();
        let entry = self.layers.entry(layer.to_string()).or_insert((0, 0));
        match status {
            "Downloading" => {
                if let Some(t) = total.filter(|t| *t > 0) {
                    entry.1 = t as u64;
                }
                if let Some(c) = current.filter(|c| *c >= 0) {
                    entry.0 = c as u64;
                }
            }
            "Download complete" | "Pull complete" | "Already exists" | "Verifying Checksum" => {
                entry.0 = entry.1;
            }
            _ => {}
        }
        before != Some(*entry)
    }

    fn sum(&self) -> (u64, u64) {
        self.layers
            .values()
            .fold((0, 0), |(d, t), (ld, lt)| (d + ld, t + lt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_repo_and_tag() {
        assert_eq!(
            split_image("postgres:17.4"),
            ("postgres".into(), "17.4".into())
        );
        assert_eq!(
            split_image("keycloak/keycloak:26.2"),
            ("keycloak/keycloak".into(), "26.2".into())
        );
        assert_eq!(split_image("alpine"), ("alpine".into(), "latest".into()));
        assert_eq!(
            split_image("localhost:5000/kc"),
            ("localhost:5000/kc".into(), "latest".into())
        );
        assert_eq!(
            split_image("localhost:5000/kc:1"),
            ("localhost:5000/kc".into(), "1".into())
        );
        assert_eq!(
            split_image("pg@sha256:abc"),
            ("pg".into(), "sha256:abc".into())
        );
    }

    #[test]
    fn refusals_for_lack_of_credentials_are_recognised() {
        for reason in [
            "Head \"http://127.0.0.1:5000/v2/kc/manifests/1\": no basic auth credentials",
            "unauthorized: authentication required",
            "pull access denied for nope/kc, repository does not exist or may require 'docker \
             login': denied: requested access to the resource is denied",
        ] {
            assert!(needs_login(reason, None), "{reason}");
        }
        assert!(needs_login("something", Some(401)));
        assert!(!needs_login(
            "manifest for postgres:99 not found: manifest unknown",
            Some(404)
        ));
    }

    #[test]
    fn pull_progress_sums_layers() {
        let mut p = LayerProgress::default();
        assert!(p.update("a", "Pulling fs layer", None, None));
        assert!(p.update("a", "Downloading", Some(10), Some(100)));
        assert!(p.update("b", "Downloading", Some(5), Some(50)));
        assert_eq!(p.sum(), (15, 150));
        assert!(p.update("a", "Download complete", None, None));
        assert_eq!(p.sum(), (105, 150));
        assert!(!p.update("a", "Extracting", Some(3), Some(100)));
    }
}
