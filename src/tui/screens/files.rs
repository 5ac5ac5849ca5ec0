//! The files view: the tree of staged files with their status | the selected
//! file's highlighted preview or diff | the commit message and the commit.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::protocol::session_view::FileEntry;
use crate::protocol::{FileChange, FileView, Op, RequestId, TestStatus};
use crate::tui::app::{App, EditorPurpose, External, Screen};
use crate::tui::keymap::{Action, Context};
use crate::tui::transcript::expand_tabs;
use crate::tui::widgets::block;

/// A staged file's loaded content.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    /// The request it answers.
    pub req: RequestId,
    /// The file.
    pub path: String,
    /// Content, once loaded (`Err`: why not).
    pub content: Option<Result<String, String>>,
    /// Diff against DIR, when the file exists there.
    pub diff: Option<String>,
    /// The content, highlighted (computed once, when it arrives).
    pub lines: Vec<ratatui::text::Line<'static>>,
}

/// The files view's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilesState {
    /// Selected file.
    pub sel: usize,
    /// The preview of the selected file.
    pub preview: Option<Preview>,
    /// Show the diff instead of the content.
    pub show_diff: bool,
    /// Preview scroll, in rows.
    pub scroll: u16,
    /// The commit message as generated at deliver: while the person has not
    /// edited it, the commit asks for a fresh one, which counts the files as
    /// accepted at that moment.
    pub generated_message: Option<String>,
    /// Why the last commit was refused by the secret scan (the files named);
    /// `!` then commits anyway.
    pub secrets_blocked: Option<String>,
    /// Why the session had failed, when a failed session was resumed to be
    /// delivered anyway (`quorum resume ID`): shown with the commit.
    pub failed_before: Option<String>,
}

impl App {
    /// The files view's own actions: preview, diff, accept or reject, edit
    /// a file or the commit message, commit (anyway, past the secret scan).
    pub(crate) fn files_action(&mut self, action: Action) {
        match action {
            Action::Preview => {
                self.screens.files.show_diff = false;
                self.load_selected_file();
            }
            Action::Diff => {
                self.screens.files.show_diff = !self.screens.files.show_diff;
                self.screens.files.scroll = 0;
                let shown = self.screens.files.preview.as_ref().map(|p| p.path.clone());
                if shown != self.selected_path() {
                    self.load_selected_file();
                }
            }
            Action::ToggleAccept => {
                if let Some(f) = self.selected_file().cloned() {
                    if f.refused.is_some() {
                        self.toast("a refused path cannot be accepted", true);
                    } else {
                        self.outbox.push(Op::SetFileAccepted {
                            path: f.path,
                            accepted: !f.accepted,
                        });
                    }
                }
            }
            Action::EditFile => self.edit_selected_file(),
            Action::EditMessage => {
                let text = self.screens.commit_message.clone().unwrap_or_default();
                self.open_editor(
                    EditorPurpose::CommitMessage,
                    " commit message — Enter saves · Alt-Enter newline · Esc ",
                    &text,
                );
            }
            Action::Commit => {
                if self.session.commit.is_some() {
                    self.toast("already committed", false);
                } else if self.screens.commit_message.is_none() {
                    self.toast(
                        "nothing to commit yet: the session has not reached deliver",
                        true,
                    );
                } else {
                    // An unedited message is generated again at the commit,
                    // so its file counts follow the person's accept/reject.
                    let edited =
                        self.screens.commit_message != self.screens.files.generated_message;
                    // A commit the secret scan blocks is answered by
                    // `Rejected` naming the files; `!` then overrides.
                    self.outbox.push(Op::Commit {
                        message: self.screens.commit_message.clone().filter(|_| edited),
                        allow_secrets: false,
                    });
                    self.toast("committing…", false);
                }
            }
            Action::CommitAnyway => match self.screens.files.secrets_blocked.take() {
                Some(_) if self.session.commit.is_none() => {
                    let edited =
                        self.screens.commit_message != self.screens.files.generated_message;
                    self.outbox.push(Op::Commit {
                        message: self.screens.commit_message.clone().filter(|_| edited),
                        allow_secrets: true,
                    });
                    self.toast("committing despite the secret scan…", false);
                }
                _ => self.toast("the secret scan blocked nothing: C commits as usual", false),
            },
            _ => {}
        }
    }

