//! Registry credentials for a pull, found where and as the `docker` CLI finds them.
//!
//! The engine holds no credentials of its own: `docker pull` reads them from the CLI's config
//! file and sends them with the request, and so must we, or a registry that needs a login refuses
//! us where `docker pull` works. The file is `$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`; a missing file or entry means an anonymous pull. For a registry the
//! CLI (`cli/config/configfile/file.go`, `GetCredentialsStore`) asks, in this order:
//! `credHelpers[<registry>]`, else `credsStore`, each a program `docker-credential-<name>`; else
//! the `auths[<registry>]` entry. A helper that is configured decides alone: if it has nothing
//! the pull is anonymous, `auths` is not consulted (Docker Desktop leaves empty `auths` entries
//! beside its `credsStore`). Docker Hub's key is `https://index.docker.io/v1/`.
//!
//! [`resolve`] and [`helper_answer`] are pure; [`Lookup::find`] reads the file and runs a helper.
//! Secrets are never printed: [`Credentials`]' `Debug` redacts them, and no error quotes a
//! helper's successful answer.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde::Deserialize;

use super::registry::is_docker_hub;

/// The key the docker CLI stores Docker Hub's credentials under (and hands to helpers).
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// How long a helper may take. Long enough to answer an unlock prompt (pass's pinentry, the
/// macOS keychain's dialog), short enough that a stuck helper does not hang `up`.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

/// Credentials for one registry, and where they came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
    /// An OAuth refresh token (`identitytoken` in `auths`, or a helper's `<token>` user).
    pub identitytoken: Option<String>,
    /// The config key, sent as the engine's `serveraddress`.
    pub serveraddress: String,
    pub source: Source,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("identitytoken", &redacted(&self.identitytoken))
            .field("serveraddress", &self.serveraddress)
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// What bollard sends as the `X-Registry-Auth` header.
    pub fn to_bollard(&self) -> DockerCredentials {
        DockerCredentials {
            username: self.username.clone(),
            password: self.password.clone(),
            identitytoken: self.identitytoken.clone(),
            serveraddress: Some(self.serveraddress.clone()),
            ..Default::default()
        }
    }
}

/// Where credentials came from, to name it when the registry refuses them (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    ConfigFile { file: PathBuf, key: String },
    Helper { name: String },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::ConfigFile { file, key } => {
                write!(f, "the `auths` entry `{key}` of `{}`", file.display())
            }
            Source::Helper { name } => {
                write!(f, "the credential helper `docker-credential-{name}`")
            }
        }
    }
}

/// Why the CLI's credentials could not be used; the pull is then not attempted.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the docker CLI's config file `{}`: {source}", file.display())]
    Unreadable {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("the docker CLI's config file `{}` is malformed ({reason}): fix or remove it", file.display())]
    Malformed { file: PathBuf, reason: String },
    #[error("the credential helper `docker-credential-{name}` (`{setting}` in `{}`) {problem}", file.display())]
    Helper {
        name: String,
        setting: &'static str,
        file: PathBuf,
        problem: String,
    },
}

/// The advice after a registry refused a pull for lack of (valid) credentials.
pub fn login_advice(registry: &str, sent_from: Option<&str>) -> String {
    let reads = "(iamstack reads the docker CLI's credentials: $DOCKER_CONFIG or \
                 ~/.docker/config.json, credential helpers included)";
    match sent_from {
        None => format!("run `docker login {registry}` {reads}"),
        Some(from) => format!(
            "the registry refused the credentials from {from}: run `docker login {registry}` \
             again {reads}"
        ),
    }
}

/// The config key of a registry host (see [`super::registry_host`]): Hub's URL, else the host.
pub fn config_key(registry: &str) -> String {
    if is_docker_hub(registry) {
        DOCKER_HUB_KEY.to_string()
    } else {
        registry.to_string()
    }
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    auths: Option<BTreeMap<String, AuthEntry>>,
    #[serde(rename = "credHelpers")]
    cred_helpers: Option<BTreeMap<String, String>>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// What the config file says for a registry.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    Anonymous,
    Found(Credentials),
    /// Ask `docker-credential-<name>` for `server`; `setting` is `credHelpers` or `credsStore`.
    Helper {
        name: String,
        setting: &'static str,
        server: String,
    },
}

/// The docker CLI's `ConvertToHostname`: a key without its scheme and path.
fn key_hostname(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// The entry for `registry`: its exact config key first, then (as the CLI does for legacy keys)
/// a key whose hostname is the registry's; any of Hub's names matches Hub.
fn entry<'a, V>(map: &'a BTreeMap<String, V>, registry: &str) -> Option<(&'a String, &'a V)> {
    map.get_key_value(&config_key(registry)).or_else(|| {
        map.iter().find(|(key, _)| {
            let host = key_hostname(key);
            host == registry || (is_docker_hub(host) && is_docker_hub(registry))
        })
    })
}

