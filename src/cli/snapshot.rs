//! `iamstack snapshot ...` and `up --from-snapshot` (their own file: `cli.rs` is full).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{AdminArgs, ProjectArgs, RealmArgs, StackArgs};

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Write the running stack's Postgres data directory to FILE (gzip'd tar); the stack is
    /// stopped during the copy and running and ready again afterwards.
    Save(SnapshotSaveArgs),
    /// Print a cache key (for CI caches) naming the images, realm files and settings that
    /// shape a snapshot's data.
    Key(Box<SnapshotKeyArgs>),
}

#[derive(Debug, Args)]
pub struct SnapshotSaveArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    /// Where to write the snapshot (replaced at the end, never left half-written).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The realm files the stack was provisioned with, to record their hash (else null).
    #[arg(long = "realm", value_delimiter = ',')]
    pub realm_files: Vec<PathBuf>,

    /// Readiness budget per service after the restart, e.g. `300s` [default: 300s].
    #[arg(long, env = "IAMSTACK_TIMEOUT", value_parser = super::parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct SnapshotKeyArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub realm: RealmArgs,
}

/// `up`'s flag for starting from a snapshot.
#[derive(Debug, Clone, Args)]
pub struct FromSnapshotArgs {
    /// Start a fresh stack from a snapshot made by `iamstack snapshot save`: no initdb, no
    /// schema creation, the admin and realms already there (needs no data volume yet).
    #[arg(long, value_name = "FILE", env = "IAMSTACK_FROM_SNAPSHOT")]
    pub from_snapshot: Option<PathBuf>,
}
