//! What can go wrong while bringing the stack up, each with the data its message needs and
//! the row of the exit-code table it belongs to ([`StackError::kind`]).

use crate::docker::credentials::login_advice;
use crate::docker::PullError;
use crate::error::Kind;
use crate::names;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// An object with the stack's name but without its label: someone else's.
    #[error(
        "{object} `{name}` exists but iamstack did not create it (it lacks the label \
         `{label}={project}`); iamstack never touches it: remove or rename it, or pick another \
         --project",
        label = names::LABEL_STACK
    )]
    NotOurs {
        object: &'static str,
        name: String,
        project: String,
    },

    /// Host ports the plan publishes that something else holds, one problem each.
    #[error("{}", join(.0, "; "))]
    PortsTaken(Vec<PortTaken>),

    #[error(
        "image `{image}` is not present locally and --pull never forbids pulling it; pull or \
         build it first, or name a local image with {flag}"
    )]
    ImageMissing { image: String, flag: &'static str },

    #[error(
        "failed to pull image `{image}`: {reason}; check the name, the registry and your \
         network, or name another image (one present locally, e.g. a mirror) with {flag}"
    )]
    PullFailed {
        image: String,
        reason: String,
        flag: &'static str,
    },

    /// The registry wants a login (or refused the credentials sent): what `docker login` fixes.
    #[error(
        "failed to pull image `{image}`: {reason}; {}; or check the name, or name another image \
         (one present locally, e.g. a mirror) with {flag}",
        login_advice(registry, sent.as_deref())
    )]
    PullNeedsLogin {
        image: String,
        reason: String,
        /// The registry host, as `docker login` takes it.
        registry: String,
        /// Where the refused credentials came from; `None` when there were none.
        sent: Option<String>,
        flag: &'static str,
    },

    /// The docker CLI's config file or credential helper could not be used: nothing was pulled.
    #[error("cannot pull image `{image}`: {problem}")]
    PullCredentials { image: String, problem: String },

    /// `kc.sh build` (or the engine) failed to make the optimized Keycloak image.
    #[error(
        "failed to build the optimized Keycloak image `{tag}` from `{base}` (kc.sh build \
         {arguments}): {reason}; fix the build-time options given with --keycloak-env, or run \
         the image as it is with --no-optimize{}",
        build_tail(log_tail)
    )]
    BuildFailed {
        tag: String,
        base: String,
        arguments: String,
        reason: String,
        log_tail: Vec<String>,
    },

    #[error("image `{image}` is still missing after its pull")]
    MissingAfterPull { image: String },

    #[error("container `{name}` disappeared")]
    Disappeared { name: String },

    /// A command that reads a running stack found no container for a service.
    #[error("there is no {service} container `{name}`: start the stack with `iamstack up` (and the same --project)")]
    NoContainer { service: &'static str, name: String },

    #[error("container `{name}` publishes no host port for {port}/tcp")]
    NoPublishedPort { name: String, port: u16 },

    /// The container exited while we waited for it to become ready.
    #[error(
        "container `{name}` exited with code {code}{oom} before it was ready; its last {} log \
         lines:\n{}",
        super::readiness::LOG_TAIL,
        indent(logs),
        oom = if *oom_killed { " (killed for lack of memory: give Docker more)" } else { "" }
    )]
    Exited {
        name: String,
        /// The exit code, or `unknown`.
        code: String,
        oom_killed: bool,
        logs: Vec<String>,
    },

    #[error(
        "{service} (container `{name}`) was not ready after {secs} s; last probe: {last}; raise \
         --timeout if this machine is slow. The stack's containers are left running (`iamstack \
         up` again waits anew; `iamstack down` removes them); its last {} log lines:\n{}",
        super::readiness::LOG_TAIL,
        indent(logs)
    )]
    TimedOut {
        service: &'static str,
        name: String,
        secs: u64,
        last: String,
        logs: Vec<String>,
    },

    /// Postgres refused the login for good: its data was initialised with other settings.
    #[error(
        "Postgres refused the login ({refusal}): its {data} was initialised with {initialised_with}, \
         and Postgres only reads POSTGRES_* settings on first start; use {use_instead}, or {reset}"
    )]
    WrongCredentials {
        refusal: String,
        /// The volume or data directory, described.
        data: String,
        initialised_with: &'static str,
        use_instead: &'static str,
        reset: String,
    },
}

