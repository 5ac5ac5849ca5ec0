//! The main screen: the prompt editor and the agents with their queues on
//! top, the transcript below. Its state lives on the [`App`] (the prompt, its
//! history, the focused pane, the selected agent, the transcript windows and
//! the search); here are its keys (the prompt's, the agents' task actions,
//! the transcript's scrolling, tabs and search) and its drawing. Only what is
//! visible is laid out, so a frame's cost depends on the screen, not on the
//! transcript's length.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui_textarea::{TextArea, WrapMode};

use crate::protocol::{LineKind, Op, RequestId, TaskState};
use crate::tui::app::{App, EditorPurpose, External, Focus, Overlay, Screen};
use crate::tui::keymap::Action;
use crate::tui::search::find_ci;
use crate::tui::theme::Theme;
use crate::tui::transcript::{PageRequest, wrap};
use crate::tui::widgets::{SPINNER, pane, tokens};

/// Submitted prompts, recalled with Up/Down in an empty prompt editor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PromptHistory {
    /// Oldest first.
    pub entries: Vec<String>,
    pos: Option<usize>,
}

/// A prompt editor holding `text`.
pub(crate) fn prompt_area(theme: &Theme, text: &str) -> TextArea<'static> {
    let mut p = TextArea::new(text.lines().map(String::from).collect());
    p.set_wrap_mode(WrapMode::WordOrGlyph);
    p.set_cursor_line_style(ratatui::style::Style::default());
    p.set_cursor_style(theme.style("ui.cursor"));
    p.set_placeholder_text("What should the team build? (Enter starts, Alt-Enter: newline)");
    p.set_placeholder_style(theme.style("ui.text.dim"));
    p.move_cursor(ratatui_textarea::CursorMove::Bottom);
    p.move_cursor(ratatui_textarea::CursorMove::End);
    p
}

impl App {
    /// The selected agent's name in the agents pane.
    pub(crate) fn selected_agent(&self) -> Option<String> {
        self.agents
            .get(self.screens.agent_sel)
            .map(|a| a.name.clone())
    }

