//! Loading: the paths given (files, directories of them, or none for the built-in realm) to
//! the validated realm files, each realm defined once.

use std::path::{Path, PathBuf};

use super::model::{RealmFile, BUILTIN_ORIGIN, BUILTIN_REALM};
use super::parse::parse_realm_file;
use super::RealmFileError;

/// Load realm files: each path is a file or a directory (its `*.yaml`, `*.yml`, `*.json`,
/// sorted by name). No paths: the built-in `realm/testing.yaml`. Variables come from the
/// process environment.
pub fn load_realm_files(paths: &[PathBuf]) -> Result<Vec<RealmFile>, RealmFileError> {
    // The realm file's `${VAR}` references are, by definition, read from the environment.
    let lookup = |name: &str| std::env::var(name).ok();
    load_realm_files_with(paths, &lookup)
}

/// [`load_realm_files`] with an explicit variable lookup (tests, callers with their own env).
pub fn load_realm_files_with(
    paths: &[PathBuf],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<RealmFile>, RealmFileError> {
    if paths.is_empty() {
        return Ok(vec![parse_realm_file(
            BUILTIN_REALM,
            BUILTIN_ORIGIN,
            false,
            lookup,
        )?]);
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(realm_files_in(path)?);
        } else {
            files.push(path.clone());
        }
    }
    let mut realms: Vec<RealmFile> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| RealmFileError::Read {
            path: file.clone(),
            source,
        })?;
        let json = format_of(&file) == Some(Format::Json);
        let realm = parse_realm_file(&text, &file.display().to_string(), json, lookup)?;
        if let Some(other) = realms.iter().find(|r| r.name() == realm.name()) {
            return Err(RealmFileError::DefinedTwice {
                realm: realm.name().to_string(),
                first: other.origin().to_string(),
                second: realm.origin().to_string(),
            });
        }
        realms.push(realm);
    }
    Ok(realms)
}

/// A directory's realm files, sorted by name; at least one.
fn realm_files_in(dir: &Path) -> Result<Vec<PathBuf>, RealmFileError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RealmFileError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && format_of(p).is_some())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(RealmFileError::EmptyDir {
            path: dir.to_path_buf(),
        });
    }
    Ok(found)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Yaml,
    Json,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => Some(Format::Yaml),
        Some("json") => Some(Format::Json),
        _ => None,
    }
}
