//! Where Keycloak keeps a build's options: `META-INF/keycloak-persisted.properties` inside
//! `<home>/lib/quarkus/generated-bytecode.jar` (`PersistedConfigSource`), the home being the
//! grandparent of `kc.sh`. The double writes the same entry in a jar (a zip, through the `zip`
//! crate), so the file sits where Keycloak's does and survives a container restart the same way.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

/// Double-only: overrides the home directory (tests run the binary outside `/opt/keycloak`).
pub const HOME_ENV: &str = "KC_DOUBLE_HOME";

/// The jar entry holding the persisted options.
pub const ENTRY: &str = "META-INF/keycloak-persisted.properties";

/// `KC_DOUBLE_HOME`, else the executable's grandparent (`kc.sh` computes the home as
/// `$(dirname "$0")/..`).
pub fn home(env: &HashMap<String, String>) -> Option<PathBuf> {
    if let Some(h) = env.get(HOME_ENV).filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.to_path_buf())
}

pub fn jar_path(home: &Path) -> PathBuf {
    home.join("lib")
        .join("quarkus")
        .join("generated-bytecode.jar")
}

/// The persisted options; empty when there is no jar or no entry (no build ever ran).
pub fn read(home: &Path) -> io::Result<BTreeMap<String, String>> {
    match std::fs::read(jar_path(home)) {
        Ok(bytes) => Ok(zip_entry(&bytes, ENTRY)
            .map(|b| parse_properties(&String::from_utf8_lossy(&b)))
            .unwrap_or_default()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

/// Replaces the jar with one holding `options`, as a re-augmentation regenerates it.
pub fn write(home: &Path, options: &BTreeMap<String, String>) -> io::Result<()> {
    let path = jar_path(home);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        path,
        stored_zip(ENTRY, format_properties(options).as_bytes())?,
    )
}

/// `java.util.Properties#store` text: a comment line, then `key=value` with `\`, `=`, `:`, `#`,
/// `!` and leading spaces escaped.
pub fn format_properties(options: &BTreeMap<String, String>) -> String {
    let escape = |s: &str| {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            match c {
                '\\' | '=' | ':' | '#' | '!' => {
                    out.push('\\');
                    out.push(c);
                }
                ' ' if i == 0 => out.push_str("\\ "),
                '\n' => out.push_str("\\n"),
                _ => out.push(c),
            }
        }
        out
    };
    let mut text = String::from("#keycloak-double\n");
    for (k, v) in options {
        text.push_str(&format!("{}={}\n", escape(k), escape(v)));
    }
    text
}

pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let unescape = |s: &str| {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(n) => out.push(n),
                    None => {}
                },
                _ => out.push(c),
            }
        }
        out
    };
    let mut map = BTreeMap::new();
    for line in text.lines().map(str::trim_start) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let mut split = None;
        let mut escaped = false;
        for (i, c) in line.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '=' | ':' => {
                    split = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let (k, v) = match split {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, ""),
        };
        map.insert(unescape(k.trim_end()), unescape(v.trim_start()));
    }
    map
}

/// A jar holding one stored (uncompressed) entry `name`.
pub fn stored_zip(name: &str, data: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file(name, options).map_err(io::Error::other)?;
    zip.write_all(data)?;
    Ok(zip.finish().map_err(io::Error::other)?.into_inner())
}

/// Entry `name` of a jar; `None` when it is no zip or has no such entry.
pub fn zip_entry(jar: &[u8], name: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(io::Cursor::new(jar)).ok()?;
    let mut entry = archive.by_name(name).ok()?;
    let mut data = Vec::new();
    entry.read_to_end(&mut data).ok()?;
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_with_escapes() {
        let options: BTreeMap<String, String> = [
            ("kc.db", "postgres"),
            ("kc.http-relative-path", "/auth"),
            ("kc.spi-x", "a=b:c #d"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let text = format_properties(&options);
        assert!(text.contains("kc.db=postgres\n"), "{text}");
        assert_eq!(parse_properties(&text), options);
    }

    #[test]
    fn the_jar_holds_the_entry() {
        let zip = stored_zip(ENTRY, b"kc.db=postgres\n").unwrap();
        assert_eq!(
            zip_entry(&zip, ENTRY).as_deref(),
            Some(&b"kc.db=postgres\n"[..])
        );
        assert_eq!(zip_entry(&zip, "other"), None);
        assert_eq!(zip_entry(b"not a zip", ENTRY), None);
    }
}
