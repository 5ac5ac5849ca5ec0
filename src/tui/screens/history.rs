//! The history view (`h`): the sessions stored for DIR, newest first | the one
//! opened with Enter, read-only: its prompt, outcome, decisions, files, tests,
//! findings and phase timeline, rebuilt from its stored events.
//!
//! Its state ([`PastSessions`]): the sessions stored for DIR
//! (`Op::ListSessions`) and the one opened, rebuilt by folding its stored
//! events with the same [`SessionView::apply`] (and [`Metrics::apply`]) a
//! live session uses.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::metrics::draw_timeline;
use crate::protocol::session_view::SessionView;
use crate::protocol::{LoggedEvent, Op, RequestId, SessionId, SessionStatus, SessionSummary};
use crate::tui::app::{App, Screen};
use crate::tui::metrics::Metrics;
use crate::tui::widgets::{block, by_label, tokens};

/// A past session, folded from its events.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The session's id.
    pub id: SessionId,
    /// The request that loads it, until its events arrive.
    pub pending: Option<RequestId>,
    /// The folded session and its metrics, or why its events could not be read.
    pub view: Option<Result<Box<(SessionView, Metrics)>, String>>,
}

/// The history view's state.
#[derive(Clone, Debug, Default)]
pub struct PastSessions {
    /// The list request in flight.
    pub pending: Option<RequestId>,
    /// The sessions, newest first, once listed (`Err`: why not).
    pub sessions: Option<Result<Vec<SessionSummary>, String>>,
    /// The selected row.
    pub sel: usize,
    /// The session opened with Enter.
    pub opened: Option<Opened>,
}

/// Folds a stored session's events into what the TUI shows.
pub fn fold(events: &[LoggedEvent]) -> (SessionView, Metrics) {
    let mut view = SessionView::default();
    let mut metrics = Metrics::default();
    for e in events {
        view.apply(e);
        metrics.apply(e);
    }
    (view, metrics)
}

impl PastSessions {
    /// The listed sessions (empty until they arrive).
    pub fn list(&self) -> &[SessionSummary] {
        match &self.sessions {
            Some(Ok(all)) => all,
            _ => &[],
        }
    }

    /// The selected session's summary.
    pub fn selected(&self) -> Option<&SessionSummary> {
        self.list().get(self.sel)
    }

    /// The answer to a list request; stale answers are dropped.
    pub fn on_list(&mut self, req: RequestId, sessions: Result<Vec<SessionSummary>, String>) {
        if self.pending != Some(req) {
            return;
        }
        self.pending = None;
        self.sessions = Some(sessions);
        self.sel = self.sel.min(self.list().len().saturating_sub(1));
    }

    /// The answer to a load request; stale answers are dropped.
    pub fn on_loaded(
        &mut self,
        req: RequestId,
        session: &SessionId,
        events: Result<Vec<LoggedEvent>, String>,
    ) {
        let Some(opened) = self
            .opened
            .as_mut()
            .filter(|o| o.pending == Some(req) && &o.id == session)
        else {
            return;
        };
        opened.pending = None;
        opened.view = Some(events.map(|events| Box::new(fold(&events))));
    }
}

impl App {
    /// `h`: the history view, asking the orchestrator for the stored sessions.
    pub(crate) fn open_history(&mut self) {
        self.screen = Screen::History;
        let req = self.req();
        self.screens.past.pending = Some(req);
        self.outbox.push(Op::ListSessions { req });
    }

    /// Enter in the history view: opens the selected session, read-only.
    pub(crate) fn open_session(&mut self) {
        if let Some(id) = self.screens.past.selected().map(|s| s.id.clone()) {
            let req = self.req();
            self.screens.past.opened = Some(Opened {
                id: id.clone(),
                pending: Some(req),
                view: None,
            });
            self.outbox.push(Op::LoadSession { session: id, req });
        }
    }
}

