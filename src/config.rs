//! Configuration resolution: built-in defaults (the reference setup) <- `--env-file` <- env <-
//! flags, validated once. The only module that reads the process environment (besides clap).

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::{AdminArgs, ProjectArgs};
use crate::error::{fail, Kind};
use crate::names;

pub const DEFAULT_ADMIN_USER: &str = "admin";
pub const DEFAULT_ADMIN_PASSWORD: &str = "kc_admin$123";
pub const DEFAULT_POSTGRES_PASSWORD: &str = "keycloak$123";

/// A `vars.env` file: `KEY=value` lines, `#` comments, values literal (`$123` stays as is);
/// one pair of surrounding quotes is removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    pub vars: BTreeMap<String, String>,
}

impl EnvFile {
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<EnvFile> {
        let mut vars = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, value)) = line.split_once('=') else {
                return Err(fail(
                    Kind::InvalidConfig,
                    format!("{origin}:{}: expected KEY=value, found `{raw}`", i + 1),
                ));
            };
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
                .unwrap_or(value);
            vars.insert(key.trim().to_string(), unquoted.to_string());
        }
        Ok(EnvFile { vars })
    }

    pub fn load(path: &Path) -> anyhow::Result<EnvFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(
                Kind::InvalidConfig,
                format!("cannot read env file `{}`: {e}", path.display()),
            )
        })?;
        EnvFile::parse(&text, &path.display().to_string())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// The env file named by `--env-file`, or an empty one.
    pub fn from_args(project: &ProjectArgs) -> anyhow::Result<EnvFile> {
        match &project.env_file {
            Some(path) => EnvFile::load(path),
            None => Ok(EnvFile::default()),
        }
    }
}

/// The validated project name.
pub fn project_name(project: &ProjectArgs) -> anyhow::Result<String> {
    let name = project
        .project
        .clone()
        .unwrap_or_else(|| names::DEFAULT_PROJECT.to_string());
    names::validate_project(&name).map_err(|m| fail(Kind::InvalidConfig, m))?;
    Ok(name)
}

/// Keycloak's bootstrap admin: flag/env > env file's `KEYCLOAK_PASSWORD` > default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    pub username: String,
    pub password: String,
}

impl AdminCredentials {
    pub fn resolve(args: &AdminArgs, env_file: &EnvFile) -> AdminCredentials {
        AdminCredentials {
            username: args
                .admin_user
                .clone()
                .unwrap_or_else(|| DEFAULT_ADMIN_USER.to_string()),
            password: args
                .admin_password
                .clone()
                .or_else(|| env_file.get("KEYCLOAK_PASSWORD").map(str::to_string))
                .unwrap_or_else(|| DEFAULT_ADMIN_PASSWORD.to_string()),
        }
    }
}

/// Where the Docker engine is: `DOCKER_HOST`, else the default Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    pub host: String,
}

pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

impl EngineConfig {
    pub fn from_env() -> EngineConfig {
        EngineConfig::from_value(std::env::var("DOCKER_HOST").ok())
    }

    pub fn from_value(docker_host: Option<String>) -> EngineConfig {
        EngineConfig {
            host: docker_host
                .filter(|h| !h.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string()),
        }
    }

    /// Whether the engine runs on this machine, so that its published ports are this machine's
    /// ports (the port pre-flight only makes sense then).
    pub fn is_local(&self) -> bool {
        self.host.starts_with("unix://")
            || self.host.starts_with("npipe://")
            || [
                "tcp://127.",
                "tcp://localhost",
                "http://127.",
                "http://localhost",
            ]
            .iter()
            .any(|p| self.host.starts_with(p))
    }
}

/// Whether we run in CI (`CI` set and not `false`): secrets stay out of logs by default.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Where Postgres keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The labelled named volume `<project>-pgdata`.
    Volume,
    /// A host directory bind-mounted as in the reference (absolute path).
    HostDir(std::path::PathBuf),
}

