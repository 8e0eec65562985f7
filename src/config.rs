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
