//! One frame: [`draw`] renders an [`App`] into the terminal's frame: the
//! header, the current screen's body (below the prompt and agents on tall
//! terminals), the status bar, and the overlay on top. Pure apart from what
//! it measures for the update (the transcript's rows and area, the help's
//! scroll limit, the conflicts' scroll): reads the state, writes cells;
//! every style comes from the theme (`theme.style("scope")`). The screens
//! draw themselves ([`super::screens`]), the overlays too
//! ([`super::overlays`]).

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::app::{App, Overlay, Screen};
use super::overlays::{budget, confirm, editor, help, memory, models, palette};
use super::screens::main::{draw_main, draw_top, top_height};
use super::screens::{conflicts, files, history, metrics};
use super::status::status_lines;
use super::transcript::wrap;
use super::widgets::tokens;

/// The smallest usable terminal (docs/design.md §7).
pub const MIN_SIZE: (u16, u16) = (40, 12);

/// Renders the whole screen.
pub fn draw(app: &mut App, frame: &mut Frame) {
    let area = frame.area();
    app.frame.scroll_band = None;
    frame.render_widget(
        Block::default().style(app.theme.style("ui.background")),
        area,
    );
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!("terminal too small (need {}x{})", MIN_SIZE.0, MIN_SIZE.1);
        let rows = wrap(&msg, area.width as usize, false);
        let y = area.y + area.height.saturating_sub(rows.len() as u16) / 2;
        let height = (rows.len() as u16).min(area.height);
        let text: Vec<Line> = rows.into_iter().map(Line::from).collect();
        let para = Paragraph::new(text)
            .alignment(Alignment::Center)
            .style(app.theme.style("ui.warning"));
        frame.render_widget(para, Rect::new(area.x, y, area.width, height));
        return;
    }
    // The status bar grows (up to a quarter of the screen) rather than cut
    // a long message or the hints.
    let status_max = (area.height / 4).max(1);
    let status_rows = status_lines(app, area.width, status_max);
    let status_h = (status_rows.len() as u16).clamp(1, status_max);
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(status_h),
    ])
    .areas(area);
    draw_header(app, frame, header);
    match app.screen {
        Screen::Main => draw_main(app, frame, body),
        Screen::Conflicts | Screen::Files | Screen::Metrics | Screen::History => {
            // Tall terminals keep the prompt and agents above the view.
            let body = if body.height >= 30 {
                let [top, rest] = Layout::vertical([
                    Constraint::Length(top_height(app, body)),
                    Constraint::Min(1),
                ])
                .areas(body);
                draw_top(app, frame, top);
                rest
            } else {
                body
            };
            match app.screen {
                Screen::Conflicts => {
                    app.frame.conflicts_scroll = conflicts::draw_conflicts(app, frame, body)
                }
                Screen::Files => files::draw_files(app, frame, body),
                Screen::Metrics => metrics::draw_metrics(app, frame, body),
                _ => history::draw_history(app, frame, body),
            }
        }
    }
    frame.render_widget(
        Paragraph::new(status_rows).style(app.theme.style("ui.statusbar")),
        status,
    );
    // Laying the help out costs about a tenth of a frame: only while it shows.
    if matches!(app.overlay, Some(Overlay::Help { .. })) {
        app.frame.help_max_scroll = help::help_max_scroll(app, body);
    }
    match &app.overlay {
        Some(Overlay::Help { scroll }) => help::draw_help(app, frame, body, *scroll),
        Some(Overlay::ConfirmQuit) => confirm::draw_confirm(app, frame, body),
        Some(Overlay::ConfirmCancel) => confirm::draw_confirm_cancel(app, frame, body),
        Some(Overlay::ConfirmUnconfined { .. }) => confirm::draw_unconfined(app, frame, body),
        Some(Overlay::Editor(_)) => editor::draw_editor(app, frame, body),
        Some(Overlay::Palette(p)) => palette::draw_palette(app, p, frame, body),
        Some(Overlay::Memory(m)) => memory::draw_memory(app, m, frame, body),
        Some(Overlay::Budget) => budget::draw_budget(app, frame, body),
        Some(Overlay::Models(p)) => models::draw_models(app, p, frame, body),
        None => {}
    }
}

/// The header: the session, its phase, tokens and cost, the flags that
/// must not be missed, and the provider label.
fn draw_header(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let bar = theme.style("ui.statusbar");
    let s = &app.session;
    let narrow = area.width < 100;
    let mut left = String::from(" quorum");
    if s.id.is_empty() {
        left.push_str(&format!(" · {} · ready", app.about.dir));
    } else {
        let total = app.about.phases.len();
        let index = app
            .about
            .phases
            .iter()
            .position(|(n, _)| *n == s.phase)
            .map(|i| i + 1)
            .unwrap_or(0);
        let id = &s.id[..s.id.len().min(4)];
        let (session, phase) = if narrow {
            ("", "")
        } else {
            ("session ", "phase ")
        };
        left.push_str(&format!(
            " · {session}{id} · {phase}{index}/{total} {} · {} tok · ${:.3}",
            s.phase,
            tokens(s.tokens.0 + s.tokens.1),
            s.cost_usd
        ));
        if let Some(status) = s.status {
            left.push_str(&format!(" · {}", status.as_str()));
        }
    }
    // Other terminals on the same server session (docs/tui.md, "Detach
    // and attach"): shown from two, this one included.
    if app.run.clients > 1 {
        left.push_str(&format!(" · {} attached", app.run.clients));
    }
    // Flags that must not be missed: the session paused, a budget spent.
    let mut flags: Vec<Span> = Vec::new();
    if app.control.paused && s.running() {
        flags.push(Span::styled(
            " ‖ paused ",
            theme.style("ui.statusbar.alert"),
        ));
    }
    if !app.control.exhausted.is_empty() && s.running() {
        flags.push(Span::styled(
            " budget spent ",
            theme.style("ui.statusbar.alert"),
        ));
    }
    let flags_w: usize = flags.iter().map(|f| f.content.chars().count() + 1).sum();
    // The provider label is never shortened: "offline (simulated)" must show.
    let label = format!(" {} ", app.about.provider_label);
    let width = area.width as usize;
    let label_w = label.chars().count();
    let room = width.saturating_sub(label_w + flags_w + 1);
    let mut left: String = if left.chars().count() > room && !flags.is_empty() {
        // Cut at a field's end rather than mid-figure, so the flags stand out.
        let cut: String = left.chars().take(room).collect();
        match cut.rfind(" · ") {
            Some(i) => cut[..i].to_string(),
            None => cut,
        }
    } else {
        left.chars().take(room).collect()
    };
    let pad = width.saturating_sub(left.chars().count() + flags_w + label_w);
    let style = if app.about.provider_label.contains("offline") {
        theme.style("ui.statusbar.offline")
    } else {
        bar
    };
    let mut spans = Vec::new();
    for flag in flags {
        left.push(' ');
        spans.push(Span::styled(std::mem::take(&mut left), bar));
        spans.push(flag);
    }
    left.push_str(&" ".repeat(pad));
    spans.push(Span::styled(left, bar));
    spans.push(Span::styled(label, style));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), area);
}
