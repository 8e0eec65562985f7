//! Checks that need several settings at once, made once after resolution. Pure.

use super::{ConfigError, StackConfig, DEFAULT_ADMIN_PASSWORD, DEFAULT_POSTGRES_PASSWORD};
use crate::names;

impl StackConfig {
    /// Checks that need several settings at once. Pure.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (what, flag, value) in [
            ("Postgres image", "--postgres-image", &self.postgres_image),
            ("Keycloak image", "--keycloak-image", &self.keycloak_image),
            ("Postgres database", "--postgres-db", &self.postgres_db),
            ("Postgres user", "--postgres-user", &self.postgres_user),
            (
                "Postgres password",
                "--postgres-password",
                &self.postgres_password,
            ),
            ("hostname", "--hostname", &self.hostname),
            ("admin user", "--admin-user", &self.admin.username),
            ("admin password", "--admin-password", &self.admin.password),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::Empty { what, flag });
            }
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        let ports = [
            ("--postgres-port", self.postgres_port),
            ("--keycloak-port", self.keycloak_port),
            ("--management-port", self.management_port),
        ];
        for (i, (flag_a, a)) in ports.iter().enumerate() {
            for (flag_b, b) in &ports[i + 1..] {
                if *a != 0 && a == b {
                    return Err(ConfigError::SamePort {
                        flag_a,
                        flag_b,
                        port: *a,
                    });
                }
            }
        }
        for (key, _) in &self.keycloak_env {
            let mut chars = key.chars();
            let ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(ConfigError::KeycloakEnvName(key.clone()));
            }
        }
        for key in self.labels.keys() {
            if [
                names::LABEL_STACK,
                names::LABEL_ROLE,
                names::LABEL_CONFIG_HASH,
            ]
            .contains(&key.as_str())
            {
                return Err(ConfigError::ReservedLabel(key.clone()));
            }
        }
        if !self.bind_address.is_loopback() {
            let mut defaults = Vec::new();
            if self.postgres_password == DEFAULT_POSTGRES_PASSWORD {
                defaults.push("the Postgres password (--postgres-password or POSTGRES_PASSWORD in --env-file)");
            }
            if self.admin.password == DEFAULT_ADMIN_PASSWORD {
                defaults.push("the Keycloak admin password (--admin-password or KEYCLOAK_PASSWORD in --env-file)");
            }
            if !defaults.is_empty() {
                return Err(ConfigError::PublicWithDefaultPasswords {
                    address: self.bind_address,
                    defaults,
                });
            }
        }
        Ok(())
    }
}
