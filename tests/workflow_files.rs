//! The GitHub files check out: `.github/workflows/*.yml` and `action.yml` validate against
//! GitHub's schemas (`check-jsonschema`, from PyPI, which bundles them), and `shellcheck` (Debian)
//! finds nothing in the scripts they run (`action/`, `.ci/`) nor in their inline `run:` steps.
//!
//! Both tools are outside Rust: without them a test prints `skipped: ...` and passes, except
//! under `CI=true` (`.ci/run` installs them), where it fails, as the Docker tests do.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"))
}

/// Whether `tool` runs; if not: a failure under CI, else `false` after saying the test skipped.
fn have(tool: &str, install: &str) -> bool {
    let runs = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        assert!(
            !in_ci(),
            "CI is set and `{tool}` is missing: {install} (.ci/run installs it)"
        );
        eprintln!("skipped: `{tool}` is not installed ({install})");
    }
    runs
}

fn workflows() -> Vec<PathBuf> {
    let dir = root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflow in {}", dir.display());
    files
}

fn check(cmd: &mut Command) {
    let out = cmd.output().expect("run the checker");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_workflows_and_the_action_validate_against_githubs_schemas() {
    if !have("check-jsonschema", "pip install check-jsonschema") {
        return;
    }
    check(
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-workflows"])
            .args(workflows()),
    );
    check(
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-actions"])
            .arg(root().join("action.yml")),
    );
}

#[test]
fn the_scripts_the_workflows_and_the_action_run_are_shellcheck_clean() {
    if !have("shellcheck", "apt-get install shellcheck") {
        return;
    }
    let mut scripts = Vec::new();
    for dir in ["action", ".ci"] {
        for entry in std::fs::read_dir(root().join(dir)).expect("read the script folder") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                scripts.push(path);
            }
        }
    }
    scripts.sort();
    check(Command::new("shellcheck").args(&scripts));
}

/// Every `run:` of a workflow's jobs or of the composite action's steps.
fn run_steps(file: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).expect("read the YAML");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("parse the YAML");
    let mut step_lists = Vec::new();
    if let Some(jobs) = doc.get("jobs").and_then(|j| j.as_mapping()) {
        step_lists.extend(jobs.values().filter_map(|job| job.get("steps")));
    }
    if let Some(steps) = doc.get("runs").and_then(|r| r.get("steps")) {
        step_lists.push(steps);
    }
    let mut runs = Vec::new();
    for steps in step_lists {
        for (i, step) in steps.as_sequence().into_iter().flatten().enumerate() {
            if let Some(run) = step.get("run").and_then(|r| r.as_str()) {
                let name = step
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map_or_else(|| format!("step {}", i + 1), str::to_string);
                runs.push((name, run.to_string()));
            }
        }
    }
    runs
}

/// `${{ expr }}` is replaced by the runner before bash sees the script; shellcheck sees a word.
fn without_expressions(run: &str) -> String {
    let mut out = String::new();
    let mut rest = run;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push_str("EXPR");
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn the_inline_run_steps_are_shellcheck_clean() {
    if !have("shellcheck", "apt-get install shellcheck") {
        return;
    }
    let mut files = workflows();
    files.push(root().join("action.yml"));
    let mut checked = 0;
    for file in files {
        for (name, run) in run_steps(&file) {
            let script = format!("#!/usr/bin/env bash\n{}", without_expressions(&run));
            let mut child = Command::new("shellcheck")
                .arg("-")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run shellcheck");
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())
                .expect("write the step");
            let out = child.wait_with_output().expect("shellcheck");
            assert!(
                out.status.success(),
                "{} step `{name}`:\n{script}\n{}",
                file.display(),
                String::from_utf8_lossy(&out.stdout)
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} run steps found");
}

#[test]
fn expressions_become_plain_words() {
    assert_eq!(
        without_expressions("echo ${{ inputs.a }} \"${{ x }}\""),
        "echo EXPR \"EXPR\""
    );
    assert_eq!(without_expressions("no expression"), "no expression");
}
