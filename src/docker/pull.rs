//! Pulling an image, with byte progress summed over its layers.

use std::collections::BTreeMap;

use bollard::errors::Error as BollardError;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::error::engine_reason;
use super::Engine;

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
}

impl Engine {
    /// Pull an image, reporting (downloaded, total) bytes summed over its layers.
    pub async fn pull(
        &self,
        image: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(), PullError> {
        let (repo, tag) = split_image(image);
        let options = CreateImageOptionsBuilder::new()
            .from_image(&repo)
            .tag(&tag)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        let mut layers = LayerProgress::default();
        while let Some(item) = stream.next().await {
            let info = item.map_err(PullError::Refused)?;
            if let Some(detail) = info.error_detail {
                return Err(PullError::Reported(
                    detail
                        .message
                        .unwrap_or_else(|| "the engine reported an error".to_string()),
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
