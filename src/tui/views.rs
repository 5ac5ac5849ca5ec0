//! The full-screen views: conflicts and voting (list | options side by side with
//! quoted positions | ballots and tally), and files (tree | highlighted preview
//! or diff | commit message).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::app::App;
use super::transcript::wrap;
use crate::protocol::{DecidedBy, FileChange};

fn block<'a>(app: &App, title: &'a str, focused: bool) -> Block<'a> {
    super::view::pane(
        app,
        Line::styled(title, app.theme.style("ui.title")),
        focused,
    )
}

fn by_label(by: DecidedBy) -> &'static str {
    match by {
        DecidedBy::Vote => "vote",
        DecidedBy::Chair => "chair",
        DecidedBy::Human => "you",
    }
}

/// The conflicts view.
pub fn draw_conflicts(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let list_w = (area.width / 3).clamp(18, 34);
    let [list_area, detail] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(area);

    let list = block(app, " Conflicts ", true);
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
        let selected = i == app.conflict_sel;
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

    let Some(c) = app.selected_conflict() else {
        frame.render_widget(
            Paragraph::new(
                "The conflicts between the agents' plans appear here after the compare phase.",
            )
            .wrap(Wrap { trim: true })
            .style(theme.style("ui.text.dim"))
            .block(block(app, " Options ", false)),
            detail,
        );
        return;
    };
    let ballots_h = (c.ballots.len() as u16 + c.options.len() as u16 + 4)
        .min(detail.height / 2)
        .max(5);
    let [options_area, ballots_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(ballots_h)]).areas(detail);
    let title = format!(
        " {}{} ",
        c.topic,
        if c.blocking { " · blocking" } else { "" }
    );
    let options_block = block(app, &title, false);
    let inner = options_block.inner(options_area);
    frame.render_widget(options_block, options_area);
    let [columns_area, decision_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(2)]).areas(inner);
    let n = c.options.len().max(1) as u32;
    let columns = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(columns_area);
    let tally = c.tally();
    for (i, option) in c.options.iter().enumerate() {
        let Some(col) = columns.get(i) else { continue };
        let selected = i == app.option_sel;
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
        let col = Rect::new(col.x, col.y, col.width.saturating_sub(1), col.height);
        frame.render_widget(Paragraph::new(lines), col);
    }
    let decision = match &c.decision {
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
    };
    frame.render_widget(
        Paragraph::new(decision).wrap(Wrap { trim: true }),
        decision_area,
    );

    let ballots_block = block(app, " Ballots and tally ", false);
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

/// The files view.
pub fn draw_files(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let [main, commit_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(3)]).areas(area);
    let list_w = (area.width / 3).clamp(20, 40);
    let [list_area, preview_area] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(main);

    let list = block(app, " Files ", true);
    let inner = list.inner(list_area);
    frame.render_widget(list, list_area);
    let width = inner.width as usize;
    let mut rows: Vec<Line> = Vec::new();
    let mut selected_row = 0;
    let mut dir_shown = String::new();
    if app.session.files.is_empty() {
        rows.push(Line::styled(
            "no staged files yet",
            theme.style("ui.text.dim"),
        ));
    }
    for (i, f) in app.session.files.values().enumerate() {
        let (dir, name) = match (&f.refused, f.path.rsplit_once('/')) {
            (Some(_), _) => ("refused".to_string(), f.path.clone()),
            (None, Some((d, n))) => (format!("{d}/"), n.to_string()),
            (None, None) => (String::new(), f.path.clone()),
        };
        if dir != dir_shown && !dir.is_empty() {
            rows.push(Line::styled(dir.clone(), theme.style("ui.text.dim")));
        }
        dir_shown = dir.clone();
        let indent = if dir.is_empty() { "" } else { "  " };
        let (mark, scope) = match (&f.refused, f.change) {
            (Some(_), _) => ("⊘", "file.refused"),
            (None, Some(FileChange::Modified)) => ("~", "file.modified"),
            (None, _) => ("+", "file.new"),
        };
        let accept = if f.refused.is_some() {
            "   "
        } else if f.accepted {
            "[✓]"
        } else {
            "[ ]"
        };
        let accept_scope = if f.accepted {
            "file.accepted"
        } else {
            "file.rejected"
        };
        let finding = if f.findings > 0 {
            format!(" !{}", f.findings)
        } else {
            String::new()
        };
        let selected = i == app.file_sel;
        if selected {
            selected_row = rows.len();
        }
        let base = if selected {
            theme.style("ui.selection")
        } else {
            Style::default()
        };
        let used = indent.len() + 6 + finding.chars().count();
        let name: String = name.chars().take(width.saturating_sub(used)).collect();
        let pad = width.saturating_sub(used + name.chars().count());
        rows.push(Line::from(vec![
            Span::styled(
                format!("{indent}{accept} "),
                base.patch(theme.style(accept_scope)),
            ),
            Span::styled(format!("{mark} "), base.patch(theme.style(scope))),
            Span::styled(
                format!("{name}{}", " ".repeat(pad)),
                base.patch(theme.style("ui.text")),
            ),
            Span::styled(finding, base.patch(theme.style("file.finding"))),
        ]));
    }
    let skip = selected_row.saturating_sub(inner.height as usize / 2);
    let skip = skip.min(rows.len().saturating_sub(inner.height as usize));
    frame.render_widget(
        Paragraph::new(rows.into_iter().skip(skip).collect::<Vec<_>>()),
        inner,
    );

    draw_preview(app, frame, preview_area);

    let commit_block = block(app, " Commit ", false);
    let inner = commit_block.inner(commit_area);
    frame.render_widget(commit_block, commit_area);
    let accepted = app.session.files.values().filter(|f| f.accepted).count();
    let line = match (&app.session.commit, &app.commit_message) {
        (Some(sha), _) => Line::styled(format!("committed {sha}"), theme.style("ui.success")),
        (None, Some(message)) => {
            let subject = message.lines().next().unwrap_or("");
            Line::from(vec![
                Span::styled(
                    format!("{accepted} file(s) accepted · "),
                    theme.style("ui.text.dim"),
                ),
                Span::styled(subject.to_string(), theme.style("ui.text")),
            ])
        }
        (None, None) => Line::styled(
            "the commit opens when the session reaches deliver",
            theme.style("ui.text.dim"),
        ),
    };
    frame.render_widget(Paragraph::new(line), inner);
}

