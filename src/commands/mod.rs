//! One module per subcommand: resolve configuration, call the library, report, pick the exit code.

pub mod apply;
pub mod demo;
pub mod doctor;
pub mod down;
pub mod env;
pub mod export;
pub mod logs;
pub mod schema;
pub mod snapshot;
pub mod status;
pub mod token;
pub mod up;
pub mod verify;
