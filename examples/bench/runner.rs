//! The bench's runs: the iamstack binary and the baseline script run and timed, each path's
//! setup and cleanup, and what one run of the binary gave.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;
use iamstack_test_support::{TestImages, TestRun};
use serde_json::Value;
use tokio::process::Command;

use crate::machine::image_id;
use crate::report::{Kind, PathResult, Run};
use crate::{CLIENT_ID, CLIENT_SECRET};
use iamstack::names::{LABEL_BASE_IMAGE_ID, LABEL_BUILT};

/// What one run of the iamstack binary gave.
pub(crate) struct Output {
    pub(crate) wall: Duration,
    pub(crate) success: bool,
    pub(crate) code: Option<i32>,
    /// `--output json`'s events (stdout).
    pub(crate) events: Vec<Value>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// `step_finished` events without an error: (step, seconds).
    pub(crate) fn steps(&self) -> Vec<(String, f64)> {
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
    pub(crate) fn keycloak_url(&self) -> Option<String> {
        self.events
            .iter()
            .find(|e| e["event"] == "stack_ready")
            .and_then(|e| e["keycloak_url"].as_str())
            .map(str::to_string)
    }

    /// Why it failed: the exit code, the failed steps' errors, the end of stderr.
    pub(crate) fn failure(&self, what: &str) -> String {
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

pub(crate) struct Bench {
    pub(crate) docker: Docker,
    /// The iamstack binary used for every run (a hard link to, or copy of, the one beside this
    /// example, so a rebuild in the shared target directory cannot swap it mid-run).
    pub(crate) bin: PathBuf,
    pub(crate) script: PathBuf,
    pub(crate) images: TestImages,
    pub(crate) test_run: TestRun,
    pub(crate) label: String,
    pub(crate) state_dir: PathBuf,
    pub(crate) snapshot_file: PathBuf,
    pub(crate) counter: usize,
    /// Objects found carrying the label after a run's cleanup (then swept), per run.
    pub(crate) leftovers: Vec<String>,
}

impl Bench {
    /// A fresh project for one run.
    pub(crate) fn project(&mut self, tag: &str) -> String {
        self.counter += 1;
        format!("{}-{tag}{}", self.test_run.project(), self.counter)
    }

    /// Run iamstack with `args`, timed from spawn to exit.
    pub(crate) async fn iamstack(&self, args: &[String]) -> anyhow::Result<Output> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args);
        self.run(cmd).await
    }

    pub(crate) async fn run(&self, mut cmd: Command) -> anyhow::Result<Output> {
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
    pub(crate) fn up_args(&self, project: &str, extra: &[&str]) -> Vec<String> {
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
    pub(crate) async fn up(
        &self,
        round: usize,
        project: &str,
        extra: &[&str],
    ) -> Result<Run, String> {
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
    pub(crate) async fn down(&self, round: usize, project: &str) -> Result<Run, String> {
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
    pub(crate) async fn clean(&mut self, project: &str, downed: bool) {
        if !downed {
            if let Err(e) = self.down(0, project).await {
                eprintln!("bench: cleanup of {project}: {e}");
            }
        }
        self.sweep_leftovers(project).await;
    }

    pub(crate) async fn sweep_leftovers(&mut self, after: &str) {
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
    pub(crate) async fn baseline(&mut self, round: usize) -> Result<Run, String> {
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
    pub(crate) async fn realm_answers(&self, keycloak_url: &str) -> Result<(), String> {
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
    pub(crate) async fn built_images(&self) -> anyhow::Result<Vec<(String, String)>> {
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
    pub(crate) async fn make_cold(&self) -> Result<(), String> {
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

    pub(crate) async fn one_up(
        &mut self,
        kind: Kind,
        round: usize,
        extra: &[&str],
    ) -> Result<Run, String> {
        let project = self.project(kind.key().split('-').next().unwrap_or("up"));
        let run = self.up(round, &project, extra).await;
        self.clean(&project, false).await;
        run
    }

    /// Warm, then up-again and down on its stack. Returns the three results (`None`: not run).
    pub(crate) async fn warm_round(
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
    pub(crate) async fn snapshot_support(&self) -> Result<(), String> {
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
    pub(crate) async fn make_snapshot(&mut self) -> Result<(), String> {
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
pub(crate) fn position(results: &[PathResult], kind: Kind) -> usize {
    results
        .iter()
        .position(|r| r.kind == kind)
        .expect("a selected path")
}
