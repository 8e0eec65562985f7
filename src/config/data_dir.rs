//! `--data-dir` checks before anything is created: what the engine's bind syntax cannot carry,
//! and, when the engine shares this machine's file system, a file where a directory must be or
//! a read-only mount. The looking is separate from the deciding, which is pure.

use std::io::ErrorKind;
use std::path::Path;

/// What a local look at the path found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// It exists and is not a directory.
    pub not_a_directory: bool,
    /// Writing into it failed with "read-only file system".
    pub read_only: bool,
}

/// Look at `dir` on this machine: what it is, and whether a file can be written in it (a
/// probe file, removed at once). Permission errors are not judged: the engine writes as root.
pub fn look(dir: &Path) -> Seen {
    let Ok(meta) = std::fs::metadata(dir) else {
        return Seen::default();
    };
    if !meta.is_dir() {
        return Seen {
            not_a_directory: true,
            read_only: false,
        };
    }
    let probe = dir.join(".iamstack-write-probe");
    let read_only = match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            false
        }
        Err(e) => e.kind() == ErrorKind::ReadOnlyFilesystem,
    };
    Seen {
        not_a_directory: false,
        read_only,
    }
}

/// Pure: why `dir` cannot hold Postgres's data, with the fix, if it cannot.
pub fn problem(dir: &Path, seen: &Seen) -> Option<String> {
    let Some(text) = dir.to_str() else {
        return Some(
            "is not valid UTF-8, and the engine API takes UTF-8 paths: use another directory"
                .into(),
        );
    };
    if text.contains(':') {
        return Some(
            "contains `:`, which the engine's bind syntax (`host:container`) cannot carry: use a \
             path without it"
                .into(),
        );
    }
    if seen.not_a_directory {
        return Some(
            "exists and is not a directory: Postgres needs a directory (a missing one is created)"
                .into(),
        );
    }
    if seen.read_only {
        return Some(
            "is on a read-only file system: Postgres must write there; choose a writable directory"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_a_colon_or_a_read_only_mount_is_refused_and_a_directory_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(problem(dir.path(), &look(dir.path())), None);
        let missing = dir.path().join("new");
        assert_eq!(
            problem(&missing, &look(&missing)),
            None,
            "created by the engine"
        );
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(problem(&file, &look(&file))
            .unwrap()
            .contains("not a directory"));
        assert!(problem(Path::new("/srv/a:b"), &Seen::default())
            .unwrap()
            .contains("`:`"));
        let ro = Seen {
            read_only: true,
            ..Seen::default()
        };
        assert!(problem(Path::new("/mnt/ro"), &ro)
            .unwrap()
            .contains("read-only"));
        assert!(
            !dir.path().join(".iamstack-write-probe").exists(),
            "the probe is removed"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/\xff"));
        assert!(problem(p, &Seen::default()).unwrap().contains("UTF-8"));
    }
}
