//! A user and its password credential (the double's own salted SHA-256 scheme).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{random_token, uuid, Realm, MASTER, VERIFY_EMAIL, VERIFY_PROFILE};

/// A stored password: salted SHA-256 (the double's own scheme; Keycloak uses argon2/pbkdf2).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PasswordCredential {
    pub id: String,
    pub created_date: u64,
    pub salt: String,
    pub hash: String,
}

impl PasswordCredential {
    pub fn new(password: &str, now_ms: u64) -> Self {
        let salt = random_token(16);
        Self {
            id: uuid(),
            created_date: now_ms,
            hash: hash_password(&salt, password),
            salt,
        }
    }
    pub fn verify(&self, password: &str) -> bool {
        hash_password(&self.salt, password) == self.hash
    }
}

fn hash_password(salt: &str, password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0u8]);
    hasher.update(password.as_bytes());
    STANDARD.encode(hasher.finalize())
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    /// Always lower-case.
    pub username: String,
    /// Always lower-case.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email_verified: bool,
    pub enabled: bool,
    pub created_timestamp: u64,
    /// Attributes: internal ones (e.g. `is_temporary_admin`) and those the realm's user profile
    /// let an admin write (see `admin::users`); undeclared ones are dropped under the default
    /// profile, as Keycloak does.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub required_actions: Vec<String>,
    pub password: Option<PasswordCredential>,
    /// Internal id of the client whose service account this is.
    pub service_account_client: Option<String>,
    /// Direct realm role mappings, by role name (users made through the admin API hold the
    /// realm's default role here; the bootstrap admin also `admin`).
    pub realm_roles: Vec<String>,
    /// Direct client role mappings: internal client id -> role names.
    #[serde(default)]
    pub client_roles: BTreeMap<String, Vec<String>>,
    /// Ids of the groups the user is a direct member of.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl User {
    /// Pending required actions at login, including those Keycloak derives (VERIFY_PROFILE when
    /// an attribute the realm's user profile requires of users is missing, outside master, and
    /// VERIFY_EMAIL when the realm verifies emails).
    pub fn pending_actions(&self, realm: &Realm) -> Vec<String> {
        let mut actions = self.required_actions.clone();
        let incomplete = !self.missing_required(realm).is_empty();
        if realm.name != MASTER && incomplete && !actions.iter().any(|a| a == VERIFY_PROFILE) {
            actions.push(VERIFY_PROFILE.to_owned());
        }
        if realm.bool_setting("verifyEmail")
            && !self.email_verified
            && !actions.iter().any(|a| a == VERIFY_EMAIL)
        {
            actions.push(VERIFY_EMAIL.to_owned());
        }
        actions
    }

    /// The attributes the realm's user profile requires of users that this user lacks.
    pub fn missing_required(&self, realm: &Realm) -> Vec<String> {
        super::user_profile::required_for_user(&realm.user_profile())
            .into_iter()
            .filter(|name| self.profile_value(name).is_none_or(str::is_empty))
            .collect()
    }

    /// The value of a profile attribute (root fields, else the first attribute value).
    pub fn profile_value(&self, name: &str) -> Option<&str> {
        match name {
            "username" => Some(self.username.as_str()),
            "email" => self.email.as_deref(),
            "firstName" => self.first_name.as_deref(),
            "lastName" => self.last_name.as_deref(),
            other => self.attributes.get(other)?.first().map(String::as_str),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.realm_roles.iter().any(|r| r == "admin")
    }
}
