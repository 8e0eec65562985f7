//! Why realm files cannot be used (exit 7): a problem in a file's content, named by file,
//! line and field, or a file or directory that cannot be read.

use std::path::PathBuf;

use crate::error::Kind;

/// A realm file that cannot be used; exit 7.
#[derive(Debug, thiserror::Error)]
pub enum RealmFileError {
    /// The content: syntax, a field's type or value, a variable. Displays as
    /// `invalid realm file file:line: field `x`: message`.
    #[error("invalid realm file {origin}{}: {message}", position(*.line, .field.as_deref()))]
    Invalid {
        /// The path, or the built-in marker.
        origin: String,
        line: Option<usize>,
        /// The path into the document, e.g. `clients[1].publicClient`.
        field: Option<String>,
        message: String,
    },
    #[error("cannot read realm directory `{}`", .path.display())]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("realm directory `{}` holds no *.yaml, *.yml or *.json file", .path.display())]
    EmptyDir { path: PathBuf },
    #[error("cannot read realm file `{}`", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("realm `{realm}` is defined twice: in {first} and in {second}; keep one")]
    DefinedTwice {
        realm: String,
        first: String,
        second: String,
    },
}

/// `:line: field `x`` for [`RealmFileError::Invalid`], each part only when known.
fn position(line: Option<usize>, field: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(line) = line {
        s.push_str(&format!(":{line}"));
    }
    if let Some(field) = field {
        s.push_str(&format!(": field `{field}`"));
    }
    s
}

impl RealmFileError {
    /// Every realm file problem is a configuration problem (exit 7).
    pub fn kind(&self) -> Kind {
        Kind::InvalidConfig
    }

    /// The 1-based line of a content problem, when it can be told.
    pub fn line(&self) -> Option<usize> {
        match self {
            RealmFileError::Invalid { line, .. } => *line,
            _ => None,
        }
    }

    /// The field of a content problem (`clients[1].publicClient`), when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            RealmFileError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}
