//! quorum: a team of LLM agents (project manager, backend, frontend, QA,
//! security) turns one prompt into a working, committed software project, in a
//! full-screen terminal UI or headless.
//!
//! The modules form floors (docs/architecture.md), lowest first: `output`,
//! `sanitize` < `protocol` < `config`, `notify`, `secrets`, `store`,
//! `workspace` < `llm` < `sim` < `orchestrator` < `tui`, `headless` < `cli` <
//! `commands`. A module imports only from its own floor or lower ones, and the
//! frontends (`tui`, `headless`) reach the orchestrator only through the
//! `Op`/`Event` channels; `tests/all/layering.rs` checks both.

#![warn(missing_docs)]
// A function over 100 lines (clippy.toml) is split into named steps
// (docs/style.md, "Sizes").
#![warn(clippy::too_many_lines)]
// Output goes through `outln!`/`errln!` (src/output.rs), which never panic
// on a closed pipe.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod cli;
pub mod commands;
pub mod config;
pub mod headless;
pub mod llm;
pub mod notify;
pub mod orchestrator;
pub mod output;
pub mod protocol;
pub mod sanitize;
pub mod secrets;
pub mod server;
pub mod sim;
pub mod store;
pub mod tui;
pub mod workspace;
