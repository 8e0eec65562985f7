//! The benchmark's results: per path its runs, their statistics, and the two renderings (the
//! markdown table printed and written as `bench.md`, and `bench.json`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The paths, in the order of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Baseline,
    Cold,
    Warm,
    Ephemeral,
    Snapshot,
    Again,
    Down,
    NoOptimize,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Baseline,
        Kind::Cold,
        Kind::Warm,
        Kind::Ephemeral,
        Kind::Snapshot,
        Kind::Again,
        Kind::Down,
        Kind::NoOptimize,
    ];

    /// The name `--paths` takes and `bench.json` uses.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Baseline => "baseline",
            Kind::Cold => "cold",
            Kind::Warm => "warm",
            Kind::Ephemeral => "ephemeral",
            Kind::Snapshot => "from-snapshot",
            Kind::Again => "up-again",
            Kind::Down => "down",
            Kind::NoOptimize => "no-optimize",
        }
    }

    pub fn parse(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// The row's name in the table.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Baseline => {
                "baseline: bash script, `docker` + `curl` (examples/bench/baseline.sh)"
            }
            Kind::Cold => "`iamstack up`, cold (builds the optimized image, empty volume)",
            Kind::Warm => "`iamstack up`, warm (optimized image cached, empty volume)",
            Kind::Ephemeral => "`iamstack up --ephemeral` (warm image, Postgres on tmpfs)",
            Kind::Snapshot => "`iamstack up --from-snapshot FILE` (warm image)",
            Kind::Again => "`iamstack up` on a ready stack (the warm run's, same arguments)",
            Kind::Down => "`iamstack down --volumes` (the warm run's stack)",
            Kind::NoOptimize => {
                "`iamstack up --no-optimize` (stock image re-augments, empty volume)"
            }
        }
    }

    /// Whether the path's runs are `iamstack up`s whose step timings say where the time went.
    pub fn is_up(self) -> bool {
        !matches!(self, Kind::Baseline | Kind::Down)
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct Run {
    pub round: usize,
    pub seconds: f64,
    /// `step_finished` events of `--output json`: (step, seconds), in order.
    pub steps: Vec<(String, f64)>,
}

impl Run {
    /// The step time by category (see [`category`]), and `outside steps`.
    pub fn breakdown(&self) -> BTreeMap<&'static str, f64> {
        let mut by = BTreeMap::new();
        for (step, secs) in &self.steps {
            if let Some(c) = category(step) {
                *by.entry(c).or_insert(0.0) += secs;
            }
        }
        let service: f64 = by
            .iter()
            .filter(|(c, _)| SERVICE.contains(c))
            .map(|(_, s)| s)
            .sum();
        // A build runs beside Postgres's start and wait (`up` does so when no Keycloak
        // container exists, as in every bench run): the two overlap, so only the longer counts.
        let overlap = match (by.get("build"), by.get("wait postgres")) {
            (Some(build), Some(postgres)) => build.min(*postgres),
            _ => 0.0,
        };
        by.insert(OWN, self.seconds - (service - overlap));
        by
    }
}

/// Steps whose time is spent by the services (or the engine's image build) rather than by
/// iamstack: subtracted from the wall time to give iamstack's own time.
pub const SERVICE: [&str; 5] = [
    "wait postgres",
    "wait keycloak",
    "build",
    "pull",
    "provision",
];
/// The rest of the wall time.
pub const OWN: &str = "iamstack's own";
/// The columns of the breakdown table, in order.
pub const BREAKDOWN: [&str; 7] = [
    "wait postgres",
    "wait keycloak",
    "build",
    "provision",
    "restore snapshot",
    "images",
    OWN,
];

/// The category of a step name: `build <tag>` is `build`, `pull <image>` is `pull`. Steps nested
/// in others (`pull` runs inside `images`) are counted once: `images` is shown, never summed with
/// the pulls (`--pull never` makes none).
pub fn category(step: &str) -> Option<&'static str> {
    if step.starts_with("build ") {
        return Some("build");
    }
    if step.starts_with("pull ") {
        return Some("pull");
    }
    BREAKDOWN
        .into_iter()
        .chain(["verify"])
        .find(|c| *c == step && *c != OWN)
}

/// A path's outcome over all rounds.
#[derive(Debug)]
pub struct PathResult {
    pub kind: Kind,
    pub runs: Vec<Run>,
    /// `round N: why` for each failed run.
    pub failures: Vec<String>,
    /// Why the path could not run at all (an iamstack without the flag).
    pub unavailable: Option<String>,
}

impl PathResult {
    pub fn new(kind: Kind) -> PathResult {
        PathResult {
            kind,
            runs: Vec::new(),
            failures: Vec::new(),
            unavailable: None,
        }
    }

