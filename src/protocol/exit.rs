//! Every exit code quorum ends with (docs/design.md §5), shared by the
//! command line (`cli/exit.rs`, which adds the failures that carry them),
//! the headless runner and [`super::SessionStatus::exit_code`], which agrees
//! with them (checked in `cli/exit.rs`).

/// Succeeded.
pub const OK: i32 = 0;
/// Failed.
pub const FAILED: i32 = 1;
/// Usage or config error, or a corrupt state db.
pub const USAGE: i32 = 2;
/// Interrupted, cancelled or paused (a session that can be resumed).
pub const INTERRUPTED: i32 = 3;
/// DIR's state is in use by another quorum.
pub const IN_USE: i32 = 4;