    /// Starts a session with `text` (from the prompt editor or the command line).
    pub fn submit_prompt(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            self.toast("the prompt is empty: say what to build", true);
            return;
        }
        if text.contains('\0') {
            self.toast(
                "the prompt holds a NUL byte (\\0), which a prompt cannot carry: remove it, then press Enter",
                true,
            );
            return;
        }
        if self.session.running() {
            self.toast(
                "a session is running; cancel it (Ctrl-C) before starting another",
                true,
            );
            return;
        }
        if self.gate.unconfined_pending {
            // A prompt within the probe's first milliseconds: wait for its
            // answer (it is nearly always there already).
            self.gate.unconfined = crate::workspace::sandbox::probe().err();
            self.gate.unconfined_pending = false;
        }
        if self.gate.unconfined.is_some() {
            self.overlay = Some(Overlay::ConfirmUnconfined {
                prompt: text.to_string(),
            });
            return;
        }
        self.start_session(text, false);
    }

    /// Sends the start of a session on `text` (`allow_unconfined`: the person
    /// let model-written code run without the jail).
    pub fn start_session(&mut self, text: &str, allow_unconfined: bool) {
        self.prompt_history.entries.push(text.to_string());
        self.prompt_history.pos = None;
        self.outbox.push(Op::Start {
            prompt: text.to_string(),
            options: crate::protocol::SessionOptions {
                interactive: true,
                allow_unconfined,
                unbuilt: self
                    .gate
                    .implicit_demo
                    .then(|| crate::config::demo::unbuilt(text))
                    .flatten(),
                ..Default::default()
            },
        });
        self.prompt = prompt_area(&self.theme, text);
        self.focus = Focus::Transcript;
    }

    /// A key while the prompt editor is focused (and no overlay is up).
    pub(crate) fn prompt_key(&mut self, key: KeyEvent, action: Option<Action>) {
        if !self.prompt_active && self.idle_prompt_key(&key, action) {
            return;
        }
        match action {
            Some(Action::Submit) => {
                let text = self.prompt.lines().join("\n");
                self.submit_prompt(&text);
            }
            Some(Action::Newline) => self.prompt.insert_newline(),
            Some(Action::LeaveEditor) | Some(Action::FocusNext) => self.focus = Focus::Agents,
            Some(Action::FocusPrev) => self.focus = Focus::Transcript,
            Some(Action::CancelSession) => self.cancel_or_quit(),
            Some(Action::Suspend) => self.run.external = Some(External::Suspend),
            _ => {
                let empty = self.prompt.is_empty() || self.prompt_history.pos.is_some();
                match key.code {
                    KeyCode::Up if empty && !self.prompt_history.entries.is_empty() => {
                        self.history_step(-1)
                    }
                    KeyCode::Down if self.prompt_history.pos.is_some() => self.history_step(1),
                    _ => {
                        self.prompt_history.pos = None;
                        self.prompt.input(key);
                    }
                }
            }
        }
    }

    /// A key while the prompt editor has not taken the keys yet
    /// ([`App::prompt_active`]): the help and quit keys act, `Enter` and `i`
    /// give the editor the keys, and any other character starts the prompt
    /// (it is typed, returning `false`). Returns whether the key was used.
    fn idle_prompt_key(&mut self, key: &KeyEvent, action: Option<Action>) -> bool {
        let outside = self
            .keymap
            .action(&[crate::config::keymap::Context::Outside], key);
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match (outside, key.code) {
            (Some(Action::Help), _) => {
                self.on_action(Action::Help);
                true
            }
            (Some(Action::Quit), _) => {
                self.on_action(Action::Quit);
                true
            }
            (_, KeyCode::Char('i')) if plain => {
                self.prompt_active = true;
                true
            }
            _ if action == Some(Action::Submit) && self.prompt.is_empty() => {
                self.prompt_active = true;
                true
            }
            (_, KeyCode::Char(_)) if plain => {
                self.prompt_active = true;
                false
            }
            _ => false,
        }
    }

    fn history_step(&mut self, delta: isize) {
        let n = self.prompt_history.entries.len() as isize;
        let pos = match self.prompt_history.pos {
            None => n - 1,
            Some(p) => p as isize + delta,
        };
        if pos < 0 {
            return;
        }
        if pos >= n {
            self.prompt_history.pos = None;
            self.prompt = prompt_area(&self.theme, "");
            return;
        }
        self.prompt_history.pos = Some(pos as usize);
        let text = self.prompt_history.entries[pos as usize].clone();
        self.prompt = prompt_area(&self.theme, &text);
    }

    /// The main screen's own actions: moving the focus, the selected agent's
    /// task actions, the transcript's tabs, following and search.
    pub(crate) fn main_action(&mut self, action: Action) {
        match action {
            Action::FocusNext | Action::FocusPrev if self.screen == Screen::Main => {
                let order = [Focus::Prompt, Focus::Agents, Focus::Transcript];
                let i = order.iter().position(|f| *f == self.focus).unwrap_or(0);
                let step = if action == Action::FocusNext { 1 } else { 2 };
                self.focus = order[(i + step) % 3];
                // Moved there on purpose: the editor takes the keys.
                self.prompt_active |= self.focus == Focus::Prompt;
            }
            Action::PauseTask | Action::CancelTask | Action::RetryTask => {
                self.on_task_action(action)
            }
            Action::PrevTab => self.transcripts.cycle(-1),
            Action::NextTab => self.transcripts.cycle(1),
            Action::Follow => {
                let req = self.transcripts.follow();
                self.request_page(req);
            }
            Action::Search => {
                let text = self
                    .search
                    .as_ref()
                    .map(|s| s.query.clone())
                    .unwrap_or_default();
                self.open_editor(
                    EditorPurpose::Search,
                    " search the transcript — Enter finds · Esc ",
                    &text,
                );
            }
            Action::SearchNext | Action::SearchPrev => {
                let view = self.transcripts.active_key();
                let Some(search) = self.search.as_mut().filter(|s| s.agent == view) else {
                    self.toast("no search in this tab: / searches", false);
                    return;
                };
                let target = search.step(action == Action::SearchNext);
                let status = search.status();
                match target {
                    Some(pos) => {
                        self.toast(status, false);
                        self.jump_to(pos);
                    }
                    None => self.toast(status, false),
                }
            }
            _ => {}
        }
    }

    /// Up/Down and paging in the agents pane (the selected agent) or the
    /// transcript (scrolling, paging older or newer lines in).
    pub(crate) fn main_list(
        &mut self,
        action: Action,
        page: usize,
        step: impl Fn(usize, usize) -> usize,
    ) {
        match self.focus {
            Focus::Agents => {
                self.screens.agent_sel = step(self.screens.agent_sel, self.agents.len())
            }
            Focus::Transcript => {
                let rows = u64::from(self.frame.transcript_rows);
                let req = match action {
                    Action::Down => self.transcripts.scroll_down(1, rows),
                    Action::Up => self.transcripts.scroll_up(1, rows),
                    Action::PageDown => self.transcripts.scroll_down(page as u64, rows),
                    Action::PageUp => self.transcripts.scroll_up(page as u64, rows),
                    Action::Top => self.transcripts.jump_to(0, rows, false),
                    _ => self.transcripts.follow(),
                };
                self.request_page(req);
            }
            Focus::Prompt => {}
        }
    }

    /// Shows transcript position `pos` of the active view, centred.
    fn jump_to(&mut self, pos: u64) {
        let rows = u64::from(self.frame.transcript_rows);
        let req = self.transcripts.jump_to(pos, rows, true);
        self.request_page(req);
    }

    pub(crate) fn on_search_results(
        &mut self,
        req: RequestId,
        agent: Option<String>,
        query: String,
        positions: Vec<u64>,
        truncated: bool,
    ) {
        let view = self.transcripts.active_key();
        let bottom = self.transcripts.window().bottom_pos();
        let Some(search) = self
            .search
            .as_mut()
            .filter(|s| s.pending == Some(req) && s.agent == agent && s.query == query)
        else {
            return;
        };
        search.pending = None;
        search.positions = positions;
        search.truncated = truncated;
        search.current = search.first_from(bottom);
        let target = search
            .current
            .and_then(|i| search.positions.get(i).copied());
        let status = search.status();
        self.toast(status, false);
        if let Some(pos) = target.filter(|_| view == agent) {
            self.jump_to(pos);
        }
    }

    pub(crate) fn request_page(&mut self, req: Option<PageRequest>) {
        if let Some(page) = req {
            let id = self.req();
            self.transcripts.mark_pending(&page.agent, id);
            self.outbox.push(Op::LoadTranscript {
                agent: page.agent,
                from_seq: page.from,
                len: page.len,
                req: id,
            });
        }
    }

    fn on_task_action(&mut self, action: Action) {
        let Some(agent) = self
            .agents
            .get(self.screens.agent_sel)
            .map(|a| a.name.clone())
        else {
            return;
        };
        let tasks: Vec<(String, TaskState)> = self
            .session
            .agent_tasks(&agent)
            .map(|(id, t)| (id.clone(), t.state))
            .collect();
        let find = |states: &[TaskState]| {
            tasks
                .iter()
                .rev()
                .find(|(_, s)| states.contains(s))
                .map(|(id, _)| id.clone())
        };
        let op = match action {
            Action::PauseTask => match find(&[TaskState::Paused]) {
                Some(task) => Some(Op::ResumeTask { task }),
                None => find(&[TaskState::Running, TaskState::Retrying, TaskState::Queued])
                    .map(|task| Op::PauseTask { task }),
            },
            Action::CancelTask => find(&[
                TaskState::Running,
                TaskState::Retrying,
                TaskState::Queued,
                TaskState::Paused,
            ])
            .map(|task| Op::CancelTask { task }),
            _ => {
                find(&[TaskState::Failed, TaskState::Cancelled]).map(|task| Op::RetryTask { task })
            }
        };
        match op {
            Some(op) => self.outbox.push(op),
            None => self.toast(format!("{agent} has no task for that"), false),
        }
    }
}

