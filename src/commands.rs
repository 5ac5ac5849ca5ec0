//! What each command does, one file each (docs/design.md §5, "CLI"): the
//! TUI without a subcommand ([`tui`]), `run`, `resume`, `ask`, and the
//! commands beside a session: `init`, `doctor`, `db verify`, `sessions
//! list|show|export|rm|push` (`export` and `push` have files of their own),
//! `undo`, `memory`, `completions` and `man` (in [`completions`]). Each turns
//! its arguments into an exit code through [`crate::cli::exit::Failure`];
//! this file only dispatches to them ([`run()`]).
//!
//! Floor 8 of docs/architecture.md, the top: commands import `cli/` (the
//! arguments, the exit codes, the shared setup) and everything below it;
//! nothing imports a command.
//!
//! Invariants: `init`, `doctor` and `ask` never create `DIR/.quorum/` (they
//! log to the XDG state directory); the session commands open an existing
//! state directory only (`crate::cli::setup::open_existing`,
//! `crate::cli::setup::open_read`). Nothing here prints an API key's
//! value.

pub mod ask;
pub mod attach;
pub mod completions;
pub mod db;
pub mod doctor;
pub mod export;
pub mod init;
pub mod memory;
pub mod push;
pub mod resume;
pub mod run;
pub mod serve;
pub mod sessions;
pub mod tui;
pub mod undo;

use crate::cli::args::{Cli, Command, Global};
use crate::cli::exit::{self, Failure};
use crate::cli::logging;

/// Runs the command line and returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let global = cli.global.clone();
    // Before anything is created: a typo must not start a (paid) session.
    if let Some(message) = cli.mistyped_subcommand() {
        return fail(&global, Failure::usage(message));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::errln!("quorum: cannot start the async runtime: {e}");
            return exit::FAILED;
        }
    };
    let result = runtime.block_on(dispatch(&global, cli));
    // Calls still streaming when a session ends must not hold the process.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(failure) => fail(&global, failure),
    }
}

/// Runs the command `cli` names (the TUI when none).
async fn dispatch(global: &Global, cli: Cli) -> Result<i32, Failure> {
    let prompt = cli.prompt_words();
    match cli.command {
        None => tui::run(global, prompt).await,
        Some(Command::Run(args)) => run::run(global, args).await,
        Some(Command::Resume(args)) => resume::run(global, args).await,
        Some(Command::Ask(args)) => ask::run(global, args).await,
        Some(Command::Sessions { command }) => sessions::run(global, command).await,
        Some(Command::Db { command }) => db::run(global, command),
        Some(Command::Undo { session }) => undo::run(global, session.as_deref()),
        Some(Command::Memory { agent, set, clear }) => {
            memory::run(global, agent.as_deref(), set.as_deref(), clear)
        }
        Some(Command::Init { force, user }) => init::run(global, force, user),
        Some(Command::Doctor { json }) => doctor::run(global, json).await,
        Some(Command::Completions { shell }) => Ok(completions::completions(shell)),
        Some(Command::Man) => Ok(completions::man()),
        Some(Command::Serve(args)) => serve::run(global, args).await,
        Some(Command::Attach(args)) => attach::run(global, args).await,
    }
}

/// Says why quorum stops on stderr and in the XDG state directory's log
/// (never in `.quorum/`), and returns the failure's exit code.
fn fail(global: &Global, failure: Failure) -> i32 {
    // It may quote model or project text (docs/troubleshooting.md).
    crate::errln!("quorum: {}", crate::sanitize::text(&failure.message));
    if let Some(dir) = logging::xdg_state_dir() {
        let _guard = logging::init(&dir, global.verbose);
        tracing::warn!(code = failure.code, message = %failure.message, "quorum stopped early");
    }
    failure.code
}
