//! Output: orchestration emits [`Event`]s and never prints; the [`Reporter`] renders them in
//! the mode picked once by [`resolve_mode`]. Humans read stderr; machines read stdout.

mod check;
mod event;
mod human;
mod render;
mod reporter;
mod step;
mod table;
#[cfg(test)]
mod tests;

pub use check::{CheckFailure, CheckResult};
pub use event::{resolve_mode, Action, Event, Mode, OidcValue};
pub use render::{fmt_ms, plain_line, stdout_block};
pub use reporter::Reporter;
pub use step::Step;
pub use table::check_table;
