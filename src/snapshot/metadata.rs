//! What a snapshot records about the stack it was made from (`iamstack-snapshot.json`, the
//! file's first entry), and the pure decisions of `up --from-snapshot`: does this `up` use the
//! same images and the same settings? Secrets are recorded only as SHA-256 digests.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::StackConfig;

/// The version of the file format this iamstack writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The metadata entry of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub format: u32,
    pub iamstack_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub postgres: ImageRecord,
    pub keycloak: ImageRecord,
    pub admin_user: String,
    pub admin_password_sha256: String,
    pub postgres_user: String,
    pub postgres_db: String,
    pub postgres_password_sha256: String,
    /// The realm files the stack was provisioned with, when `snapshot save --realm` named them.
    pub realm_files_sha256: Option<String>,
}

/// An image a service ran: the reference and ID the container was made from, and for an image
/// iamstack built (the optimized Keycloak), the base it was built from (from its labels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub image: String,
    pub image_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_image_id: Option<String>,
}

impl ImageRecord {
    /// Whether a local image of this ID is the one recorded: the image itself or its base
    /// (an `up` that builds an optimized image builds it from the same base).
    pub fn matches(&self, local_id: &str) -> bool {
        local_id == self.image_id || self.base_image_id.as_deref() == Some(local_id)
    }

    /// How the recorded image is named in a refusal.
    pub fn describe(&self) -> String {
        match (&self.base_image, &self.base_image_id) {
            (Some(base), Some(base_id)) => format!(
                "{} `{}` (built from {} `{base}`)",
                short_id(&self.image_id),
                self.image,
                short_id(base_id)
            ),
            _ => format!("{} `{}`", short_id(&self.image_id), self.image),
        }
    }
}

/// `sha256:0123456789ab` for messages.
pub fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// Lower-case hex SHA-256 of a secret or of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One way the snapshot does not fit this `up`: what the file says, what `up` would use, the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub what: &'static str,
    pub snapshot: String,
    pub this_up: String,
    pub fix: &'static str,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the snapshot has {}, this `up` would use {} ({})",
            self.what, self.snapshot, self.this_up, self.fix
        )
    }
}

/// Pure: the settings baked into the data (the admin in Keycloak's tables, the role, database
/// and password in Postgres's) that differ between the snapshot and this `up`'s configuration.
/// Postgres reads POSTGRES_* only on an empty data directory and Keycloak creates its bootstrap
/// admin only in an empty database, so with other values the restored stack would refuse them.
pub fn settings_mismatches(meta: &Metadata, config: &StackConfig) -> Vec<Mismatch> {
    let secret = |recorded: &str, value: &str| recorded != sha256_hex(value.as_bytes());
    let mut found = Vec::new();
    let plain = [
        (
            "admin user",
            &meta.admin_user,
            &config.admin.username,
            "--admin-user",
        ),
        (
            "Postgres user",
            &meta.postgres_user,
            &config.postgres_user,
            "--postgres-user",
        ),
        (
            "Postgres database",
            &meta.postgres_db,
            &config.postgres_db,
            "--postgres-db",
        ),
    ];
    for (what, recorded, wanted, fix) in plain {
        if recorded != wanted {
            found.push(Mismatch {
                what,
                snapshot: format!("`{recorded}`"),
                this_up: format!("`{wanted}`"),
                fix,
            });
        }
    }
    let secrets = [
        (
            "admin password",
            &meta.admin_password_sha256,
            &config.admin.password,
            "--admin-password or KEYCLOAK_PASSWORD in --env-file",
        ),
        (
            "Postgres password",
            &meta.postgres_password_sha256,
            &config.postgres_password,
            "--postgres-password or POSTGRES_PASSWORD in --env-file",
        ),
    ];
    // Named by the start of their digests: enough to tell them apart, never the value.
    let digest = |hex: &str| format!("one whose SHA-256 starts `{}`", &hex[..hex.len().min(8)]);
    for (what, recorded, wanted, fix) in secrets {
        if secret(recorded, wanted) {
            found.push(Mismatch {
                what,
                snapshot: digest(recorded),
                this_up: digest(&sha256_hex(wanted.as_bytes())),
                fix,
            });
        }
    }
    found
}