    /// Up/Down choose a file (its preview loads), PgUp/PgDn scroll the preview.
    pub(crate) fn files_list(
        &mut self,
        action: Action,
        page: usize,
        step: impl Fn(usize, usize) -> usize,
    ) {
        match action {
            Action::PageDown => {
                self.screens.files.scroll = self.screens.files.scroll.saturating_add(page as u16)
            }
            Action::PageUp => {
                self.screens.files.scroll = self.screens.files.scroll.saturating_sub(page as u16)
            }
            _ => {
                let before = self.screens.files.sel;
                self.screens.files.sel = step(before, self.session.files.len());
                if before != self.screens.files.sel {
                    self.load_selected_file();
                }
            }
        }
    }

    fn edit_selected_file(&mut self) {
        let Some(f) = self.selected_file().cloned() else {
            return;
        };
        if f.refused.is_some() {
            return self.toast("a refused path has no content to edit", true);
        }
        if self.session.commit.is_some() {
            return self.toast("already committed", false);
        }
        if self.screens.commit_message.is_none() {
            return self.toast(
                "files can be edited once the session waits at deliver (after tests and review)",
                true,
            );
        }
        match &self.screens.files.preview {
            Some(Preview {
                path,
                content: Some(Ok(content)),
                ..
            }) if *path == f.path => {
                self.run.external = Some(External::Edit {
                    path: f.path,
                    content: content.clone(),
                });
            }
            _ => {
                self.load_selected_file();
                self.toast("loading the file: press e again in a moment", false);
            }
        }
    }

    /// The person's editor returned for a staged file: `after` is the edited
    /// text (or why it could not be read). A changed file is sent back as an
    /// accept of the modified content; an unchanged one sends nothing.
    pub fn edited(&mut self, path: &str, before: &str, after: Result<String, String>) {
        match after {
            Err(e) => self.toast(format!("edit {path}: {e}"), true),
            Ok(after) if after == before => {
                self.toast(format!("{path} unchanged: nothing sent"), false)
            }
            Ok(content) => {
                self.toast(format!("sending your edit of {path}…"), false);
                self.outbox.push(Op::AcceptEdited {
                    path: path.to_string(),
                    content,
                });
            }
        }
    }

    /// The selected file entry.
    pub fn selected_file(&self) -> Option<&FileEntry> {
        self.session.files.values().nth(self.screens.files.sel)
    }

    fn selected_path(&self) -> Option<String> {
        self.selected_file()
            .filter(|f| f.refused.is_none())
            .map(|f| f.path.clone())
    }

    pub(crate) fn load_selected_file(&mut self) {
        self.screens.files.scroll = 0;
        let Some(path) = self.selected_path() else {
            self.screens.files.preview = None;
            return;
        };
        // Loaded or on its way: nothing to ask (a failed load is asked again).
        if self
            .screens
            .files
            .preview
            .as_ref()
            .is_some_and(|p| p.path == path && !matches!(p.content, Some(Err(_))))
        {
            return;
        }
        let req = self.req();
        self.screens.files.preview = Some(Preview {
            req,
            path: path.clone(),
            content: None,
            diff: None,
            lines: Vec::new(),
        });
        self.outbox.push(Op::LoadFile { path, req });
    }

