//! What the command line is (docs/design.md §5, "CLI"): its arguments
//! ([`args`], clap), its exit codes and the failure that carries one
//! ([`exit`]), the validation and opening every command shares before it
//! does anything ([`setup`]), and where logs go ([`logging`]).
//!
//! Floor 7 of docs/architecture.md: it sits above the frontends (`tui`,
//! `headless`) and below `commands`, which is the only module that calls
//! into it for a whole command; nothing here imports `commands`.

pub mod args;
pub mod connect;
pub mod exit;
pub mod logging;
pub mod setup;

pub use args::Cli;
// The headless runner names its `--json` mode by its old path.