/// Everything `up` needs, resolved once: defaults (the reference setup) <- `--env-file` <-
/// env (`IAMSTACK_*`) <- flags, then validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackConfig {
    pub project: String,
    pub engine: EngineConfig,
    pub postgres_image: String,
    pub keycloak_image: String,
    pub pull: crate::cli::PullPolicy,
    pub bind_address: std::net::IpAddr,
    pub postgres_port: u16,
    pub keycloak_port: u16,
    pub management_port: u16,
    pub data: DataSource,
    pub postgres_db: String,
    pub postgres_user: String,
    pub postgres_password: String,
    pub hostname: String,
    pub timeout: std::time::Duration,
    /// Extra labels from `--label`, put on every object created.
    pub labels: BTreeMap<String, String>,
    /// Extra Keycloak environment from `--keycloak-env`, in order; replaces planned values.
    pub keycloak_env: Vec<(String, String)>,
    pub admin: AdminCredentials,
}

pub const DEFAULT_POSTGRES_DB: &str = "keycloak";
pub const DEFAULT_POSTGRES_USER: &str = "keycloak";
pub const DEFAULT_HOSTNAME: &str = "localhost";
pub const DEFAULT_POSTGRES_PORT: u16 = 5432;
pub const DEFAULT_KEYCLOAK_PORT: u16 = 8080;
pub const DEFAULT_MANAGEMENT_PORT: u16 = 9000;
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl StackConfig {
    /// Resolve from the parsed flags (clap has already merged the `IAMSTACK_*` env twins), the
    /// env file and the engine location, then validate. Errors are `InvalidConfig` (exit 7).
    pub fn resolve(
        args: &crate::cli::StackArgs,
        admin: &AdminArgs,
        engine: EngineConfig,
    ) -> anyhow::Result<StackConfig> {
        let env_file = EnvFile::from_args(&args.project)?;
        let project = project_name(&args.project)?;
        let data = match &args.data_dir {
            None => DataSource::Volume,
            Some(dir) => DataSource::HostDir(std::path::absolute(dir).map_err(|e| {
                fail(
                    Kind::InvalidConfig,
                    format!("invalid --data-dir `{}`: {e}", dir.display()),
                )
            })?),
        };
        let config = StackConfig {
            project,
            engine,
            postgres_image: args
                .postgres_image
                .clone()
                .unwrap_or_else(|| names::DEFAULT_POSTGRES_IMAGE.to_string()),
            keycloak_image: args
                .keycloak_image
                .clone()
                .unwrap_or_else(|| names::DEFAULT_KEYCLOAK_IMAGE.to_string()),
            pull: args.pull.unwrap_or(crate::cli::PullPolicy::Missing),
            bind_address: args
                .bind_address
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            postgres_port: args.postgres_port.unwrap_or(DEFAULT_POSTGRES_PORT),
            keycloak_port: args.keycloak_port.unwrap_or(DEFAULT_KEYCLOAK_PORT),
            management_port: args.management_port.unwrap_or(DEFAULT_MANAGEMENT_PORT),
            data,
            postgres_db: args
                .postgres_db
                .clone()
                .unwrap_or_else(|| DEFAULT_POSTGRES_DB.to_string()),
            postgres_user: args
                .postgres_user
                .clone()
                .unwrap_or_else(|| DEFAULT_POSTGRES_USER.to_string()),
            postgres_password: args
                .postgres_password
                .clone()
                .or_else(|| env_file.get("POSTGRES_PASSWORD").map(str::to_string))
                .unwrap_or_else(|| DEFAULT_POSTGRES_PASSWORD.to_string()),
            hostname: args
                .hostname
                .clone()
                .unwrap_or_else(|| DEFAULT_HOSTNAME.to_string()),
            timeout: args.timeout.unwrap_or(DEFAULT_TIMEOUT),
            labels: args.labels.iter().cloned().collect(),
            keycloak_env: args.keycloak_env.clone(),
            admin: AdminCredentials::resolve(admin, &env_file),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks that need several settings at once. Pure.
    pub fn validate(&self) -> anyhow::Result<()> {
        let invalid = |m: String| Err(fail(Kind::InvalidConfig, m));
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
                return invalid(format!("the {what} is empty: set {flag}"));
            }
        }
        if self.timeout.is_zero() {
            return invalid("--timeout must be more than 0".to_string());
        }
        let ports = [
            ("--postgres-port", self.postgres_port),
            ("--keycloak-port", self.keycloak_port),
            ("--management-port", self.management_port),
        ];
        for (i, (flag_a, a)) in ports.iter().enumerate() {
            for (flag_b, b) in &ports[i + 1..] {
                if *a != 0 && a == b {
                    return invalid(format!(
                        "{flag_a} and {flag_b} are both {a}: each service needs its own host port \
                         (0 lets the engine choose)"
                    ));
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
                return invalid(format!(
                    "--keycloak-env `{key}` is not a valid variable name (letters, digits, `_`)"
                ));
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
                return invalid(format!(
                    "--label `{key}` is reserved: iamstack sets it to track what it owns"
                ));
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
                return invalid(format!(
                    "refusing to publish ports on {} while default passwords are in use: they are \
                     public; set {}, or keep the default --bind-address 127.0.0.1",
                    self.bind_address,
                    defaults.join(" and ")
                ));
            }
        }
        Ok(())
    }
}

/// The engine location plus the project: what `down` and `status` need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectConfig {
    pub project: String,
    pub engine: EngineConfig,
}