fn status_scope(status: Option<SessionStatus>) -> (&'static str, &'static str) {
    match status {
        None => ("running", "agent.status.running"),
        Some(SessionStatus::Succeeded) => ("succeeded", "ui.success"),
        Some(SessionStatus::AwaitingDelivery) => ("awaiting delivery", "ui.warning"),
        Some(SessionStatus::Failed) => ("failed", "ui.error"),
        Some(s) => (s.as_str(), "ui.warning"),
    }
}

/// "11-21 12:00" from an RFC 3339 time (UTC, as stored).
fn when(at: &str) -> String {
    at.chars()
        .skip(5)
        .take(11)
        .collect::<String>()
        .replace('T', " ")
}

/// The history view.
pub fn draw_history(app: &App, frame: &mut Frame, area: Rect) {
    let list_w = (area.width * 2 / 5).clamp(24, 48);
    let [list_area, detail] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(area);
    draw_list(app, frame, list_area);
    draw_detail(app, frame, detail);
}

fn draw_list(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let b = block(&app.theme, " Sessions of this directory ", true);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let width = inner.width as usize;
    let mut rows: Vec<Line> = Vec::new();
    match &app.screens.past.sessions {
        None => rows.push(Line::styled("loading…", theme.style("ui.text.dim"))),
        Some(Err(e)) => rows.push(Line::styled(e.clone(), theme.style("ui.error"))),
        Some(Ok(all)) if all.is_empty() => rows.push(Line::styled(
            "no past sessions here yet",
            theme.style("ui.text.dim"),
        )),
        Some(Ok(all)) => {
            for (i, s) in all.iter().enumerate() {
                rows.extend(row(app, s, i == app.screens.past.sel, width));
            }
        }
    }
    let sel_row = app.screens.past.sel * 2;
    let skip = sel_row.saturating_sub(inner.height as usize / 2);
    let skip = skip.min(rows.len().saturating_sub(inner.height as usize));
    frame.render_widget(
        Paragraph::new(rows.into_iter().skip(skip).collect::<Vec<_>>()),
        inner,
    );
}

fn row(app: &App, s: &SessionSummary, selected: bool, width: usize) -> [Line<'static>; 2] {
    let theme = &app.theme;
    let base = if selected {
        theme.style("ui.selection")
    } else {
        Style::default()
    };
    let (status, scope) = status_scope(s.status);
    let head = format!("{} {} ", &s.id.as_str()[..8], when(&s.created_at));
    let room = width.saturating_sub(head.chars().count());
    let status: String = status.chars().take(room).collect();
    let pad = room.saturating_sub(status.chars().count());
    let prompt: String = s
        .prompt
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(width.saturating_sub(2))
        .collect();
    let prompt_pad = width.saturating_sub(2 + prompt.chars().count());
    [
        Line::from(vec![
            Span::styled(head, base.patch(theme.style("ui.text"))),
            Span::styled(
                format!("{status}{}", " ".repeat(pad)),
                base.patch(theme.style(scope)),
            ),
        ]),
        Line::from(vec![Span::styled(
            format!("  {prompt}{}", " ".repeat(prompt_pad)),
            base.patch(theme.style("ui.text.dim")),
        )]),
    ]
}

