//! `keycloak-double`: the container form of the Keycloak 26.2 test double, installed as
//! `/opt/keycloak/bin/kc.sh` in the stand-in image. A test double, not Keycloak.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ERROR: cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let code = runtime.block_on(keycloak_double::container::run(args, env));
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::ExitCode::from(code)
}
