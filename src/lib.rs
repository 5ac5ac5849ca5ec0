//! quorum: a team of LLM agents (project manager, backend, frontend, QA,
//! security) turns one prompt into a working, committed software project, in a
//! full-screen terminal UI or headless.
//!
//! Dependency direction (STYLE.md): `tui → protocol ← orchestrator → {llm, store,
//! workspace}`. The TUI never imports sled, git2 or a provider; the orchestrator
//! never imports ratatui.

#![warn(missing_docs)]
// Output goes through `outln!`/`errln!` (src/output.rs), which never panic
// on a closed pipe.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod cli;
pub mod commands;
pub mod config;
pub mod headless;
pub mod llm;
pub mod orchestrator;
pub mod output;
pub mod protocol;
pub mod sanitize;
pub mod secrets;
pub mod sim;
pub mod store;
pub mod tui;
pub mod workspace;

/// The state directory's old path, for the orchestrator's calls of
/// `note_session` (it lives in [`workspace::state_dir`]).
pub(crate) use workspace::state_dir as state;

/// The log setup's old path, for the orchestrator's `redact_in_logs` call
/// (it lives in [`cli::logging`]).
pub(crate) use cli::logging;
