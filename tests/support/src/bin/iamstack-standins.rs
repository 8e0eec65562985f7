//! Build (or confirm fresh) the offline stand-in images and print their names, for the README's
//! demo: `cargo run -p iamstack-test-support --bin iamstack-standins`.
//!
//! Prints, on stdout, `IAMSTACK_POSTGRES_IMAGE=...` and `IAMSTACK_KEYCLOAK_IMAGE=...` lines that
//! `iamstack up` reads; progress goes to stderr.

use std::process::ExitCode;
use std::time::Instant;

use iamstack_test_support::standin;

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let result = async {
        let docker = iamstack_test_support::connect().await?;
        standin::ensure_all(&docker).await
    }
    .await;
    match result {
        Ok(standins) => {
            eprintln!(
                "stand-ins ready in {:.1} s (test doubles, not the official images): {} and {}",
                started.elapsed().as_secs_f64(),
                standins.postgres,
                standins.keycloak
            );
            // The plain names now point at exactly these builds.
            println!("IAMSTACK_POSTGRES_IMAGE={}", standin::POSTGRES_IMAGE);
            println!("IAMSTACK_KEYCLOAK_IMAGE={}", standin::KEYCLOAK_IMAGE);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
