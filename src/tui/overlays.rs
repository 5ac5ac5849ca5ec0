//! The layers above a screen, one module each with its state, its keys and
//! its drawing: the help, the confirmations (quit, cancel, unconfined tests),
//! the text editor, the command palette, an agent's memory, the budget
//! prompt and the model picker. A key goes to the overlay on top first
//! ([`App::on_key`](super::app::App::on_key)); an overlay that stays up puts
//! itself back. Shared here: the key-hint line of the control overlays.

pub mod budget;
pub mod confirm;
pub mod editor;
pub mod help;
pub mod memory;
pub mod models;
pub mod palette;

use ratatui::text::{Line, Span};

use crate::tui::app::App;
use crate::tui::keymap::Context;

/// `key help · key help` in the hint styles.
pub(crate) fn hint_line(app: &App, hints: &[(String, String)]) -> Line<'static> {
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
pub(crate) fn hints_of(app: &App, context: Context, esc: &str) -> Vec<(String, String)> {
    let mut hints: Vec<(String, String)> = app
        .keymap
        .hints(context)
        .into_iter()
        .map(|(k, h)| (k, h.to_string()))
        .collect();
    hints.push(("Esc".to_string(), esc.to_string()));
    hints
}