fn draw_preview(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let selected = app.selected_file();
    let title = match (&app.preview, app.show_diff) {
        (Some(p), true) => format!(" diff {} ", p.path),
        (Some(p), false) => format!(" {} ", p.path),
        (None, _) => " Preview ".to_string(),
    };
    let b = block(app, &title, false);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    if let Some(f) = selected
        && let Some(reason) = &f.refused
    {
        let text = vec![
            Line::styled(
                format!("{} was refused", f.path),
                theme.style("file.refused"),
            ),
            Line::styled(format!("reason: {reason}"), theme.style("ui.text")),
            Line::styled(
                format!("written by: {}", f.agent),
                theme.style("ui.text.dim"),
            ),
        ];
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner);
        return;
    }
    let Some(preview) = &app.preview else {
        frame.render_widget(
            Paragraph::new("Enter previews the selected file; d shows its diff.")
                .style(theme.style("ui.text.dim")),
            inner,
        );
        return;
    };
    let rows = inner.height as usize;
    let diff_style = |l: &str| {
        let scope = if l.starts_with("+++") || l.starts_with("---") || l.starts_with("@@") {
            "diff.header"
        } else if l.starts_with('+') {
            "diff.plus"
        } else if l.starts_with('-') {
            "diff.minus"
        } else {
            "diff.context"
        };
        theme.style(scope)
    };
    // Only the visible rows are built and handed to the widget.
    let visible: Vec<Line> = match (&preview.content, app.show_diff) {
        (None, _) => vec![Line::styled("loading…", theme.style("ui.text.dim"))],
        (Some(Err(e)), _) => vec![Line::styled(e.clone(), theme.style("ui.error"))],
        (Some(Ok(content)), true) => match &preview.diff {
            Some(diff) => {
                let skip =
                    (app.preview_scroll as usize).min(diff.lines().count().saturating_sub(1));
                diff.lines()
                    .skip(skip)
                    .take(rows)
                    .map(|l| Line::styled(l.to_string(), diff_style(l)))
                    .collect()
            }
            None => {
                let total = content.lines().count() + 1;
                let skip = (app.preview_scroll as usize).min(total.saturating_sub(1));
                std::iter::once(Line::styled(
                    format!("new file: {} lines", total - 1),
                    theme.style("diff.header"),
                ))
                .chain(
                    content
                        .lines()
                        .map(|l| Line::styled(format!("+{l}"), theme.style("diff.plus"))),
                )
                .skip(skip)
                .take(rows)
                .collect()
            }
        },
        (Some(Ok(_)), false) => {
            let width = preview.lines.len().to_string().len();
            let skip = (app.preview_scroll as usize).min(preview.lines.len().saturating_sub(1));
            preview
                .lines
                .iter()
                .enumerate()
                .skip(skip)
                .take(rows)
                .map(|(i, l)| {
                    let mut spans = vec![Span::styled(
                        format!("{:>width$} ", i + 1),
                        theme.style("ui.text.dim"),
                    )];
                    spans.extend(l.spans.iter().cloned());
                    Line::from(spans)
                })
                .collect()
        }
    };
    frame.render_widget(Paragraph::new(visible), inner);
}
