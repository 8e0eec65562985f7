//! `apply` at scale against the in-process Keycloak double with its modelled password-hash
//! cost (20 ms a hash, 2 at once): the requests stay bounded in flight, reads grow by pages,
//! and with the local password ledger an unchanged re-apply needs no password grant.

use std::collections::BTreeMap;

use iamstack::keycloak::{self, ApplyOptions, ApplySummary, RealmFile};
use iamstack::report::{Action, Event, Reporter};
use iamstack_test_support::{ADMIN_PASSWORD, ADMIN_USER};
use keycloak_double::{DoubleConfig, RecordedRequest, RunningDouble};
use url::Url;

fn scale_realm(users: usize, clients: usize) -> Vec<RealmFile> {
    let yaml = iamstack_test_support::scale_realm_yaml(users, clients);
    vec![keycloak::parse_realm_file(&yaml, "scale.yaml", false, &|_| None).expect("valid realm")]
}

async fn double() -> (RunningDouble, Url) {
    let d = keycloak_double::start(DoubleConfig::default())
        .await
        .expect("double starts");
    let url = Url::parse(&d.base_url()).unwrap();
    (d, url)
}

async fn apply(url: &Url, realms: &[RealmFile], options: &ApplyOptions) -> ApplySummary {
    apply_reporting(url, realms, options).await.0
}

