//! The help overlay (`?`): every binding of the key table, by context, in
//! one or two columns, scrolled with the list keys.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::app::{App, External, Overlay};
use crate::tui::keymap::Action;
use crate::tui::widgets::{centered, popup};

impl App {
    /// A key while the help is up: the list keys scroll it, `?`, `Esc` and
    /// `q` close it.
    pub(crate) fn help_key(&mut self, scroll: u16, key: KeyEvent, action: Option<Action>) {
        let max = self.frame.help_max_scroll;
        let scroll = match action {
            Some(Action::Down) => scroll.saturating_add(1),
            Some(Action::Up) => scroll.saturating_sub(1),
            Some(Action::PageDown) => scroll.saturating_add(10),
            Some(Action::PageUp) => scroll.saturating_sub(10),
            Some(Action::Top) => 0,
            Some(Action::Bottom) => max,
            _ => scroll,
        };
        if !matches!(
            key.code,
            KeyCode::Char('?') | KeyCode::Esc | KeyCode::Char('q')
        ) {
            self.overlay = Some(Overlay::Help {
                scroll: scroll.min(max),
            });
        }
        match action {
            Some(Action::CancelSession) => self.cancel_or_quit(),
            Some(Action::Suspend) => self.run.external = Some(External::Suspend),
            _ => {}
        }
    }
}

/// The help overlay's lines: each context's title, then its bindings.
fn help_lines(app: &App, key_w: usize, col_w: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut lines = Vec::new();
    let mut last = None;
    for b in app.keymap.bindings() {
        if last != Some(b.context) {
            if last.is_some() {
                lines.push(Line::raw(""));
            }
            lines.push(Line::styled(
                b.context.title().to_string(),
                theme.style("ui.title"),
            ));
            last = Some(b.context);
        }
        let keys = b.keys.join("/");
        let room = col_w.saturating_sub(key_w + 2);
        let mut help: String = b.help.chars().take(room).collect();
        if b.help.chars().count() > room && room > 0 {
            help.pop();
            help.push('…');
        }
        lines.push(Line::from(vec![
            Span::styled(format!(" {keys:<key_w$} "), theme.style("ui.hint.key")),
            Span::styled(help, theme.style("ui.text")),
        ]));
    }
    lines
}

/// Most rows the help overlay can scroll, for an area of `body`.
pub fn help_max_scroll(app: &App, body: Rect) -> u16 {
    let (cols, rows, _) = help_layout(body);
    let n = help_lines(app, 16, 40).len();
    n.saturating_sub(cols * rows) as u16
}

/// Columns, rows per column and the popup's area.
fn help_layout(body: Rect) -> (usize, usize, Rect) {
    let area = centered(body, body.width.saturating_sub(4).min(100), body.height);
    let inner_w = area.width.saturating_sub(2) as usize;
    let cols = if inner_w >= 70 { 2 } else { 1 };
    (cols, area.height.saturating_sub(2) as usize, area)
}

/// The help overlay, scrolled by `scroll` rows.
pub fn draw_help(app: &App, frame: &mut Frame, body: Rect, scroll: u16) {
    let (cols, rows, area) = help_layout(body);
    frame.render_widget(Clear, area);
    let more = help_max_scroll(app, body) > 0;
    let title = if more {
        " keys — j/k scroll · ? or Esc closes "
    } else {
        " keys — ? or Esc closes "
    };
    let block = popup(&app.theme, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let col_w = inner.width as usize / cols;
    let key_w = app
        .keymap
        .bindings()
        .map(|b| b.keys.join("/").chars().count())
        .max()
        .unwrap_or(8)
        .min(16);
    let lines = help_lines(app, key_w, col_w);
    let columns =
        Layout::horizontal((0..cols).map(|_| Constraint::Ratio(1, cols as u32))).split(inner);
    for (i, column) in columns.iter().enumerate() {
        let start = scroll as usize + i * rows;
        let part: Vec<Line> = lines.iter().skip(start).take(rows).cloned().collect();
        frame.render_widget(Paragraph::new(part), *column);
    }
}
