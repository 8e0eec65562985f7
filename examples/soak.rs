//! The soak: N cycles (default 20) of `iamstack up --verify` and `iamstack down --volumes` on
//! this machine's engine, with the test images (official when present, else the offline
//! stand-ins), engine-chosen ports and a test-run label. Each cycle's times are printed; after
//! each cycle nothing may carry the run's label, and the engine's totals of containers,
//! networks and volumes must be what they were before the first cycle. At the end: medians,
//! and the ratio of the last five cycles' median to the first five's (a growing number would
//! show a leak).
//!
//!     cargo build && cargo run --example soak          # 20 cycles
//!     cargo run --example soak -- 5                    # 5 cycles
//!
//! Not part of the tests: it takes minutes. It exits 1 when something is left behind or grows.

use std::process::Command;
use std::time::{Duration, Instant};

use bollard::Docker;
use iamstack_test_support::{images_with, TestRun};

/// The built `iamstack` binary beside this example's directory (`target/<profile>/iamstack`).
fn iamstack_binary() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|examples| examples.parent())
        .ok_or_else(|| anyhow::anyhow!("cannot tell the target directory"))?;
    let bin = dir.join("iamstack");
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: run `cargo build` first",
        bin.display()
    );
    Ok(bin)
}

/// The engine's totals: containers, networks, volumes.
async fn totals(docker: &Docker) -> anyhow::Result<(usize, usize, usize)> {
    use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptions};
    let containers = docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
        .await?
        .len();
    let networks = docker
        .list_networks(None::<ListNetworksOptions>)
        .await?
        .len();
    let volumes = docker
        .list_volumes(None::<bollard::query_parameters::ListVolumesOptions>)
        .await?
        .volumes
        .unwrap_or_default()
        .len();
    Ok((containers, networks, volumes))
}

fn run(bin: &std::path::Path, args: &[&str]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .env(
            "IAMSTACK_STATE_DIR",
            std::env::temp_dir().join("iamstack-soak-state"),
        )
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "`iamstack {}` failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(started.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cycles: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let bin = iamstack_binary()?;
    let docker = iamstack_test_support::engine()
        .await
        .ok_or_else(|| anyhow::anyhow!("no Docker engine answers"))?;
    let images = images_with(&docker).await?;
    let test_run = TestRun::with_engine(&docker).await;
    let project = test_run.project().to_string();
    let label = test_run.label_arg();
    let before = totals(&docker).await?;
    println!(
        "soak: {cycles} cycles of up --verify / down --volumes, project {project}, images {} and {}",
        images.postgres, images.keycloak
    );
    println!("| cycle | up --verify | down --volumes | left behind |");
    println!("|---:|---:|---:|---|");
    let (mut ups, mut downs) = (Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for cycle in 1..=cycles {
        let up = run(
            &bin,
            &[
                "up",
                "--verify",
                "--output",
                "plain",
                "--project",
                &project,
                "--label",
                &label,
                "--postgres-port",
                "0",
                "--keycloak-port",
                "0",
                "--management-port",
                "0",
                "--postgres-image",
                &images.postgres,
                "--keycloak-image",
                &images.keycloak,
                "--pull",
                "never",
            ],
        )?;
        let down = run(
            &bin,
            &[
                "down",
                "--volumes",
                "--output",
                "plain",
                "--project",
                &project,
            ],
        )?;
        let left = test_run.leftovers(&docker).await?;
        let now = totals(&docker).await?;
        let mut note = if left.is_empty() {
            "nothing".to_string()
        } else {
            left.join(", ")
        };
        if now != before {
            note.push_str(&format!(
                "; engine totals {now:?} (containers, networks, volumes) were {before:?}"
            ));
        }
        if !left.is_empty() || now != before {
            failures.push(cycle);
        }
        println!(
            "| {cycle} | {:.2} s | {:.2} s | {note} |",
            up.as_secs_f64(),
            down.as_secs_f64()
        );
        ups.push(up);
        downs.push(down);
    }
    let window = 5.min(cycles);
    let first = median(ups[..window].to_vec());
    let last = median(ups[cycles - window..].to_vec());
    println!(
        "\nmedian up --verify {:.2} s, down --volumes {:.2} s; last {window} cycles' up median / \
         first {window}'s: {:.2}",
        median(ups.clone()).as_secs_f64(),
        median(downs).as_secs_f64(),
        last.as_secs_f64() / first.as_secs_f64()
    );
    if last > first.mul_f64(1.5) {
        failures.push(0);
        println!("the cycle time grows: a leak?");
    }
    test_run.sweep(&docker).await?;
    anyhow::ensure!(
        failures.is_empty(),
        "something was left behind or grew (cycles {failures:?}; 0: the cycle time)"
    );
    println!("no engine object left behind, none of the numbers grew");
    Ok(())
}