/// What config.json (`text`, read from `file`) says for the registry host `registry`.
pub fn resolve(text: &str, file: &Path, registry: &str) -> Result<Resolved, CredentialsError> {
    let malformed = |reason: String| CredentialsError::Malformed {
        file: file.into(),
        reason,
    };
    // The CLI takes an empty file for an empty config.
    let config: ConfigFile = if text.trim().is_empty() {
        ConfigFile::default()
    } else {
        serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?
    };
    let server = config_key(registry);
    let helpers = config.cred_helpers.unwrap_or_default();
    if let Some((_, name)) = entry(&helpers, registry) {
        return Ok(Resolved::Helper {
            name: name.clone(),
            setting: "credHelpers",
            server,
        });
    }
    if let Some(name) = config.creds_store.filter(|s| !s.is_empty()) {
        return Ok(Resolved::Helper {
            name,
            setting: "credsStore",
            server,
        });
    }
    let auths = config.auths.unwrap_or_default();
    let Some((key, found)) = entry(&auths, registry) else {
        return Ok(Resolved::Anonymous);
    };
    let (mut username, mut password) = (found.username.clone(), found.password.clone());
    // As the CLI's `decodeAuth`: `auth` is base64 of `user:password` and wins over the fields.
    if let Some(auth) = found.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = || {
            malformed(format!(
                "`auths` entry `{key}` has an `auth` that is not base64 of user:password"
            ))
        };
        let decoded = STANDARD.decode(auth).map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, pass) = decoded
            .split_once(':')
            .filter(|(u, _)| !u.is_empty())
            .ok_or_else(bad)?;
        (username, password) = (Some(user.into()), Some(pass.trim_matches('\0').into()));
    }
    let identitytoken = found.identitytoken.clone().filter(|t| !t.is_empty());
    if username.as_deref().unwrap_or_default().is_empty() && identitytoken.is_none() {
        return Ok(Resolved::Anonymous);
    }
    Ok(Resolved::Found(Credentials {
        username,
        password,
        identitytoken,
        serveraddress: key.clone(),
        source: Source::ConfigFile {
            file: file.into(),
            key: key.clone(),
        },
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: Option<String>,
    secret: Option<String>,
}

/// A helper's successful `get` answer, `{"ServerURL","Username","Secret"}`. As the CLI's native
/// store: the user `<token>` means the secret is an identity token. `None` when empty.
pub fn helper_answer(
    stdout: &str,
    name: &str,
    server: &str,
) -> Result<Option<Credentials>, String> {
    // Never quote the answer: it holds the secret.
    let answer: HelperAnswer = serde_json::from_str(stdout)
        .map_err(|_| "answered `get` with something other than its credentials JSON".to_string())?;
    let (user, secret) = (
        answer.username.unwrap_or_default(),
        answer.secret.unwrap_or_default(),
    );
    if secret.is_empty() {
        return Ok(None);
    }
    let token = user == "<token>";
    Ok(Some(Credentials {
        username: (!token).then_some(user),
        password: (!token).then(|| secret.clone()),
        identitytoken: token.then_some(secret),
        serveraddress: server.to_string(),
        source: Source::Helper {
            name: name.to_string(),
        },
    }))
}

/// Where to look: the config directory, the PATH to find helpers in (the helper itself runs in
/// this process's environment), how long a helper may take. Explicit, so tests need not touch the
/// process environment.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub config_dir: Option<PathBuf>,
    pub path: Option<OsString>,
    pub helper_timeout: Duration,
}

impl Lookup {
    /// As the docker CLI: `$DOCKER_CONFIG`, else `$HOME/.docker`; helpers on `$PATH`.
    pub fn from_env() -> Lookup {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
        Lookup {
            config_dir: dir.or_else(|| home.map(|h| Path::new(&h).join(".docker"))),
            path: std::env::var_os("PATH"),
            helper_timeout: HELPER_TIMEOUT,
        }
    }

    /// The credentials for a registry host; `None` for an anonymous pull. Blocking (a helper).
    pub fn find(&self, registry: &str) -> Result<Option<Credentials>, CredentialsError> {
        let Some(file) = self.config_dir.as_ref().map(|d| d.join("config.json")) else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CredentialsError::Unreadable { file, source }),
        };
        match resolve(&text, &file, registry)? {
            Resolved::Anonymous => Ok(None),
            Resolved::Found(credentials) => Ok(Some(credentials)),
            Resolved::Helper {
                name,
                setting,
                server,
            } => self
                .run_helper(&name, &server)
                .map_err(|problem| CredentialsError::Helper {
                    name,
                    setting,
                    file,
                    problem,
                }),
        }
    }

    /// `docker-credential-<name> get`, the server on stdin (the docker-credential-helpers
    /// protocol). "credentials not found" (exit 1, in its output) means none.
    fn run_helper(&self, name: &str, server: &str) -> Result<Option<Credentials>, String> {
        let program = format!("docker-credential-{name}");
        let found = self.path.as_ref().and_then(|p| {
            std::env::split_paths(p)
                .map(|d| d.join(&program))
                .find(|f| f.is_file())
        });
        let exe = found.ok_or_else(|| "is not installed (not found on PATH)".to_string())?;
        let mut command = Command::new(exe);
        command
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| format!("cannot be run: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading gives a broken pipe: its exit status tells.
            let _ = stdin.write_all(server.as_bytes());
        }
        // Read both pipes on threads so a chatty helper cannot block on a full pipe.
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        let deadline = Instant::now() + self.helper_timeout;
        let status = loop {
            match child
                .try_wait()
                .map_err(|e| format!("cannot be waited for: {e}"))?
            {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let secs = self.helper_timeout.as_secs_f64();
                    return Err(format!("did not answer within {secs} s (it was stopped)"));
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let joined =
            |t: Option<JoinHandle<String>>| t.and_then(|t| t.join().ok()).unwrap_or_default();
        let (stdout, stderr) = (joined(stdout), joined(stderr));
        if status.success() {
            return helper_answer(&stdout, name, server);
        }
        // On failure the protocol puts the helper's message on stdout: no secret there.
        let said = format!("{} {}", stdout.trim(), stderr.trim());
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        let said: String = said.trim().chars().take(500).collect();
        Err(format!("failed ({status}): {said}"))
    }
}

/// Read a pipe to its end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[cfg(test)]
mod tests;
