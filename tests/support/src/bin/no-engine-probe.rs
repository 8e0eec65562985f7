//! The child process of `tests/support/tests/no_engine.rs`, which points it at a socket where no
//! engine runs: asks [`iamstack_test_support::engine`] for an engine, as a Docker test would.
//! Outside CI it prints `skipped: no Docker engine (...)` and exits 0; under `CI=true` it panics
//! (exit 101). A binary rather than an ignored test, so that `cargo test` lists no test that
//! never runs.

#[tokio::main]
async fn main() {
    let docker = iamstack_test_support::engine().await;
    assert!(
        docker.is_none(),
        "there is no engine at the socket we named"
    );
}
