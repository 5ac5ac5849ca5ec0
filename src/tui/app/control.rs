//! The session's controls beyond single tasks (issue 4): pausing and resuming
//! the whole session, the budget warnings and the budget prompt, an agent's
//! memory for DIR (shown, and edited in `$EDITOR`), retrying a failed task on
//! another model, and what the person can do when the tests still fail at
//! deliver. State lives in [`Control`] and in the overlays' own structs
//! ([`MemoryView`], [`ModelPicker`]); everything here is pure update: ops go
//! to the outbox, the editor run to [`App::external`].
//!
//! The orchestrator sends no event for a pause when no task runs, so the TUI
//! keeps `paused` itself: set when it asks, corrected by a `Rejected`
//! ("paused already", "not paused"), cleared when a session starts or ends.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::palette::score;
use super::{App, External, Overlay};
use crate::config::keymap::{Action, Context};
use crate::protocol::{EventBody, Op, TaskState, TestStatus};
use crate::tui::view::tokens;

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
            _ => None,
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

/// The agent memory overlay: one agent's notes for DIR.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryView {
    /// The agent.
    pub agent: String,
    /// Its notes as stored; `None` while loading.
    pub notes: Option<String>,
    /// The person's edit, sent and not yet confirmed (kept after a refusal,
    /// so that `e` goes on from it).
    pub sent: Option<String>,
    /// Why the last load or save was refused.
    pub error: Option<String>,
    /// Rows scrolled past the top.
    pub scroll: u16,
}

/// The overlay that picks the model a failed task is retried on.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPicker {
    /// The failed (or cancelled) task.
    pub task: String,
    /// Its agent.
    pub agent: String,
    /// Why it failed, as its `task_failed` said.
    pub error: Option<String>,
    /// Every configured `provider:model`, the agent's own chain first.
    pub models: Vec<String>,
    /// What the person typed: a filter, or a `provider:model` of their own.
    pub input: String,
    /// The selected row of [`ModelPicker::choices`].
    pub sel: usize,
}

impl ModelPicker {
    /// The models on offer for the typed text: the configured ones that match
    /// it (its characters in order), best first; a typed `provider:model`
    /// that is not configured as such comes first.
    pub fn choices(&self) -> Vec<String> {
        let typed = self.input.trim();
        let mut ranked: Vec<(usize, usize, &String)> = self
            .models
            .iter()
            .enumerate()
            .filter_map(|(i, m)| score(typed, m).map(|s| (s, i, m)))
            .collect();
        ranked.sort();
        let mut out: Vec<String> = ranked.into_iter().map(|(_, _, m)| m.clone()).collect();
        if typed.contains(':') && !self.models.iter().any(|m| m == typed) {
            out.insert(0, typed.to_string());
        }
        out
    }
}

impl App {
    /// The selected agent's name in the agents pane.
    fn selected_agent(&self) -> Option<String> {
        self.agents.get(self.agent_sel).map(|a| a.name.clone())
    }

