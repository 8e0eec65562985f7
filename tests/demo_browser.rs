//! `iamstack demo` in a real browser: headless Chromium driven through chromedriver (WebDriver,
//! the `fantoccini` crate) against the demo served in process and the in-process Keycloak
//! double. It logs in through Keycloak's login page, reaches the profile with the user's email,
//! logs out back to the home page, then runs the password and client-credentials flows.
//! Screenshots of each page land in `target/demo-screenshots/`. Without chromedriver the test
//! skips, and fails under `CI=true` (`.ci/run` installs Debian's `chromium-driver`).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use iamstack::config::AdminCredentials;
use iamstack::demo;
use iamstack::keycloak::{self, BUILTIN_REALM};
use iamstack::report::Reporter;
use iamstack::verify::{target_for, Choice};
use iamstack_test_support::{ADMIN_PASSWORD, ADMIN_USER};
use keycloak_double::DoubleConfig;
use serde_json::json;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The chromedriver to run: `$CHROMEDRIVER`, else GitHub's runners' `$CHROMEWEBDRIVER/chromedriver`,
/// else `chromedriver` on the PATH (Debian's `chromium-driver`).
fn chromedriver_program() -> std::path::PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    var("CHROMEDRIVER")
        .map(Into::into)
        .or_else(|| {
            var("CHROMEWEBDRIVER").map(|d| std::path::PathBuf::from(d).join("chromedriver"))
        })
        .unwrap_or_else(|| "chromedriver".into())
}

/// chromedriver on a free port, killed on drop; `None` (skip) when it is not installed.
async fn chromedriver() -> Option<(tokio::process::Child, u16)> {
    let port = free_port();
    let child = tokio::process::Command::new(chromedriver_program())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(child) = child else {
        assert!(
            !in_ci(),
            "CI is set and chromedriver is missing: apt-get install chromium chromium-driver (.ci/run installs them)"
        );
        eprintln!(
            "skipped: chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
        return None;
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some((child, port));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn browser(driver_port: u16) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let caps = json!({"goog:chromeOptions": {"args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1100,900"]}});
    ClientBuilder::rustls()
        .expect("TLS roots")
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a browser session")
}

async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("demo-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Type `text` into the element with this id.
async fn type_into(c: &Client, id: &str, text: &str) {
    let field = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    field.send_keys(text).await.unwrap();
}

/// Click the element with this id.
async fn click(c: &Client, id: &str) {
    let target = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    target.click().await.unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    let found = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await;
    match found {
        Ok(element) => element.text().await.unwrap(),
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let page = c.source().await.unwrap_or_default();
            panic!("`{css}` on {url}: {e}\n{page}")
        }
    }
}

#[tokio::test]
async fn the_three_flows_work_in_a_real_browser() {
    let Some((_driver, driver_port)) = chromedriver().await else {
        return;
    };
    // Keycloak with the built-in realm, its redirect URIs naming the demo's free port.
    let kc = keycloak_double::start(DoubleConfig::default())
        .await
        .unwrap();
    let kc_url = url::Url::parse(&kc.base_url()).unwrap();
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let text = BUILTIN_REALM.replace("localhost:5000", &format!("localhost:{port}"));
    let realms = vec![keycloak::parse_realm_file(&text, "testing.yaml", false, &|_| None).unwrap()];
    let admin = AdminCredentials {
        username: ADMIN_USER.into(),
        password: ADMIN_PASSWORD.into(),
    };
    keycloak::apply(&kc_url, &admin, &realms, false, &Reporter::recording())
        .await
        .unwrap();
    let target = target_for(&realms, Choice::default(), kc_url, Some("localhost".into())).unwrap();
    let patterns = realms[0].client("test-client").unwrap().redirect_uris();
    let config = demo::configure(target, &patterns, port)
        .await
        .expect("the port is allowed");
    tokio::spawn(demo::serve(listener, config));
    let home = format!("http://localhost:{port}/");

    let c = browser(driver_port).await;
    c.goto(&home).await.unwrap();
    screenshot(&c, "1-home").await;
    click(&c, "login").await;

    // Keycloak's login page (the double's keycloak.v2 markup).
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("kc-form-login"))
        .await
        .expect("Keycloak's login form");
    screenshot(&c, "2-keycloak-login").await;
    type_into(&c, "username", "test-user").await;
    type_into(&c, "password", "test-user$123").await;
    click(&c, "kc-login").await;

    assert_eq!(text_of(&c, "#email").await, "test-user@localhost");
    assert!(c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("/profile"));
    let userinfo = text_of(&c, "#userinfo").await;
    assert!(
        userinfo.contains("\"preferred_username\": \"test-user\""),
        "{userinfo}"
    );
    screenshot(&c, "3-profile").await;

    // RP-initiated logout returns to the home page, and the profile is gone.
    click(&c, "logout").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_url(&url::Url::parse(&home).unwrap())
        .await
        .expect("back on the home page after logout");
    c.goto(&format!("{home}profile")).await.unwrap();
    assert_eq!(
        c.current_url().await.unwrap().as_str(),
        home,
        "no session any more"
    );

    // The password grant: a labelled form, then the token for the user.
    c.goto(&format!("{home}password")).await.unwrap();
    let html = c.source().await.unwrap();
    for field in ["username", "password"] {
        assert!(
            html.contains(&format!("<label for=\"{field}\">")),
            "{field} has a label: {html}"
        );
    }
    type_into(&c, "password", "test-user$123").await;
    click(&c, "get-token").await;
    assert_eq!(text_of(&c, "#subject").await, "test-user");
    let claims = text_of(&c, "#access-token").await;
    assert!(
        claims.contains("\"preferred_username\": \"test-user\""),
        "{claims}"
    );
    screenshot(&c, "4-password-grant").await;

    // Client credentials: the service account's token.
    c.goto(&home).await.unwrap();
    click(&c, "client-credentials").await;
    assert_eq!(text_of(&c, "#subject").await, "service-account-test-client");
    let claims = text_of(&c, "#access-token").await;
    assert!(claims.contains("service-account-test-client"), "{claims}");
    screenshot(&c, "5-client-credentials").await;

    c.close().await.unwrap();
}

#[tokio::test]
async fn a_port_the_redirect_uris_do_not_allow_is_refused_with_the_fix() {
    let kc = keycloak_double::start(DoubleConfig::default())
        .await
        .unwrap();
    let kc_url = url::Url::parse(&kc.base_url()).unwrap();
    let realms =
        vec![keycloak::parse_realm_file(BUILTIN_REALM, "testing.yaml", false, &|_| None).unwrap()];
    let target = target_for(&realms, Choice::default(), kc_url, Some("localhost".into())).unwrap();
    let err = demo::configure(target, &["http://localhost:5000/*"], 5001)
        .await
        .expect_err("5001 is not allowed");
    let text = err.to_string();
    assert!(
        text.contains("http://localhost:5001/callback")
            && text.contains("no port wildcard")
            && text.contains("add `http://localhost:5001/*`")
            && text.contains("--port 5000"),
        "{text}"
    );
    assert_eq!(err.kind(), iamstack::error::Kind::InvalidConfig);
}
