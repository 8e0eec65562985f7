//! iamstack: a working OAuth2/OIDC stack (Keycloak 26.2 on PostgreSQL 17.4) in one command.
//!
//! Data flows one way: `cli` -> `config` -> `stack::plan` -> `stack::{up,down,status}` over
//! `docker`, `wait` and `keycloak` -> `report`. `commands` is the thin layer per subcommand.

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod docker;
pub mod error;
pub mod keycloak;
pub mod names;
pub mod report;
pub mod snapshot;
pub mod stack;
pub mod verify;
pub mod wait;

use std::io::IsTerminal;

use cli::{Cli, Command};
use report::{resolve_mode, Reporter};

/// Run one parsed command line; the result is the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let mode = resolve_mode(cli.output, std::io::stderr().is_terminal(), config::in_ci());
    let reporter = Reporter::new(mode);
    match cli.command {
        Command::Up(args) => commands::up::run(args, &reporter).await,
        Command::Down(args) => commands::down::run(args, &reporter).await,
        Command::Status(args) => commands::status::run(args, &reporter).await,
        Command::Apply(args) => commands::apply::run(args, &reporter).await,
        Command::Verify(args) => commands::verify::run(args, &reporter).await,
        Command::Token(args) => commands::token::run(args, &reporter).await,
        Command::Logs(args) => commands::logs::run(args).await,
        Command::Demo(args) => commands::demo::run(args, &reporter).await,
        Command::Env(args) => commands::env::run(args, &reporter).await,
        Command::Export(args) => commands::export::run(args, &reporter).await,
        Command::Doctor(args) => commands::doctor::run(args, &reporter).await,
        Command::Schema => commands::schema::run(),
        Command::Snapshot(args) => commands::snapshot::run(args, &reporter).await,
    }
}
