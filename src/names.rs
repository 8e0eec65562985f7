//! Names and labels of everything iamstack creates (`docs/conventions.md`). Pure functions.

/// The default project; its network keeps the reference's name `my-iam-net`.
pub const DEFAULT_PROJECT: &str = "iam";

/// Ownership: `down` and `status` find objects by it.
pub const LABEL_STACK: &str = "dev.iamstack.stack";
/// `postgres`, `keycloak`, `network` or `data`.
pub const LABEL_ROLE: &str = "dev.iamstack.role";
/// Hash of a container's desired configuration; a change means recreate.
pub const LABEL_CONFIG_HASH: &str = "dev.iamstack.config-hash";
/// On images iamstack built (`keycloak`): `down --images` removes what carries it.
pub const LABEL_BUILT: &str = "dev.iamstack.built";
/// The image reference an optimized image was built from.
pub const LABEL_BASE_IMAGE: &str = "dev.iamstack.base-image";
/// The ID of that base image when it was built.
pub const LABEL_BASE_IMAGE_ID: &str = "dev.iamstack.base-image-id";
/// The base's repository: only the newest build per repository is kept.
pub const LABEL_BASE_REPOSITORY: &str = "dev.iamstack.base-repository";
/// The `kc.sh build` options it was built with.
pub const LABEL_BUILD_OPTIONS: &str = "dev.iamstack.build-options";
/// Tests tag what they create with it (via `up --label`) and sweep by it.
pub const LABEL_TEST_RUN: &str = "dev.iamstack.test-run";

pub const DEFAULT_POSTGRES_IMAGE: &str = "postgres:17.4";
pub const DEFAULT_KEYCLOAK_IMAGE: &str = "keycloak/keycloak:26.2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Postgres,
    Keycloak,
    Network,
    Data,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Postgres => "postgres",
            Role::Keycloak => "keycloak",
            Role::Network => "network",
            Role::Data => "data",
        }
    }
}

/// The network alias of a service container (`postgres`, `keycloak`): the JDBC URL relies on it.
pub fn alias(role: Role) -> &'static str {
    role.as_str()
}

pub fn network_name(project: &str) -> String {
    if project == DEFAULT_PROJECT {
        "my-iam-net".to_string()
    } else {
        format!("{project}-net")
    }
}

pub fn container_name(project: &str, role: Role) -> String {
    format!("{project}-{}", role.as_str())
}

pub fn volume_name(project: &str) -> String {
    format!("{project}-pgdata")
}

/// A project name must make valid Docker object names: `[a-z0-9][a-z0-9_.-]*`, at most 40 chars.
pub fn validate_project(project: &str) -> Result<(), String> {
    let mut chars = project.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    if first_ok && rest_ok && project.len() <= 40 {
        Ok(())
    } else {
        Err(format!(
            "invalid project name `{project}`: use lowercase letters, digits, `_`, `.` or `-`, \
             starting with a letter or digit, at most 40 characters"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_project_keeps_the_reference_network_name() {
        assert_eq!(network_name("iam"), "my-iam-net");
        assert_eq!(container_name("iam", Role::Postgres), "iam-postgres");
        assert_eq!(container_name("iam", Role::Keycloak), "iam-keycloak");
        assert_eq!(volume_name("iam"), "iam-pgdata");
    }

    #[test]
    fn other_projects_get_their_own_network() {
        assert_eq!(network_name("ci1"), "ci1-net");
        assert_eq!(container_name("ci1", Role::Keycloak), "ci1-keycloak");
        assert_eq!(volume_name("ci1"), "ci1-pgdata");
    }

    #[test]
    fn project_names_are_checked() {
        assert!(validate_project("iam").is_ok());
        assert!(validate_project("t-1.x_y").is_ok());
        for bad in ["", "-x", "Iam", "a b", "a/b", &"x".repeat(41)] {
            assert!(validate_project(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
