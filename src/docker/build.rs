//! Images iamstack builds itself: building from a Dockerfile held in memory (the engine's build
//! API with a one-file tar context; no `docker` binary), listing builds by label, removing them.

use std::collections::{HashMap, VecDeque};

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;

use super::error::{is_conflict, is_not_found};
use super::logs::clean_log_line;
use super::{Engine, EngineError};

/// How many of the build's last output lines an error carries.
pub const BUILD_LOG_TAIL: usize = 20;

/// Why a build did not produce the image.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The engine did not run the build (unreachable, refused the request).
    #[error("the engine refused the build: {source}")]
    Engine {
        #[source]
        source: BollardError,
    },
    /// The build ran and failed (a step exited non-zero, the base is missing, ...).
    #[error("{message}")]
    Failed {
        message: String,
        /// The build output's last lines, oldest first.
        log_tail: Vec<String>,
    },
}

/// An image iamstack built, as listed by label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub id: String,
    /// `repo:tag` names; empty once a newer build took its tag.
    pub tags: Vec<String>,
    pub labels: HashMap<String, String>,
}

/// What removing an image did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRemoval {
    Removed,
    /// A container (running or not) still uses it: kept.
    InUse,
}

/// The build context: a tar holding only the Dockerfile.
fn context(dockerfile: &str) -> std::io::Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;
    builder.into_inner()
}

impl Engine {
    /// Build `dockerfile` as `tag`; `on_line` sees each output line as it comes.
    /// Returns the new image's ID. Steps run without a network: a Keycloak build needs none.
    pub async fn build_image(
        &self,
        tag: &str,
        dockerfile: &str,
        mut on_line: impl FnMut(&str),
    ) -> Result<String, BuildError> {
        let body = context(dockerfile).map_err(|e| BuildError::Failed {
            message: format!("cannot make the build context: {e}"),
            log_tail: Vec::new(),
        })?;
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .networkmode("none")
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(body.into())));
        let mut tail: VecDeque<String> = VecDeque::new();
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(BollardError::DockerStreamError { error }) => {
                    return Err(failed(error, tail));
                }
                Err(source) => return Err(BuildError::Engine { source }),
            };
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                return Err(failed(error, tail));
            }
            for line in info.stream.unwrap_or_default().lines() {
                let line = clean_log_line(line);
                if line.is_empty() {
                    continue;
                }
                on_line(&line);
                if tail.len() == BUILD_LOG_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
        match self.image_id(tag).await {
            Ok(Some(id)) => Ok(id),
            Ok(None) => Err(failed(
                format!("the build ended without an image `{tag}`"),
                tail,
            )),
            Err(e) => Err(failed(e.to_string(), tail)),
        }
    }

    /// Images carrying label `key` (any value) or `key=value`.
    pub async fn images_labelled(
        &self,
        key: &str,
        value: Option<&str>,
    ) -> Result<Vec<BuiltImage>, EngineError> {
        let filter = match value {
            Some(v) => format!("{key}={v}"),
            None => key.to_string(),
        };
        let filters = HashMap::from([("label".to_string(), vec![filter])]);
        let options = ListImagesOptionsBuilder::new().filters(&filters).build();
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(|source| EngineError::ListImages { source })?;
        Ok(images
            .into_iter()
            .map(|i| BuiltImage {
                id: i.id,
                tags: i
                    .repo_tags
                    .into_iter()
                    .filter(|t| t != "<none>:<none>")
                    .collect(),
                labels: i.labels,
            })
            .collect())
    }

    /// Remove an image (by ID or name) and its tags, never forced; gone already is fine.
    pub async fn remove_image(&self, image: &str) -> Result<ImageRemoval, EngineError> {
        let options = RemoveImageOptionsBuilder::new().force(false).build();
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) => Ok(ImageRemoval::Removed),
            Err(e) if is_not_found(&e) => Ok(ImageRemoval::Removed),
            Err(e) if is_conflict(&e) => Ok(ImageRemoval::InUse),
            Err(source) => Err(EngineError::RemoveImage {
                image: image.to_string(),
                source,
            }),
        }
    }
}

fn failed(message: String, tail: VecDeque<String>) -> BuildError {
    BuildError::Failed {
        message: message.trim().to_string(),
        log_tail: tail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_holds_only_the_dockerfile() {
        let tar = context("FROM scratch\n").unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let entries: Vec<(String, String)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut e, &mut text).unwrap();
                (path, text)
            })
            .collect();
        assert_eq!(
            entries,
            [("Dockerfile".to_string(), "FROM scratch\n".to_string())]
        );
    }
}
