//! The reference's `vars.env`: `KEY=value` lines, `#` comments, values literal (`$123` stays as
//! is); one pair of surrounding quotes is removed; an `export ` prefix is allowed. As for the
//! compose file that reads the same file, a key given twice takes its last value; CRLF line
//! ends and a UTF-8 byte-order mark are accepted. Refused (exit 7, with the line): a file over
//! [`EnvFile::MAX_BYTES`], one that is not UTF-8 text, control characters (binary data, NUL),
//! a line without `=`, and a key that is not a variable name (it could never be read).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::ConfigError;
use crate::cli::ProjectArgs;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    pub vars: BTreeMap<String, String>,
}

impl EnvFile {
    /// The largest env file read: a `vars.env` is a few lines; a bigger file is the wrong file.
    pub const MAX_BYTES: u64 = 1024 * 1024;

    pub fn parse(text: &str, origin: &str) -> Result<EnvFile, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut vars = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            // `lines` has removed a CRLF's CR; any other control character is not text.
            if let Some(c) = raw.chars().find(|c| c.is_control() && *c != '\t') {
                return Err(ConfigError::Other(format!(
                    "{origin}:{}: control character U+{:04X} in an env file: it must be text",
                    i + 1,
                    c as u32
                )));
            }
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
            let key = key.trim();
            if key.is_empty() {
                return Err(ConfigError::Other(format!(
                    "{origin}:{}: no variable name before `=`",
                    i + 1
                )));
            }
            if !is_variable_name(key) {
                return Err(ConfigError::Other(format!(
                    "{origin}:{}: `{key}` is not a variable name (letters, digits, `_`, `.`, `-`)",
                    i + 1
                )));
            }
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
                .unwrap_or(value);
            vars.insert(key.to_string(), unquoted.to_string());
        }
        Ok(EnvFile { vars })
    }

    pub fn load(path: &Path) -> Result<EnvFile, ConfigError> {
        let unreadable = |source| ConfigError::EnvFileUnreadable {
            path: path.to_path_buf(),
            source,
        };
        let origin = path.display().to_string();
        let too_big = || {
            ConfigError::Other(format!(
                "env file `{origin}` is larger than {} KiB: is it the right file?",
                Self::MAX_BYTES / 1024
            ))
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        if file.metadata().map_err(unreadable)?.len() > Self::MAX_BYTES {
            return Err(too_big());
        }
        // Read no more than the limit: a device or a growing file has no length to check.
        let mut bytes = Vec::new();
        file.take(Self::MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() as u64 > Self::MAX_BYTES {
            return Err(too_big());
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count();
            ConfigError::Other(format!(
                "{origin}:{line}: the env file is not UTF-8 text (byte 0x{:02x}); save it as UTF-8",
                e.as_bytes()[at]
            ))
        })?;
        EnvFile::parse(&text, &origin)
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

/// A key that can be read back: letters, digits, `_`, `.` and `-` (as Docker Compose's env files).
fn is_variable_name(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
