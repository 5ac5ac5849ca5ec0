//! The view: [`draw`] renders an [`App`] into a frame. Pure apart from what it
//! measures for the update (the transcript's rows and area, the help's scroll
//! limit): reads the state, writes cells; every style comes from the theme
//! (`theme.style("scope")`). Only what is visible is laid out, so a frame's
//! cost depends on the screen, not on the transcript's length. The full-screen
//! views live in [`super::views`], the overlays in `view/overlays.rs`.

mod controls;
mod overlays;

pub use self::overlays::{centered, help_max_scroll};

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use super::app::search::find_ci;
use super::app::{App, Focus, Overlay, Screen};
use super::transcript::wrap;
use crate::config::keymap::{Action, Context};
use crate::protocol::{LineKind, TaskState};
use unicode_width::UnicodeWidthStr;

/// The spinner's frames (advanced at most 10 times a second).
pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The smallest usable terminal (DESIGN.md §7).
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
                    app.frame.conflicts_scroll = super::views::draw_conflicts(app, frame, body)
                }
                Screen::Files => super::views::draw_files(app, frame, body),
                Screen::Metrics => super::views::draw_metrics(app, frame, body),
                _ => super::views::draw_history(app, frame, body),
            }
        }
    }
    frame.render_widget(
        Paragraph::new(status_rows).style(app.theme.style("ui.statusbar")),
        status,
    );
    // Laying the help out costs about a tenth of a frame: only while it shows.
    if matches!(app.overlay, Some(Overlay::Help { .. })) {
        app.frame.help_max_scroll = help_max_scroll(app, body);
    }
    match &app.overlay {
        Some(Overlay::Help { scroll }) => overlays::draw_help(app, frame, body, *scroll),
        Some(Overlay::ConfirmQuit) => overlays::draw_confirm(app, frame, body),
        Some(Overlay::ConfirmCancel) => overlays::draw_confirm_cancel(app, frame, body),
        Some(Overlay::ConfirmUnconfined { .. }) => overlays::draw_unconfined(app, frame, body),
        Some(Overlay::Editor(_)) => overlays::draw_editor(app, frame, body),
        Some(Overlay::Palette(p)) => overlays::draw_palette(app, p, frame, body),
        Some(Overlay::Memory(m)) => controls::draw_memory(app, m, frame, body),
        Some(Overlay::Budget) => controls::draw_budget(app, frame, body),
        Some(Overlay::Models(p)) => controls::draw_models(app, p, frame, body),
        None => {}
    }
}

/// Formats a token count: 950, 2.1k, 1.2M.
pub fn tokens(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", n as f64 / 1_000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

fn draw_header(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let bar = theme.style("ui.statusbar");
    let s = &app.session;
    let narrow = area.width < 100;
    let mut left = String::from(" quorum");
    if s.id.is_empty() {
        left.push_str(&format!(" · {} · ready", app.dir));
    } else {
        let total = app.phases.len();
        let index = app
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
    let label = format!(" {} ", app.provider_label);
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
    let style = if app.provider_label.contains("offline") {
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

fn top_height(app: &App, body: Rect) -> u16 {
    (app.agents.len() as u16 + 2)
        .clamp(4, 12)
        .min(body.height / 2)
}

/// A rounded pane with a title; its border shows focus.
pub(crate) fn pane<'a>(app: &App, title: Line<'a>, focused: bool) -> Block<'a> {
    let border = if focused {
        "ui.border.focused"
    } else {
        "ui.border"
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(app.theme.style(border))
        .title(title)
}

fn draw_main(app: &mut App, frame: &mut Frame, body: Rect) {
    let [top, transcript] = Layout::vertical([
        Constraint::Length(top_height(app, body)),
        Constraint::Min(3),
    ])
    .areas(body);
    draw_top(app, frame, top);
    draw_transcript(app, frame, transcript);
}

fn draw_top(app: &mut App, frame: &mut Frame, area: Rect) {
    let prompt_w = (area.width * 2 / 5)
        .max(20)
        .min(area.width.saturating_sub(20));
    let [prompt, agents] =
        Layout::horizontal([Constraint::Length(prompt_w), Constraint::Min(10)]).areas(area);
    let focused = app.screen == Screen::Main && app.focus == Focus::Prompt && app.overlay.is_none();
    let title = Line::styled(" Prompt ", app.theme.style("ui.title"));
    let block = pane(app, title, focused);
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
        app,
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
        let retries = app
            .metrics
            .agents
            .get(&agent.name)
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
            .and_then(|(id, _)| app.metrics.task_elapsed(id))
            .map(|s| format!("{:.0}s", s.floor()))
            .unwrap_or_default();
        let cost = app
            .metrics
            .agents
            .get(&agent.name)
            .map(|m| m.cost_usd)
            .unwrap_or(0.0);
        let tail = if width >= 84 {
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
        };
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
        let selected = focused && i == app.agent_sel;
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

fn line_style(app: &App, kind: LineKind, code: bool) -> Style {
    let scope = match kind {
        LineKind::Prompt => "transcript.prompt",
        LineKind::Note => "transcript.note",
        LineKind::Retry => "transcript.retry",
        LineKind::Error => "transcript.error",
        LineKind::Text if code => "transcript.code",
        LineKind::Text => "transcript.text",
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

fn draw_transcript(app: &mut App, frame: &mut Frame, area: Rect) {
    let focused =
        app.screen == Screen::Main && app.focus == Focus::Transcript && app.overlay.is_none();
    let block = {
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
        pane(app, Line::from(title), focused)
            .title_bottom(Line::styled(follow, theme.style("ui.text.dim")).right_aligned())
    };
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
    if out.is_empty() && app.session.id.is_empty() {
        out.push(Line::styled(
            "Type what the team should build in the prompt and press Enter.",
            theme.style("ui.text.dim"),
        ));
    } else if out.is_empty() && window.pending.is_some() {
        out.push(Line::styled("loading…", theme.style("ui.text.dim")));
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
    } else if app.commit_message.is_some() && s.status.is_none() {
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
    let hint_spans = |row: &[(String, &'static str)]| -> Vec<Span<'static>> {
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
    };
    let span_w = |spans: &[Span]| -> usize {
        spans
            .iter()
            .map(|s| UnicodeWidthStr::width(s.content.as_ref()))
            .sum()
    };
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
