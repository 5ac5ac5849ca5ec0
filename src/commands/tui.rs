//! quorum without a subcommand: the full-screen TUI in DIR ([`crate::tui`]),
//! starting at once on a prompt given on the command line, or resuming a
//! session for `quorum resume` (`run_with`), or attaching to the session
//! on DIR's server (`quorum attach`). The theme is checked, like
//! everything else, before anything is created.
//!
//! The TUI is a client of DIR's server (`quorum serve`, started on demand;
//! docs/design.md §4, "Server and clients"): it shows the server's session
//! and detaches on a hangup or `Ctrl-\`. Where the socket's path is too
//! long for a Unix socket, it runs the orchestrator itself, as it did
//! before the server existed.

use std::sync::Arc;

use crate::cli::args::{Global, joined};
use crate::cli::connect::{connect_in_background, socket_for};
use crate::cli::exit::Failure;
use crate::cli::setup::{Prepared, open_state, prepare, spawn};
use crate::server::listen::fits;
use crate::tui::theme::Theme;

/// Opens the TUI in DIR, starting on `prompt`'s words when there are some;
/// returns the session's exit code.
///
/// Errors: those of `prepare` and `run_with`.
pub async fn run(global: &Global, prompt: Vec<String>) -> Result<i32, Failure> {
    let prompt = joined(&prompt);
    let prepared = prepare(global, None)?;
    run_with(
        global,
        prepared,
        (!prompt.is_empty()).then_some(prompt),
        None,
    )
    .await
}

/// The TUI on a validated setup: starting on `prompt` if given, or resuming
/// `resume` (`Some(None)`: the newest resumable session).
///
/// Errors: exit 2 for an unknown theme; those of [`open_state`]; exit 1
/// when the terminal fails.
pub(crate) async fn run_with(
    global: &Global,
    prepared: Prepared,
    prompt: Option<String>,
    resume: Option<Option<String>>,
) -> Result<i32, Failure> {
    // Whether this machine can confine model-written code is asked only when
    // the person has not allowed it already. A prompt from the command line
    // starts at once, so it needs the answer now; otherwise the probe runs
    // beside the TUI's start, which does not wait for it (`unconfined_pending`).
    let ask = !prepared.settings.test.allow_unconfined;
    let at_once = prompt.is_some();
    if ask && !at_once {
        std::thread::spawn(|| {
            let _ = crate::workspace::sandbox::probe();
        });
    }
    let theme_name = global
        .theme
        .clone()
        .unwrap_or_else(|| prepared.settings.ui.theme.clone());
    let theme = Theme::builtin(&theme_name).map_err(|e| Failure::usage(e.to_string()))?;
    // The server is reached while the TUI draws its first frame; only a
    // socket path too long for a Unix socket runs the session in-process.
    let client = fits(&socket_for(&prepared.dir, global)).is_ok();
    let (channels, failed, _held) = if client {
        let (channels, failed) = connect_in_background(&prepared.dir, global);
        (channels, Some(failed), None)
    } else {
        let (state, store, guard) = open_state(&prepared.dir, global)?;
        let handle = spawn(&prepared, &state, store);
        (handle.into_channels(), None, Some((state, guard)))
    };
    let setup = crate::tui::Setup {
        settings: Arc::clone(&prepared.settings),
        workflow: prepared.workflow.clone(),
        theme,
        dir: prepared.dir.clone(),
        prompt,
        resume,
        unconfined: (ask && at_once)
            .then(crate::workspace::sandbox::probe)
            .and_then(Result::err),
        unconfined_pending: ask && !at_once,
        implicit_demo: prepared.settings.offline_demo() && !global.offline,
        client,
        run_notify_command: !client,
    };
    let code = crate::tui::run(channels, setup)
        .await
        .map_err(|e| Failure::failed(format!("terminal: {e}")))?;
    // The server could not be reached: its failure, now the terminal is back.
    if let Some(failure) = failed.and_then(|f| f.lock().ok().and_then(|mut f| f.take())) {
        return Err(failure);
    }
    Ok(code)
}