    /// `P`: pauses the running session, or resumes it when paused.
    pub(super) fn toggle_pause(&mut self) {
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

    /// `m` in the agents pane (or "memory: NAME" in the palette): shows the
    /// selected agent's memory, asking the orchestrator for it.
    pub(super) fn open_memory(&mut self) {
        let Some(agent) = self.selected_agent() else {
            return;
        };
        self.overlay = Some(Overlay::Memory(MemoryView {
            agent: agent.clone(),
            notes: None,
            sent: None,
            error: None,
            scroll: 0,
        }));
        self.outbox.push(Op::LoadMemory { agent });
    }

    /// A key while the memory overlay is up.
    pub(super) fn memory_key(
        &mut self,
        mut view: MemoryView,
        key: KeyEvent,
        action: Option<Action>,
    ) {
        let lines = view
            .sent
            .as_ref()
            .or(view.notes.as_ref())
            .map_or(0, |n| n.lines().count()) as u16;
        match action {
            Some(Action::EditMemory) => {
                match view.sent.clone().or_else(|| view.notes.clone()) {
                    Some(notes) => {
                        self.external = Some(External::EditMemory {
                            agent: view.agent.clone(),
                            notes,
                        })
                    }
                    None => self.toast("the notes are still loading", false),
                }
                self.overlay = Some(Overlay::Memory(view));
            }
            Some(
                a @ (Action::Down
                | Action::Up
                | Action::PageDown
                | Action::PageUp
                | Action::Top
                | Action::Bottom),
            ) => {
                view.scroll = match a {
                    Action::Down => view.scroll.saturating_add(1),
                    Action::Up => view.scroll.saturating_sub(1),
                    Action::PageDown => view.scroll.saturating_add(10),
                    Action::PageUp => view.scroll.saturating_sub(10),
                    Action::Top => 0,
                    _ => lines,
                }
                .min(lines.saturating_sub(1));
                self.overlay = Some(Overlay::Memory(view));
            }
            Some(Action::CancelSession) => self.cancel_or_quit(),
            Some(Action::Suspend) => {
                self.external = Some(External::Suspend);
                self.overlay = Some(Overlay::Memory(view));
            }
            _ if matches!(key.code, KeyCode::Esc | KeyCode::Char('q')) => {}
            _ => self.overlay = Some(Overlay::Memory(view)),
        }
    }

    /// The person's editor returned with an agent's notes: `after` is the
    /// edited text (or why it could not be read). Changed notes are sent
    /// (`Op::SetMemory`); unchanged ones send nothing.
    pub fn memory_edited(&mut self, agent: &str, before: &str, after: Result<String, String>) {
        match after {
            Err(e) => self.toast(format!("memory of {agent}: {e}"), true),
            Ok(after) if after == before => {
                self.toast(format!("memory of {agent} unchanged: nothing sent"), false)
            }
            Ok(notes) => {
                if let Some(Overlay::Memory(view)) = self.overlay.as_mut()
                    && view.agent == agent
                {
                    view.sent = Some(notes.clone());
                    view.error = None;
                }
                self.toast(format!("saving the memory of {agent}…"), false);
                self.outbox.push(Op::SetMemory {
                    agent: agent.to_string(),
                    notes,
                });
            }
        }
    }

    /// `Event::Memory`: fills (or refreshes) the memory overlay when it shows
    /// that agent; a memory nobody looks at (notes added at delivery) needs
    /// nothing.
    pub(super) fn on_memory(&mut self, agent: &str, notes: String) {
        let Some(Overlay::Memory(view)) = self.overlay.as_mut() else {
            return;
        };
        if view.agent != agent {
            return;
        }
        let saved = view.sent.take().is_some();
        view.notes = Some(notes);
        view.error = None;
        if saved {
            self.toast(
                format!("memory of {agent} saved: its next task uses it"),
                false,
            );
        }
    }

    /// A `Rejected` op that concerns the controls: corrects the pause, and
    /// shows a refused memory load or save in the overlay.
    pub(super) fn on_control_rejected(&mut self, op: &str, reason: &str) {
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
    pub(super) fn on_control_event(&mut self, body: &EventBody) {
        match body {
            EventBody::BudgetWarning { .. } => {
                let Some(notice) = BudgetNotice::from_event(body) else {
                    return;
                };
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
            EventBody::BudgetExhausted { .. } => {
                let Some(notice) = BudgetNotice::from_event(body) else {
                    return;
                };
                self.control.exhausted.retain(|w| w.scope != notice.scope);
                self.control.exhausted.push(notice);
                if self.overlay.is_none() {
                    self.overlay = Some(Overlay::Budget);
                }
            }
            EventBody::SessionFinished { .. } => {
                self.control.paused = false;
                self.control.exhausted.clear();
                if matches!(self.overlay, Some(Overlay::Budget)) {
                    self.overlay = None;
                }
            }
            _ => {}
        }
    }

    /// `B`: shows the budget prompt again.
    pub(super) fn show_budget_prompt(&mut self) {
        if self.control.exhausted.is_empty() {
            self.toast("no budget is spent", false);
        } else {
            self.overlay = Some(Overlay::Budget);
        }
    }

    /// A key while the budget prompt is up: continue (raise by half), stop,
    /// or Esc to decide later.
    pub(super) fn budget_key(&mut self, key: KeyEvent, action: Option<Action>) {
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
                self.external = Some(External::Suspend);
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

    /// Every configured `provider:model`: `agent`'s own chain first, then
    /// the other agents' models, each once.
    pub fn model_choices(&self, agent: &str) -> Vec<String> {
        let own = self.agents.iter().filter(|a| a.name == agent);
        let others = self.agents.iter().filter(|a| a.name != agent);
        let mut out: Vec<String> = Vec::new();
        for m in own.chain(others).flat_map(|a| a.models.iter()) {
            if !out.contains(m) {
                out.push(m.clone());
            }
        }
        out
    }

    /// `R`: picks a model for the selected agent's failed task.
    pub(super) fn retry_on_another_model(&mut self) {
        let Some(agent) = self.selected_agent() else {
            return;
        };
        let failed = self
            .session
            .agent_tasks(&agent)
            .filter(|(_, t)| matches!(t.state, TaskState::Failed | TaskState::Cancelled))
            .last()
            .map(|(id, t)| (id.clone(), t.error.clone()));
        let Some((task, error)) = failed else {
            return self.toast(format!("{agent} has no failed task to retry"), false);
        };
        let models = self.model_choices(&agent);
        self.overlay = Some(Overlay::Models(ModelPicker {
            task,
            agent,
            error,
            models,
            input: String::new(),
            sel: 0,
        }));
    }

    /// A key while the model picker is up: type to filter (or write a
    /// `provider:model`), ↑/↓ choose, Enter retries, Esc closes.
    pub(super) fn models_key(
        &mut self,
        mut picker: ModelPicker,
        key: KeyEvent,
        action: Option<Action>,
    ) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let up = key.code == KeyCode::Up || (ctrl && key.code == KeyCode::Char('p'));
        let down = key.code == KeyCode::Down || (ctrl && key.code == KeyCode::Char('n'));
        match key.code {
            _ if action == Some(Action::CancelSession) => self.cancel_or_quit(),
            _ if action == Some(Action::Suspend) => {
                self.external = Some(External::Suspend);
                self.overlay = Some(Overlay::Models(picker));
            }
            KeyCode::Esc => {}
            KeyCode::Enter => match picker.choices().get(picker.sel) {
                Some(model) => {
                    self.toast(format!("retrying {} on {model}", picker.task), false);
                    self.outbox.push(Op::RetryTaskOn {
                        task: picker.task,
                        model: model.clone(),
                    });
                }
                None => {
                    self.toast("no model matches: type provider:model", true);
                    self.overlay = Some(Overlay::Models(picker));
                }
            },
            _ if up => {
                picker.sel = picker.sel.saturating_sub(1);
                self.overlay = Some(Overlay::Models(picker));
            }
            _ if down => {
                let n = picker.choices().len();
                picker.sel = (picker.sel + 1).min(n.saturating_sub(1));
                self.overlay = Some(Overlay::Models(picker));
            }
            KeyCode::Backspace => {
                picker.input.pop();
                picker.sel = 0;
                self.overlay = Some(Overlay::Models(picker));
            }
            KeyCode::Char(c) if !ctrl => {
                picker.input.push(c);
                picker.sel = 0;
                self.overlay = Some(Overlay::Models(picker));
            }
            _ => self.overlay = Some(Overlay::Models(picker)),
        }
    }

    /// While the session waits at deliver after its last test run failed (the
    /// repair rounds are used up): what the person can do, e.g. "tests
    /// failed: 2 failing — C commits anyway, q quits (session ends failed)"
    /// in the files view (where the commit key works), "f: the files, to
    /// commit anyway" elsewhere.
    /// `None` otherwise. Quitting then ends the session failed and leaves DIR
    /// untouched (the orchestrator's answer to `Op::Shutdown` at deliver with
    /// failing tests).
    pub fn tests_verdict(&self) -> Option<String> {
        let s = &self.session;
        if self.commit_message.is_none() || s.commit.is_some() || s.status.is_some() {
            return None;
        }
        let (_, _, failed, status) = s.tests?;
        let what = match status {
            TestStatus::Passed => return None,
            TestStatus::Failed => format!("tests failed: {failed} failing"),
            TestStatus::NoTests => "no test ran".to_string(),
            TestStatus::SetupFailed => "the tests' setup failed".to_string(),
            TestStatus::BuildFailed => "the code did not build".to_string(),
            TestStatus::Timeout => "tests timed out".to_string(),
            TestStatus::Error => "the tests could not run".to_string(),
        };
        let quit = self
            .keymap
            .key_for(Context::Outside, Action::Quit)
            .unwrap_or("q");
        // The commit key works in the files view only: elsewhere the way there.
        let commit = if self.screen == super::Screen::Files {
            let key = self
                .keymap
                .key_for(Context::Files, Action::Commit)
                .unwrap_or("C");
            format!("{key} commits anyway")
        } else {
            let key = self
                .keymap
                .key_for(Context::Outside, Action::Files)
                .unwrap_or("f");
            format!("{key}: the files, to commit anyway")
        };
        Some(format!(
            "{what} — {commit}, {quit} quits (session ends failed)"
        ))
    }
}
