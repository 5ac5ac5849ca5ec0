//! The status bar: what it says and which keys it offers, only keys that
//! work where and when they are shown (docs/tui.md, "The status bar"), and
//! its rows at the terminal's width. Pure reads of the [`App`].

use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::app::{App, Focus, Screen};
use super::keymap::{Action, Context};
use super::theme::Theme;
use super::transcript::wrap;
use crate::protocol::{EventBody, SessionStatus};

impl App {
    /// What a durable event says in the status bar: the session waits for
    /// decisions, a question is open (or every one answered), a commit, the
    /// session's end, an error, a declined repair.
    pub(crate) fn announce(&mut self, body: &EventBody) {
        match body {
            EventBody::PhaseStarted { kind, .. }
                if kind == "resolve"
                    && self.about.options.confirm_decisions
                    && self.session.open_conflicts() > 0 =>
            {
                self.toast("the session waits for your decisions: press c", false);
            }
            // Every open question is announced, the next one
            // once one is answered (the status bar keeps it).
            EventBody::QuestionAsked { .. } | EventBody::QuestionAnswered { .. } => {
                if let Some(waiting) = self.questions_status() {
                    self.toast(waiting, false);
                } else if matches!(body, EventBody::QuestionAnswered { .. }) {
                    self.toast("every question is answered: the session goes on", false);
                }
            }
            EventBody::CommitCreated { sha, .. } => {
                self.toast(format!("committed {}", &sha[..sha.len().min(12)]), false);
            }
            EventBody::SessionFinished { status, .. } => {
                let error = !matches!(
                    status,
                    SessionStatus::Succeeded | SessionStatus::AwaitingDelivery
                );
                self.toast(format!("session {}", status.as_str()), error);
            }
            EventBody::Error { message } => self.toast(message.clone(), true),
            // The project's own rules, named as the session starts
            // (paths from DIR: sanitized).
            EventBody::InstructionsRead { files, .. } => self.toast(
                crate::sanitize::line(&format!(
                    "the agents follow the project's instructions: {}",
                    files.join(", ")
                ))
                .into_owned(),
                false,
            ),
            EventBody::RepairDeclined { agent, reason, .. } => self.toast(
                format!("{agent} declined the repair: {reason} (the chair decides)"),
                true,
            ),
            EventBody::SessionStarted { .. }
            | EventBody::SessionResumed { .. }
            | EventBody::RepoMap { .. }
            | EventBody::PhaseStarted { .. }
            | EventBody::PhaseFinished { .. }
            | EventBody::TaskQueued { .. }
            | EventBody::TaskStarted { .. }
            | EventBody::TaskPaused { .. }
            | EventBody::TaskCancelled { .. }
            | EventBody::TaskFinished { .. }
            | EventBody::TaskFailed { .. }
            | EventBody::TaskRetrying { .. }
            | EventBody::ProviderFallback { .. }
            | EventBody::BudgetWarning { .. }
            | EventBody::BudgetExhausted { .. }
            | EventBody::ConflictDetected { .. }
            | EventBody::VoteCast { .. }
            | EventBody::ConflictResolved { .. }
            | EventBody::DecisionOverridden { .. }
            | EventBody::FileStaged { .. }
            | EventBody::PathRefused { .. }
            | EventBody::SetupRun { .. }
            | EventBody::TestRun { .. }
            | EventBody::TaskSummary { .. }
            | EventBody::Finding { .. } => {}
        }
    }

