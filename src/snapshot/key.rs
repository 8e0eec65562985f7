//! `iamstack snapshot key`: a cache key for CI caches (e.g. `actions/cache`) naming everything
//! that shapes a snapshot's data, so a cached snapshot is used only where `up --from-snapshot`
//! would accept it and provisioning would find nothing to write. Same inputs, same key; any
//! input changed, another key. [`cache_key`] is pure.

use serde::Serialize;

use super::metadata::sha256_hex;
use crate::config::StackConfig;

/// Everything the key is made of. Secrets enter only as digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInputs {
    pub iamstack_version: String,
    pub postgres_image: String,
    /// The local image's ID when it is present (a tag moved by a pull changes the key).
    pub postgres_image_id: Option<String>,
    pub keycloak_image: String,
    pub keycloak_image_id: Option<String>,
    /// SHA-256 of the realm files' bytes, in the order `up` reads them.
    pub realm_files_sha256: String,
    pub admin_user: String,
    pub admin_password_sha256: String,
    pub postgres_user: String,
    pub postgres_db: String,
    pub postgres_password_sha256: String,
    /// `--keycloak-env`, in order: it can change what Keycloak writes.
    pub keycloak_env: Vec<(String, String)>,
}

impl KeyInputs {
    pub fn new(
        config: &StackConfig,
        image_ids: (Option<String>, Option<String>),
        realm_files_sha256: String,
    ) -> KeyInputs {
        KeyInputs {
            iamstack_version: env!("CARGO_PKG_VERSION").to_string(),
            postgres_image: config.postgres_image.clone(),
            postgres_image_id: image_ids.0,
            keycloak_image: config.keycloak_image.clone(),
            keycloak_image_id: image_ids.1,
            realm_files_sha256,
            admin_user: config.admin.username.clone(),
            admin_password_sha256: sha256_hex(config.admin.password.as_bytes()),
            postgres_user: config.postgres_user.clone(),
            postgres_db: config.postgres_db.clone(),
            postgres_password_sha256: sha256_hex(config.postgres_password.as_bytes()),
            keycloak_env: config.keycloak_env.clone(),
        }
    }
}

/// `iamstack-snapshot-<32 hex>`: the first 128 bits of the SHA-256 of the inputs' JSON (field
/// order is fixed by the struct, so the JSON is canonical).
pub fn cache_key(inputs: &KeyInputs) -> String {
    let json = serde_json::to_vec(inputs).unwrap_or_default();
    let digest = sha256_hex(&json);
    format!("iamstack-snapshot-{}", &digest[..32])
}

/// The SHA-256 over realm files' bytes, each prefixed by its length so that moving bytes
/// from one file to the next changes the digest. Names and paths do not count: the same files
/// checked out elsewhere give the same digest.
pub fn realm_digest(files: &[Vec<u8>]) -> String {
    let mut all = Vec::new();
    for bytes in files {
        all.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        all.extend_from_slice(bytes);
    }
    sha256_hex(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> KeyInputs {
        KeyInputs::new(
            &crate::stack::plan::tests::config(),
            (Some("sha256:pg".into()), Some("sha256:kc".into())),
            realm_digest(&[b"realm: testing\n".to_vec()]),
        )
    }

    #[test]
    fn the_same_inputs_give_the_same_key_and_it_reads_as_one() {
        let key = cache_key(&inputs());
        assert_eq!(key, cache_key(&inputs()));
        assert!(key.starts_with("iamstack-snapshot-"), "{key}");
        assert_eq!(key.len(), "iamstack-snapshot-".len() + 32);
        assert!(!serde_json::to_string(&inputs())
            .unwrap()
            .contains("kc_admin$123"));
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = cache_key(&inputs());
        type Change = fn(&mut KeyInputs);
        let changes: Vec<(&str, Change)> = vec![
            ("version", |i| i.iamstack_version = "0.2.0".into()),
            ("pg image", |i| i.postgres_image = "postgres:17.5".into()),
            ("pg id", |i| i.postgres_image_id = Some("sha256:new".into())),
            ("pg id absent", |i| i.postgres_image_id = None),
            ("kc image", |i| i.keycloak_image = "kc:26.3".into()),
            ("kc id", |i| i.keycloak_image_id = Some("sha256:new".into())),
            ("realms", |i| {
                i.realm_files_sha256 = realm_digest(&[b"realm: other\n".to_vec()])
            }),
            ("admin", |i| i.admin_user = "root".into()),
            ("admin pw", |i| i.admin_password_sha256 = sha256_hex(b"x")),
            ("pg user", |i| i.postgres_user = "pg".into()),
            ("pg db", |i| i.postgres_db = "kc".into()),
            ("pg pw", |i| i.postgres_password_sha256 = sha256_hex(b"x")),
            ("kc env", |i| {
                i.keycloak_env = vec![("KC_FEATURES".into(), "token-exchange".into())]
            }),
        ];
        let mut seen = std::collections::BTreeSet::from([base.clone()]);
        for (what, change) in changes {
            let mut changed = inputs();
            change(&mut changed);
            let key = cache_key(&changed);
            assert_ne!(key, base, "{what} did not change the key");
            assert!(seen.insert(key), "{what} gave a key seen before");
        }
    }

    #[test]
    fn realm_bytes_moved_between_files_change_the_digest() {
        let one = realm_digest(&[b"ab".to_vec(), b"c".to_vec()]);
        assert_ne!(one, realm_digest(&[b"a".to_vec(), b"bc".to_vec()]));
        assert_ne!(one, realm_digest(&[b"c".to_vec(), b"ab".to_vec()]));
        assert_eq!(one, realm_digest(&[b"ab".to_vec(), b"c".to_vec()]));
    }
}
