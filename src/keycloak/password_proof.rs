//! Proving that a user's password is the file's without costing Keycloak a password hash.
//!
//! The plain proof is a password grant: Keycloak hashes the password (Argon2, deliberately
//! slow), so it costs one hash per user per run. The local ledger avoids it on later runs: on
//! the machine that holds the realm file (which holds the plaintext anyway), a file in the
//! user's state directory (mode 0600) keeps, per Keycloak, realm and user, a salted SHA-256 of
//! the password iamstack set or proved, and the id and `createdDate` of the password
//! credential Keycloak had then. A later run reads the user's credential metadata (one small
//! read, no hash): same credential, same date, and the file's password hashing the same means
//! nobody has set another password since, so no grant is needed. It trusts that a password
//! changed in Keycloak gets a new credential or date, which every Keycloak path that sets a
//! password does (`PasswordCredentialProvider#createCredential`). Nothing derived from a
//! password is ever stored in Keycloak. Without the file (a fresh CI machine), or with
//! `--verify-passwords`, every user is checked by a grant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::client::{AdminClient, AdminError};

/// The file under the state directory.
const FILE_NAME: &str = "passwords.json";

/// The password credential Keycloak holds for a user, as its metadata shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialStamp {
    pub id: String,
    pub created: i64,
}

impl CredentialStamp {
    /// The password credential among a user's credentials (`GET .../credentials`).
    pub fn of_password(credentials: &[Value]) -> Option<CredentialStamp> {
        credentials
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("password"))
            .and_then(|c| {
                Some(CredentialStamp {
                    id: c.get("id")?.as_str()?.to_string(),
                    created: c.get("createdDate")?.as_i64()?,
                })
            })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    salt: String,
    hash: String,
    credential: CredentialStamp,
}

fn digest(salt: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    STANDARD_NO_PAD.encode(h.finalize())
}

/// The entries, by `<keycloak url> <realm> <username>`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    entries: BTreeMap<String, Entry>,
}

impl Ledger {
    /// Does the entry for `key` prove that Keycloak's credential `now` is `password`?
    pub fn proves(&self, key: &str, password: &str, now: &CredentialStamp) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.credential == *now && digest(&e.salt, password) == e.hash)
    }

    pub fn record(&mut self, key: String, password: &str, credential: CredentialStamp) {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = STANDARD_NO_PAD.encode(salt);
        let hash = digest(&salt, password);
        self.entries.insert(
            key,
            Entry {
                salt,
                hash,
                credential,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Where the ledger lives: `$IAMSTACK_STATE_DIR`, else `$XDG_STATE_HOME/iamstack`, else
/// `~/.local/state/iamstack`.
pub fn default_path() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = var("IAMSTACK_STATE_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("iamstack")))
        .or_else(|| var("HOME").map(|h| h.join(".local/state/iamstack")))?;
    Some(dir.join(FILE_NAME))
}

/// How `apply` proves passwords in one run: the ledger (if any) and whether to check every
/// password by a grant anyway.
pub struct PasswordProof {
    path: Option<PathBuf>,
    ledger: Mutex<Ledger>,
    always_grant: bool,
}

impl PasswordProof {
    /// No ledger: every password is checked by a grant (the library default, and tests).
    pub fn by_grant() -> PasswordProof {
        PasswordProof {
            path: None,
            ledger: Mutex::new(Ledger::default()),
            always_grant: true,
        }
    }

    /// The ledger at `path` (an unreadable or missing file is an empty ledger);
    /// `always_grant` is `--verify-passwords`.
    pub fn with_ledger(path: PathBuf, always_grant: bool) -> PasswordProof {
        let ledger = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        PasswordProof {
            path: Some(path),
            ledger: Mutex::new(ledger),
            always_grant,
        }
    }

    /// Is a ledger kept (so credential metadata is worth reading)?
    pub fn keeps_ledger(&self) -> bool {
        self.path.is_some()
    }

    /// May the ledger alone prove passwords this run?
    pub fn trusts_ledger(&self) -> bool {
        self.path.is_some() && !self.always_grant
    }

    pub fn key(client: &AdminClient, realm: &str, username: &str) -> String {
        format!(
            "{} {realm} {}",
            client.base_url().as_str().trim_end_matches('/'),
            username.to_lowercase()
        )
    }

    pub fn proves(&self, key: &str, password: &str, now: &CredentialStamp) -> bool {
        self.trusts_ledger()
            && self
                .ledger
                .lock()
                .is_ok_and(|l| l.proves(key, password, now))
    }

    pub fn record(&self, key: String, password: &str, credential: CredentialStamp) {
        if self.path.is_some() {
            if let Ok(mut l) = self.ledger.lock() {
                l.record(key, password, credential);
            }
        }
    }

    /// Record the password iamstack just set (created or reset) for the user with Keycloak id
    /// `id`: one read of its credential metadata.
    pub async fn record_set(
        &self,
        client: &AdminClient,
        realm: &str,
        id: &str,
        username: &str,
        password: &str,
    ) -> Result<(), AdminError> {
        if !self.keeps_ledger() {
            return Ok(());
        }
        let credentials = client.credentials(realm, id).await?;
        if let Some(stamp) = CredentialStamp::of_password(&credentials) {
            self.record(Self::key(client, realm, username), password, stamp);
        }
        Ok(())
    }

    /// Write the ledger back (directory 0700, file 0600, replaced atomically).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let Ok(ledger) = self.ledger.lock() else {
            return Ok(());
        };
        write_private(path, &serde_json::to_vec_pretty(&*ledger)?)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Only a directory made here is made private: never change one the user chose.
    let made = !dir.exists();
    std::fs::create_dir_all(dir)?;
    // One temporary name per process: two runs saving at once never write the same file.
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if made {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
    }
    #[cfg(not(unix))]
    {
        let _ = made;
        std::fs::write(&tmp, bytes)?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests;