/// Pure: the images of this `up` (their local IDs; `None` when not known yet) that are not the
/// ones the snapshot was made with. The data directory's format belongs to the Postgres build,
/// the schema to the Keycloak version: another image could not use them safely.
pub fn image_mismatches(
    meta: &Metadata,
    postgres: (&str, Option<&str>),
    keycloak: (&str, Option<&str>),
) -> Vec<Mismatch> {
    let mut found = Vec::new();
    for (what, record, (image, id), fix) in [
        (
            "Postgres image",
            &meta.postgres,
            postgres,
            "--postgres-image naming the image the snapshot was made with, or a new snapshot",
        ),
        (
            "Keycloak image",
            &meta.keycloak,
            keycloak,
            "--keycloak-image naming the image the snapshot was made with, or a new snapshot",
        ),
    ] {
        if let Some(id) = id {
            if !record.matches(id) {
                found.push(Mismatch {
                    what,
                    snapshot: record.describe(),
                    this_up: format!("{} `{image}`", short_id(id)),
                    fix,
                });
            }
        }
    }
    found
}

/// Now as RFC 3339 UTC, second precision.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let at = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn meta_for(config: &StackConfig) -> Metadata {
        Metadata {
            format: FORMAT_VERSION,
            iamstack_version: "0.1.0".into(),
            created_at: rfc3339(0),
            postgres: ImageRecord {
                image: "postgres:17.4".into(),
                image_id: "sha256:aaaa".into(),
                base_image: None,
                base_image_id: None,
            },
            keycloak: ImageRecord {
                image: "iamstack-local/keycloak:26.2-0123456789ab".into(),
                image_id: "sha256:bbbb".into(),
                base_image: Some("keycloak/keycloak:26.2".into()),
                base_image_id: Some("sha256:cccc".into()),
            },
            admin_user: config.admin.username.clone(),
            admin_password_sha256: sha256_hex(config.admin.password.as_bytes()),
            postgres_user: config.postgres_user.clone(),
            postgres_db: config.postgres_db.clone(),
            postgres_password_sha256: sha256_hex(config.postgres_password.as_bytes()),
            realm_files_sha256: None,
        }
    }

    #[test]
    fn the_same_settings_fit_and_each_difference_is_named_without_its_value() {
        let config = crate::stack::plan::tests::config();
        let meta = meta_for(&config);
        assert_eq!(settings_mismatches(&meta, &config), vec![]);

        let mut other = config.clone();
        other.admin.password = "s3cret-new".into();
        other.postgres_db = "kc".into();
        let found = settings_mismatches(&meta, &other);
        let whats: Vec<_> = found.iter().map(|m| m.what).collect();
        assert_eq!(whats, ["Postgres database", "admin password"]);
        let text = found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!text.contains("s3cret-new"), "{text}");
        assert!(!text.contains(&config.admin.password), "{text}");
        assert!(text.contains("--admin-password"), "{text}");
        let starts = |v: &str| sha256_hex(v.as_bytes())[..8].to_string();
        assert!(
            text.contains(&format!(
                "admin password: the snapshot has one whose SHA-256 starts `{}`, this `up` \
                 would use one whose SHA-256 starts `{}`",
                starts(&config.admin.password),
                starts("s3cret-new")
            )),
            "{text}"
        );
        assert!(
            text.contains("the snapshot has `keycloak`, this `up` would use `kc`"),
            "{text}"
        );

        other = config.clone();
        other.admin.username = "root".into();
        other.postgres_user = "pg".into();
        other.postgres_password = "x".into();
        let whats: Vec<_> = settings_mismatches(&meta, &other)
            .iter()
            .map(|m| m.what)
            .collect();
        assert_eq!(whats, ["admin user", "Postgres user", "Postgres password"]);
    }

    #[test]
    fn an_image_fits_by_its_own_id_or_its_base_and_unknown_ids_wait() {
        let meta = meta_for(&crate::stack::plan::tests::config());
        let kc = "keycloak/keycloak:26.2";
        let fits = |pg: Option<&str>, kc_id: Option<&str>| {
            image_mismatches(&meta, ("postgres:17.4", pg), (kc, kc_id))
        };
        assert_eq!(fits(Some("sha256:aaaa"), Some("sha256:cccc")), vec![]);
        assert_eq!(fits(Some("sha256:aaaa"), Some("sha256:bbbb")), vec![]);
        assert_eq!(
            fits(None, None),
            vec![],
            "not known yet: checked after the pull"
        );
        let found = fits(Some("sha256:dddd"), Some("sha256:eeee"));
        assert_eq!(found.len(), 2);
        let kc_line = found[1].to_string();
        assert!(
            kc_line.contains("built from sha256:cccc `keycloak/keycloak:26.2`"),
            "{kc_line}"
        );
        assert!(
            kc_line.contains("would use sha256:eeee `keycloak/keycloak:26.2`"),
            "{kc_line}"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_748_254_272), "2025-05-26T10:11:12Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
