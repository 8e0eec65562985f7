//! The benchmark: how long each way to a provisioned realm takes on this machine's engine, next
//! to what a user would write instead (`examples/bench/baseline.sh`: the reference's steps with
//! the `docker` CLI and `curl`). Not a test: nothing here asserts a time.
//!
//!     cargo run --example bench -- [--runs N] [--out DIR] [--paths baseline,cold,...]
//!
//! N rounds (default 5); each round runs every path once, in the order of the table, each on a
//! fresh project, so a drift of the machine's load spreads over all paths alike. Every path ends
//! at "a provisioned realm": the realm `testing` of realm/testing.yaml exists and answers (a
//! client-credentials token for `test-client`, checked after the timed part). The images are the
//! tests' (`iamstack_test_support::images_with`: the official images when present, else the
//! offline stand-ins; `IAMSTACK_TEST_BACKEND=official` forces the official ones). Every object
//! carries one `dev.iamstack.test-run` label, ports are engine-chosen, and everything carrying
//! the label is swept before, after each run, and at the end, also on failure or Ctrl-C.
//!
//! Writes DIR/bench.md (the printed tables) and DIR/bench.json (every run's seconds and step
//! timings, the machine, the images and their IDs, iamstack's commit). DIR defaults to
//! `target/bench`. A path that fails is reported as failed and the others go on.

mod machine;
mod report;
mod runner;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use iamstack_test_support::{images_with, Backend, TestRun};
use serde_json::json;

use machine::{binary, git, image_id, load_average, machine_memory_bytes, now_utc, profile_dir};
use report::{Kind, PathResult, Run};
use runner::{position, Bench};

