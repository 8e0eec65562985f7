//! `iamstack demo`: resolve the client and user as `verify` does, check the port against the
//! client's redirect URIs, read the realm's endpoints, then serve until Ctrl-C.

use crate::cli::DemoArgs;
use crate::commands::verify::resolve;
use crate::demo;
use crate::keycloak;
use crate::report::Reporter;

pub async fn run(args: DemoArgs, reporter: &Reporter) -> anyhow::Result<u8> {
    let choice = crate::commands::verify::choice(&args.who);
    let target = resolve(&args.target, &args.realm, choice, reporter).await?;
    let realms = keycloak::load_realm_files(&args.realm.realm_files)?;
    let redirect_uris: Vec<String> = realms
        .iter()
        .find(|r| r.name() == target.realm)
        .and_then(|r| r.client(&target.client_id))
        .map(|c| c.redirect_uris().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    let patterns: Vec<&str> = redirect_uris.iter().map(String::as_str).collect();
    let config = demo::configure(target, &patterns, args.port).await?;
    let listener = demo::bind(args.port).await?;
    // Information for whoever started it, on stderr whatever the output mode.
    eprintln!(
        "iamstack demo: open {}/ (served on 127.0.0.1 only; Ctrl-C stops it)",
        config.base
    );
    tokio::select! {
        served = demo::serve(listener, config) => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(crate::error::exit::OK)
}
