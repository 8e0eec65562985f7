//! The GitHub Action's steps that need no Docker engine, run as action.yml runs them (bash, the
//! step's environment, `$GITHUB_OUTPUT` a temporary file): naming an existing binary, the cache
//! key, refusing a bad `verify` or `ephemeral` input, and passing `ephemeral` and
//! `from-snapshot` on. `tests/engine_action.rs` runs the rest on an engine.

use std::process::{Command, Output};

mod action_common;
use action_common::text;

/// `bash action/<script>` with only PATH, HOME and `env` in its environment.
fn step(script: &str, env: &[(&str, &str)]) -> Output {
    Command::new("bash")
        .arg(action_common::script(script))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("run bash")
}

#[test]
fn an_existing_binary_is_named_in_the_step_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("output");
    let bin = env!("CARGO_BIN_EXE_iamstack");
    let out = step(
        "build.sh",
        &[
            ("IAMSTACK_BINARY", bin),
            ("GITHUB_OUTPUT", output.to_str().expect("utf-8 path")),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("iamstack "),
        "the binary's --version: {}",
        text(&out)
    );
    let written = std::fs::read_to_string(&output).expect("read GITHUB_OUTPUT");
    assert_eq!(written, format!("bin={bin}\n"));
}

#[test]
fn a_named_binary_that_is_not_executable_fails_the_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("output");
    let missing = dir.path().join("no-such-iamstack");
    let out = step(
        "build.sh",
        &[
            ("IAMSTACK_BINARY", missing.to_str().expect("utf-8 path")),
            ("GITHUB_OUTPUT", output.to_str().expect("utf-8 path")),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("::error::iamstack-binary"),
        "{}",
        text(&out)
    );
    assert!(!output.exists(), "no output for a missing binary");
}

#[test]
fn the_cache_key_is_a_stable_hash_of_the_sources() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = |n: usize| {
        let output = dir.path().join(format!("output{n}"));
        let out = step(
            "cache-key.sh",
            &[
                ("ACTION_PATH", env!("CARGO_MANIFEST_DIR")),
                ("GITHUB_OUTPUT", output.to_str().expect("utf-8 path")),
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        std::fs::read_to_string(&output).expect("read GITHUB_OUTPUT")
    };
    let first = key(1);
    let hash = first
        .strip_prefix("key=")
        .and_then(|k| k.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("not a key line: {first:?}"));
    assert_eq!(hash.len(), 40, "{hash}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    assert_eq!(key(2), first, "the same sources give the same key");
}

#[test]
fn a_verify_input_other_than_true_or_false_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A "binary" that records being run: it must not be.
    let marker = dir.path().join("ran");
    let fake = dir.path().join("iamstack");
    std::fs::write(&fake, format!("#!/bin/sh\ntouch '{}'\n", marker.display()))
        .expect("write the fake binary");
    let mut perms = std::fs::metadata(&fake).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).expect("chmod");
    let out = step(
        "up.sh",
        &[
            ("IAMSTACK_BIN", fake.to_str().expect("utf-8 path")),
            ("INPUT_VERIFY", "yes"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("the verify input is `yes`"),
        "{}",
        text(&out)
    );
    assert!(!marker.exists(), "iamstack ran despite the bad input");
}

/// A fake `iamstack` that appends its arguments and the IAMSTACK_* variables it sees to `log`.
fn recording_binary(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let log = dir.join("calls");
    let fake = dir.join("iamstack");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"args: $*\" >> '{log}'\nenv | grep '^IAMSTACK_' | sort >> '{log}'\n",
            log = log.display()
        ),
    )
    .expect("write the fake binary");
    let mut perms = std::fs::metadata(&fake).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).expect("chmod");
    (fake, log)
}

#[test]
fn the_ephemeral_and_from_snapshot_inputs_reach_iamstack_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (fake, log) = recording_binary(dir.path());
    let out = step(
        "up.sh",
        &[
            ("IAMSTACK_BIN", fake.to_str().expect("utf-8 path")),
            ("INPUT_EPHEMERAL", "true"),
            ("INPUT_FROM_SNAPSHOT", "ci/iam.snapshot.tar.gz"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let calls = std::fs::read_to_string(&log).expect("the binary ran");
    let up = calls
        .split("args: ")
        .find(|c| c.contains(" up "))
        .unwrap_or_else(|| panic!("an `up` call: {calls}"));
    assert!(up.contains("IAMSTACK_EPHEMERAL=true"), "{calls}");
    assert!(
        up.contains("IAMSTACK_FROM_SNAPSHOT=ci/iam.snapshot.tar.gz"),
        "{calls}"
    );

    // Left at their defaults, neither is set.
    let dir = tempfile::tempdir().expect("temp dir");
    let (fake, log) = recording_binary(dir.path());
    let out = step(
        "up.sh",
        &[("IAMSTACK_BIN", fake.to_str().expect("utf-8 path"))],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let calls = std::fs::read_to_string(&log).expect("the binary ran");
    assert!(!calls.contains("IAMSTACK_EPHEMERAL"), "{calls}");
    assert!(!calls.contains("IAMSTACK_FROM_SNAPSHOT"), "{calls}");
}

#[test]
fn an_ephemeral_input_other_than_true_or_false_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (fake, log) = recording_binary(dir.path());
    let out = step(
        "up.sh",
        &[
            ("IAMSTACK_BIN", fake.to_str().expect("utf-8 path")),
            ("INPUT_EPHEMERAL", "yes"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("the ephemeral input is `yes`"),
        "{}",
        text(&out)
    );
    assert!(!log.exists(), "iamstack ran despite the bad input");
}
