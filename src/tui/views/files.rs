//! The files view: the tree of staged files with their status | the selected
//! file's highlighted preview or diff | the commit message and the commit.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::block;
use crate::protocol::FileChange;
use crate::tui::app::App;
use crate::tui::transcript::expand_tabs;

/// The files view.
pub fn draw_files(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    // With failing tests at deliver, the commit pane says what C and q do;
    // a failed session resumed to be delivered anyway says why it failed.
    let notes: Vec<Line> = app
        .files
        .failed_before
        .iter()
        .filter(|_| app.session.commit.is_none())
        .map(|f| Line::styled(format!("it had failed: {f}"), theme.style("ui.warning")))
        .chain(
            app.tests_verdict()
                .map(|v| Line::styled(v, theme.style("ui.error"))),
        )
        .collect();
    let note_w = area.width.saturating_sub(2).max(1);
    let note_rows: u16 = notes
        .iter()
        .map(|l| (l.width() as u16).div_ceil(note_w).max(1))
        .sum();
    let commit_h = (3 + note_rows).min((area.height / 3).max(3));
    let [main, commit_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(commit_h)]).areas(area);
    let list_w = (area.width / 3).clamp(20, 40);
    let [list_area, preview_area] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(main);

    let list = block(app, " Files ", true);
    // `!N` after a name: N review findings on the file, listed above its
    // preview when it is selected.
    let list = if app.session.files.values().any(|f| f.findings > 0) {
        list.title_bottom(
            Line::styled(" !N: N review findings ", theme.style("file.finding")).right_aligned(),
        )
    } else {
        list
    };
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
        let selected = i == app.files.sel;
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
    let mut lines = vec![line];
    lines.extend(notes);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn draw_preview(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let selected = app.selected_file();
    let title = match (&app.files.preview, app.files.show_diff) {
        (Some(p), true) => format!(" diff {} ", p.path),
        (Some(p), false) => format!(" {} ", p.path),
        (None, _) => " Preview ".to_string(),
    };
    let b = block(app, &title, false);
    let mut inner = b.inner(area);
    frame.render_widget(b, area);
    // The selected file's review findings (its `!N` in the list) come first.
    if let Some(f) = selected.filter(|f| f.findings > 0 && f.refused.is_none()) {
        let mut rows: Vec<Line> = vec![Line::styled(
            format!(
                "!{} review finding{} on {}:",
                f.findings,
                if f.findings == 1 { "" } else { "s" },
                f.path
            ),
            theme.style("file.finding"),
        )];
        for finding in app.session.findings.iter().filter(|x| x.path == f.path) {
            let blocking = if finding.blocking { ", blocking" } else { "" };
            rows.push(Line::styled(
                format!(
                    "  {} (line {}{blocking}): {}",
                    finding.severity, finding.line, finding.text
                ),
                theme.style("ui.text"),
            ));
        }
        let wanted: u16 = rows
            .iter()
            .map(|l| (l.width() as u16).div_ceil(inner.width.max(1)).max(1))
            .sum();
        let h = wanted.min(inner.height / 3).max(1);
        let [top, rest] =
            Layout::vertical([Constraint::Length(h + 1), Constraint::Min(1)]).areas(inner);
        frame.render_widget(Paragraph::new(rows).wrap(Wrap { trim: false }), top);
        inner = rest;
    }
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
    let Some(preview) = &app.files.preview else {
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
    let visible: Vec<Line> = match (&preview.content, app.files.show_diff) {
        (None, _) => vec![Line::styled("loading…", theme.style("ui.text.dim"))],
        (Some(Err(e)), _) => vec![Line::styled(e.clone(), theme.style("ui.error"))],
        (Some(Ok(content)), true) => match &preview.diff {
            Some(diff) => {
                let skip = (app.files.scroll as usize).min(diff.lines().count().saturating_sub(1));
                diff.lines()
                    .skip(skip)
                    .take(rows)
                    .map(|l| Line::styled(expand_tabs(l).into_owned(), diff_style(l)))
                    .collect()
            }
            None => {
                let total = content.lines().count() + 1;
                let skip = (app.files.scroll as usize).min(total.saturating_sub(1));
                std::iter::once(Line::styled(
                    format!("new file: {} lines", total - 1),
                    theme.style("diff.header"),
                ))
                .chain(content.lines().map(|l| {
                    Line::styled(format!("+{}", expand_tabs(l)), theme.style("diff.plus"))
                }))
                .skip(skip)
                .take(rows)
                .collect()
            }
        },
        (Some(Ok(_)), false) => {
            let width = preview.lines.len().to_string().len();
            let skip = (app.files.scroll as usize).min(preview.lines.len().saturating_sub(1));
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
    // Long lines wrap (a continued row starts at the left edge).
    frame.render_widget(Paragraph::new(visible).wrap(Wrap { trim: false }), inner);
}