fn draw_detail(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let Some(opened) = &app.screens.past.opened else {
        frame.render_widget(
            Paragraph::new("Enter opens the selected session, read-only: its decisions, files, tests and phase timeline.")
                .wrap(Wrap { trim: true })
                .style(theme.style("ui.text.dim"))
                .block(block(&app.theme, " Session ", false)),
            area,
        );
        return;
    };
    let title = format!(" session {} · read-only ", opened.id);
    match &opened.view {
        None => frame.render_widget(
            Paragraph::new("loading its events…")
                .style(theme.style("ui.text.dim"))
                .block(block(&app.theme, &title, false)),
            area,
        ),
        Some(Err(e)) => frame.render_widget(
            Paragraph::new(e.clone())
                .style(theme.style("ui.error"))
                .wrap(Wrap { trim: true })
                .block(block(&app.theme, &title, false)),
            area,
        ),
        Some(Ok(folded)) => {
            let (view, metrics) = (&folded.0, &folded.1);
            let phases: Vec<String> = app.about.phases.iter().map(|(n, _)| n.clone()).collect();
            let timeline_h = (phases.len().max(metrics.phases.len()) as u16 + 2)
                .min(area.height.saturating_sub(6));
            let [summary, timeline] = Layout::vertical([
                Constraint::Min(4),
                Constraint::Length(if area.height >= 16 { timeline_h } else { 0 }),
            ])
            .areas(area);
            let b = block(&app.theme, &title, false);
            let inner = b.inner(summary);
            frame.render_widget(b, summary);
            frame.render_widget(
                Paragraph::new(summary_lines(app, view, metrics)).wrap(Wrap { trim: false }),
                inner,
            );
            if timeline.height > 2 {
                draw_timeline(app, metrics, &phases, frame, timeline);
            }
        }
    }
}

fn summary_lines(app: &App, s: &SessionView, m: &Metrics) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let label = |t: &str| Span::styled(format!("{t:<10}"), theme.style("ui.text.dim"));
    let text = |t: String| Span::styled(t, theme.style("ui.text"));
    let (status, scope) = status_scope(s.status);
    let mut lines = vec![
        Line::from(vec![label("prompt"), text(s.prompt.clone())]),
        Line::from(vec![
            label("outcome"),
            Span::styled(status.to_string(), theme.style(scope)),
            text(format!(
                " · phase {} · {} tok · ${:.3} · {} events · {}",
                s.phase,
                tokens(s.tokens.0 + s.tokens.1),
                s.cost_usd,
                s.last_seq,
                super::metrics::duration(m.span())
            )),
        ]),
    ];
    if let Some(sha) = &s.commit {
        lines.push(Line::from(vec![
            label("commit"),
            Span::styled(sha.clone(), theme.style("ui.success")),
        ]));
    }
    for c in &s.conflicts {
        let decided = match &c.decision {
            Some((option, by)) => format!("{option} ({})", by_label(*by)),
            None => "undecided".to_string(),
        };
        let note = c
            .note
            .as_ref()
            .map(|n| format!(" — “{n}”"))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            label("decision"),
            text(format!("{}: ", c.topic)),
            Span::styled(
                format!("{decided}{note}"),
                theme.style(if c.decision.is_some() {
                    "conflict.decided"
                } else {
                    "conflict.open"
                }),
            ),
        ]));
    }
    let staged = s.files.values().filter(|f| f.refused.is_none()).count();
    let refused = s.files.len() - staged;
    if !s.files.is_empty() {
        lines.push(Line::from(vec![
            label("files"),
            text(format!(
                "{staged} staged{}",
                if refused > 0 {
                    format!(", {refused} refused")
                } else {
                    String::new()
                }
            )),
        ]));
        let names: Vec<&str> = s
            .files
            .values()
            .filter(|f| f.refused.is_none())
            .map(|f| f.path.as_str())
            .collect();
        lines.push(Line::from(vec![
            label(""),
            Span::styled(names.join("  "), theme.style("ui.text.dim")),
        ]));
    }
    if let Some((round, passed, failed, status)) = s.tests {
        lines.push(Line::from(vec![
            label("tests"),
            text(format!(
                "round {round}: {passed} passed, {failed} failed ({})",
                status.describe()
            )),
        ]));
    }
    if !s.findings.is_empty() {
        let blocking = s.findings.iter().filter(|f| f.blocking).count();
        lines.push(Line::from(vec![
            label("review"),
            text(format!(
                "{} finding(s), {blocking} blocking",
                s.findings.len()
            )),
        ]));
    }
    for e in &s.errors {
        lines.push(Line::from(vec![
            label("error"),
            Span::styled(e.clone(), theme.style("ui.error")),
        ]));
    }
    lines
}
