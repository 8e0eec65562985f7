//! The engine's errors: one variant per operation, naming the object it was about, with the
//! engine's own error as the source (so `main` prints it as the cause).

use std::time::Duration;

use bollard::errors::Error as BollardError;

use super::MIN_API;
use crate::error::Kind;

/// The fix shown with every "cannot reach the engine" error.
const START_THE_ENGINE: &str = "start Docker (e.g. `sudo systemctl start docker`), or set \
     DOCKER_HOST to the engine's socket (e.g. unix:///run/user/1000/docker.sock for rootless \
     Docker)";

/// A failed engine operation. Connecting failures are exit 3, a name or a host port taken
/// exit 4; any other failure of an operation is unexpected (exit 1).
///
/// Most variants name the object and chain the engine's error as their source. The ones the
/// user can act on (engine unreachable, name or port taken) say the engine's reason inside
/// their sentence, before the fix, so it is kept in `cause` and not chained a second time.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    // ---- connecting ----
    #[error(
        "cannot reach the Docker engine at {host}: {}; {START_THE_ENGINE}",
        engine_reason(.cause)
    )]
    Unreachable { host: String, cause: BollardError },
    #[error(
        "cannot reach the Docker engine at {host}: no answer within {} s; {START_THE_ENGINE}",
        .waited.as_secs()
    )]
    NoAnswer { host: String, waited: Duration },
    #[error(
        "the Docker engine at {host} speaks API {api_version}, too old: iamstack needs API {}.{} \
         (Docker 20.10) or newer; upgrade Docker",
        MIN_API.0, MIN_API.1
    )]
    TooOld { host: String, api_version: String },

    // ---- containers ----
    #[error("failed to inspect container `{name}`")]
    InspectContainer {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to list containers")]
    ListContainers {
        #[source]
        source: BollardError,
    },
    #[error("failed to create container `{name}`")]
    CreateContainer {
        name: String,
        #[source]
        source: BollardError,
    },
    /// The engine has a container by that name already (409).
    #[error(
        "cannot create container `{name}`: the name is taken ({}); remove it or choose another \
         --project",
        engine_reason(.cause)
    )]
    NameTaken { name: String, cause: BollardError },
    #[error("failed to start container `{name}`")]
    StartContainer {
        name: String,
        #[source]
        source: BollardError,
    },
    /// A host port was taken between the pre-flight and the start (a race it cannot close).
    #[error(
        "cannot start container `{name}`: a host port it publishes is taken ({}); free the port \
         or choose another with the port flags",
        engine_reason(.cause)
    )]
    PortTaken { name: String, cause: BollardError },
    #[error("failed to unpause container `{name}`")]
    UnpauseContainer {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to stop container `{name}`")]
    StopContainer {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to remove container `{name}`")]
    RemoveContainer {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to read the logs of `{name}`")]
    ReadLogs {
        name: String,
        #[source]
        source: BollardError,
    },

    // ---- networks ----
    /// Listing networks to find one by exact name.
    #[error("failed to look up network `{name}`")]
    LookUpNetwork {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to inspect network `{name}`")]
    InspectNetwork {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to list networks")]
    ListNetworks {
        #[source]
        source: BollardError,
    },
    #[error("failed to create network `{name}`")]
    CreateNetwork {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to remove network `{name}`")]
    RemoveNetwork {
        name: String,
        #[source]
        source: BollardError,
    },

    // ---- volumes ----
    #[error("failed to inspect volume `{name}`")]
    InspectVolume {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to list volumes")]
    ListVolumes {
        #[source]
        source: BollardError,
    },
    #[error("failed to create volume `{name}`")]
    CreateVolume {
        name: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to remove volume `{name}`")]
    RemoveVolume {
        name: String,
        #[source]
        source: BollardError,
    },

    // ---- images ----
    #[error("failed to inspect image `{image}`")]
    InspectImage {
        image: String,
        #[source]
        source: BollardError,
    },
    #[error("failed to list images")]
    ListImages {
        #[source]
        source: BollardError,
    },
    #[error("failed to remove image `{image}`")]
    RemoveImage {
        image: String,
        #[source]
        source: BollardError,
    },
}

impl EngineError {
    /// The exit-code row, or `None` for a failed operation: that is unexpected (exit 1), as
    /// nothing the user can fix is known about it.
    pub fn kind(&self) -> Option<Kind> {
        use EngineError::*;
        if self.engine_went_away() {
            return Some(Kind::Engine);
        }
        match self {
            Unreachable { .. } | NoAnswer { .. } | TooOld { .. } => Some(Kind::Engine),
            NameTaken { .. } | PortTaken { .. } => Some(Kind::Conflict),
            InspectContainer { .. }
            | ListContainers { .. }
            | CreateContainer { .. }
            | StartContainer { .. }
            | UnpauseContainer { .. }
            | StopContainer { .. }
            | RemoveContainer { .. }
            | ReadLogs { .. }
            | LookUpNetwork { .. }
            | InspectNetwork { .. }
            | ListNetworks { .. }
            | CreateNetwork { .. }
            | RemoveNetwork { .. }
            | InspectVolume { .. }
            | ListVolumes { .. }
            | CreateVolume { .. }
            | RemoveVolume { .. }
            | InspectImage { .. }
            | ListImages { .. }
            | RemoveImage { .. } => None,
        }
    }
}

impl EngineError {
    /// An operation that failed because the engine stopped answering (its socket closed or
    /// refused, the connection dropped, no answer in time), not because it refused the
    /// request: exit 3, like not reaching it at all.
    pub fn engine_went_away(&self) -> bool {
        std::error::Error::source(self)
            .and_then(|s| s.downcast_ref::<BollardError>())
            .is_some_and(is_transport)
    }
}

/// A failure to talk to the engine at all, as opposed to an answer.
fn is_transport(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::IOError { .. }
            | BollardError::HyperResponseError { .. }
            | BollardError::HyperLegacyError { .. }
            | BollardError::RequestTimeoutError
            | BollardError::SocketNotFoundError(_)
    )
}

/// What to do after an operation that the engine stopped answering.
pub const ENGINE_WENT_AWAY: &str = "the Docker engine stopped answering during the command: \
     start it again (e.g. `sudo systemctl start docker`), then run the command again; `up` \
     converges from whatever was left";

/// The HTTP status the engine answered with, if it answered.
pub(super) fn status_code(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub(super) fn is_not_found(e: &BollardError) -> bool {
    status_code(e) == Some(404)
}

/// 409: e.g. an image a container still uses.
pub(super) fn is_conflict(e: &BollardError) -> bool {
    status_code(e) == Some(409)
}

/// The engine's own message (without bollard's "Docker responded with status code" prefix).
pub(super) fn engine_reason(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => other.to_string(),
    }
}

/// Engine messages meaning a host port is taken (a race the pre-flight cannot close).
pub(super) fn is_port_conflict(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("port is already allocated") || m.contains("address already in use")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status_code: u16, message: &str) -> BollardError {
        BollardError::DockerResponseServerError {
            status_code,
            message: message.to_string(),
        }
    }

    #[test]
    fn port_conflicts_are_recognised() {
        assert!(is_port_conflict(
            "driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:8080 failed: port is already allocated"
        ));
        assert!(is_port_conflict(
            "listen tcp4 127.0.0.1:5432: bind: address already in use"
        ));
        assert!(!is_port_conflict("no such image"));
    }

    #[test]
    fn an_operation_names_its_object_and_keeps_the_engine_error_as_cause() {
        let err = anyhow::Error::new(EngineError::StartContainer {
            name: "iam-keycloak".into(),
            source: refused(500, "oci runtime error"),
        });
        assert_eq!(err.to_string(), "failed to start container `iam-keycloak`");
        let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(causes[0].contains("oci runtime error"), "{causes:?}");
        assert_eq!(crate::error::exit_code(&err), 1);
    }

    #[test]
    fn a_name_or_port_taken_is_a_conflict() {
        let taken = EngineError::NameTaken {
            name: "iam-postgres".into(),
            cause: refused(409, "Conflict. The container name is already in use"),
        };
        assert_eq!(taken.kind(), Some(Kind::Conflict));
        assert_eq!(
            taken.to_string(),
            "cannot create container `iam-postgres`: the name is taken (Conflict. The container \
             name is already in use); remove it or choose another --project"
        );
        let port = EngineError::PortTaken {
            name: "iam-keycloak".into(),
            cause: refused(500, "port is already allocated"),
        };
        assert_eq!(
            crate::error::exit_code(&anyhow::Error::new(port).context("failed to start")),
            4
        );
    }

    #[test]
    fn an_engine_too_old_is_exit_3_and_says_what_is_needed() {
        let err = EngineError::TooOld {
            host: "unix:///var/run/docker.sock".into(),
            api_version: "1.40".into(),
        };
        assert_eq!(err.kind(), Some(Kind::Engine));
        assert!(err.to_string().contains("needs API 1.41"), "{err}");
    }
}
