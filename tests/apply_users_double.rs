//! `apply` and users against the in-process Keycloak double, where Keycloak's own rules decide
//! what sticks: temporary passwords (the realm import ignores `temporary`), the sessions the
//! password check opens, brute-force detection, and the declarative user profile (undeclared
//! attributes dropped, required fields). Also the double's user search, which these rely on.

use iamstack::keycloak::{self, ApplySummary, RealmFile};
use iamstack::report::{Action, Event, Reporter};
use iamstack_test_support::AdminApi;
use keycloak_double::{DoubleConfig, RecordedRequest, RunningDouble};
use reqwest::Method;
use serde_json::{json, Value};

async fn double() -> (RunningDouble, url::Url) {
    let d = keycloak_double::start(DoubleConfig::default())
        .await
        .expect("double starts");
    let url = url::Url::parse(&d.base_url()).expect("double URL");
    (d, url)
}

fn realm(yaml: &str) -> Vec<RealmFile> {
    vec![keycloak::parse_realm_file(yaml, "users.yaml", false, &|_| None).expect("valid realm")]
}

/// Apply, and the warnings it gave.
async fn apply(url: &url::Url, realms: &[RealmFile]) -> (ApplySummary, Vec<String>) {
    let reporter = Reporter::recording();
    let admin = iamstack::config::AdminCredentials {
        username: iamstack_test_support::ADMIN_USER.into(),
        password: iamstack_test_support::ADMIN_PASSWORD.into(),
    };
    let summary = keycloak::apply(url, &admin, realms, false, &reporter)
        .await
        .expect("apply succeeds");
    let warnings = reporter
        .recorded()
        .into_iter()
        .filter_map(|e| match e {
            Event::Warning { message } => Some(message),
            _ => None,
        })
        .collect();
    (summary, warnings)
}

/// The user's action and changed fields.
fn user_outcome(summary: &ApplySummary, username: &str) -> (Action, Vec<String>) {
    let o = summary
        .objects
        .iter()
        .find(|o| o.kind == "user" && o.name == username)
        .expect("the user is reported");
    (o.action, o.changes.clone())
}

