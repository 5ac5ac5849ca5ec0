//! The conflicts and voting view: the list of conflicts with their status |
//! the selected one's options side by side with each agent's quoted position |
//! its ballots with rationales and the tally.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::protocol::Op;
use crate::protocol::session_view::ConflictView;
use crate::tui::app::{App, EditorPurpose};
use crate::tui::keymap::Action;
use crate::tui::transcript::wrap;
use crate::tui::widgets::{block, by_label};

/// The conflicts view's selection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConflictsState {
    /// Selected conflict.
    pub sel: usize,
    /// Selected option of the selected conflict.
    pub option: usize,
    /// Rows of the agents' positions scrolled past (PgUp/PgDn).
    pub scroll: u16,
}

impl App {
    /// The selected conflict.
    pub fn selected_conflict(&self) -> Option<&ConflictView> {
        self.session.conflicts.get(self.screens.conflicts.sel)
    }

    fn selected_option(&self) -> Option<(String, String)> {
        let c = self.selected_conflict()?;
        let option = c.options.get(self.screens.conflicts.option)?;
        Some((c.id.clone(), option.clone()))
    }

    /// The conflicts view's own actions: choose an option, decide, accept
    /// the votes, override with a note, go to the next open conflict.
    pub(crate) fn conflicts_action(&mut self, action: Action) {
        match action {
            Action::OptionPrev | Action::OptionNext => {
                let n = self
                    .selected_conflict()
                    .map(|c| c.options.len())
                    .unwrap_or(0);
                if n > 0 {
                    let o = self.screens.conflicts.option;
                    self.screens.conflicts.option = if action == Action::OptionNext {
                        (o + 1) % n
                    } else {
                        (o + n - 1) % n
                    };
                }
            }
            Action::Decide => {
                if let Some((conflict, option)) = self.selected_option() {
                    self.outbox.push(Op::Pick { conflict, option });
                }
            }
            Action::AcceptVotes => self.outbox.push(Op::AcceptVotes),
            Action::Override => {
                if let Some((conflict, option)) = self.selected_option() {
                    let title =
                        format!(" override {conflict} with {option}: why? — Enter confirms · Esc ");
                    self.open_editor(EditorPurpose::Override { conflict, option }, &title, "");
                }
            }
            Action::NextOpen => {
                let n = self.session.conflicts.len();
                if let Some(i) = (1..=n)
                    .map(|d| (self.screens.conflicts.sel + d) % n.max(1))
                    .find(|i| {
                        self.session
                            .conflicts
                            .get(*i)
                            .is_some_and(|c| c.decision.is_none())
                    })
                {
                    self.screens.conflicts.sel = i;
                    self.screens.conflicts.option = 0;
                    self.screens.conflicts.scroll = 0;
                } else {
                    self.toast("no open conflict", false);
                }
            }
            _ => {}
        }
    }

    /// Up/Down choose a conflict, PgUp/PgDn scroll the agents' positions.
    pub(crate) fn conflicts_list(&mut self, action: Action, step: impl Fn(usize, usize) -> usize) {
        let (max, page) = self.frame.conflicts_scroll;
        match action {
            // The positions scroll (they may not fit at 80x24).
            Action::PageDown => {
                self.screens.conflicts.scroll =
                    self.screens.conflicts.scroll.saturating_add(page).min(max)
            }
            Action::PageUp => {
                self.screens.conflicts.scroll =
                    self.screens.conflicts.scroll.min(max).saturating_sub(page)
            }
            _ => {
                let before = self.screens.conflicts.sel;
                self.screens.conflicts.sel = step(before, self.session.conflicts.len());
                if before != self.screens.conflicts.sel {
                    self.screens.conflicts.option = 0;
                    self.screens.conflicts.scroll = 0;
                }
            }
        }
    }
}

/// The conflicts view. Returns how far the positions can scroll and by how
/// many rows a page does (`(max, page)`, for [`crate::tui::app::FrameInfo`]):
/// the agents' quoted positions scroll with PgUp/PgDn when they do not fit
/// (an 80x24 terminal shows about two per option).
pub fn draw_conflicts(app: &App, frame: &mut Frame, area: Rect) -> (u16, u16) {
    let theme = &app.theme;
    let list_w = (area.width / 3).clamp(18, 34);
    let [list_area, detail] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(area);
    draw_list(app, frame, list_area);
    let Some(c) = app.selected_conflict() else {
        frame.render_widget(
            Paragraph::new(
                "The conflicts between the agents' plans appear here after the compare phase.",
            )
            .wrap(Wrap { trim: true })
            .style(theme.style("ui.text.dim"))
            .block(block(&app.theme, " Options ", false)),
            detail,
        );
        return (0, 0);
    };
    let ballots_h = (c.ballots.len() as u16 + c.options.len() as u16 + 2)
        .min(detail.height / 2)
        .max(5);
    let [options_area, ballots_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(ballots_h)]).areas(detail);
    let scroll = draw_options(app, c, frame, options_area);
    draw_ballots(app, c, frame, ballots_area);
    scroll
}

