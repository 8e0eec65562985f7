//! Where Keycloak keeps a build's options: `META-INF/keycloak-persisted.properties` inside
//! `<home>/lib/quarkus/generated-bytecode.jar` (`PersistedConfigSource`), the home being the
//! grandparent of `kc.sh`. The double writes the same entry in a stored (uncompressed) zip, so
//! the file sits where Keycloak's does and survives a container restart the same way.

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
        stored_zip(ENTRY, format_properties(options).as_bytes()),
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

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip with one stored entry: local header, data, central directory, end record.
pub fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data);
    let (n, len) = (name.len() as u16, data.len() as u32);
    let mut out = Vec::new();
    let common = |out: &mut Vec<u8>| {
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        out.extend_from_slice(&0u32.to_le_bytes()); // DOS time and date
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
    };
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    common(&mut out);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let central = out.len() as u32;
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes()); // version made by
    common(&mut out);
    out.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name.as_bytes());
    let size = out.len() as u32 - central;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&central.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The bytes of a stored entry `name` (via the central directory); `None` when absent,
/// compressed or malformed.
pub fn zip_entry(zip: &[u8], name: &str) -> Option<Vec<u8>> {
    let u16_at = |i: usize| Some(u16::from_le_bytes(zip.get(i..i + 2)?.try_into().ok()?));
    let u32_at = |i: usize| Some(u32::from_le_bytes(zip.get(i..i + 4)?.try_into().ok()?));
    let end = (0..zip.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(i) == Some(0x0605_4b50))?;
    let count = u16_at(end + 10)? as usize;
    let mut at = u32_at(end + 16)? as usize;
    for _ in 0..count {
        if u32_at(at)? != 0x0201_4b50 {
            return None;
        }
        let method = u16_at(at + 10)?;
        let size = u32_at(at + 20)? as usize;
        let (n, extra, comment) = (
            u16_at(at + 28)? as usize,
            u16_at(at + 30)? as usize,
            u16_at(at + 32)? as usize,
        );
        let local = u32_at(at + 42)? as usize;
        if zip.get(at + 46..at + 46 + n)? == name.as_bytes() {
            if method != 0 {
                return None;
            }
            let start = local + 30 + u16_at(local + 26)? as usize + u16_at(local + 28)? as usize;
            return zip.get(start..start + size).map(<[u8]>::to_vec);
        }
        at += 46 + n + extra + comment;
    }
    None
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
    fn the_jar_holds_the_entry_and_a_crc_that_unzip_would_accept() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let zip = stored_zip(ENTRY, b"kc.db=postgres\n");
        assert_eq!(
            zip_entry(&zip, ENTRY).as_deref(),
            Some(&b"kc.db=postgres\n"[..])
        );
        assert_eq!(zip_entry(&zip, "other"), None);
        assert_eq!(zip_entry(b"not a zip", ENTRY), None);
    }
}
