//! The overlays of the session's controls: an agent's memory, the budget
//! prompt and the model picker of a retry. Their keys come from the key table
//! (`memory` and `budget` contexts), so the hints drawn here follow overrides.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::overlays::{centered, popup};
use crate::config::keymap::{Action, Context};
use crate::protocol::MEMORY_MAX_BYTES;
use crate::tui::app::App;
use crate::tui::app::control::{MemoryView, ModelPicker};
use crate::tui::transcript::wrap;

/// `key help · key help` in the hint styles.
fn hint_line(app: &App, hints: &[(String, String)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (key, help)) in hints.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", app.theme.style("ui.hint.text")));
        }
        spans.push(Span::styled(key.clone(), app.theme.style("ui.hint.key")));
        spans.push(Span::styled(
            format!(" {help}"),
            app.theme.style("ui.hint.text"),
        ));
    }
    Line::from(spans)
}

/// The hints of a context from the key table, then Esc.
fn hints_of(app: &App, context: Context, esc: &str) -> Vec<(String, String)> {
    let mut hints: Vec<(String, String)> = app
        .keymap
        .hints(context)
        .into_iter()
        .map(|(k, h)| (k, h.to_string()))
        .collect();
    hints.push(("Esc".to_string(), esc.to_string()));
    hints
}

/// The memory overlay: the agent's notes (wrapped, scrolled), their size
/// against [`MEMORY_MAX_BYTES`] or the refusal, and the keys.
pub(super) fn draw_memory(app: &App, view: &MemoryView, frame: &mut Frame, body: Rect) {
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
    let block = popup(app, &title);
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

/// The budget prompt: whose budget is spent, by how much, what is paused,
/// and the keys to continue or stop.
pub(super) fn draw_budget(app: &App, frame: &mut Frame, body: Rect) {
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
    let block = popup(app, " budget spent ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The model picker of `R`: the failed task and why, what was typed, and
/// the models on offer.
pub(super) fn draw_models(app: &App, picker: &ModelPicker, frame: &mut Frame, body: Rect) {
    let theme = &app.theme;
    let choices = picker.choices();
    let width = body.width.saturating_sub(8).clamp(30, 72);
    let area = centered(body, width, (choices.len() as u16 + 5).clamp(6, 16));
    frame.render_widget(Clear, area);
    let title = format!(
        " retry {} on — ↑/↓ choose · Enter retries · Esc ",
        picker.task
    );
    let block = popup(app, &title);
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
