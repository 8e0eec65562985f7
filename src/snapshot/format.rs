//! The snapshot file: a gzip'd tar whose first entry is `iamstack-snapshot.json` (the
//! [`Metadata`]) followed, byte for byte, by the tar the engine's archive API gave for the data
//! directory (entries `data/...`). Keeping the engine's tar as it is means no entry is
//! re-encoded (long names, modes and owners stay exactly as the engine wrote them), and a
//! restore hands the same bytes back to the engine.
//!
//! Reading checks everything before any object is created: the first entry, the metadata's
//! format, that every other entry stays under `data/` and that the data directory is one
//! (`data/PG_VERSION`), and the gzip checksum (by reading to the end).

use std::io::{self, Read, Write};
use std::path::{Component, Path};

use flate2::read::GzDecoder;

use super::error::SnapshotError;
use super::metadata::{Metadata, FORMAT_VERSION};

/// The name of the metadata entry.
pub const METADATA_ENTRY: &str = "iamstack-snapshot.json";
/// The top directory of the data entries: the engine names them after PGDATA's last component.
pub const DATA_DIR_ENTRY: &str = "data";
/// A metadata entry larger than this is not ours.
const MAX_METADATA_BYTES: u64 = 64 * 1024;
const BLOCK: usize = 512;

/// Write the metadata entry (a ustar header, the JSON, padding to a block). The engine's tar
/// follows it, so the whole is one tar ending with the engine's end-of-archive blocks.
pub fn write_metadata_entry(out: &mut impl Write, meta: &Metadata) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
    let mut header = tar::Header::new_ustar();
    header.set_path(METADATA_ENTRY)?;
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    header.set_mtime(created);
    header.set_cksum();
    out.write_all(header.as_bytes())?;
    out.write_all(&json)?;
    out.write_all(&vec![0; padding(json.len())])
}

fn padding(len: usize) -> usize {
    (BLOCK - len % BLOCK) % BLOCK
}

/// What a whole read of a snapshot file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub metadata: Metadata,
    /// Entries of the data directory, and their file bytes (uncompressed).
    pub entries: u64,
    pub data_bytes: u64,
}

/// Read the whole file and check it (see the module docs). Blocking: file I/O and inflating.
pub fn check_file(path: &Path) -> Result<Checked, SnapshotError> {
    let corrupt = |cause: String| SnapshotError::Corrupt {
        path: path.to_path_buf(),
        cause,
    };
    let file = std::fs::File::open(path).map_err(|cause| SnapshotError::Unreadable {
        path: path.to_path_buf(),
        cause,
    })?;
    check(io::BufReader::new(file)).map_err(corrupt)
}

/// [`check_file`] over any reader of the gzip'd bytes; the error is the cause, for a sentence.
pub fn check(gzipped: impl Read) -> Result<Checked, String> {
    let mut archive = tar::Archive::new(GzDecoder::new(gzipped));
    let mut entries = archive
        .entries()
        .map_err(|e| format!("not a gzip'd tar: {e}"))?;
    let first = entries
        .next()
        .ok_or("the archive is empty")?
        .map_err(|e| format!("not a gzip'd tar: {e}"))?;
    let metadata = read_metadata(first)?;
    let (mut count, mut bytes, mut saw_version) = (0u64, 0u64, false);
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("a damaged entry: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("an entry with an unreadable name: {e}"))?
            .into_owned();
        if !under_data_dir(&path) {
            return Err(format!(
                "entry `{}` is outside the data directory `{DATA_DIR_ENTRY}/`",
                path.display()
            ));
        }
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Regular | T::Continuous | T::Directory | T::Symlink | T::Link => {}
            other => {
                return Err(format!(
                    "entry `{}` is of a kind a data directory never has ({other:?})",
                    path.display()
                ))
            }
        }
        saw_version |= path == Path::new(DATA_DIR_ENTRY).join("PG_VERSION");
        // Reading each entry to its end is what makes the gzip checksum get checked.
        bytes += io::copy(&mut entry, &mut io::sink())
            .map_err(|e| format!("entry `{}` is damaged: {e}", path.display()))?;
        count += 1;
    }
    if !saw_version {
        return Err(format!(
            "it holds no Postgres data directory (no `{DATA_DIR_ENTRY}/PG_VERSION`)"
        ));
    }
    // Whatever follows the tar's end (the gzip trailer) must be intact too.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| format!("damaged at its end: {e}"))?;
    Ok(Checked {
        metadata,
        entries: count,
        data_bytes: bytes,
    })
}

fn read_metadata(mut first: tar::Entry<'_, impl Read>) -> Result<Metadata, String> {
    let name = first
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if name != METADATA_ENTRY {
        return Err(format!(
            "its first entry is `{name}`, not `{METADATA_ENTRY}`: not an iamstack snapshot"
        ));
    }
    if first.size() > MAX_METADATA_BYTES {
        return Err(format!("`{METADATA_ENTRY}` is {} bytes", first.size()));
    }
    let mut json = Vec::new();
    first
        .read_to_end(&mut json)
        .map_err(|e| format!("`{METADATA_ENTRY}` is damaged: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| format!("`{METADATA_ENTRY}`: {e}"))?;
    let format = value.get("format").and_then(serde_json::Value::as_u64);
    if format != Some(u64::from(FORMAT_VERSION)) {
        return Err(format!(
            "`{METADATA_ENTRY}` is of format {}, this iamstack reads format {FORMAT_VERSION}: \
             use the iamstack version that made it, or make a new snapshot",
            format.map_or_else(|| "unknown".to_string(), |f| f.to_string())
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("`{METADATA_ENTRY}`: {e}"))
}

/// `data` itself or a relative path below it, without `..`.
fn under_data_dir(path: &Path) -> bool {
    let mut components = path.components();
    components.next() == Some(Component::Normal(DATA_DIR_ENTRY.as_ref()))
        && components.all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// The data directory's tar (the engine's bytes, as saved), for the engine to extract: the
/// file inflated, past the metadata entry. Call after [`check_file`] said the file is good.
pub fn data_archive(gzipped: impl Read) -> io::Result<impl Read> {
    let mut tar = GzDecoder::new(gzipped);
    let mut header = [0u8; BLOCK];
    tar.read_exact(&mut header)?;
    let parsed = tar::Header::from_byte_slice(&header);
    let named = parsed.path_bytes().as_ref() == METADATA_ENTRY.as_bytes();
    let size = parsed.entry_size()?;
    if !named || size > MAX_METADATA_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the first entry is not `{METADATA_ENTRY}`"),
        ));
    }
    let skip = size + padding(size as usize) as u64;
    io::copy(&mut (&mut tar).take(skip), &mut io::sink())?;
    Ok(tar)
}

#[cfg(test)]
mod tests;
