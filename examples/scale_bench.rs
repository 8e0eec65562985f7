//! The provisioning scale benchmark: `apply` of a realm with U users (each with a password)
//! and C confidential clients into the in-process Keycloak double, whose password hashes cost
//! what Keycloak 26.2's do (20 ms each, 2 at once). For U in 10, 100, 1000 and C in 1, 10, 100:
//! from nothing, then unchanged with the local password ledger, then unchanged without it
//! (a fresh CI machine). Prints the requests by kind and the median wall time of N runs.
//!
//!     cargo run --example scale_bench            # 3 runs of each case
//!     cargo run --example scale_bench -- 1       # 1 run (quicker)
//!
//! A benchmark, not a test: nothing here passes or fails.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use iamstack::config::AdminCredentials;
use iamstack::keycloak::{self, ApplyOptions, RealmFile};
use iamstack::report::Reporter;
use keycloak_double::{DoubleConfig, RecordedRequest};
use url::Url;

fn realm(users: usize, clients: usize) -> Vec<RealmFile> {
    let yaml = iamstack_test_support::scale_realm_yaml(users, clients);
    vec![keycloak::parse_realm_file(&yaml, "scale.yaml", false, &|_| None).expect("valid realm")]
}

/// Requests by kind, as the table's columns.
fn kinds(requests: &[RecordedRequest]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in requests {
        let kind = match (r.method.as_str(), r.path.as_str()) {
            ("GET", p) if p.ends_with("/credentials") => "credential reads",
            ("GET", p) if p.starts_with("/admin/") => "reads",
            (_, p) if p.starts_with("/admin/") => "writes",
            ("POST", "/realms/master/protocol/openid-connect/token") => "logins",
            ("POST", p) if p.ends_with("/openid-connect/token") => "grants",
            _ => "other",
        };
        *out.entry(kind).or_default() += 1;
    }
    out
}

struct Case {
    users: usize,
    clients: usize,
    run: &'static str,
    requests: BTreeMap<&'static str, usize>,
    times: Vec<Duration>,
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3)
        .max(1);
    let admin = AdminCredentials {
        username: "admin".into(),
        password: "kc_admin$123".into(),
    };
    let mut cases: Vec<Case> = Vec::new();
    for users in [10, 100, 1000] {
        for clients in [1, 10, 100] {
            let realms = realm(users, clients);
            let mut by_run: Vec<Case> =
                ["from nothing", "unchanged, ledger", "unchanged, no ledger"]
                    .into_iter()
                    .map(|run| Case {
                        users,
                        clients,
                        run,
                        requests: BTreeMap::new(),
                        times: Vec::new(),
                    })
                    .collect();
            for _ in 0..runs {
                let d = keycloak_double::start(DoubleConfig::default()).await?;
                let url = Url::parse(&d.base_url())?;
                let ledger = tempfile::tempdir()?;
                let with_ledger = ApplyOptions {
                    password_ledger: Some(ledger.path().join("passwords.json")),
                    ..ApplyOptions::default()
                };
                let without = ApplyOptions::default();
                for (case, options) in by_run
                    .iter_mut()
                    .zip([&with_ledger, &with_ledger, &without])
                {
                    d.clear_requests();
                    let started = Instant::now();
                    keycloak::apply_options(
                        &url,
                        &admin,
                        &realms,
                        options,
                        false,
                        &Reporter::recording(),
                    )
                    .await?;
                    case.times.push(started.elapsed());
                    case.requests = kinds(&d.requests());
                }
            }
            cases.extend(by_run);
            eprintln!("done: {users} users, {clients} clients");
        }
    }
    println!("| users | clients | run | reads | credential reads | writes | grants | median wall | per object |");
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|");
    for c in &mut cases {
        let n = |k: &str| c.requests.get(k).copied().unwrap_or(0);
        let wall = median(&mut c.times);
        let per_object = wall / u32::try_from(c.users + c.clients).unwrap_or(u32::MAX);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} s | {:.1} ms |",
            c.users,
            c.clients,
            c.run,
            n("reads"),
            n("credential reads"),
            n("writes"),
            n("grants"),
            wall.as_secs_f64(),
            per_object.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