impl ProjectConfig {
    pub fn resolve(args: &ProjectArgs, engine: EngineConfig) -> anyhow::Result<ProjectConfig> {
        // Read the env file too, so a broken one is reported the same way by every command.
        EnvFile::from_args(args)?;
        Ok(ProjectConfig {
            project: project_name(args)?,
            engine,
        })
    }
}

#[cfg(test)]
mod stack_config_tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn resolve(argv: &[&str]) -> anyhow::Result<StackConfig> {
        let mut full = vec!["iamstack", "up"];
        full.extend_from_slice(argv);
        let cli = Cli::try_parse_from(full).expect("arguments parse");
        let Command::Up(up) = cli.command else {
            unreachable!("parsed `up`")
        };
        StackConfig::resolve(&up.stack, &up.admin, EngineConfig::from_value(None))
    }

    #[test]
    fn defaults_reproduce_the_reference_setup_on_loopback() {
        let c = resolve(&[]).unwrap();
        assert_eq!(c.project, "iam");
        assert_eq!(c.postgres_image, "postgres:17.4");
        assert_eq!(c.keycloak_image, "keycloak/keycloak:26.2");
        assert_eq!(c.bind_address.to_string(), "127.0.0.1");
        assert_eq!(
            (c.postgres_port, c.keycloak_port, c.management_port),
            (5432, 8080, 9000)
        );
        assert_eq!(c.postgres_password, "keycloak$123");
        assert_eq!(c.admin.password, "kc_admin$123");
        assert_eq!(c.data, DataSource::Volume);
        assert_eq!(c.timeout, std::time::Duration::from_secs(300));
        assert_eq!(c.engine.host, "unix:///var/run/docker.sock");
    }

    #[test]
    fn env_file_sets_both_passwords_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vars.env");
        std::fs::write(&file, "POSTGRES_PASSWORD=pg$1\nKEYCLOAK_PASSWORD=kc$2\n").unwrap();
        let f = file.to_str().unwrap();
        let c = resolve(&["--env-file", f]).unwrap();
        assert_eq!(c.postgres_password, "pg$1");
        assert_eq!(c.admin.password, "kc$2");
        let c = resolve(&["--env-file", f, "--postgres-password", "flag"]).unwrap();
        assert_eq!(c.postgres_password, "flag");
    }

    #[test]
    fn a_public_bind_address_needs_non_default_passwords() {
        let err = resolve(&["--bind-address", "0.0.0.0"]).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
        let msg = err.to_string();
        assert!(
            msg.contains("0.0.0.0") && msg.contains("--postgres-password"),
            "{msg}"
        );
        assert!(msg.contains("--admin-password"), "{msg}");
        let ok = resolve(&[
            "--bind-address",
            "0.0.0.0",
            "--postgres-password",
            "s3cret",
            "--admin-password",
            "s3cret2",
        ]);
        assert!(ok.is_ok());
        assert!(resolve(&["--bind-address", "::1"]).is_ok());
    }

    #[test]
    fn ports_must_differ_unless_zero() {
        let err = resolve(&["--keycloak-port", "9000"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("--keycloak-port and --management-port"),
            "{err}"
        );
        assert!(resolve(&[
            "--postgres-port",
            "0",
            "--keycloak-port",
            "0",
            "--management-port",
            "0"
        ])
        .is_ok());
    }

    #[test]
    fn reserved_labels_are_refused() {
        let err = resolve(&["--label", "dev.iamstack.stack=x"]).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
        let c = resolve(&["--label", "dev.iamstack.test-run=abc", "--label", "team=a"]).unwrap();
        assert_eq!(
            c.labels.get("dev.iamstack.test-run").map(String::as_str),
            Some("abc")
        );
        assert_eq!(c.labels.len(), 2);
    }

    #[test]
    fn keycloak_env_needs_valid_names() {
        let c = resolve(&["--keycloak-env", "KC_LOG_LEVEL=debug"]).unwrap();
        assert_eq!(
            c.keycloak_env,
            vec![("KC_LOG_LEVEL".into(), "debug".into())]
        );
        let err = resolve(&["--keycloak-env", "KC-BAD=1"]).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
    }

    #[test]
    fn data_dir_becomes_absolute() {
        let c = resolve(&["--data-dir", "rel/pg"]).unwrap();
        match c.data {
            DataSource::HostDir(p) => assert!(p.is_absolute() && p.ends_with("rel/pg")),
            DataSource::Volume => panic!("expected a host dir"),
        }
    }

    #[test]
    fn docker_host_is_honoured() {
        let e = EngineConfig::from_value(Some("tcp://10.0.0.5:2375".into()));
        assert_eq!(e.host, "tcp://10.0.0.5:2375");
        assert!(!e.is_local());
        assert!(EngineConfig::from_value(Some(String::new())).is_local());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_values_are_literal() {
        let f = EnvFile::parse(
            "# reference vars.env\nPOSTGRES_PASSWORD=keycloak$123\nKEYCLOAK_PASSWORD='kc_admin$123'\n",
            "vars.env",
        )
        .unwrap();
        assert_eq!(f.get("POSTGRES_PASSWORD"), Some("keycloak$123"));
        assert_eq!(f.get("KEYCLOAK_PASSWORD"), Some("kc_admin$123"));
    }

    #[test]
    fn env_file_errors_name_file_and_line() {
        let err = EnvFile::parse("A=1\nbroken\n", "vars.env").unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 7);
        assert!(err.to_string().contains("vars.env:2"), "{err}");
    }

    #[test]
    fn admin_password_precedence() {
        let file = EnvFile::parse("KEYCLOAK_PASSWORD=fromfile", "f").unwrap();
        let none = AdminArgs {
            admin_user: None,
            admin_password: None,
        };
        assert_eq!(AdminCredentials::resolve(&none, &file).password, "fromfile");
        assert_eq!(
            AdminCredentials::resolve(&none, &EnvFile::default()).password,
            "kc_admin$123"
        );
        let flag = AdminArgs {
            admin_user: None,
            admin_password: Some("flag".into()),
        };
        assert_eq!(AdminCredentials::resolve(&flag, &file).password, "flag");
    }
}
