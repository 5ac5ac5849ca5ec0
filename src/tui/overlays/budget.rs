//! The session's controls beyond single tasks (issue 4): pausing and resuming
//! the whole session, the budget warnings and the budget prompt (continue
//! with the budget raised by half, or stop). State lives in [`Control`];
//! everything here is pure update: ops go to the outbox.
//!
//! The orchestrator sends no event for a pause when no task runs, so the TUI
//! keeps `paused` itself: set when it asks, corrected by a `Rejected`
//! ("paused already", "not paused"), cleared when a session starts or ends.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::protocol::{EventBody, Op};
use crate::tui::app::{App, External, Overlay};
use crate::tui::keymap::{Action, Context};
use crate::tui::widgets::{centered, popup, tokens};

/// A budget that reached 80 % (`budget_warning`) or 100 %
/// (`budget_exhausted`).
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetNotice {
    /// An agent's name, or `session`.
    pub scope: String,
    /// Spent in the scope, US dollars.
    pub spent_usd: f64,
    /// The scope's dollar budget, if it has one.
    pub budget_usd: Option<f64>,
    /// Tokens (in and out) spent in the scope.
    pub spent_tokens: u64,
    /// The scope's token budget, if it has one.
    pub budget_tokens: Option<u64>,
}

impl BudgetNotice {
    /// From a `budget_warning` or `budget_exhausted` event; `None` for any
    /// other event.
    pub fn from_event(body: &EventBody) -> Option<BudgetNotice> {
        match body {
            EventBody::BudgetWarning {
                scope,
                spent_usd,
                budget_usd,
                spent_tokens,
                budget_tokens,
            }
            | EventBody::BudgetExhausted {
                scope,
                spent_usd,
                budget_usd,
                spent_tokens,
                budget_tokens,
            } => Some(BudgetNotice {
                scope: scope.clone(),
                spent_usd: *spent_usd,
                budget_usd: *budget_usd,
                spent_tokens: *spent_tokens,
                budget_tokens: *budget_tokens,
            }),
            EventBody::SessionStarted { .. }
            | EventBody::SessionResumed { .. }
            | EventBody::InstructionsRead { .. }
            | EventBody::RepoMap { .. }
            | EventBody::PhaseStarted { .. }
            | EventBody::PhaseFinished { .. }
            | EventBody::QuestionAsked { .. }
            | EventBody::QuestionAnswered { .. }
            | EventBody::TaskQueued { .. }
            | EventBody::TaskStarted { .. }
            | EventBody::TaskPaused { .. }
            | EventBody::TaskCancelled { .. }
            | EventBody::TaskFinished { .. }
            | EventBody::TaskFailed { .. }
            | EventBody::TaskRetrying { .. }
            | EventBody::ProviderFallback { .. }
            | EventBody::ConflictDetected { .. }
            | EventBody::VoteCast { .. }
            | EventBody::ConflictResolved { .. }
            | EventBody::DecisionOverridden { .. }
            | EventBody::FileStaged { .. }
            | EventBody::PathRefused { .. }
            | EventBody::SetupRun { .. }
            | EventBody::TestRun { .. }
            | EventBody::RepairDeclined { .. }
            | EventBody::TaskSummary { .. }
            | EventBody::Finding { .. }
            | EventBody::CommitCreated { .. }
            | EventBody::SessionFinished { .. }
            | EventBody::Error { .. } => None,
        }
    }

    /// Whose budget: "the session" or "agent backend".
    pub fn who(&self) -> String {
        if self.scope == "session" {
            "the session".to_string()
        } else {
            format!("agent {}", self.scope)
        }
    }

    /// What was spent against what: `$1.02 of $1.00 · 41.0k of 40.0k tokens`.
    pub fn spent(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.budget_usd {
            parts.push(format!("${:.2} of ${b:.2}", self.spent_usd));
        }
        if let Some(b) = self.budget_tokens {
            parts.push(format!(
                "{} of {} tokens",
                tokens(self.spent_tokens),
                tokens(b)
            ));
        }
        if parts.is_empty() {
            parts.push(format!("${:.2}", self.spent_usd));
        }
        parts.join(" · ")
    }

    /// The share of the nearer budget spent, in percent (rounded down).
    pub fn percent(&self) -> u32 {
        let usd = self
            .budget_usd
            .filter(|b| *b > 0.0)
            .map_or(0.0, |b| self.spent_usd / b);
        let tok = self
            .budget_tokens
            .filter(|b| *b > 0)
            .map_or(0.0, |b| self.spent_tokens as f64 / b as f64);
        (usd.max(tok) * 100.0).floor() as u32
    }
}

/// What the session's controls know: the pause and the budgets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Control {
    /// The person paused the whole session (`Op::PauseSession`).
    pub paused: bool,
    /// Spent budgets waiting for the person's decision, oldest first; the
    /// budget prompt shows the first.
    pub exhausted: Vec<BudgetNotice>,
    /// Budgets at 80 % or more, one per scope.
    pub warnings: Vec<BudgetNotice>,
}

impl App {
    /// `P`: pauses the running session, or resumes it when paused.
    pub(crate) fn toggle_pause(&mut self) {
        if !self.session.running() {
            return self.toast("no session is running: nothing to pause", false);
        }
        let key = self
            .keymap
            .key_for(Context::Outside, Action::PauseSession)
            .unwrap_or("P")
            .to_string();
        if self.control.paused {
            self.control.paused = false;
            self.outbox.push(Op::ResumeSession);
            self.toast("resuming the session", false);
        } else {
            self.control.paused = true;
            self.outbox.push(Op::PauseSession);
            self.toast(
                format!("session paused: running calls stop, nothing new starts — {key} resumes"),
                false,
            );
        }
    }