pub(crate) fn top_height(app: &App, body: Rect) -> u16 {
    (app.agents.len() as u16 + 2)
        .clamp(4, 12)
        .min(body.height / 2)
}

/// The main screen: the prompt and the agents on top, the transcript below.
pub fn draw_main(app: &mut App, frame: &mut Frame, body: Rect) {
    let [top, transcript] = Layout::vertical([
        Constraint::Length(top_height(app, body)),
        Constraint::Min(3),
    ])
    .areas(body);
    draw_top(app, frame, top);
    draw_transcript(app, frame, transcript);
}

/// The prompt editor and the agents pane, side by side (also above the
/// other screens on tall terminals).
pub(crate) fn draw_top(app: &mut App, frame: &mut Frame, area: Rect) {
    let prompt_w = (area.width * 2 / 5)
        .max(20)
        .min(area.width.saturating_sub(20));
    let [prompt, agents] =
        Layout::horizontal([Constraint::Length(prompt_w), Constraint::Min(10)]).areas(area);
    let focused = app.screen == Screen::Main && app.focus == Focus::Prompt && app.overlay.is_none();
    let title = Line::styled(" Prompt ", app.theme.style("ui.title"));
    let mut block = pane(&app.theme, title, focused);
    if !app.session.running()
        && let Some(short) = app
            .gate
            .estimate
            .as_ref()
            .and_then(|b| b.short(&app.prompt.lines().join("\n")))
    {
        block = block.title_bottom(
            Line::styled(format!(" {short} "), app.theme.style("ui.text.dim")).right_aligned(),
        );
    }
    app.prompt.set_block(block);
    app.prompt.set_style(app.theme.style("ui.text"));
    app.prompt.set_cursor_style(if focused {
        app.theme.style("ui.cursor")
    } else {
        app.theme.style("ui.text")
    });
    frame.render_widget(&app.prompt, prompt);
    draw_agents(app, frame, agents);
}