/// The list of conflicts, each with its state (decided, voting, a tie…).
fn draw_list(app: &App, frame: &mut Frame, list_area: Rect) {
    let theme = &app.theme;
    let list = block(&app.theme, " Conflicts ", true);
    let inner = list.inner(list_area);
    frame.render_widget(list, list_area);
    let mut rows = Vec::new();
    if app.session.conflicts.is_empty() {
        rows.push(Line::styled("no conflicts yet", theme.style("ui.text.dim")));
    }
    for (i, c) in app.session.conflicts.iter().enumerate() {
        let (mark, state, scope) = match &c.decision {
            Some((option, by)) => (
                "✓",
                format!("{option} ({})", by_label(*by)),
                "conflict.decided",
            ),
            None if c.needs_human && !c.ballots.is_empty() => {
                ("●", "needs you".to_string(), "conflict.tie")
            }
            None if c.ballots.is_empty() => ("●", "voting".to_string(), "conflict.open"),
            None if c.is_tie() => {
                let counts: Vec<String> = c.tally().iter().map(|(_, n)| n.to_string()).collect();
                ("●", format!("tie {}", counts.join("–")), "conflict.tie")
            }
            None => {
                let counts: Vec<String> = c.tally().iter().map(|(_, n)| n.to_string()).collect();
                (
                    "●",
                    format!("{} {}", c.majority().unwrap_or_default(), counts.join("–")),
                    "conflict.open",
                )
            }
        };
        let selected = i == app.screens.conflicts.sel;
        let base = if selected {
            theme.style("ui.selection")
        } else {
            Style::default()
        };
        let width = inner.width as usize;
        let topic: String = c.topic.chars().take(width.saturating_sub(2)).collect();
        rows.push(Line::from(vec![
            Span::styled(format!("{mark} "), base.patch(theme.style(scope))),
            Span::styled(
                format!("{topic:<w$}", w = width.saturating_sub(2)),
                base.patch(theme.style("ui.text")),
            ),
        ]));
        let state: String = state.chars().take(width.saturating_sub(2)).collect();
        rows.push(Line::from(vec![
            Span::styled("  ", base),
            Span::styled(
                format!("{state:<w$}", w = width.saturating_sub(2)),
                base.patch(theme.style(scope)),
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(rows), inner);
}

/// The selected conflict's options side by side, each with the agents'
/// quoted positions (scrolled together), and the decision below. Returns
/// `(max scroll, page rows)`.
fn draw_options(app: &App, c: &ConflictView, frame: &mut Frame, options_area: Rect) -> (u16, u16) {
    let theme = &app.theme;
    let title = format!(
        " {}{} ",
        c.topic,
        if c.blocking { " · blocking" } else { "" }
    );
    let options_block = block(&app.theme, &title, false);
    let inner = options_block.inner(options_area);
    let [columns_area, decision_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(2)]).areas(inner);
    let n = c.options.len().max(1) as u32;
    let columns = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(columns_area);
    let tally = c.tally();
    // Each option's column: its head, then each position's agent and quote.
    let mut column_lines: Vec<Vec<Line>> = Vec::new();
    for (i, option) in c.options.iter().enumerate() {
        let Some(col) = columns.get(i) else { continue };
        let selected = i == app.screens.conflicts.option;
        let votes = tally
            .iter()
            .find(|(o, _)| o == option)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let head_scope = if selected {
            "conflict.option.selected"
        } else {
            "conflict.option"
        };
        let w = col.width.saturating_sub(1) as usize;
        let mut lines = vec![Line::styled(
            format!(
                " {option} · {votes} vote{} ",
                if votes == 1 { "" } else { "s" }
            ),
            theme.style(head_scope),
        )];
        for p in c.positions.iter().filter(|p| &p.option == option) {
            lines.push(Line::styled(p.agent.clone(), theme.style("agent.name")));
            for row in wrap(&format!("“{}”", p.quote), w.max(4), false) {
                lines.push(Line::styled(row, theme.style("conflict.position")));
            }
        }
        column_lines.push(lines);
    }
    // The positions scroll together; the heads stay.
    let rows = columns_area.height.saturating_sub(1);
    let longest = column_lines
        .iter()
        .map(|l| l.len().saturating_sub(1))
        .max()
        .unwrap_or(0) as u16;
    let max_scroll = longest.saturating_sub(rows);
    let scroll = app.screens.conflicts.scroll.min(max_scroll);
    let options_block = if max_scroll > 0 {
        let shown = format!(
            " positions: rows {}–{} of {} · pgup/pgdn ",
            scroll + 1,
            (scroll + rows).min(longest),
            longest
        );
        options_block.title_bottom(Line::styled(shown, theme.style("ui.text.dim")).right_aligned())
    } else {
        options_block
    };
    frame.render_widget(options_block, options_area);
    for (lines, col) in column_lines.into_iter().zip(columns.iter()) {
        let col = Rect::new(col.x, col.y, col.width.saturating_sub(1), col.height);
        let mut lines = lines.into_iter();
        let head: Vec<Line> = lines.next().into_iter().collect();
        let shown: Vec<Line> = head
            .into_iter()
            .chain(lines.skip(scroll as usize))
            .collect();
        frame.render_widget(Paragraph::new(shown), col);
    }
    frame.render_widget(
        Paragraph::new(decision_line(app, c)).wrap(Wrap { trim: true }),
        decision_area,
    );
    (max_scroll, rows.saturating_sub(1).max(1))
}

/// What the decision line says: decided (by whom, with the note), the
/// chair's call for the person, voting, a tie, or the majority.
fn decision_line(app: &App, c: &ConflictView) -> Line<'static> {
    let theme = &app.theme;
    match &c.decision {
        Some((option, by)) => {
            let note = c
                .note
                .as_ref()
                .map(|n| format!(" — note: {n}"))
                .unwrap_or_default();
            Line::styled(
                format!("Decided: {option} by {}{note}", by_label(*by)),
                theme.style("conflict.decided"),
            )
        }
        None if c.needs_human && !c.ballots.is_empty() => Line::styled(
            "The chair asks you to decide: choose with ←/→ and Enter, or o with a note",
            theme.style("conflict.tie"),
        ),
        None if c.ballots.is_empty() => Line::styled(
            "Voting… (o overrides with a note)",
            theme.style("ui.text.dim"),
        ),
        None if c.is_tie() => Line::styled(
            "Tie: choose with ←/→ and Enter, or o to decide with a note",
            theme.style("conflict.tie"),
        ),
        None => Line::styled(
            format!(
                "Majority: {} — a accepts all vote results, o overrides with a note",
                c.majority().unwrap_or_default()
            ),
            theme.style("conflict.open"),
        ),
    }
}

/// The tally as bars, then each agent's ballot with its rationale.
fn draw_ballots(app: &App, c: &ConflictView, frame: &mut Frame, ballots_area: Rect) {
    let theme = &app.theme;
    let tally = c.tally();
    let ballots_block = block(&app.theme, " Ballots and tally ", false);
    let inner = ballots_block.inner(ballots_area);
    frame.render_widget(ballots_block, ballots_area);
    let mut lines = Vec::new();
    let most = tally.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let bar_w = 12usize;
    for (option, votes) in &tally {
        let filled = (*votes as usize * bar_w) / most as usize;
        lines.push(Line::from(vec![
            Span::styled(format!("{option:<12} "), theme.style("ballot.option")),
            Span::styled("█".repeat(filled), theme.style("tally.bar")),
            Span::styled(
                format!("{} {votes}", " ".repeat(bar_w - filled)),
                theme.style("ui.text"),
            ),
        ]));
    }
    for (agent, option, rationale) in &c.ballots {
        let (text, scope) = match option {
            Some(o) => (o.clone(), "ballot.option"),
            None => ("abstained".to_string(), "ballot.abstained"),
        };
        let room = (inner.width as usize).saturating_sub(23);
        let mut why: String = rationale.chars().take(room).collect();
        if rationale.chars().count() > room && room > 0 {
            why.pop();
            why.push('…');
        }
        lines.push(Line::from(vec![
            Span::styled(format!("{agent:<9} "), theme.style("agent.name")),
            Span::styled(format!("{text:<12} "), theme.style(scope)),
            Span::styled(why, theme.style("ui.text.dim")),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