    /// Whether `action`'s key does something now, so that its hint may show:
    /// the commit keys once the session waits at deliver (and not after the
    /// commit), the secret-scan override only after the scan refused a
    /// commit, the conflict keys with a conflict to act on, the answer key
    /// with a question open, the search keys with a search in this tab.
    pub fn hint_works(&self, action: Action) -> bool {
        let s = &self.session;
        let at_deliver = self.screens.commit_message.is_some() && s.commit.is_none();
        let conflict = self.selected_conflict();
        match action {
            Action::Commit | Action::EditMessage | Action::EditFile => at_deliver,
            Action::CommitAnyway => at_deliver && self.screens.files.secrets_blocked.is_some(),
            Action::ToggleAccept => s.commit.is_none() && !s.files.is_empty(),
            Action::Preview | Action::Diff => !s.files.is_empty(),
            Action::OptionPrev | Action::OptionNext | Action::Override => conflict.is_some(),
            Action::Decide => conflict.is_some_and(|c| c.decision.is_none()),
            Action::AcceptVotes | Action::NextOpen => s.open_conflicts() > 0,
            Action::Answer => self.open_questions().0 > 0,
            Action::SearchNext | Action::SearchPrev => self
                .search
                .as_ref()
                .is_some_and(|q| q.agent == self.transcripts.active_key()),
            Action::OpenSession => !self.screens.past.list().is_empty(),
            _ => true,
        }
    }

    /// The refine phase's questions without an answer, and how many were
    /// asked: `(open, asked)`.
    pub fn open_questions(&self) -> (usize, usize) {
        let asked = self.session.questions.len();
        let open = self
            .session
            .questions
            .iter()
            .filter(|q| q.answer.is_none())
            .count();
        (open, asked)
    }

    /// While questions wait for the person (the session does not go on
    /// without their answers): "question 2 of 3 waits: A answers", naming
    /// the next one, and how to reach the answer key from where the person
    /// is. `None` when none is open.
    pub fn questions_status(&self) -> Option<String> {
        let (open, asked) = self.open_questions();
        if open == 0 || !self.session.running() {
            return None;
        }
        let next = self.session.questions.iter().find(|q| q.answer.is_none())?;
        let number = self
            .session
            .questions
            .iter()
            .position(|q| q.id == next.id)
            .map_or(1, |i| i + 1);
        let key = self
            .keymap
            .key_for(Context::Outside, Action::Answer)
            .unwrap_or("A");
        let how = if self.contexts().contains(&Context::Outside) {
            format!("{key} answers")
        } else {
            let leave = self
                .keymap
                .key_for(Context::Editor, Action::LeaveEditor)
                .unwrap_or("esc");
            format!("{leave}, then {key} answers")
        };
        let more = if open > 1 {
            format!(" ({} more after it)", open - 1)
        } else {
            String::new()
        };
        Some(format!(
            "question {number} of {asked} waits: “{}”{more} — {how}",
            next.text
        ))
    }

    /// The status while the session waits at deliver: in the files view,
    /// where the commit key works, it is named; elsewhere the way there.
    pub fn ready_status(&self) -> String {
        if self.screen == Screen::Files {
            let commit = self
                .keymap
                .key_for(Context::Files, Action::Commit)
                .unwrap_or("C");
            format!("ready to deliver: {commit} commits the accepted files")
        } else {
            let files = self
                .keymap
                .key_for(Context::Outside, Action::Files)
                .unwrap_or("f");
            format!("ready to deliver: {files} reviews the files and commits them")
        }
    }
}

/// What the status bar says on its left: the message (a toast, the search,
/// or the session's state) and its style scope.
fn status_message(app: &App) -> Option<(String, &'static str)> {
    let s = &app.session;
    if let Some(toast) = &app.toast {
        let scope = if toast.error {
            "ui.statusbar.error"
        } else {
            "ui.statusbar"
        };
        return Some((toast.text.clone(), scope));
    }
    if let Some(search) = app
        .search
        .as_ref()
        .filter(|q| app.screen == Screen::Main && q.agent == app.transcripts.active_key())
    {
        return Some((search.status(), "ui.statusbar"));
    }
    if s.id.is_empty() {
        return None;
    }
    let open = s.open_conflicts();
    let budget_key = app
        .keymap
        .key_for(Context::Outside, Action::BudgetPrompt)
        .unwrap_or("B");
    let verdict = app.tests_verdict();
    let (text, alert) = if let Some(b) = app.control.exhausted.first().filter(|_| s.running()) {
        (
            format!("budget of {} spent: {budget_key} decides", b.who()),
            true,
        )
    } else if let Some(questions) = app.questions_status() {
        (questions, true)
    } else if open > 0 {
        (
            format!("{open} conflict{} open", if open == 1 { "" } else { "s" }),
            true,
        )
    } else if let Some(verdict) = verdict {
        (verdict, true)
    } else if let Some(w) = app.control.warnings.last().filter(|_| s.running()) {
        (format!("budget: {} at {} %", w.who(), w.percent()), true)
    } else if let Some(sha) = &s.commit {
        (format!("committed {}", &sha[..sha.len().min(12)]), false)
    } else if app.screens.commit_message.is_some() && s.status.is_none() {
        (app.ready_status(), false)
    } else {
        (
            s.status
                .map(|st| st.as_str())
                .unwrap_or(s.phase.as_str())
                .to_string(),
            false,
        )
    };
    Some((
        text,
        if alert {
            "ui.statusbar.alert"
        } else {
            "ui.statusbar"
        },
    ))
}

