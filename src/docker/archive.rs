//! The engine's archive API (what `docker cp` uses) and image labels, for snapshots: a
//! container's directory as a tar (the container may be stopped), and a tar extracted into a
//! container that has not started yet (its volumes are mounted for the copy).

use std::collections::BTreeMap;

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::error::is_not_found;
use super::{Engine, EngineError};

/// A copy to or from a container failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to read `{path}` from container `{name}`")]
    Read {
        name: String,
        path: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to extract an archive into `{path}` of container `{name}`")]
    Extract {
        name: String,
        path: String,
        #[source]
        source: BollardError,
    },
}

impl Engine {
    /// The tar of `path` in container `name`, as the engine streams it: entries named after
    /// the path's last component (`data/...` for `/var/lib/postgresql/data`), owners and modes
    /// kept.
    pub fn archive_of(
        &self,
        name: &str,
        path: &str,
    ) -> impl Stream<Item = Result<Bytes, ArchiveError>> + Send + 'static {
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let (name, path) = (name.to_string(), path.to_string());
        self.docker
            .download_from_container(&name, Some(options))
            .map(move |chunk| {
                chunk.map_err(|source| ArchiveError::Read {
                    name: name.clone(),
                    path: path.clone(),
                    source,
                })
            })
    }

    /// Extract `tar` into directory `dir` of container `name`, keeping the archive's numeric
    /// owners (`copyUIDGID`): a snapshot is restored only into the image it was made with, so
    /// the owners are that image's.
    pub async fn extract_into(
        &self,
        name: &str,
        dir: &str,
        tar: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> Result<(), ArchiveError> {
        let options = UploadToContainerOptionsBuilder::new()
            .path(dir)
            .copy_uidgid("true")
            .build();
        self.docker
            .upload_to_container(name, Some(options), bollard::body_try_stream(tar))
            .await
            .map_err(|source| ArchiveError::Extract {
                name: name.to_string(),
                path: dir.to_string(),
                source,
            })
    }

    /// A local image's labels, or `None` when it is not present.
    pub async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(inspected) => Ok(Some(
                inspected
                    .config
                    .and_then(|c| c.labels)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            )),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(source) => Err(EngineError::InspectImage {
                image: image.to_string(),
                source,
            }),
        }
    }
}
