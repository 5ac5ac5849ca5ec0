//! The named parts of [`super::App`]: what the session runs with, what a
//! new session must pass first, the full-screen views' state and what the run
//! loop reads back (docs/style.md: a struct of more than 20 fields is split
//! into named parts).

use super::{External, RequestId, UiOptions};
use crate::tui::metrics::Metrics;
use crate::tui::screens::conflicts::ConflictsState;
use crate::tui::screens::files::FilesState;
use crate::tui::screens::history::PastSessions;

/// What the session runs with, fixed at start: the workflow, the provider,
/// DIR and the `[ui]` options.
pub struct About {
    /// The workflow's phases: (name, kind).
    pub phases: Vec<(String, String)>,
    /// Shown in the header when every agent is offline.
    pub provider_label: String,
    /// The target directory.
    pub dir: String,
    /// `[ui]` options.
    pub options: UiOptions,
    /// The TUI is a client of `quorum serve`: a hangup or `Ctrl-\\` detaches
    /// and leaves the session running (docs/tui.md, "Detach and attach").
    pub client: bool,
}

/// What a new session must pass before it starts: the sandbox probe's answer
/// and the offline demo's scope.
#[derive(Default)]
pub struct StartGate {
    /// Why this machine cannot confine model-written code, when it cannot
    /// and the person has not allowed it (`--allow-unconfined-tests`): a new
    /// session asks first ([`Overlay::ConfirmUnconfined`]; docs/sandbox.md).
    pub unconfined: Option<String>,
    /// The sandbox probe has not answered yet (it runs beside the TUI's
    /// start); the run loop fills [`StartGate::unconfined`] when it does.
    pub unconfined_pending: bool,
    /// The offline team runs only because no provider is configured: a
    /// session on a prompt its demo does not build ends `demo`
    /// ([`crate::protocol::SessionOptions::unbuilt`]).
    pub implicit_demo: bool,
    /// What the prompt editor's cost estimate is computed from; `None`: no
    /// estimate is shown (docs/tui.md, "Cost estimate").
    pub estimate: Option<EstimateBasis>,
}

/// What the cost estimate under the prompt editor is computed from
/// ([`crate::config::estimate::estimate`]): the settings' agents and prices,
/// the workflow, and the tokens of DIR's project the agents will be shown
/// ([`crate::workspace::Workspace::shown_tokens`]), filled in by a thread
/// that reads DIR beside the TUI's start (0 until it has).
pub struct EstimateBasis {
    /// The agents, their models and the prices.
    pub settings: std::sync::Arc<crate::config::Settings>,
    /// The session's phases.
    pub workflow: crate::config::workflow::Workflow,
    /// Tokens of DIR's project as the agents are shown it, once read.
    pub project_tokens: std::sync::Arc<std::sync::OnceLock<u64>>,
}

impl EstimateBasis {
    /// The short form shown under the prompt editor for `prompt`: `≈
    /// $0.04–0.19 · 21–35 calls`, with `+ unpriced` when a model has no
    /// price; `offline: no cost` for the offline team; `None` for an empty
    /// prompt.
    pub fn short(&self, prompt: &str) -> Option<String> {
        if prompt.trim().is_empty() {
            return None;
        }
        let project = self.project_tokens.get().copied().unwrap_or(0);
        let e = crate::config::estimate::estimate(&self.settings, &self.workflow, prompt, project);
        if e.offline {
            return Some("offline team: no cost".to_string());
        }
        let unpriced = if e.unpriced.is_empty() {
            ""
        } else {
            " + unpriced"
        };
        Some(format!(
            "≈ ${:.2}–{:.2}{unpriced} · {}–{} calls",
            e.usd.low, e.usd.high, e.calls.low, e.calls.high
        ))
    }
}

/// The state of the full-screen views (conflicts, files, history, metrics)
/// and the agents pane's selection.
#[derive(Default)]
pub struct Screens {
    /// The conflicts view's selection.
    pub conflicts: ConflictsState,
    /// The files view's state.
    pub files: FilesState,
    /// The history view's state.
    pub past: PastSessions,
    /// The session's metrics.
    pub metrics: Metrics,
    /// Selected row of the agents pane.
    pub agent_sel: usize,
    /// The commit message (generated at deliver, editable).
    pub commit_message: Option<String>,
}

/// What the run loop reads back after each update: quit, the orchestrator's
/// stop, work that needs the terminal, request ids.
#[derive(Default)]
pub struct RunLoop {
    /// The person asked to quit.
    pub quit: bool,
    /// The orchestrator has stopped.
    pub closed: bool,
    /// Work for the run loop that needs the terminal.
    pub external: Option<External>,
    /// The last request id given out ([`App::req`]).
    pub next_req: RequestId,
    /// The person detached (`Ctrl-\\`) or the terminal hung up while a
    /// client of `quorum serve`: the session goes on without this TUI.
    pub detached: bool,
    /// Clients attached to the server's session, this one included (0 when
    /// not a client); the status bar shows it from 2.
    pub clients: u32,
}
