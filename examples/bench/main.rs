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

mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;
use iamstack_test_support::{images_with, Backend, TestImages, TestRun};
use serde_json::{json, Value};
use tokio::process::Command;

use report::{Kind, PathResult, Run};

const USAGE: &str = "usage: cargo run --example bench -- [--runs N] [--out DIR] [--paths P,P,...]
  --runs N     rounds; each runs every path once on a fresh project [default: 5]
  --out DIR    where bench.md and bench.json go [default: target/bench]
  --paths P,.. only these paths [default: all]: baseline, cold, warm, ephemeral, from-snapshot,
               up-again, down, no-optimize (up-again and down run on the warm run's stack)";

/// realm/testing.yaml's client and its default secret (`TEST_CLIENT_SECRET` is kept from the
/// children, so the default is what they provision).
const CLIENT_ID: &str = "test-client";
const CLIENT_SECRET: &str = "g9YAmxsqegIvI1c4Bxsn3z949vcGsIf6";
/// The label on the optimized images iamstack builds, and the base image ID they record.
const LABEL_BUILT: &str = "dev.iamstack.built";
const LABEL_BASE_IMAGE_ID: &str = "dev.iamstack.base-image-id";

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

/// What one run of the iamstack binary gave.
struct Output {
    wall: Duration,
    success: bool,
    code: Option<i32>,
    /// `--output json`'s events (stdout).
    events: Vec<Value>,
    stdout: String,
    stderr: String,
}

impl Output {
    /// `step_finished` events without an error: (step, seconds).
    fn steps(&self) -> Vec<(String, f64)> {
        self.events
            .iter()
            .filter(|e| e["event"] == "step_finished" && e.get("error").is_none())
            .filter_map(|e| {
                Some((
                    e["step"].as_str()?.to_string(),
                    e["elapsed_ms"].as_f64()? / 1000.0,
                ))
            })
            .collect()
    }

    /// The Keycloak URL of `up`'s final block.
    fn keycloak_url(&self) -> Option<String> {
        self.events
            .iter()
            .find(|e| e["event"] == "stack_ready")
            .and_then(|e| e["keycloak_url"].as_str())
            .map(str::to_string)
    }

    /// Why it failed: the exit code, the failed steps' errors, the end of stderr.
    fn failure(&self, what: &str) -> String {
        let mut why = format!(
            "`{what}` exited with {}",
            self.code.map_or("a signal".into(), |c| c.to_string())
        );
        for e in self.events.iter().filter(|e| e.get("error").is_some()) {
            why.push_str(&format!(
                "; step `{}`: {}",
                e["step"].as_str().unwrap_or("?"),
                e["error"].as_str().unwrap_or("?")
            ));
        }
        let tail: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .rev()
            .take(3)
            .collect();
        if !tail.is_empty() {
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            why.push_str(&format!("; stderr: {}", tail.join(" / ")));
        }
        why.replace('\n', " ").replace('|', "/")
    }
}

struct Bench {
    docker: Docker,
    /// The iamstack binary used for every run (a hard link to, or copy of, the one beside this
    /// example, so a rebuild in the shared target directory cannot swap it mid-run).
    bin: PathBuf,
    script: PathBuf,
    images: TestImages,
    test_run: TestRun,
    label: String,
    state_dir: PathBuf,
    snapshot_file: PathBuf,
    counter: usize,
    /// Objects found carrying the label after a run's cleanup (then swept), per run.
    leftovers: Vec<String>,
}

impl Bench {
    /// A fresh project for one run.
    fn project(&mut self, tag: &str) -> String {
        self.counter += 1;
        format!("{}-{tag}{}", self.test_run.project(), self.counter)
    }

    /// Run iamstack with `args`, timed from spawn to exit.
    async fn iamstack(&self, args: &[String]) -> anyhow::Result<Output> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args);
        self.run(cmd).await
    }

    async fn run(&self, mut cmd: Command) -> anyhow::Result<Output> {
        // The children get the same settings whatever the caller's shell holds: no IAMSTACK_*
        // (a project, timeout or realm of the user's), no TEST_CLIENT_SECRET (the realm file's
        // default secret), a state directory of the bench's own.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("IAMSTACK_") || key == "TEST_CLIENT_SECRET" {
                cmd.env_remove(key.as_ref());
            }
        }
        cmd.env("NO_COLOR", "1")
            .env("IAMSTACK_STATE_DIR", &self.state_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let out = cmd.output().await.context("cannot run a child process")?;
        let wall = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let events = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect();
        Ok(Output {
            wall,
            success: out.status.success(),
            code: out.status.code(),
            events,
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `up`'s arguments for `project`: the bench's images, label, engine-chosen ports, no pull.
    fn up_args(&self, project: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "up",
            "--output",
            "json",
            "--project",
            project,
            "--label",
            &self.label,
            "--postgres-port",
            "0",
            "--keycloak-port",
            "0",
            "--management-port",
            "0",
            "--pull",
            "never",
            "--postgres-image",
            &self.images.postgres,
            "--keycloak-image",
            &self.images.keycloak,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// One timed `up`; then (untimed) the realm must answer.
    async fn up(&self, round: usize, project: &str, extra: &[&str]) -> Result<Run, String> {
        let args = self.up_args(project, extra);
        let out = self.iamstack(&args).await.map_err(|e| format!("{e:#}"))?;
        let what = format!("iamstack up {}", extra.join(" "));
        if !out.success {
            return Err(out.failure(what.trim_end()));
        }
        let url = out
            .keycloak_url()
            .ok_or_else(|| format!("`{}` printed no stack_ready event", what.trim_end()))?;
        self.realm_answers(&url).await?;
        Ok(Run {
            round,
            seconds: out.wall.as_secs_f64(),
            steps: out.steps(),
        })
    }

    /// `down --volumes`; timed (path 7) or only cleanup.
    async fn down(&self, round: usize, project: &str) -> Result<Run, String> {
        let args: Vec<String> = [
            "down",
            "--volumes",
            "--output",
            "json",
            "--project",
            project,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = self.iamstack(&args).await.map_err(|e| format!("{e:#}"))?;
        if !out.success {
            return Err(out.failure("iamstack down --volumes"));
        }
        Ok(Run {
            round,
            seconds: out.wall.as_secs_f64(),
            steps: out.steps(),
        })
    }

    /// After a run: `down --volumes` (untimed) unless `downed`, then nothing may carry the
    /// label; whatever does is named and swept.
    async fn clean(&mut self, project: &str, downed: bool) {
        if !downed {
            if let Err(e) = self.down(0, project).await {
                eprintln!("bench: cleanup of {project}: {e}");
            }
        }
        self.sweep_leftovers(project).await;
    }

    async fn sweep_leftovers(&mut self, after: &str) {
        match self.test_run.leftovers(&self.docker).await {
            Ok(left) if left.is_empty() => {}
            Ok(left) => {
                let note = format!("after {after}: {}", left.join(", "));
                eprintln!("bench: left behind {note}; sweeping");
                self.leftovers.push(note);
            }
            Err(e) => eprintln!("bench: cannot list what carries the label: {e:#}"),
        }
        if let Err(e) = self.test_run.sweep(&self.docker).await {
            eprintln!("bench: sweep failed: {e:#}");
        }
    }

    /// The baseline script, timed; the harness then checks the realm and removes what carries
    /// the label (the script removes nothing).
    async fn baseline(&mut self, round: usize) -> Result<Run, String> {
        let project = self.project("base");
        let mut cmd = Command::new("bash");
        cmd.arg(&self.script)
            .arg(&project)
            .arg(&self.label)
            .arg(&self.images.postgres)
            .arg(&self.images.keycloak);
        let result = async {
            let out = self.run(cmd).await.map_err(|e| format!("{e:#}"))?;
            if !out.success {
                return Err(out.failure("baseline.sh"));
            }
            let url = out
                .stdout
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_string();
            self.realm_answers(&url).await?;
            Ok(Run {
                round,
                seconds: out.wall.as_secs_f64(),
                steps: Vec::new(),
            })
        }
        .await;
        // The script's objects carry the label and nothing else does now: a label sweep is
        // `docker rm -f` (and volume/network rm) of exactly them.
        if let Err(e) = self.test_run.sweep(&self.docker).await {
            eprintln!("bench: removing the baseline's objects failed: {e:#}");
        }
        self.sweep_leftovers(&project).await;
        result
    }

    /// The realm answers: a client-credentials token for test-client.
    async fn realm_answers(&self, keycloak_url: &str) -> Result<(), String> {
        let url = format!(
            "{}/realms/testing/protocol/openid-connect/token",
            keycloak_url.trim_end_matches('/')
        );
        let check = async {
            let response = reqwest::Client::new()
                .post(&url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                ])
                .timeout(Duration::from_secs(30))
                .send()
                .await?;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            anyhow::ensure!(
                status.is_success() && body["access_token"].is_string(),
                "HTTP {status}: {body}"
            );
            Ok(())
        };
        check
            .await
            .map_err(|e: anyhow::Error| format!("the realm does not answer at {url}: {e:#}"))
    }

    /// The optimized images iamstack built from this bench's Keycloak image (by the base ID
    /// they record), as (id, tag).
    async fn built_images(&self) -> anyhow::Result<Vec<(String, String)>> {
        let base_id = image_id(&self.docker, &self.images.keycloak)
            .await
            .unwrap_or_default();
        let filter = format!("{LABEL_BASE_IMAGE_ID}={base_id}");
        let filters = HashMap::from([("label", vec![LABEL_BUILT, filter.as_str()])]);
        let images = self
            .docker
            .list_images(Some(
                ListImagesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .context("cannot list iamstack's built images")?;
        Ok(images
            .into_iter()
            .map(|i| {
                let tag = i.repo_tags.first().cloned().unwrap_or_else(|| i.id.clone());
                (i.id, tag)
            })
            .collect())
    }

    /// Cold: remove the optimized images built from this Keycloak image (what `down --images`
    /// does, limited to this base so other stacks' caches stay). One in use by a container
    /// (another stack's) cannot go: the run would not be cold, so it is not run.
    async fn make_cold(&self) -> Result<(), String> {
        let built = self.built_images().await.map_err(|e| format!("{e:#}"))?;
        for (id, tag) in &built {
            let options = RemoveImageOptionsBuilder::default().force(false).build();
            if let Err(e) = self.docker.remove_image(id, Some(options), None).await {
                return Err(format!(
                    "not cold: the built image `{tag}` cannot be removed ({e}); a container of \
                     another stack uses it"
                ));
            }
        }
        Ok(())
    }

    async fn one_up(&mut self, kind: Kind, round: usize, extra: &[&str]) -> Result<Run, String> {
        let project = self.project(kind.key().split('-').next().unwrap_or("up"));
        let run = self.up(round, &project, extra).await;
        self.clean(&project, false).await;
        run
    }

    /// Warm, then up-again and down on its stack. Returns the three results (`None`: not run).
    async fn warm_round(
        &mut self,
        round: usize,
        want: &[Kind],
    ) -> [(Kind, Option<Result<Run, String>>); 3] {
        let project = self.project("warm");
        let warm = match self.built_images().await {
            // Only the setup of up-again and down: whatever `up` does.
            _ if !want.contains(&Kind::Warm) => self.up(round, &project, &[]).await,
            Ok(built) if built.is_empty() => Err(
                "not warm: no optimized image of this Keycloak image is cached (the cold run \
                 did not build one)"
                    .to_string(),
            ),
            Err(e) => Err(format!("{e:#}")),
            Ok(_) => self.up(round, &project, &[]).await.and_then(|run| {
                if run.steps.iter().any(|(s, _)| s.starts_with("build ")) {
                    Err("not warm: it built the optimized image".to_string())
                } else {
                    Ok(run)
                }
            }),
        };
        let ready = warm.is_ok();
        let again = if want.contains(&Kind::Again) {
            Some(if ready {
                self.up(round, &project, &[]).await
            } else {
                Err("needs the warm run's stack, which failed".to_string())
            })
        } else {
            None
        };
        let down = if want.contains(&Kind::Down) {
            Some(if ready {
                self.down(round, &project).await
            } else {
                Err("needs the warm run's stack, which failed".to_string())
            })
        } else {
            None
        };
        let downed = matches!(down, Some(Ok(_)));
        self.clean(&project, downed).await;
        [
            (Kind::Warm, want.contains(&Kind::Warm).then_some(warm)),
            (Kind::Again, again),
            (Kind::Down, down),
        ]
    }

    /// Whether this iamstack knows `snapshot save` and `up --from-snapshot`.
    async fn snapshot_support(&self) -> Result<(), String> {
        let help = |args: &[&str]| {
            let mut cmd = Command::new(&self.bin);
            cmd.args(args);
            cmd
        };
        let save = self
            .run(help(&["snapshot", "save", "--help"]))
            .await
            .map_err(|e| format!("{e:#}"))?;
        let up = self
            .run(help(&["up", "--help"]))
            .await
            .map_err(|e| format!("{e:#}"))?;
        match (save.success, up.stdout.contains("--from-snapshot")) {
            (true, true) => Ok(()),
            (false, _) => Err("this iamstack has no `snapshot save`".into()),
            (true, false) => Err("this iamstack's `up` has no `--from-snapshot`".into()),
        }
    }

    /// The snapshot all from-snapshot runs start from: a provisioned stack (the default `up`),
    /// saved with `snapshot save FILE --project P`, then removed.
    async fn make_snapshot(&mut self) -> Result<(), String> {
        let project = self.project("snapsrc");
        let result = async {
            self.up(0, &project, &[]).await?;
            let file = self.snapshot_file.to_string_lossy().into_owned();
            let args: Vec<String> = [
                "snapshot",
                "save",
                &file,
                "--project",
                &project,
                "--output",
                "json",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let out = self.iamstack(&args).await.map_err(|e| format!("{e:#}"))?;
            if !out.success {
                return Err(out.failure("iamstack snapshot save"));
            }
            eprintln!(
                "bench: snapshot saved in {:.2} s ({} bytes)",
                out.wall.as_secs_f64(),
                std::fs::metadata(&self.snapshot_file).map_or(0, |m| m.len())
            );
            Ok(())
        }
        .await;
        self.clean(&project, false).await;
        result.map_err(|e| format!("making the snapshot failed: {e}"))
    }
}

/// The index of a selected path's result.
fn position(results: &[PathResult], kind: Kind) -> usize {
    results
        .iter()
        .position(|r| r.kind == kind)
        .expect("a selected path")
}

async fn image_id(docker: &Docker, image: &str) -> Option<String> {
    docker.inspect_image(image).await.ok().and_then(|i| i.id)
}

/// This example's target profile directory (`target/<profile>`), from its own path.
fn profile_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("cannot tell the target directory")
}

/// Build the iamstack binary of this checkout beside the example (a no-op when current): the
/// target directory may be shared, and another checkout's build may have left its binary there.
/// Then take a hard link (else a copy) of it, used for every run.
async fn binary(out: &Path) -> anyhow::Result<PathBuf> {
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

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn now_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("{secs} (Unix seconds)")
        })
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
             diff, writes): it is shown apart so that both readings are possible.",
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
