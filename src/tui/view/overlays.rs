//! The overlays: the help (every binding, from the key table), the quit
//! confirmation, the text editors and the command palette.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use crate::tui::app::palette::Palette;
use crate::tui::app::{App, Overlay};

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
pub(super) fn popup<'a>(app: &App, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(app.theme.style("ui.popup.border"))
        .title(Span::styled(title, app.theme.style("ui.popup.title")))
        .style(app.theme.style("ui.popup"))
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

pub(super) fn draw_help(app: &App, frame: &mut Frame, body: Rect, scroll: u16) {
    let (cols, rows, area) = help_layout(body);
    frame.render_widget(Clear, area);
    let more = help_max_scroll(app, body) > 0;
    let title = if more {
        " keys — j/k scroll · ? or Esc closes "
    } else {
        " keys — ? or Esc closes "
    };
    let block = popup(app, title);
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

pub(super) fn draw_confirm(app: &App, frame: &mut Frame, body: Rect) {
    // At deliver with failing tests, quitting ends the session failed.
    let failing = app.tests_verdict().is_some();
    let area = centered(
        body,
        if failing { 60 } else { 50 },
        if failing { 6 } else { 5 },
    );
    frame.render_widget(Clear, area);
    let block = popup(app, " quit? ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let question = if failing {
        vec![
            Line::styled(
                "The tests failed. Quit without committing?",
                app.theme.style("ui.text"),
            ),
            Line::styled(
                "The session ends failed; DIR is left untouched.",
                app.theme.style("ui.warning"),
            ),
        ]
    } else {
        vec![Line::styled(
            "A session is running. Stop it and quit?",
            app.theme.style("ui.text"),
        )]
    };
    let mut text = question;
    text.extend([Line::from(vec![
        Span::styled("y", app.theme.style("ui.hint.key")),
        Span::styled(" quit · ", app.theme.style("ui.hint.text")),
        Span::styled("n", app.theme.style("ui.hint.key")),
        Span::styled(" stay", app.theme.style("ui.hint.text")),
    ])]);
    frame.render_widget(Paragraph::new(text).alignment(Alignment::Center), inner);
}

/// "Cancel the running session?": a second `Ctrl-C` (or `y`) cancels it
/// (`quorum resume` can go on with it later), `n`/`Esc` keeps it running.
pub(super) fn draw_confirm_cancel(app: &App, frame: &mut Frame, body: Rect) {
    let area = centered(body, 60, 6);
    frame.render_widget(Clear, area);
    let block = popup(app, " cancel the session? ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let text = vec![
        Line::styled(
            "A session is running. Cancel it?",
            app.theme.style("ui.text"),
        ),
        Line::styled(
            "`quorum resume` can go on with it later.",
            app.theme.style("ui.hint.text"),
        ),
        Line::from(vec![
            Span::styled("Ctrl-C/y", app.theme.style("ui.hint.key")),
            Span::styled(" cancel it · ", app.theme.style("ui.hint.text")),
            Span::styled("n/Esc", app.theme.style("ui.hint.key")),
            Span::styled(" keep it running", app.theme.style("ui.hint.text")),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(ratatui::widgets::Wrap { trim: true }),
        inner,
    );
}

/// "This machine cannot confine model-written code": run it anyway (`y`),
/// keep the rule and have the session stop before its setup and tests (`n`),
/// or go back to the prompt (`Esc`).
pub(super) fn draw_unconfined(app: &App, frame: &mut Frame, body: Rect) {
    let area = centered(body, 72, 9);
    frame.render_widget(Clear, area);
    let block = popup(app, " no sandbox on this machine ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let reason = app.unconfined.as_deref().unwrap_or_default();
    let text = vec![
        Line::styled(
            "quorum cannot confine the code the agents write here:",
            app.theme.style("ui.text"),
        ),
        Line::styled(reason.to_string(), app.theme.style("ui.warning")),
        Line::styled(
            "Unconfined, its setup and tests can read and write what you can.",
            app.theme.style("ui.text"),
        ),
        Line::styled(
            "docs/sandbox.md says how to enable it.",
            app.theme.style("ui.hint.text"),
        ),
        Line::from(vec![
            Span::styled("y", app.theme.style("ui.hint.key")),
            Span::styled(" run unconfined · ", app.theme.style("ui.hint.text")),
            Span::styled("n", app.theme.style("ui.hint.key")),
            Span::styled(
                " start, stop before running code · ",
                app.theme.style("ui.hint.text"),
            ),
            Span::styled("Esc", app.theme.style("ui.hint.key")),
            Span::styled(" back", app.theme.style("ui.hint.text")),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(ratatui::widgets::Wrap { trim: true }),
        inner,
    );
}

pub(super) fn draw_editor(app: &App, frame: &mut Frame, body: Rect) {
    let Some(Overlay::Editor(editor)) = &app.overlay else {
        return;
    };
    let lines = editor.area.lines().len() as u16;
    let area = centered(
        body,
        body.width.saturating_sub(8).max(30),
        (lines + 2).clamp(3, 14),
    );
    frame.render_widget(Clear, area);
    frame.render_widget(&editor.area, area);
}

/// The command palette: the query, then the matching actions with their keys.
pub(super) fn draw_palette(app: &App, palette: &Palette, frame: &mut Frame, body: Rect) {
    let theme = &app.theme;
    let items = palette.matches(&app.keymap, &app.agent_names());
    let area = centered(
        body,
        body.width.saturating_sub(8).clamp(30, 72),
        (items.len() as u16 + 4).clamp(5, 18),
    );
    frame.render_widget(Clear, area);
    let block = popup(app, " : run an action — ↑/↓ choose · Enter runs · Esc ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let mut lines = vec![Line::from(vec![
        Span::styled(": ", theme.style("ui.hint.key")),
        Span::styled(palette.input.clone(), theme.style("ui.text")),
        Span::styled(" ", theme.style("ui.cursor")),
    ])];
    let rows = inner.height.saturating_sub(1) as usize;
    let skip = palette.sel.saturating_sub(rows.saturating_sub(1));
    let width = inner.width as usize;
    if items.is_empty() {
        lines.push(Line::styled(
            "no action matches",
            theme.style("ui.text.dim"),
        ));
    }
    for (i, item) in items.iter().enumerate().skip(skip).take(rows) {
        let selected = i == palette.sel;
        let base = if selected {
            theme.style("ui.selection")
        } else {
            ratatui::style::Style::default()
        };
        let keys = format!(" {:<12}", item.keys);
        let where_ = format!("{} ", item.context.title());
        let room = width.saturating_sub(keys.chars().count() + where_.chars().count());
        let help: String = item.help.chars().take(room).collect();
        let pad = room.saturating_sub(help.chars().count());
        lines.push(Line::from(vec![
            Span::styled(keys, base.patch(theme.style("ui.hint.key"))),
            Span::styled(
                format!("{help}{}", " ".repeat(pad)),
                base.patch(theme.style("ui.text")),
            ),
            Span::styled(where_, base.patch(theme.style("ui.text.dim"))),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