/// Apply, and the step progress messages it gave.
async fn apply_reporting(
    url: &Url,
    realms: &[RealmFile],
    options: &ApplyOptions,
) -> (ApplySummary, Vec<String>) {
    let admin = iamstack::config::AdminCredentials {
        username: ADMIN_USER.into(),
        password: ADMIN_PASSWORD.into(),
    };
    let reporter = Reporter::recording();
    let summary = keycloak::apply_options(url, &admin, realms, options, false, &reporter)
        .await
        .expect("apply succeeds");
    let progress = reporter
        .recorded()
        .into_iter()
        .filter_map(|e| match e {
            Event::StepProgress { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    (summary, progress)
}

/// Requests by kind: admin reads by path template, writes, password grants.
fn by_kind(requests: &[RecordedRequest]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in requests {
        let kind = match (r.method.as_str(), r.path.as_str()) {
            ("GET", p) if p.ends_with("/credentials") => "credential reads",
            ("GET", p) if p.ends_with("/users") => "user reads",
            ("GET", p) if p.ends_with("/clients") => "client reads",
            ("GET", p) if p.starts_with("/admin/") => "other reads",
            (_, p) if p.starts_with("/admin/") => "writes",
            ("POST", "/realms/master/protocol/openid-connect/token") => "admin logins",
            ("POST", p) if p.ends_with("/openid-connect/token") => "password grants",
            _ => "other",
        };
        *out.entry(kind).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn no_more_requests_than_the_limit_are_ever_in_flight() {
    let (d, url) = double().await;
    let realms = scale_realm(10, 10);
    let options = ApplyOptions {
        concurrency: 3,
        ..ApplyOptions::default()
    };
    apply(&url, &realms, &options).await;
    d.reset_max_in_flight();
    // Re-apply: 20 look-ups and 10 password grants could all go at once.
    let summary = apply(&url, &realms, &options).await;
    assert!(summary
        .objects
        .iter()
        .all(|o| o.action == Action::Unchanged));
    let most = d.max_in_flight();
    assert!(most <= 3, "{most} requests in flight with --concurrency 3");
    assert!(most >= 2, "the re-apply overlaps requests ({most} at most)");
}

#[tokio::test]
async fn a_thousand_users_and_a_hundred_clients_reapply_by_pages_without_password_grants() {
    let (d, url) = double().await;
    let realms = scale_realm(1000, 100);
    let ledger = tempfile::tempdir().unwrap();
    let options = ApplyOptions {
        password_ledger: Some(ledger.path().join("passwords.json")),
        ..ApplyOptions::default()
    };
    let (created, progress) = apply_reporting(&url, &realms, &options).await;
    assert_eq!(created.created(), 1101);
    assert!(
        progress
            .iter()
            .any(|m| m.starts_with("creating realm `scale` with 1000 users")),
        "{progress:?}"
    );

    d.clear_requests();
    let (again, progress) = apply_reporting(&url, &realms, &options).await;
    for end in ["checked users 1000/1000", "reconciled objects 1100/1100"] {
        assert!(progress.iter().any(|m| m == end), "{progress:?}");
    }
    assert_eq!(
        progress
            .iter()
            .filter(|m| m.starts_with("checked users"))
            .count(),
        10,
        "each tenth: {progress:?}"
    );
    assert_eq!(again.unchanged(), 1101, "{}", again.counts_line());
    let kinds = by_kind(&d.requests());
    assert_eq!(kinds.get("writes"), None, "{kinds:?}");
    assert_eq!(kinds.get("password grants"), None, "{kinds:?}");
    assert_eq!(
        kinds.get("user reads"),
        Some(&11),
        "1000 users by pages of 100: {kinds:?}"
    );
    assert_eq!(
        kinds.get("client reads"),
        Some(&2),
        "100 clients + the built-ins: {kinds:?}"
    );
    assert_eq!(kinds.get("credential reads"), Some(&1000), "{kinds:?}");
    // The realm and its user profile.
    assert_eq!(kinds.get("other reads"), Some(&2), "{kinds:?}");
}

/// A realm import that outlasts its budget (here: 4 s, plus 1 s per password, against 2.5 s
/// per hash) is reported as slow, not as unreachable, is never sent twice, and the next run
/// finds the realm Keycloak finished and reconciles it. The admin login costs one hash too:
/// the budget leaves it 1.5 s of room on a busy machine.
#[tokio::test]
async fn a_realm_import_slower_than_its_budget_is_named_and_never_resent() {
    let config = DoubleConfig {
        hash_cost: std::time::Duration::from_millis(2500),
        hash_parallelism: 1,
        ..DoubleConfig::default()
    };
    let d = keycloak_double::start(config).await.expect("double");
    let url = Url::parse(&d.base_url()).unwrap();
    let realms = scale_realm(4, 1);
    let admin = iamstack::config::AdminCredentials {
        username: ADMIN_USER.into(),
        password: ADMIN_PASSWORD.into(),
    };
    let client = keycloak::AdminClient::new(&url, &admin)
        .unwrap()
        .with_request_timeout(std::time::Duration::from_secs(4));
    let err = keycloak::apply_with(&client, &realms, false, &Reporter::recording())
        .await
        .expect_err("the import outlasts its budget");
    let text = format!("{err:#}");
    assert!(
        text.contains("took longer than 8 s to create realm `scale` with 4 users")
            && text.contains("run `iamstack apply` again")
            && !text.contains("cannot reach"),
        "{text}"
    );
    let admin_error = err
        .chain()
        .find_map(|e| e.downcast_ref::<keycloak::AdminError>())
        .expect("a typed admin error");
    assert_eq!(admin_error.kind(), iamstack::error::Kind::NotReady);
    // Keycloak finishes; the next run reconciles what is there.
    let api = iamstack_test_support::AdminApi::login(&d.base_url()).await;
    let mut there = false;
    for _ in 0..50 {
        let (status, _) = api
            .call(reqwest::Method::GET, "/admin/realms/scale", None)
            .await;
        if status == 200 {
            there = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(there, "the double finished the import");
    // Recorded once done (the double records a request when it has answered).
    let posts = d
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/admin/realms")
        .count();
    assert_eq!(posts, 1, "a timed-out import is never resent");

    let summary = apply(&url, &realms, &ApplyOptions::default()).await;
    assert!(
        summary
            .objects
            .iter()
            .all(|o| o.action == Action::Unchanged),
        "{}",
        summary.counts_line()
    );
}
