//! The agent memory overlay (`m` in the agents pane): one agent's notes for
//! DIR, asked for with `Op::LoadMemory`, shown wrapped and scrolled, edited
//! in `$EDITOR` and sent back with `Op::SetMemory`.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};

use super::{hint_line, hints_of};
use crate::protocol::{MEMORY_MAX_BYTES, Op};
use crate::tui::app::{App, External, Overlay};
use crate::tui::keymap::{Action, Context};
use crate::tui::transcript::wrap;
use crate::tui::widgets::{centered, popup};

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

impl App {
    /// `m` in the agents pane (or "memory: NAME" in the palette): shows the
    /// selected agent's memory, asking the orchestrator for it.
    pub(crate) fn open_memory(&mut self) {
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
    pub(crate) fn memory_key(
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
                        self.run.external = Some(External::EditMemory {
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
                self.run.external = Some(External::Suspend);
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
    pub(crate) fn on_memory(&mut self, agent: &str, notes: String) {
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
}

/// The memory overlay: the agent's notes (wrapped, scrolled), their size
/// against [`MEMORY_MAX_BYTES`] or the refusal, and the keys.
pub fn draw_memory(app: &App, view: &MemoryView, frame: &mut Frame, body: Rect) {
    let theme = &app.theme;
    let width = body.width.saturating_sub(8).clamp(30, 84);
    let text_w = width.saturating_sub(2).max(1) as usize;
    let shown = view.sent.as_ref().or(view.notes.as_ref());
    let mut rows: Vec<Line> = match shown {
        None => vec![Line::styled("loading…", theme.style("ui.text.dim"))],
        Some(n) if n.trim().is_empty() => vec![Line::styled(
            "no notes yet: the agent adds some at each delivery, or write them yourself",
            theme.style("ui.text.dim"),
        )],
        Some(n) => n
            .lines()
            .flat_map(|l| wrap(l, text_w, false))
            .map(|r| Line::styled(r, theme.style("ui.text")))
            .collect(),
    };
    let total = rows.len();
    let height = (total as u16 + 5).clamp(7, body.height.max(1));
    let area = centered(body, width, height);
    frame.render_widget(Clear, area);
    let title = format!(
        " memory: {} — its notes for this DIR, in its prompts ",
        view.agent
    );
    let block = popup(&app.theme, &title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let [notes_area, status_area, keys_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let skip = (view.scroll as usize).min(total.saturating_sub(1));
    rows = rows.into_iter().skip(skip).collect();
    frame.render_widget(Paragraph::new(rows), notes_area);
    let status = match (&view.error, &view.sent, shown) {
        (Some(e), _, _) => Line::styled(format!("refused: {e}"), theme.style("ui.error")),
        (None, Some(_), _) => Line::styled("saving…", theme.style("ui.text.dim")),
        (None, None, Some(n)) => {
            let more = if total > notes_area.height as usize {
                format!(" · line {}/{total}", skip + 1)
            } else {
                String::new()
            };
            Line::styled(
                format!("{} of {MEMORY_MAX_BYTES} bytes{more}", n.len()),
                theme.style("ui.text.dim"),
            )
        }
        (None, None, None) => Line::raw(""),
    };
    frame.render_widget(Paragraph::new(status), status_area);
    let mut hints = hints_of(app, Context::Memory, "close");
    if total > notes_area.height as usize {
        let down = app
            .keymap
            .key_for(Context::List, Action::Down)
            .unwrap_or("j");
        let up = app.keymap.key_for(Context::List, Action::Up).unwrap_or("k");
        hints.insert(1, (format!("{down}/{up}"), "scroll".to_string()));
    }
    frame.render_widget(Paragraph::new(hint_line(app, &hints)), keys_area);
}