/// What the agents pane shows of one agent.
struct AgentRow {
    state: TaskState,
    /// The shown task's id and title.
    task: Option<(String, String)>,
    queued: usize,
    spent: u64,
}

/// The one-word state of an agent and the task it shows.
fn agent_state(app: &App, agent: &str) -> AgentRow {
    let tasks: Vec<_> = app.session.agent_tasks(agent).collect();
    let queued = tasks
        .iter()
        .filter(|(_, t)| t.state == TaskState::Queued)
        .count();
    let spent: u64 = tasks.iter().map(|(_, t)| t.tokens.0 + t.tokens.1).sum();
    let pick = |states: &[TaskState]| {
        tasks
            .iter()
            .rev()
            .find(|(_, t)| states.contains(&t.state))
            .copied()
    };
    let shown = pick(&[TaskState::Running])
        .or_else(|| pick(&[TaskState::Retrying]))
        .or_else(|| pick(&[TaskState::Paused]))
        .or_else(|| pick(&[TaskState::Queued]))
        .or_else(|| tasks.last().copied());
    AgentRow {
        state: shown.map(|(_, t)| t.state).unwrap_or(TaskState::Done),
        task: shown.map(|(id, t)| (id.clone(), t.title.clone())),
        queued,
        spent,
    }
}

