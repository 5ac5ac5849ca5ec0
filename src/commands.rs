//! The commands beside a session run: `init`, `doctor`, `db verify`, `sessions
//! list|show|export|rm|push`, `undo`, `memory`, `completions` and `man`. Each module
//! turns its arguments into an exit code (docs/design.md §5) through
//! [`crate::cli::exit::Failure`]; `app.rs` only dispatches to them.
//!
//! Invariants: `init` and `doctor` never create `DIR/.quorum/` (they log to the
//! XDG state directory); the session commands open an existing state directory
//! only. Those that write (`sessions rm|push`, `undo`) take its lock and
//! DIR's (workspace/state_dir.rs), so they refuse with exit 4 while a session runs in DIR;
//! those that only read (`sessions list|show|export`) read a copy of the db
//! then ([`crate::cli::setup::open_read`], `store/snapshot.rs`), never exit 4. Nothing here
//! prints an API key's value.

pub mod completions;
pub mod db;
pub mod doctor;
pub mod export;
pub mod init;
pub mod memory;
pub mod push;
pub mod sessions;
pub mod undo;
