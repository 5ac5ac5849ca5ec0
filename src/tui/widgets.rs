//! Drawing helpers shared by the screens and the overlays: a pane's and a
//! popup's frame, a centred rectangle, token counts, the spinner, the label
//! of who decided a conflict. They take a [`Theme`] and plain values, never
//! the [`App`](super::app::App), so that any screen can use them.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use crate::protocol::DecidedBy;
use crate::tui::theme::Theme;

/// The spinner's frames (advanced at most 10 times a second).
pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Formats a token count: 950, 2.1k, 1.2M.
pub fn tokens(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", n as f64 / 1_000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// A rounded pane with a title; its border shows focus.
pub fn pane<'a>(theme: &Theme, title: Line<'a>, focused: bool) -> Block<'a> {
    let border = if focused {
        "ui.border.focused"
    } else {
        "ui.border"
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.style(border))
        .title(title)
}

/// A pane titled `title` in the title style; its border shows focus.
pub fn block<'a>(theme: &Theme, title: &'a str, focused: bool) -> Block<'a> {
    pane(theme, Line::styled(title, theme.style("ui.title")), focused)
}

/// Who decided a conflict, as shown: `vote`, `chair` or `you`.
pub fn by_label(by: DecidedBy) -> &'static str {
    match by {
        DecidedBy::Vote => "vote",
        DecidedBy::Chair => "chair",
        DecidedBy::Human => "you",
    }
}

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// A rounded popup with a title, in the popup styles.
pub fn popup<'a>(theme: &Theme, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.style("ui.popup.border"))
        .title(Span::styled(title, theme.style("ui.popup.title")))
        .style(theme.style("ui.popup"))
}