fn draw_agents(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let focused = app.screen == Screen::Main && app.focus == Focus::Agents && app.overlay.is_none();
    let block = pane(
        &app.theme,
        Line::styled(" Agents ", theme.style("ui.title")),
        focused,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let mut lines = Vec::new();
    for (i, agent) in app.agents.iter().enumerate().take(inner.height as usize) {
        let AgentRow {
            state,
            task,
            queued,
            spent,
        } = agent_state(app, &agent.name);
        let idle = task.is_none();
        let (dot, label, scope) = match (idle, state) {
            (true, _) => ("·", "idle", "agent.status.idle"),
            (_, TaskState::Running) => (
                SPINNER[app.frame.spinner % SPINNER.len()],
                "running",
                "agent.status.running",
            ),
            (_, TaskState::Retrying) => ("↻", "retrying", "agent.status.retrying"),
            (_, TaskState::Paused) => ("‖", "paused", "agent.status.paused"),
            (_, TaskState::Queued) => ("○", "queued", "agent.status.queued"),
            (_, TaskState::Done) => ("✓", "done", "agent.status.done"),
            (_, TaskState::Failed) => ("✗", "failed", "agent.status.failed"),
            (_, TaskState::Cancelled) => ("■", "cancelled", "agent.status.cancelled"),
        };
        let tail = row_tail(app, &agent.name, state, task.as_ref(), queued, spent, width);
        let head = format!("{:<9} ", agent.name);
        let state_text = format!("{dot} {label:<9} ");
        let fixed = head.chars().count() + state_text.chars().count() + tail.chars().count();
        let room = width.saturating_sub(fixed);
        let mut task_text: String = task
            .map(|(_, title)| title)
            .unwrap_or_default()
            .chars()
            .take(room)
            .collect();
        let pad = room.saturating_sub(task_text.chars().count());
        task_text.push_str(&" ".repeat(pad));
        let selected = focused && i == app.screens.agent_sel;
        let base = if selected {
            theme.style("ui.selection")
        } else {
            Style::default()
        };
        let mut spans = vec![
            Span::styled(head, base.patch(theme.style("agent.name"))),
            Span::styled(state_text, base.patch(theme.style(scope))),
            Span::styled(task_text, base.patch(theme.style("ui.text"))),
            Span::styled(tail, base.patch(theme.style("ui.text.dim"))),
        ];
        if selected {
            for s in &mut spans {
                s.style = s.style.patch(theme.style("ui.selection"));
            }
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The right-hand part of an agent's row: retries, queue, the running task's
/// time, cost and tokens, as many as `width` columns allow.
fn row_tail(
    app: &App,
    name: &str,
    state: TaskState,
    task: Option<&(String, String)>,
    queued: usize,
    spent: u64,
    width: usize,
) -> String {
    let retries = app
        .screens
        .metrics
        .agents
        .get(name)
        .map(|m| m.retries)
        .unwrap_or(0);
    let health = if retries > 0 {
        format!(" ↻{retries}")
    } else {
        String::new()
    };
    let elapsed = task
        .as_ref()
        .filter(|_| matches!(state, TaskState::Running | TaskState::Retrying))
        .and_then(|(id, _)| app.screens.metrics.task_elapsed(id))
        .map(|s| format!("{:.0}s", s.floor()))
        .unwrap_or_default();
    let cost = app
        .screens
        .metrics
        .agents
        .get(name)
        .map(|m| m.cost_usd)
        .unwrap_or(0.0);
    if width >= 84 {
        format!(
            "{health} {queued} queued {elapsed:>5} ${cost:.3} {:>6}",
            tokens(spent)
        )
    } else if width >= 64 {
        format!("{health} {queued} queued {elapsed:>5} {:>6}", tokens(spent))
    } else if queued > 0 {
        format!(" +{queued} {:>5}", tokens(spent))
    } else {
        format!(" {:>5}", tokens(spent))
    }
}

fn line_style(app: &App, kind: LineKind, code: bool) -> Style {
    let scope = match kind {
        LineKind::Prompt => "transcript.prompt",
        LineKind::Note => "transcript.note",
        LineKind::Retry => "transcript.retry",
        LineKind::Error => "transcript.error",
        LineKind::Text if code => "transcript.code",
        LineKind::Text => "transcript.text",
        LineKind::Reasoning => "transcript.reasoning",
    };
    app.theme.style(scope)
}

/// `text` as spans in `style`, with every occurrence of `query` (ignoring
/// case) in the search-match style.
fn highlighted(text: &str, style: Style, query: Option<&str>, hit: Style) -> Vec<Span<'static>> {
    let ranges = query.map(|q| find_ci(text, q)).unwrap_or_default();
    if ranges.is_empty() {
        return vec![Span::styled(text.to_string(), style)];
    }
    let mut spans = Vec::new();
    let mut at = 0;
    for (start, end) in ranges {
        if start > at {
            spans.push(Span::styled(text[at..start].to_string(), style));
        }
        spans.push(Span::styled(text[start..end].to_string(), style.patch(hit)));
        at = end;
    }
    if at < text.len() {
        spans.push(Span::styled(text[at..].to_string(), style));
    }
    spans
}

/// The transcript's pane: its tabs ("all", then each agent) in the title,
/// and whether it follows the live end at the bottom.
fn transcript_pane(app: &App, focused: bool) -> ratatui::widgets::Block<'static> {
    let theme = &app.theme;
    let mut title = vec![Span::styled(" Transcript ", theme.style("ui.title"))];
    let tabs = std::iter::once("all".to_string()).chain(app.transcripts.agents.iter().cloned());
    for (i, name) in tabs.enumerate() {
        if i > 0 {
            title.push(Span::styled("│", theme.style("ui.border")));
        }
        let scope = if i == app.transcripts.active {
            "ui.tab.active"
        } else {
            "ui.tab"
        };
        title.push(Span::styled(format!(" {name} "), theme.style(scope)));
    }
    let follow = if app.transcripts.window().following {
        " following "
    } else {
        " scrolled · F follows "
    };
    pane(&app.theme, Line::from(title), focused)
        .title_bottom(Line::styled(follow, theme.style("ui.text.dim")).right_aligned())
}

/// What an empty transcript says: how to start, or that its lines load.
fn empty_transcript(app: &App) -> Option<Line<'static>> {
    let dim = app.theme.style("ui.text.dim");
    if app.session.id.is_empty() {
        Some(Line::styled(
            "Type what the team should build in the prompt and press Enter.",
            dim,
        ))
    } else if app.transcripts.window().pending.is_some() {
        Some(Line::styled("loading…", dim))
    } else {
        None
    }
}

/// The transcript pane: rows built bottom-up from the streamed partial
/// lines and the window's stored lines, only as many as fit.
fn draw_transcript(app: &mut App, frame: &mut Frame, area: Rect) {
    let focused =
        app.screen == Screen::Main && app.focus == Focus::Transcript && app.overlay.is_none();
    let block = transcript_pane(app, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    app.frame.transcript_rows = inner.height;
    app.frame.transcript_area = inner;
    let screen = frame.area();
    app.frame.scroll_band =
        (area.x == screen.x && area.width == screen.width).then_some(inner.y..inner.bottom());
    let app: &App = app;
    let theme = &app.theme;
    let all = app.transcripts.active == 0;
    let prefix_w = if all { 11 } else { 0 };
    let text_w = (inner.width as usize).saturating_sub(prefix_w).max(1);
    let rows = inner.height as usize;
    let window = app.transcripts.window();
    let view = app.transcripts.active_key();
    let query = app
        .search
        .as_ref()
        .filter(|s| s.agent == view && s.pending.is_none())
        .map(|s| s.query.as_str());
    let hit = theme.style("ui.search.match");
    // Rows are built bottom-up: partial lines first (when at the live end), then
    // stored lines back from the bottom, until the pane is full.
    let mut out: Vec<Line> = Vec::new();
    let prefix = |agent: &str, first: bool| -> Span<'static> {
        if !all {
            return Span::raw("");
        }
        if first {
            let name: String = agent.chars().take(9).collect();
            Span::styled(format!("{name:<9}▸ "), theme.style("transcript.agent"))
        } else {
            Span::raw(" ".repeat(prefix_w))
        }
    };
    let push_rows = |out: &mut Vec<Line>, agent: &str, text: &str, style: Style, code: bool| {
        let wrapped = wrap(text, text_w, code);
        for (i, row) in wrapped.iter().enumerate().rev() {
            // Rows past the pane's top would be cut anyway.
            if out.len() >= rows {
                break;
            }
            let mut spans = vec![prefix(agent, i == 0)];
            spans.extend(highlighted(row, style, query, hit));
            out.push(Line::from(spans));
        }
    };
    if window.following && window.at_live_end() {
        // A line still streaming is wrapped and styled as it will be once
        // complete, so completing it changes nothing on screen. When it wraps
        // the rows above move up a row, which the terminal does itself (a
        // scroll region, see `super::screen`): a token costs about its own
        // text. Complete lines whose durable copies have not arrived yet (the
        // committer may hold them up to 250 ms) show above it exactly as those
        // copies will.
        'partials: for partial in app.transcripts.partials().into_iter().rev() {
            if !partial.tail.is_empty() {
                let style = line_style(app, LineKind::Text, partial.tail_code);
                push_rows(
                    &mut out,
                    partial.agent,
                    partial.tail,
                    style,
                    partial.tail_code,
                );
            }
            for (line, code) in partial.lines.iter().rev() {
                if out.len() >= rows {
                    break 'partials;
                }
                push_rows(
                    &mut out,
                    partial.agent,
                    line,
                    line_style(app, LineKind::Text, *code),
                    *code,
                );
            }
            if out.len() >= rows {
                break;
            }
        }
    }
    let mut pos = window.bottom_pos();
    while out.len() < rows {
        let Some(line) = window.get(pos) else {
            break;
        };
        push_rows(
            &mut out,
            &line.line.agent,
            &line.line.text,
            line_style(app, line.line.kind, line.code),
            line.code,
        );
        if pos == 0 || pos == window.start {
            break;
        }
        pos -= 1;
    }
    if out.is_empty() {
        out.extend(empty_transcript(app));
    }
    // `out` runs bottom-up: keep the bottom rows; a top line that does not
    // fit loses its first rows.
    // The rows are wrapped already: each is written as it is (a `Paragraph`
    // would split every row into graphemes again to truncate it).
    let buf = frame.buffer_mut();
    for (y, line) in (inner.y..inner.bottom()).zip(out.iter().take(rows).rev()) {
        buf.set_line(inner.x, y, line, inner.width);
    }
}