    /// [`crate::protocol::Event::FileLoaded`]: the preview it answers gets its content,
    /// highlighted, and its diff.
    pub(crate) fn file_loaded(&mut self, req: RequestId, file: Result<FileView, String>) {
        if let Some(p) = self.screens.files.preview.as_mut().filter(|p| p.req == req) {
            match file {
                Ok(view) => {
                    p.lines =
                        crate::tui::highlight::highlight(&view.path, &view.content, &self.theme);
                    p.content = Some(Ok(view.content));
                    p.diff = view.diff;
                }
                Err(e) => p.content = Some(Err(e)),
            }
        }
    }

    /// [`crate::protocol::Event::FileEdited`]: the person's edit is staged and accepted;
    /// a preview of the old content is loaded again.
    pub(crate) fn file_edited(&mut self, path: String, bytes: u64) {
        if let Some(f) = self.session.files.get_mut(&path) {
            f.bytes = bytes;
        }
        self.toast(format!("{path}: your edit is staged and accepted"), false);
        if self
            .screens
            .files
            .preview
            .as_ref()
            .is_some_and(|p| p.path == path)
        {
            self.screens.files.preview = None;
            if self.screen == Screen::Files {
                self.load_selected_file();
            }
        }
    }

    /// [`crate::protocol::Event::DeliveryReady`]: the generated commit message. Sent
    /// again when the person accepts, rejects or edits a file: the prefill
    /// follows, unless they wrote their own message.
    pub(crate) fn delivery_ready(&mut self, message: String) {
        if self.screens.files.generated_message.is_some() {
            if self.screens.commit_message == self.screens.files.generated_message {
                self.screens.commit_message = Some(message.clone());
            }
            self.screens.files.generated_message = Some(message);
            return;
        }
        self.screens.files.generated_message = Some(message.clone());
        self.screens.commit_message = Some(message);
        match (
            self.tests_verdict(),
            self.screens.files.failed_before.clone(),
        ) {
            (Some(verdict), None) => self.toast(verdict, true),
            (verdict, Some(failure)) => {
                let next = verdict.unwrap_or_else(|| self.ready_status());
                self.toast(
                    format!(
                        "this session had failed: {failure} — it waits at deliver again; {next}"
                    ),
                    true,
                )
            }
            (None, None) => {
                let ready = self.ready_status();
                self.toast(ready, false)
            }
        }
    }

    /// A commit the secret scan refused (`Rejected` naming the files): `!`
    /// in the files view then commits anyway.
    pub(crate) fn commit_refused_for_secrets(&mut self, reason: &str) {
        self.screens.files.secrets_blocked = Some(reason.to_string());
        let key = self
            .keymap
            .key_for(Context::Files, Action::CommitAnyway)
            .unwrap_or("!");
        self.toast(
            format!("commit: {reason} — in files, {key} commits them anyway"),
            true,
        );
    }

    /// While the session waits at deliver after its last test run failed (the
    /// repair rounds are used up): what the person can do, e.g. "tests
    /// failed: 2 failing — C commits anyway, q quits (session ends failed)"
    /// in the files view (where the commit key works), "f: the files, to
    /// commit anyway" elsewhere.
    /// `None` otherwise. Quitting then ends the session failed and leaves DIR
    /// untouched (the orchestrator's answer to `Op::Shutdown` at deliver with
    /// failing tests).
    pub fn tests_verdict(&self) -> Option<String> {
        let s = &self.session;
        if self.screens.commit_message.is_none() || s.commit.is_some() || s.status.is_some() {
            return None;
        }
        let (_, _, failed, status) = s.tests?;
        let what = match status {
            TestStatus::Passed => return None,
            TestStatus::Failed => format!("tests failed: {failed} failing"),
            TestStatus::NoTests => "no test ran".to_string(),
            TestStatus::SetupFailed => "the tests' setup failed".to_string(),
            TestStatus::BuildFailed => "the code did not build".to_string(),
            TestStatus::Timeout => "tests timed out".to_string(),
            TestStatus::Error => "the tests could not run".to_string(),
        };
        let quit = self
            .keymap
            .key_for(Context::Outside, Action::Quit)
            .unwrap_or("q");
        // The commit key works in the files view only: elsewhere the way there.
        let commit = if self.screen == Screen::Files {
            let key = self
                .keymap
                .key_for(Context::Files, Action::Commit)
                .unwrap_or("C");
            format!("{key} commits anyway")
        } else {
            let key = self
                .keymap
                .key_for(Context::Outside, Action::Files)
                .unwrap_or("f");
            format!("{key}: the files, to commit anyway")
        };
        Some(format!(
            "{what} — {commit}, {quit} quits (session ends failed)"
        ))
    }
}