/// POST, PUT or DELETE under /admin/.
fn writes(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method != "GET" && r.path.starts_with("/admin/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

async fn password_login(api: &AdminApi, realm: &str, user: &str, password: &str) -> (u16, Value) {
    api.token(
        realm,
        &[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", user),
            ("password", password),
        ],
    )
    .await
}

fn required_actions(user: &Value) -> Vec<&str> {
    user["requiredActions"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

const ALICE: &str = "    email: alice@example.org\n    firstName: Alice\n    lastName: Liddell\n    enabled: true\n";

fn with_password(temporary: bool) -> String {
    format!(
        "realm: pw\nenabled: true\nusers:\n  - username: alice\n{ALICE}    credentials:\n      - type: password\n        value: wonder-land1\n        temporary: {temporary}\n"
    )
}

#[tokio::test]
async fn a_temporary_password_is_pending_after_creation_and_later_runs_leave_it_alone() {
    let (d, url) = double().await;
    apply(&url, &realm(&with_password(true))).await;
    let api = AdminApi::login(url.as_str()).await;
    let alice = api.user("pw", "alice").await;
    assert_eq!(required_actions(&alice), ["UPDATE_PASSWORD"]);
    let (status, body) = password_login(&api, "pw", "alice", "wonder-land1").await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Account is not fully set up"))
    );

    // "Account is not fully set up" proves the password: nothing to write.
    d.clear_requests();
    let (summary, _) = apply(&url, &realm(&with_password(true))).await;
    assert_eq!(user_outcome(&summary, "alice"), (Action::Unchanged, vec![]));
    assert!(
        writes(&d.requests()).is_empty(),
        "{:?}",
        writes(&d.requests())
    );

    // The file makes it permanent: the password is set again, which clears UPDATE_PASSWORD.
    let (summary, _) = apply(&url, &realm(&with_password(false))).await;
    assert_eq!(
        user_outcome(&summary, "alice"),
        (Action::Updated, vec!["password".to_string()])
    );
    assert!(required_actions(&api.user("pw", "alice").await).is_empty());
    assert_eq!(
        password_login(&api, "pw", "alice", "wonder-land1").await.0,
        200
    );
}

#[tokio::test]
async fn the_double_ignores_temporary_at_realm_import_but_not_at_user_creation() {
    let (_d, url) = double().await;
    let api = AdminApi::login(url.as_str()).await;
    let cred = json!([{"type": "password", "value": "x-pass-1", "temporary": true}]);
    let (status, _) = api
        .call(
            Method::POST,
            "/admin/realms",
            Some(json!({"realm": "imp", "enabled": true,
                        "users": [{"username": "imported", "enabled": true, "credentials": cred}]})),
        )
        .await;
    assert_eq!(status, 201);
    assert!(required_actions(&api.user("imp", "imported").await).is_empty());
    let (status, _) = api
        .call(
            Method::POST,
            "/admin/realms/imp/users",
            Some(json!({"username": "posted", "enabled": true, "credentials": cred})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        required_actions(&api.user("imp", "posted").await),
        ["UPDATE_PASSWORD"]
    );
}

#[tokio::test]
async fn with_brute_force_detection_passwords_are_set_and_never_guessed() {
    let (d, url) = double().await;
    let file = with_password(false).replace(
        "enabled: true\nusers",
        "enabled: true\nbruteForceProtected: true\nusers",
    );
    apply(&url, &realm(&file)).await;
    d.clear_requests();
    let (summary, warnings) = apply(&url, &realm(&file)).await;
    let requests = d.requests();
    let logins: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/realms/pw/protocol/openid-connect/token")
        .collect();
    assert!(
        logins.is_empty(),
        "iamstack logged in as a user: {logins:?}"
    );
    assert_eq!(
        user_outcome(&summary, "alice"),
        (Action::Updated, vec!["password".to_string()])
    );
    assert!(writes(&requests)
        .iter()
        .any(|w| w.starts_with("PUT ") && w.ends_with("/reset-password")));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("brute-force detection on") && w.contains("wrong guess")),
        "{warnings:?}"
    );
}

const WITH_ATTRIBUTE: &str = "realm: attrs\nenabled: true\nusers:\n  - username: alice\n    email: alice@example.org\n    firstName: Alice\n    lastName: Liddell\n    enabled: true\n    attributes:\n      department: [research]\n";

#[tokio::test]
async fn an_undeclared_attribute_is_named_once_per_run_and_never_counted_as_drift() {
    let (d, url) = double().await;
    let (_, warnings) = apply(&url, &realm(WITH_ATTRIBUTE)).await;
    assert!(
        warnings.iter().any(|w| w.contains("`department`")
            && w.contains("not declared")
            && w.contains("unmanagedAttributePolicy")),
        "{warnings:?}"
    );
    let api = AdminApi::login(url.as_str()).await;
    assert!(api.user("attrs", "alice").await.get("attributes").is_none());
    d.clear_requests();
    let (summary, warnings) = apply(&url, &realm(WITH_ATTRIBUTE)).await;
    assert_eq!(user_outcome(&summary, "alice"), (Action::Unchanged, vec![]));
    assert!(writes(&d.requests()).is_empty());
    assert!(
        warnings.iter().any(|w| w.contains("`department`")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn a_profile_that_lets_admins_edit_attributes_keeps_them() {
    let (_d, url) = double().await;
    let profile = json!({"attributes": [{"name": "username"}, {"name": "email"}],
                         "unmanagedAttributePolicy": "ADMIN_EDIT"});
    let file = WITH_ATTRIBUTE.replace(
        "users:\n",
        &format!(
            "components:\n  org.keycloak.userprofile.UserProfileProvider:\n    - providerId: declarative-user-profile\n      config:\n        kc.user.profile.config: ['{profile}']\nusers:\n"
        ),
    );
    let (_, warnings) = apply(&url, &realm(&file)).await;
    assert!(
        !warnings.iter().any(|w| w.contains("department")),
        "{warnings:?}"
    );
    let api = AdminApi::login(url.as_str()).await;
    assert_eq!(
        api.user("attrs", "alice").await["attributes"]["department"],
        json!(["research"])
    );
    assert_eq!(api.get("/admin/realms/attrs/users/profile").await, profile);
    let (summary, _) = apply(&url, &realm(&file)).await;
    assert_eq!(user_outcome(&summary, "alice"), (Action::Unchanged, vec![]));
}

#[tokio::test]
async fn users_missing_fields_the_profile_requires_are_named_at_apply() {
    let (_d, url) = double().await;
    let file = "realm: req\nenabled: true\nusers:\n  - username: bob\n    lastName: Builder\n    enabled: true\n";
    let (_, warnings) = apply(&url, &realm(file)).await;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("user `bob` has no `email`, `firstName`")
                && w.contains("Account is not fully set up")),
        "{warnings:?}"
    );
    assert!(
        !warnings.iter().any(|w| w.contains("`lastName`")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn attribute_searches_include_service_accounts_and_search_leaves_them_out() {
    let (_d, url) = double().await;
    let api = AdminApi::login(url.as_str()).await;
    let sa = "service-account-test-client";
    keycloak::apply(
        &url,
        &iamstack::config::AdminCredentials {
            username: iamstack_test_support::ADMIN_USER.into(),
            password: iamstack_test_support::ADMIN_PASSWORD.into(),
        },
        &keycloak::load_realm_files_with(&[], &|_| None).unwrap(),
        false,
        &Reporter::recording(),
    )
    .await
    .unwrap();
    let names = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    let by_username = api
        .get(&format!(
            "/admin/realms/testing/users?username={sa}&exact=true"
        ))
        .await;
    assert_eq!(names(by_username), [sa]);
    let by_search = api.get("/admin/realms/testing/users?search=service").await;
    assert!(names(by_search).is_empty());
    let all = api.get("/admin/realms/testing/users").await;
    assert_eq!(names(all), ["test-user"]);
}
