//! A stored session folded into the app: resumed (`quorum resume`) or
//! attached to on DIR's server (`quorum attach`, a TUI joining a running
//! session), and leaving the server's session (`Ctrl-\\`, detach;
//! docs/tui.md, "Detach and attach").

use std::collections::BTreeMap;
use std::time::Instant;

use super::{App, Focus};
use crate::protocol::{LoggedEvent, SessionStatus};
use crate::tui::screens::main::prompt_area;

impl App {
    /// Whether other clients of the server watch this session: quitting
    /// then leaves it running for them (docs/tui.md, "Detach and attach").
    pub(crate) fn others_attached(&self) -> bool {
        self.about.client && self.run.clients > 1
    }

    /// `Ctrl-\\`: a client of `quorum serve` detaches (the session goes
    /// on); without a server there is nothing to detach from.
    pub(crate) fn detach(&mut self) {
        if self.about.client {
            self.run.detached = true;
            self.run.quit = true;
        } else {
            self.toast(
                "this TUI runs its session itself: nothing to detach from (q quits)".to_string(),
                true,
            );
        }
    }

    /// [`Event::Resumed`] and [`Event::Attached`]: the stored session is
    /// folded as if it had been watched live, and each transcript view pages
    /// in its last stored lines.
    fn on_resumed(
        &mut self,
        events: &[LoggedEvent],
        lines: u64,
        agent_lines: &std::collections::BTreeMap<String, u64>,
    ) {
        self.reset_session();
        for e in events {
            self.session.apply(e);
            self.screens.metrics.apply(e);
        }
        if self.session.status == Some(SessionStatus::Failed) {
            self.screens.files.failed_before = Some(
                self.session
                    .errors
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "the session failed".to_string()),
            );
        }
        self.screens.metrics.anchor(Instant::now());
        // As after typing the prompt: it is shown, and keys go to the session.
        self.prompt = prompt_area(&self.theme, &self.session.prompt);
        self.focus = Focus::Transcript;
        for page in self.transcripts.resume_at(lines, agent_lines) {
            self.request_page(Some(page));
        }
    }

    /// [`crate::protocol::Event::Resumed`]: the session is folded and the
    /// toast says from which event it goes on.
    pub(super) fn on_resumed_event(
        &mut self,
        events: &[LoggedEvent],
        lines: u64,
        agent_lines: &BTreeMap<String, u64>,
    ) {
        self.on_resumed(events, lines, agent_lines);
        let id = short_id(events);
        self.toast(
            format!("resuming session {id} after event {}", events.len()),
            false,
        );
    }

    /// [`crate::protocol::Event::Attached`]: the server's session as a
    /// client that watched from the start knows it: its events, the
    /// transcript's size `(lines, agent_lines)`, the files' choices and a
    /// waiting delivery.
    pub(super) fn on_attached(
        &mut self,
        events: &[LoggedEvent],
        (lines, agent_lines): (u64, &BTreeMap<String, u64>),
        files: BTreeMap<String, bool>,
        delivery: Option<String>,
    ) {
        self.on_resumed(events, lines, agent_lines);
        for (path, accepted) in files {
            if let Some(f) = self.session.files.get_mut(&path) {
                f.accepted = accepted;
            }
        }
        if let Some(message) = delivery {
            self.delivery_ready(message);
        }
        let id = short_id(events);
        self.toast(
            format!(
                "attached to session {id} ({} events); Ctrl-\\ detaches",
                events.len()
            ),
            false,
        );
    }
}

/// The short id of the session whose stored events these are (empty when
/// there are none).
fn short_id(events: &[LoggedEvent]) -> String {
    events
        .first()
        .map(|e| e.session.short().to_string())
        .unwrap_or_default()
}