const USAGE: &str = "usage: cargo run --example bench -- [--runs N] [--out DIR] [--paths P,P,...]
  --runs N     rounds; each runs every path once on a fresh project [default: 5]
  --out DIR    where bench.md and bench.json go [default: target/bench]
  --paths P,.. only these paths [default: all]: baseline, cold, warm, ephemeral, from-snapshot,
               up-again, down, no-optimize (up-again and down run on the warm run's stack)";

/// realm/testing.yaml's client and its default secret (`TEST_CLIENT_SECRET` is kept from the
/// children, so the default is what they provision).
const CLIENT_ID: &str = "test-client";
const CLIENT_SECRET: &str = "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6";

struct Options {
    runs: usize,
    out: PathBuf,
    paths: Vec<Kind>,
}

fn options() -> anyhow::Result<Options> {
    let mut opts = Options {
        runs: 5,
        out: PathBuf::from("target/bench"),
        paths: Kind::ALL.to_vec(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--runs" => {
                opts.runs = value()?.parse().context("--runs takes a number")?;
                anyhow::ensure!(opts.runs > 0, "--runs must be at least 1");
            }
            "--out" => opts.out = PathBuf::from(value()?),
            "--paths" => {
                let list = value()?;
                let mut paths = Vec::new();
                for key in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                    paths.push(
                        Kind::parse(key)
                            .with_context(|| format!("unknown path `{key}`\n{USAGE}"))?,
                    );
                }
                paths.sort();
                paths.dedup();
                opts.paths = paths;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(opts)
}

fn main() {
    let opts = match options() {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(2);
        }
    };
    // The test support's per-test time limit (600 s) guards tests against hangs; a benchmark of
    // N rounds legitimately runs longer. Keep a limit (it still ends a hung run), sized to the
    // rounds. Set before the runtime starts any thread.
    if std::env::var_os("IAMSTACK_TEST_TIME_LIMIT").is_none() {
        let limit = 1200 + 900 * opts.runs;
        std::env::set_var("IAMSTACK_TEST_TIME_LIMIT", limit.to_string());
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let code = runtime.block_on(async {
        tokio::select! {
            result = bench(opts) => match result {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("bench: {e:#}");
                    1
                }
            },
            _ = tokio::signal::ctrl_c() => {
                // Dropping the bench kills the running child (kill_on_drop) and drops the
                // TestRun, whose drop sweeps everything carrying the label.
                eprintln!("bench: interrupted; removing what carries the run's label");
                130
            }
        }
    });
    drop(runtime);
    std::process::exit(code);
}

async fn bench(opts: Options) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let bin = binary(&opts.out).await?;
    let docker = iamstack_test_support::engine()
        .await
        .context("no Docker engine answers")?;
    let images = images_with(&docker).await?;
    let test_run = TestRun::with_engine(&docker).await;
    let label = test_run.label_arg();
    let work = opts.out.join(".work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let mut b = Bench {
        docker: docker.clone(),
        bin,
        script: Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bench/baseline.sh"),
        images,
        test_run,
        label,
        state_dir: work.join("state"),
        snapshot_file: work.join("snapshot.tar.gz"),
        counter: 0,
        leftovers: Vec::new(),
    };

    let started_at = now_utc();
    let load_before = load_average();
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let docker_version = docker
        .version()
        .await
        .ok()
        .and_then(|v| v.version)
        .unwrap_or_else(|| "unknown".into());
    let pg_id = image_id(&docker, &b.images.postgres).await;
    let kc_id = image_id(&docker, &b.images.keycloak).await;
    let standin = b.images.backend == Backend::Standin;
    let backend = if standin {
        "the offline stand-ins (test doubles, NOT the official images)"
    } else {
        "the official images"
    };
    eprintln!(
        "bench: {} rounds of {}; images: {backend}: `{}` and `{}`; label {}",
        opts.runs,
        opts.paths
            .iter()
            .map(|k| k.key())
            .collect::<Vec<_>>()
            .join(", "),
        b.images.postgres,
        b.images.keycloak,
        b.label
    );

    let mut results: Vec<PathResult> = opts.paths.iter().map(|k| PathResult::new(*k)).collect();
    if opts.paths.contains(&Kind::Snapshot) {
        let available = b.snapshot_support().await;
        let i = position(&results, Kind::Snapshot);
        match available {
            Err(why) => results[i].unavailable = Some(why),
            Ok(()) => {
                if let Err(why) = b.make_snapshot().await {
                    results[i].failures.push(format!("before the runs: {why}"));
                }
            }
        }
    }

    for round in 1..=opts.runs {
        for kind in opts.paths.clone() {
            // A path that failed once is not run again: the next run would fail alike and only
            // slow the others down.
            let runnable: Vec<Kind> = results
                .iter()
                .filter(|r| r.unavailable.is_none() && r.failures.is_empty())
                .map(|r| r.kind)
                .collect();
            if !runnable.contains(&kind) {
                continue;
            }
            let outcomes: Vec<(Kind, Option<Result<Run, String>>)> = match kind {
                Kind::Baseline => vec![(kind, Some(b.baseline(round).await))],
                Kind::Cold => {
                    let run = match b.make_cold().await {
                        Ok(()) => b.one_up(kind, round, &[]).await,
                        Err(why) => Err(why),
                    };
                    vec![(kind, Some(run))]
                }
                Kind::Warm => Vec::from(b.warm_round(round, &runnable).await),
                // Measured in the warm run's round (on its stack), or alone on a fresh stack
                // when warm is not selected.
                Kind::Again | Kind::Down if opts.paths.contains(&Kind::Warm) => continue,
                Kind::Again | Kind::Down => Vec::from(b.warm_round(round, &[kind]).await),
                Kind::Ephemeral => {
                    vec![(kind, Some(b.one_up(kind, round, &["--ephemeral"]).await))]
                }
                Kind::Snapshot => {
                    let file = b.snapshot_file.to_string_lossy().into_owned();
                    vec![(
                        kind,
                        Some(b.one_up(kind, round, &["--from-snapshot", &file]).await),
                    )]
                }
                Kind::NoOptimize => {
                    vec![(kind, Some(b.one_up(kind, round, &["--no-optimize"]).await))]
                }
            };
            for (kind, outcome) in outcomes {
                let Some(outcome) = outcome else { continue };
                let i = position(&results, kind);
                match outcome {
                    Ok(run) => {
                        eprintln!("bench: round {round} {}: {:.2} s", kind.key(), run.seconds);
                        results[i].runs.push(run);
                    }
                    Err(why) => {
                        eprintln!("bench: round {round} {}: FAILED: {why}", kind.key());
                        results[i].failures.push(format!("round {round}: {why}"));
                    }
                }
            }
        }
    }
    b.sweep_leftovers("the last run").await;
    let load_after = load_average();

    let profile = profile_dir()?
        .file_name()
        .map_or("?".into(), |n| n.to_string_lossy().into_owned());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = machine_memory_bytes();
    let mut md = format!(
        "# iamstack benchmark\n\n\
         {started_at}; iamstack {commit}{} ({profile} build); {} run(s) per path, each on a \
         fresh project.\n\
         Machine: {cpus} CPUs, {} memory, Docker {docker_version}; load average {} at the start, \
         {} at the end.\n\
         Images: {backend}: `{}` ({}), `{}` ({}).\n\n",
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        },
        opts.runs,
        memory.map_or("unknown".into(), |m| format!(
            "{:.1} GiB",
            m as f64 / (1u64 << 30) as f64
        )),
        load_before.as_deref().unwrap_or("?"),
        load_after.as_deref().unwrap_or("?"),
        b.images.postgres,
        pg_id.as_deref().unwrap_or("?"),
        b.images.keycloak,
        kc_id.as_deref().unwrap_or("?"),
    );
    md.push_str("Seconds from start to a provisioned realm (`testing` of realm/testing.yaml; ");
    md.push_str(
        "checked afterwards, untimed, by a client-credentials token for `test-client`).\n\n",
    );
    md.push_str(&report::table(&results));
    if results.iter().any(|r| r.kind.is_up() && !r.runs.is_empty()) {
        md.push_str("\nWhere `up`'s time went (medians over the path's runs, seconds; from the ");
        md.push_str("`step_finished` events of `up --output json`):\n\n");
        md.push_str(&report::breakdown_table(&results));
    }
    md.push_str("\nNotes:\n");
    let mut notes = vec![
        "Not a test: nothing here asserts a time. Each round runs every path once, in the \
         table's order, so a change of the machine's load spreads over all paths."
            .to_string(),
    ];
    if opts.paths.contains(&Kind::Baseline) {
        notes.push(
        "baseline: examples/bench/baseline.sh, the reference's steps with the `docker` CLI and \
         `curl` (network, volume, Postgres, a `pg_isready` loop, Keycloak with `start`, a \
         /health/ready loop, both polled every second, an admin token, one POST of the realm \
         with its client and user, a GET of the realm). Its objects are removed after it, untimed."
            .to_string(),
        );
    }
    notes.extend([
        format!(
            "iamstack's own = wall time minus the steps {}: what is left is the process start, \
             the engine connection, the project lock, looking at what exists, the port pre-flight, \
             the image checks (`images`), creating the network, volume and containers through the \
             engine, restoring a snapshot (shown apart too) and the final block. The waits are \
             the services' boot as seen through iamstack's 100 ms probes; `provision` is counted \
             as service time although it includes iamstack's own admin-API client work (reads, \
             diff, writes): it is shown apart so that both readings are possible. A build runs \
             beside Postgres's start and wait, so of those two only the longer is subtracted.",
            report::SERVICE.join(", ")
        ),
        "up-again and down run on the warm run's stack of the same round; every other run is \
         on a fresh project, followed by an untimed `iamstack down --volumes`."
            .to_string(),
        "A path that fails is reported FAILED (with the first reason below) and is not run \
         again; the others go on."
            .to_string(),
    ]);
    if standin {
        notes.push(
            "The stand-in Keycloak is a test double, not Keycloak: it ran with its default cost \
             knobs (no KC_DOUBLE_* passed), so its modelled costs (augmentation on a `start` \
             without `--optimized`, schema creation on a first start, the rest of the boot; see \
             tests/keycloak-double/README.md) are what is measured, not Keycloak's. Run on the \
             official images for real numbers."
                .to_string(),
        );
    }
    for r in &results {
        if r.status() != "ok" {
            notes.push(format!("{}: {}", r.kind.key(), r.status()));
        }
    }
    for l in &b.leftovers {
        notes.push(format!("left behind and swept: {l}"));
    }
    for n in &notes {
        md.push_str(&format!("- {n}\n"));
    }

    let json = json!({
        "started_at": started_at,
        "runs_per_path": opts.runs,
        "machine": {
            "cpus": cpus,
            "memory_bytes": memory,
            "docker_version": docker_version,
            "load_average_start": load_before,
            "load_average_end": load_after,
        },
        "images": {
            "backend": if standin { "standin" } else { "official" },
            "postgres": { "name": b.images.postgres, "id": pg_id },
            "keycloak": { "name": b.images.keycloak, "id": kc_id },
        },
        "iamstack": {
            "commit": commit,
            "uncommitted_changes": dirty,
            "profile": profile,
        },
        "paths": report::paths_json(&results),
        "left_behind": b.leftovers,
        "notes": notes,
    });
    print!("{md}");
    std::fs::write(opts.out.join("bench.md"), &md)?;
    std::fs::write(
        opts.out.join("bench.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    eprintln!(
        "bench: wrote {} and {}",
        opts.out.join("bench.md").display(),
        opts.out.join("bench.json").display()
    );
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_file(opts.out.join(".iamstack"));
    b.test_run.sweep(&docker).await?;
    Ok(())
}