    /// A `Rejected` op that concerns the controls: corrects the pause, and
    /// shows a refused memory load or save in the overlay.
    pub(crate) fn on_control_rejected(&mut self, op: &str, reason: &str) {
        match op {
            "pause session" => self.control.paused = reason.contains("paused already"),
            "resume session" => self.control.paused = false,
            "load memory" | "set memory" => {
                if let Some(Overlay::Memory(view)) = self.overlay.as_mut() {
                    view.error = Some(reason.to_string());
                }
            }
            _ => {}
        }
    }

    /// Durable events that concern the controls: budgets, and the session's end.
    /// Which events are budget notices is decided once, by the exhaustive
    /// match of [`BudgetNotice::from_event`].
    pub(crate) fn on_control_event(&mut self, body: &EventBody) {
        if let Some(notice) = BudgetNotice::from_event(body) {
            if matches!(body, EventBody::BudgetExhausted { .. }) {
                self.control.exhausted.retain(|w| w.scope != notice.scope);
                self.control.exhausted.push(notice);
                if self.overlay.is_none() {
                    self.overlay = Some(Overlay::Budget);
                }
            } else {
                self.toast(
                    format!(
                        "budget: {} has spent {} % ({})",
                        notice.who(),
                        notice.percent(),
                        notice.spent()
                    ),
                    false,
                );
                self.control.warnings.retain(|w| w.scope != notice.scope);
                self.control.warnings.push(notice);
            }
        } else if matches!(body, EventBody::SessionFinished { .. }) {
            self.control.paused = false;
            self.control.exhausted.clear();
            if matches!(self.overlay, Some(Overlay::Budget)) {
                self.overlay = None;
            }
        }
    }

    /// `B`: shows the budget prompt again.
    pub(crate) fn show_budget_prompt(&mut self) {
        if self.control.exhausted.is_empty() {
            self.toast("no budget is spent", false);
        } else {
            self.overlay = Some(Overlay::Budget);
        }
    }

    /// A key while the budget prompt is up: continue (raise by half), stop,
    /// or Esc to decide later.
    pub(crate) fn budget_key(&mut self, key: KeyEvent, action: Option<Action>) {
        match action {
            Some(Action::RaiseBudget) => {
                if self.control.exhausted.is_empty() {
                    return;
                }
                let notice = self.control.exhausted.remove(0);
                self.control.warnings.retain(|w| w.scope != notice.scope);
                self.toast(
                    format!(
                        "raising the budget of {} by half: its paused tasks go on",
                        notice.who()
                    ),
                    false,
                );
                self.outbox.push(Op::RaiseBudget {
                    scope: notice.scope,
                    usd: None,
                    tokens: None,
                });
                if !self.control.exhausted.is_empty() {
                    self.overlay = Some(Overlay::Budget);
                }
            }
            Some(Action::StopSession) => {
                self.control.exhausted.clear();
                self.outbox.push(Op::CancelSession);
                self.toast("stopping the session", false);
            }
            Some(Action::CancelSession) => self.cancel_or_quit(),
            Some(Action::Suspend) => {
                self.run.external = Some(External::Suspend);
                self.overlay = Some(Overlay::Budget);
            }
            _ if key.code == KeyCode::Esc => {
                let k = self
                    .keymap
                    .key_for(Context::Outside, Action::BudgetPrompt)
                    .unwrap_or("B");
                self.toast(
                    format!("the budget's tasks stay paused; {k} brings the prompt back"),
                    false,
                );
            }
            _ => self.overlay = Some(Overlay::Budget),
        }
    }
}

/// The budget prompt: whose budget is spent, by how much, what is paused,
/// and the keys to continue or stop.
pub fn draw_budget(app: &App, frame: &mut Frame, body: Rect) {
    let theme = &app.theme;
    let Some(notice) = app.control.exhausted.first() else {
        return;
    };
    let paused = if notice.scope == "session" {
        "Every queued task is paused; nothing new starts."
    } else {
        "Its queue is paused; the other agents go on."
    };
    let mut lines = vec![
        Line::styled(
            format!("The budget of {} is spent:", notice.who()),
            theme.style("ui.text"),
        ),
        Line::styled(notice.spent(), theme.style("ui.warning")),
        Line::styled(paused, theme.style("ui.text.dim")),
    ];
    let more = app.control.exhausted.len() - 1;
    if more > 0 {
        lines.push(Line::styled(
            format!("({more} more spent budget(s) after this one)"),
            theme.style("ui.text.dim"),
        ));
    }
    lines.push(Line::raw(""));
    for (key, help) in app.keymap.hints(Context::Budget) {
        lines.push(Line::from(vec![
            Span::styled(format!("{key:<3} "), theme.style("ui.hint.key")),
            Span::styled(help.to_string(), theme.style("ui.text")),
        ]));
    }
    let back = app
        .keymap
        .key_for(Context::Outside, Action::BudgetPrompt)
        .unwrap_or("B");
    lines.push(Line::from(vec![
        Span::styled("Esc ", theme.style("ui.hint.key")),
        Span::styled(
            format!("decide later ({back} brings this back)"),
            theme.style("ui.text"),
        ),
    ]));
    let area = centered(body, 56, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let block = popup(&app.theme, " budget spent ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines), inner);
}
