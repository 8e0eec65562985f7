//! What the bench says about where it ran: the binary it runs, git, the machine, the time.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bollard::Docker;
use tokio::process::Command;

pub(crate) async fn image_id(docker: &Docker, image: &str) -> Option<String> {
    docker.inspect_image(image).await.ok().and_then(|i| i.id)
}

/// This example's target profile directory (`target/<profile>`), from its own path.
pub(crate) fn profile_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("cannot tell the target directory")
}

/// Build the iamstack binary of this checkout beside the example (a no-op when current): the
/// target directory may be shared, and another checkout's build may have left its binary there.
/// Then take a hard link (else a copy) of it, used for every run.
pub(crate) async fn binary(out: &Path) -> anyhow::Result<PathBuf> {
    let profile_dir = profile_dir()?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_string();
    let target = profile_dir.parent().context("no target directory")?;
    let cargo = std::env::var("CARGO")
        .ok()
        .or_else(|| option_env!("CARGO").map(str::to_string));
    if let Some(cargo) = cargo {
        let profile_flag = match profile.as_str() {
            "debug" => "dev",
            other => other,
        };
        eprintln!("bench: building the iamstack binary of this checkout ({profile})");
        let status = Command::new(cargo)
            .args([
                "build",
                "--locked",
                "--bin",
                "iamstack",
                "--profile",
                profile_flag,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", target)
            .status()
            .await
            .context("cannot run cargo")?;
        anyhow::ensure!(status.success(), "building iamstack failed ({status})");
    }
    let built = profile_dir.join("iamstack");
    anyhow::ensure!(
        built.exists(),
        "{} is missing: run `cargo build` first",
        built.display()
    );
    let bin = out.join(".iamstack");
    let _ = std::fs::remove_file(&bin);
    if std::fs::hard_link(&built, &bin).is_err() {
        std::fs::copy(&built, &bin).context("cannot copy the iamstack binary")?;
    }
    Ok(bin)
}

pub(crate) fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub(crate) fn machine_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(crate) fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

pub(crate) fn now_utc() -> String {
    iamstack::snapshot::metadata::now_rfc3339()
}
