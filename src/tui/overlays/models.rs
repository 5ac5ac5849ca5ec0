//! The model picker (`R` in the agents pane): the model a failed task is
//! retried on, from every configured `provider:model` (the agent's own chain
//! first), filtered by what the person types, or a `provider:model` of their
//! own (`Op::RetryTaskOn`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::palette::score;
use crate::protocol::{Op, TaskState};
use crate::tui::app::{App, External, Overlay};
use crate::tui::keymap::Action;
use crate::tui::widgets::{centered, popup};

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
    pub(crate) fn retry_on_another_model(&mut self) {
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
    pub(crate) fn models_key(
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
                self.run.external = Some(External::Suspend);
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
}

/// The model picker of `R`: the failed task and why, what was typed, and
/// the models on offer.
pub fn draw_models(app: &App, picker: &ModelPicker, frame: &mut Frame, body: Rect) {
    let theme = &app.theme;
    let choices = picker.choices();
    let width = body.width.saturating_sub(8).clamp(30, 72);
    let area = centered(body, width, (choices.len() as u16 + 5).clamp(6, 16));
    frame.render_widget(Clear, area);
    let title = format!(
        " retry {} on — ↑/↓ choose · Enter retries · Esc ",
        picker.task
    );
    let block = popup(&app.theme, &title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let w = inner.width as usize;
    let error = picker
        .error
        .as_deref()
        .map(|e| format!("failed: {e}"))
        .unwrap_or_else(|| format!("{} was cancelled", picker.task));
    let mut lines = vec![
        Line::styled(
            error.chars().take(w).collect::<String>(),
            theme.style("ui.error"),
        ),
        Line::from(vec![
            Span::styled("provider:model ", theme.style("ui.hint.key")),
            Span::styled(picker.input.clone(), theme.style("ui.text")),
            Span::styled(" ", theme.style("ui.cursor")),
        ]),
    ];
    if choices.is_empty() {
        lines.push(Line::styled(
            "no configured model matches; type provider:model",
            theme.style("ui.text.dim"),
        ));
    }
    let rows = inner.height.saturating_sub(2) as usize;
    let skip = picker.sel.saturating_sub(rows.saturating_sub(1));
    for (i, model) in choices.iter().enumerate().skip(skip).take(rows) {
        let base = if i == picker.sel {
            theme.style("ui.selection")
        } else {
            Style::default()
        };
        let own = app
            .agents
            .iter()
            .find(|a| a.name == picker.agent)
            .and_then(|a| a.models.iter().position(|m| m == model))
            .map(|i| if i == 0 { "its model" } else { "its fallback" })
            .unwrap_or(if picker.models.contains(model) {
                "configured"
            } else {
                "typed"
            });
        let room = w.saturating_sub(own.chars().count() + 1);
        let name: String = model.chars().take(room).collect();
        let pad = room.saturating_sub(name.chars().count());
        lines.push(Line::from(vec![
            Span::styled(
                format!("{name}{} ", " ".repeat(pad)),
                base.patch(theme.style("ui.text")),
            ),
            Span::styled(own, base.patch(theme.style("ui.text.dim"))),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