    pub fn seconds(&self) -> Vec<f64> {
        self.runs.iter().map(|r| r.seconds).collect()
    }

    pub fn median(&self) -> Option<f64> {
        median(&self.seconds())
    }

    fn min(&self) -> Option<f64> {
        self.seconds().into_iter().reduce(f64::min)
    }

    fn max(&self) -> Option<f64> {
        self.seconds().into_iter().reduce(f64::max)
    }

    /// `ok`, `not available: ...`, `failed in k of n runs: ...`.
    pub fn status(&self) -> String {
        if let Some(why) = &self.unavailable {
            return format!("not available: {why}");
        }
        if self.failures.is_empty() {
            return "ok".into();
        }
        let tried = self.runs.len() + self.failures.len();
        format!(
            "FAILED in {} of {tried} runs; first: {}",
            self.failures.len(),
            self.failures[0]
        )
    }
}

/// Seconds to the millisecond, for `bench.json`.
fn ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

fn secs(v: Option<f64>) -> String {
    v.map_or("–".into(), |s| format!("{s:.2}"))
}

/// The ratio of a path's median to the baseline's.
pub fn ratio(path: &PathResult, baseline: Option<f64>) -> Option<f64> {
    Some(path.median()? / baseline.filter(|b| *b > 0.0)?)
}

/// The main table: path, median, min, max, ratio to the baseline's median, runs.
pub fn table(results: &[PathResult]) -> String {
    let baseline = baseline_median(results);
    let mut out = String::from(
        "| path | median s | min s | max s | median / baseline | runs ok |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let tried = r.runs.len() + r.failures.len();
        let (median, min, max, ratio, runs) = match &r.unavailable {
            Some(_) => (
                "not available".to_string(),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
            ),
            None if r.runs.is_empty() => (
                "FAILED".to_string(),
                "–".into(),
                "–".into(),
                "–".into(),
                format!("0/{tried}"),
            ),
            None => (
                secs(r.median()),
                secs(r.min()),
                secs(r.max()),
                ratio(r, baseline).map_or("–".into(), |x| format!("{x:.2}")),
                format!("{}/{tried}", r.runs.len()),
            ),
        };
        out.push_str(&format!(
            "| {} | {median} | {min} | {max} | {ratio} | {runs} |\n",
            r.kind.title()
        ));
    }
    out
}

/// Where the `up` paths' time went: the median of each category over the path's runs.
pub fn breakdown_table(results: &[PathResult]) -> String {
    let mut out = String::from("| path | wall");
    for c in BREAKDOWN {
        out.push_str(&format!(" | {c}"));
    }
    out.push_str(" |\n|---|---:");
    out.push_str(&"|---:".repeat(BREAKDOWN.len()));
    out.push_str("|\n");
    for r in results
        .iter()
        .filter(|r| r.kind.is_up() && !r.runs.is_empty())
    {
        out.push_str(&format!("| {} | {}", r.kind.key(), secs(r.median())));
        for c in BREAKDOWN {
            let values: Vec<f64> = r
                .runs
                .iter()
                .filter_map(|run| run.breakdown().get(c).copied())
                .collect();
            // A category some runs lack (no build on a warm run) counts as 0 in those.
            let cell = if values.is_empty() {
                "–".to_string()
            } else {
                let mut all = values;
                all.resize(r.runs.len(), 0.0);
                secs(median(&all))
            };
            out.push_str(&format!(" | {cell}"));
        }
        out.push_str(" |\n");
    }
    out
}

fn baseline_median(results: &[PathResult]) -> Option<f64> {
    results
        .iter()
        .find(|r| r.kind == Kind::Baseline)
        .and_then(PathResult::median)
}

/// `bench.json`'s `paths`.
pub fn paths_json(results: &[PathResult]) -> Value {
    let baseline = baseline_median(results);
    Value::Array(
        results
            .iter()
            .map(|r| {
                json!({
                    "path": r.kind.key(),
                    "title": r.kind.title(),
                    "status": r.status(),
                    "seconds": r.seconds().into_iter().map(ms).collect::<Vec<_>>(),
                    "median_s": r.median().map(ms),
                    "min_s": r.min().map(ms),
                    "max_s": r.max().map(ms),
                    "ratio_to_baseline": ratio(r, baseline).map(ms),
                    "failures": r.failures,
                    "runs": r.runs.iter().map(|run| json!({
                        "round": run.round,
                        "seconds": ms(run.seconds),
                        "steps": run.steps.iter()
                            .map(|(step, s)| json!({"step": step, "seconds": s}))
                            .collect::<Vec<_>>(),
                        "breakdown_s": r.kind.is_up().then(|| {
                            run.breakdown()
                                .into_iter()
                                .map(|(c, s)| (c, ms(s)))
                                .collect::<BTreeMap<_, _>>()
                        }),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}