/// One taken host port, with what holds it when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortTaken {
    pub host_ip: std::net::IpAddr,
    pub host_port: u16,
    pub service: &'static str,
    pub container_port: u16,
    /// e.g. "container `x`", "process `nc` (pid 12)".
    pub holder: Option<String>,
    /// The flag that changes the port.
    pub flag: &'static str,
}

impl std::fmt::Display for PortTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self
            .holder
            .as_ref()
            .map(|h| format!(" by {h}"))
            .unwrap_or_default();
        write!(
            f,
            "port {} on {} (for {} {}) is taken{held}: free it, or choose another with {} (0 \
             lets the engine choose)",
            self.host_port, self.host_ip, self.service, self.container_port, self.flag
        )
    }
}

impl StackError {
    /// The error for a failed pull of `image` (`flag` names another image).
    pub fn pull(image: &str, error: PullError, flag: &'static str) -> StackError {
        let image = image.to_string();
        match error {
            PullError::Unauthorized {
                reason,
                registry,
                sent,
            } => StackError::PullNeedsLogin {
                image,
                reason,
                registry,
                sent: sent.map(|s| s.to_string()),
                flag,
            },
            PullError::Credentials(e) => StackError::PullCredentials {
                image,
                problem: e.to_string(),
            },
            other => StackError::PullFailed {
                image,
                reason: other.to_string(),
                flag,
            },
        }
    }

    /// A failed build of the optimized Keycloak image.
    pub fn build(
        build: &crate::stack::optimize::BuildPlan,
        tag: &str,
        error: crate::docker::BuildError,
    ) -> StackError {
        let (reason, log_tail) = match error {
            crate::docker::BuildError::Failed { message, log_tail } => (message, log_tail),
            engine @ crate::docker::BuildError::Engine { .. } => (engine.to_string(), Vec::new()),
        };
        StackError::BuildFailed {
            tag: tag.to_string(),
            base: build.base.clone(),
            arguments: build.arguments().join(" "),
            reason,
            log_tail,
        }
    }

    /// The exit-code row; `None` for inconsistencies of the engine's answers (exit 1).
    pub fn kind(&self) -> Option<Kind> {
        match self {
            StackError::NotOurs { .. } | StackError::PortsTaken(_) => Some(Kind::Conflict),
            StackError::Exited { .. }
            | StackError::TimedOut { .. }
            | StackError::WrongCredentials { .. }
            | StackError::NoContainer { .. } => Some(Kind::NotReady),
            StackError::ImageMissing { .. }
            | StackError::PullFailed { .. }
            | StackError::PullNeedsLogin { .. }
            | StackError::PullCredentials { .. }
            | StackError::MissingAfterPull { .. }
            | StackError::BuildFailed { .. } => Some(Kind::Image),
            StackError::Disappeared { .. } | StackError::NoPublishedPort { .. } => None,
        }
    }
}

fn join(items: &[impl std::fmt::Display], separator: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// The build output's last lines after its error, if there are any.
fn build_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "; the build's last {} lines:\n{}",
        lines.len(),
        indent(lines)
    )
}

/// Log lines, indented and marked so they stand apart from the message.
fn indent(lines: &[String]) -> String {
    if lines.is_empty() {
        return "  (no output)".to_string();
    }
    lines
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::credentials::Source;

    #[test]
    fn a_pull_refused_for_lack_of_credentials_says_docker_login() {
        let refused = |sent| {
            let error = PullError::Unauthorized {
                reason: "no basic auth credentials".into(),
                registry: "127.0.0.1:5000".into(),
                sent,
            };
            StackError::pull("127.0.0.1:5000/kc:1", error, "--keycloak-image")
        };
        let none = refused(None);
        assert_eq!(none.kind(), Some(Kind::Image));
        assert_eq!(
            none.to_string(),
            "failed to pull image `127.0.0.1:5000/kc:1`: no basic auth credentials; run `docker \
             login 127.0.0.1:5000` (iamstack reads the docker CLI's credentials: $DOCKER_CONFIG \
             or ~/.docker/config.json, credential helpers included); or check the name, or name \
             another image (one present locally, e.g. a mirror) with --keycloak-image"
        );
        let sent = refused(Some(Source::Helper {
            name: "pass".into(),
        }))
        .to_string();
        assert!(
            sent.contains(
                "no basic auth credentials; the registry refused the credentials from the \
                 credential helper `docker-credential-pass`: run `docker login 127.0.0.1:5000` \
                 again"
            ),
            "{sent}"
        );
    }
}