/// The files view.
pub fn draw_files(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    // With failing tests at deliver, the commit pane says what C and q do;
    // a failed session resumed to be delivered anyway says why it failed.
    let notes: Vec<Line> = app
        .screens
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

    draw_list(app, frame, list_area);
    draw_preview(app, frame, preview_area);

    draw_commit(app, notes, frame, commit_area);
}

/// The staged files by folder: accepted or not, new, modified or refused,
/// with their review findings; the selected one is kept in view.
fn draw_list(app: &App, frame: &mut Frame, list_area: Rect) {
    let theme = &app.theme;
    let list = block(&app.theme, " Files ", true);
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
        let selected = i == app.screens.files.sel;
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
}

/// The commit pane: the commit made, or the message and the accepted
/// count, then the `notes` (why the session failed, what C and q do).
fn draw_commit(app: &App, notes: Vec<Line<'static>>, frame: &mut Frame, commit_area: Rect) {
    let theme = &app.theme;
    let commit_block = block(&app.theme, " Commit ", false);
    let inner = commit_block.inner(commit_area);
    frame.render_widget(commit_block, commit_area);
    let accepted = app.session.files.values().filter(|f| f.accepted).count();
    let line = match (&app.session.commit, &app.screens.commit_message) {
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

/// The selected file's preview (content or diff), its review findings
/// above it, or why it was refused.
fn draw_preview(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let selected = app.selected_file();
    let title = match (&app.screens.files.preview, app.screens.files.show_diff) {
        (Some(p), true) => format!(" diff {} ", p.path),
        (Some(p), false) => format!(" {} ", p.path),
        (None, _) => " Preview ".to_string(),
    };
    let b = block(&app.theme, &title, false);
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
    let Some(preview) = &app.screens.files.preview else {
        frame.render_widget(
            Paragraph::new("Enter previews the selected file; d shows its diff.")
                .style(theme.style("ui.text.dim")),
            inner,
        );
        return;
    };
    let visible = preview_rows(app, preview, inner.height as usize);
    // Long lines wrap (a continued row starts at the left edge).
    frame.render_widget(Paragraph::new(visible).wrap(Wrap { trim: false }), inner);
}

/// The `rows` visible rows of a preview from its scroll: the content with
/// line numbers, its diff, or a new file as added lines. Only the visible
/// rows are built.
fn preview_rows(app: &App, preview: &Preview, rows: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
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
    match (&preview.content, app.screens.files.show_diff) {
        (None, _) => vec![Line::styled("loading…", theme.style("ui.text.dim"))],
        (Some(Err(e)), _) => vec![Line::styled(e.clone(), theme.style("ui.error"))],
        (Some(Ok(content)), true) => match &preview.diff {
            Some(diff) => {
                let skip =
                    (app.screens.files.scroll as usize).min(diff.lines().count().saturating_sub(1));
                diff.lines()
                    .skip(skip)
                    .take(rows)
                    .map(|l| Line::styled(expand_tabs(l).into_owned(), diff_style(l)))
                    .collect()
            }
            None => {
                let total = content.lines().count() + 1;
                let skip = (app.screens.files.scroll as usize).min(total.saturating_sub(1));
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
            let skip =
                (app.screens.files.scroll as usize).min(preview.lines.len().saturating_sub(1));
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
    }
}