/// The key hints of the status bar: `? help` first (every other key is one
/// press away from it), then the keys of where the person is that work now
/// ([`App::hint_works`]), then the way out.
fn status_hints(app: &App) -> Vec<(String, &'static str)> {
    if app.screen == Screen::Main && app.focus == Focus::Prompt && !app.prompt_active {
        // The prompt has not taken the keys yet (docs/tui.md, "The prompt").
        let mut hints = Vec::new();
        if let Some(k) = app.keymap.key_for(Context::Outside, Action::Help) {
            hints.push((k.to_string(), "help"));
        }
        hints.push(("type/enter/i".to_string(), "write the prompt"));
        if let Some(k) = app.keymap.key_for(Context::Outside, Action::Quit) {
            hints.push((k.to_string(), "quit"));
        }
        return hints;
    }
    let mut hints: Vec<(String, &'static str)> = app
        .keymap
        .key_for(Context::Outside, Action::Help)
        .filter(|_| app.screen != Screen::Main || app.focus != Focus::Prompt)
        .map(|k| (k.to_string(), "help"))
        .into_iter()
        .collect();
    if app.screen != Screen::Metrics {
        let context = app.hint_context();
        for b in app
            .keymap
            .bindings()
            .filter(|b| b.context == context && app.hint_works(b.action))
        {
            // Neighbours that say the same ("left/h option", "right/l
            // option") share one hint.
            match hints.last_mut() {
                Some((keys, help)) if *help == b.help => {
                    keys.push('/');
                    keys.push_str(&b.keys.join("/"));
                }
                _ => hints.push((b.keys.join("/"), b.help)),
            }
        }
    }
    let outside = app.contexts().contains(&Context::Outside);
    if outside
        && app.hint_works(Action::Answer)
        && let Some(k) = app.keymap.key_for(Context::Outside, Action::Answer)
    {
        hints.insert(hints.len().min(1), (k.to_string(), "answer"));
    }
    if (app.screen == Screen::Main && app.focus != Focus::Prompt) || app.screen == Screen::Metrics {
        let wanted = [
            Action::Conflicts,
            Action::Files,
            Action::Metrics,
            Action::History,
            Action::Quit,
        ];
        hints.extend(
            app.keymap
                .bindings()
                .filter(|b| b.context == Context::Outside && wanted.contains(&b.action))
                .map(|b| (b.keys.join("/"), b.help)),
        );
        if app.screen == Screen::Metrics
            && let Some(k) = app.keymap.key_for(Context::Outside, Action::Back)
        {
            hints.insert(0, (k.to_string(), "back"));
        }
    } else if app.screen != Screen::Main
        && let Some(k) = app.keymap.key_for(Context::Outside, Action::Back)
    {
        hints.push((k.to_string(), "back"));
    }
    hints
}

/// The status bar's rows at `width`, at most `max_rows`: one row (the
/// message left, the hints right) when both fit; otherwise the message
/// wrapped over as many rows as it needs, then the hints wrapped, so that
/// neither is cut at the terminal's width (only a message longer than the
/// rows left for it ends in `…`).
pub(crate) fn status_lines(app: &App, width: u16, max_rows: u16) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let width = width as usize;
    let message = status_message(app);
    let hints = status_hints(app);
    let hint_w = |(keys, help): &(String, &str)| keys.chars().count() + help.chars().count() + 4;
    let hints_w: usize = hints.iter().map(hint_w).sum::<usize>() + 1;
    let message_w = message
        .as_ref()
        .map_or(0, |(t, _)| UnicodeWidthStr::width(t.as_str()) + 2);
    let hint_spans = |row: &[(String, &'static str)]| hint_spans(theme, row);
    if message_w + hints_w <= width {
        let mut left: Vec<Span> = Vec::new();
        if let Some((text, scope)) = &message {
            left.push(Span::styled(format!(" {text} "), theme.style(scope)));
        }
        let right = hint_spans(&hints);
        let pad = width.saturating_sub(span_w(&left) + span_w(&right));
        left.push(Span::raw(" ".repeat(pad)));
        left.extend(right);
        return vec![Line::from(left)];
    }
    // The message first, then the hints, packed into rows: the hints that
    // fit share the message's row (on its right), the rest wrap below.
    let max_rows = (max_rows as usize).max(1);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut first: Option<(Vec<Span<'static>>, usize)> = None;
    if let Some((text, scope)) = message {
        let mut rows = wrap(&text, width.saturating_sub(2).max(1), false);
        // Room for at least one row of hints below a long message.
        let room = max_rows.saturating_sub(1).max(1);
        if rows.len() > room {
            rows.truncate(room);
            if let Some(last) = rows.last_mut() {
                let keep = width.saturating_sub(3);
                while UnicodeWidthStr::width(last.as_str()) > keep {
                    last.pop();
                }
                last.push('…');
            }
        }
        let n = rows.len();
        for (i, row) in rows.into_iter().enumerate() {
            let span = Span::styled(format!(" {row} "), theme.style(scope));
            if i + 1 == n {
                let w = UnicodeWidthStr::width(span.content.as_ref());
                first = Some((vec![span], w));
            } else {
                lines.push(Line::from(span));
            }
        }
    }
    let mut hint_rows: Vec<Vec<(String, &'static str)>> = vec![Vec::new()];
    let mut used = first.as_ref().map_or(1, |(_, w)| w + 1);
    for hint in hints {
        let w = hint_w(&hint);
        if used + w > width
            && hint_rows
                .last()
                .is_some_and(|r| !r.is_empty() || first.is_some())
        {
            hint_rows.push(Vec::new());
            used = 1;
        }
        used += w;
        if let Some(row) = hint_rows.last_mut() {
            row.push(hint);
        }
    }
    for (i, row) in hint_rows.iter().enumerate() {
        if lines.len() >= max_rows {
            break;
        }
        let right = hint_spans(row);
        match (i, first.take()) {
            (0, Some((mut spans, w))) => {
                let pad = width.saturating_sub(w + span_w(&right));
                spans.push(Span::raw(" ".repeat(pad)));
                spans.extend(right);
                lines.push(Line::from(spans));
            }
            _ if row.is_empty() => {}
            _ => {
                let mut spans = vec![Span::raw(" ")];
                spans.extend(right);
                lines.push(Line::from(spans));
            }
        }
    }
    lines
}

/// A row of key hints as spans: `keys help · keys help `.
fn hint_spans(theme: &Theme, row: &[(String, &'static str)]) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (keys, help) in row {
        spans.push(Span::styled(keys.clone(), theme.style("ui.statusbar.key")));
        spans.push(Span::styled(
            format!(" {help} · "),
            theme.style("ui.statusbar.hint"),
        ));
    }
    if let Some(last) = spans.last_mut() {
        let trimmed = last.content.trim_end_matches(" · ").to_string() + " ";
        last.content = trimmed.into();
    }
    spans
}

/// The width of `spans` in columns.
fn span_w(spans: &[Span]) -> usize {
    spans
        .iter()
        .map(|s| UnicodeWidthStr::width(s.content.as_ref()))
        .sum()
}
