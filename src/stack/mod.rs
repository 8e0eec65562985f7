//! The stack's lifecycle over the engine: a pure [`plan`] and a pure list of [`changes`], then
//! the ordered steps of [`up`], [`down`] and [`status`]. Steps emit events; they never print.
//!
//! `up`'s parts: [`observe`] (what exists, and whose), [`ports`] (the host port pre-flight),
//! [`changes`] (the decisions), [`readiness`] (the waits, with crash detection),
//! [`provision`] (realm files and `--verify`), [`rollback`] (Ctrl-C). Failures: [`error`].
//! [`lock`]: one `up` or `down` of a project at a time.

pub mod changes;
pub mod discover;
pub mod doctor;
pub mod down;
pub mod error;
pub mod lock;
pub mod logs;
pub mod observe;
pub mod optimize;
pub mod plan;
pub mod ports;
pub mod provision;
pub mod readiness;
pub mod rollback;
pub mod status;
pub mod up;

pub use error::StackError;
