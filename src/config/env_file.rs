//! The reference's `vars.env`: `KEY=value` lines, `#` comments, values literal (`$123` stays as
//! is); one pair of surrounding quotes is removed; an `export ` prefix is allowed.

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;
use crate::cli::ProjectArgs;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    pub vars: BTreeMap<String, String>,
}

impl EnvFile {
    pub fn parse(text: &str, origin: &str) -> Result<EnvFile, ConfigError> {
        let mut vars = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, value)) = line.split_once('=') else {
                return Err(ConfigError::EnvFileSyntax {
                    origin: origin.to_string(),
                    line: i + 1,
                    text: raw.to_string(),
                });
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

    pub fn load(path: &Path) -> Result<EnvFile, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::EnvFileUnreadable {
                path: path.to_path_buf(),
                source,
            })?;
        EnvFile::parse(&text, &path.display().to_string())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// The env file named by `--env-file`, or an empty one.
    pub fn from_args(project: &ProjectArgs) -> Result<EnvFile, ConfigError> {
        match &project.env_file {
            Some(path) => EnvFile::load(path),
            None => Ok(EnvFile::default()),
        }
    }
}
