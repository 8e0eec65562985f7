//! One thin client over bollard: one method per engine operation, 404/409 mapped to states,
//! errors carrying the object's name. No policy here; `stack` decides what to call.
//!
//! - `client`: [`Engine`], connecting (API version negotiation) and one method per operation
//!   on containers, networks, volumes and images.
//! - `objects`: what inspecting returns, reduced to what `up`, `down` and `status` need.
//! - `pull`: pulling an image, with byte progress summed over its layers, sending the
//!   registry credentials `credentials` finds as the `docker` CLI finds them.
//! - `registry`: an image's registry (host, `/v2/` URL) and the quick check that it answers.
//! - `logs`: the tail of a container's output, cleaned of terminal control sequences.
//! - `build`: building an image from an in-memory Dockerfile (the optimized Keycloak), listing
//!   and removing the images iamstack built.
//! - `archive`: a container's directory as a tar and back (snapshots), image labels.
//! - `error`: [`EngineError`], one variant per operation, naming the object, with the
//!   engine's own error as its source.

mod archive;
mod build;
mod client;
pub mod credentials;
mod error;
mod logs;
mod objects;
mod pull;
pub mod registry;

pub use archive::ArchiveError;
pub use build::{BuildError, BuiltImage, ImageRemoval, BUILD_LOG_TAIL};
pub use client::{Engine, MIN_API};
pub use error::{EngineError, ENGINE_WENT_AWAY};
pub use logs::{parse_timestamped, LogLine, LogQuery};
pub use objects::{ContainerInfo, NetworkInfo, VolumeInfo};
pub use pull::PullError;
pub use registry::registry_host;
