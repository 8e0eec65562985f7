//! What the tests of the GitHub Action's steps (`tests/action_steps.rs`, `tests/engine_action.rs`)
//! share: where the scripts are, and a step's result as text for assertion messages.

use std::path::{Path, PathBuf};
use std::process::Output;

/// `action/<script>` in this repository.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("action")
        .join(name)
}

/// Exit code, stdout and stderr of a step, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
