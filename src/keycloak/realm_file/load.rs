//! Loading: the paths given (files, directories of them, or none for the built-in realm) to
//! the validated realm files, each realm defined once.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::limits::MAX_REALM_FILE_BYTES;
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
    let mut realms: Vec<RealmFile> = Vec::new();
    for file in realm_file_paths(paths)? {
        let text = read_text(&file)?;
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

/// The files `paths` name, in the order they are loaded: each file as given, each directory's
/// realm files sorted by name. No paths: none (the built-in realm is not a file).
pub fn realm_file_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RealmFileError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(realm_files_in(path)?);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// The bytes of the realm files `paths` name, in load order (the built-in realm's without
/// paths): what a snapshot's cache key and metadata hash. Each file within the size limit.
pub fn realm_file_bytes(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, RealmFileError> {
    if paths.is_empty() {
        return Ok(vec![BUILTIN_REALM.as_bytes().to_vec()]);
    }
    realm_file_paths(paths)?
        .iter()
        .map(|file| read_text(file).map(String::into_bytes))
        .collect()
}

/// A realm file's text: at most [`MAX_REALM_FILE_BYTES`] (told by its length before reading,
/// and by reading no more, for a device or a file that grows), and UTF-8.
fn read_text(path: &Path) -> Result<String, RealmFileError> {
    let read_error = |source| RealmFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let too_big = |len: u64| RealmFileError::Invalid {
        origin: path.display().to_string(),
        line: None,
        field: None,
        message: format!(
            "the file is {len} bytes; a realm file may be at most {} MiB",
            MAX_REALM_FILE_BYTES / (1024 * 1024)
        ),
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let len = file.metadata().map_err(read_error)?.len();
    if len > MAX_REALM_FILE_BYTES {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_REALM_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_REALM_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        RealmFileError::Invalid {
            origin: path.display().to_string(),
            line: Some(1 + bytes[..at].iter().filter(|b| **b == b'\n').count()),
            field: None,
            message: not_utf8(bytes, at),
        }
    })
}

/// Why bytes are not UTF-8 text, with the fix.
fn not_utf8(bytes: &[u8], at: usize) -> String {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return "the file is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as \
                UTF-8"
            .to_string();
    }
    format!(
        "the file is not UTF-8 text (byte 0x{:02x} at offset {at}); save it as UTF-8",
        bytes[at]
    )
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
