//! The TUI's model and update (The Elm Architecture): [`App`] is the whole
//! state; [`App::on_key`], [`App::on_paste`] and [`App::on_event`] are the
//! update; the ops they produce wait in [`App::outbox`] for the run loop to send.
//! No I/O happens here, so every key → op flow is testable without a terminal.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::widgets::{Block, BorderType, Borders};
use ratatui_textarea::{TextArea, WrapMode};

use super::model::SessionView;
use super::transcript::{PageRequest, Transcripts};
use crate::config::keymap::{Action, Context, Keymap};
use crate::config::theme::Theme;
use crate::protocol::{Event, Op, RequestId, SessionOptions, SessionStatus, TaskState};

/// A roster entry as shown.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentInfo {
    /// Name.
    pub name: String,
    /// Provider label ("offline (simulated)" or the provider's name).
    pub provider: String,
    /// Model.
    pub model: String,
}

/// The full-screen views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// Prompt, agents, transcript.
    Main,
    /// Conflicts and voting.
    Conflicts,
    /// Staged files, preview, commit.
    Files,
}

/// The focused pane of the main screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The prompt editor.
    Prompt,
    /// The agents and their queues.
    Agents,
    /// The transcript.
    Transcript,
}

/// What an editor overlay's text is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditorPurpose {
    /// The note of an override of `conflict` with `option`.
    Override {
        /// The id of the conflict being overridden.
        conflict: String,
        /// The option that replaces the decision, one of the conflict's options.
        option: String,
    },
    /// The commit message.
    CommitMessage,
    /// The answer to a question.
    Answer {
        /// The id of the question answered, from its `question_asked` event.
        question: String,
    },
}

/// A text editor overlay.
pub struct Editor {
    /// What it is for.
    pub purpose: EditorPurpose,
    /// Title and instructions.
    pub title: String,
    /// The text.
    pub area: TextArea<'static>,
}

/// Layers above the screen.
pub enum Overlay {
    /// Every key binding, scrolled by `scroll` rows.
    Help {
        /// Rows scrolled past the top, at most [`App::help_max_scroll`].
        scroll: u16,
    },
    /// A text editor (boxed: it is large and overlays are rare).
    Editor(Box<Editor>),
    /// "Quit while a session runs?"
    ConfirmQuit,
}

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

/// A short message in the status bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Toast {
    /// The message.
    pub text: String,
    /// An error (shown in the error style).
    pub error: bool,
    /// When it appeared.
    pub at: Instant,
}

/// How long a toast stays.
pub const TOAST_FOR: Duration = Duration::from_secs(6);

/// The whole TUI state.
pub struct App {
    /// Styles.
    pub theme: Theme,
    /// Keys.
    pub keymap: Keymap,
    /// The roster.
    pub agents: Vec<AgentInfo>,
    /// The workflow's phases: (name, kind).
    pub phases: Vec<(String, String)>,
    /// Shown in the header when every agent is offline.
    pub provider_label: String,
    /// The target directory.
    pub dir: String,
    /// Whether the session waits for the person at resolve.
    pub confirm_decisions: bool,
    /// The current screen.
    pub screen: Screen,
    /// The focused pane of the main screen.
    pub focus: Focus,
    /// The overlay, if any.
    pub overlay: Option<Overlay>,
    /// The prompt editor.
    pub prompt: TextArea<'static>,
    /// Submitted prompts, oldest first.
    pub history: Vec<String>,
    history_pos: Option<usize>,
    /// The session.
    pub session: SessionView,
    /// Transcript windows.
    pub transcripts: Transcripts,
    /// Selected row of the agents pane.
    pub agent_sel: usize,
    /// Selected conflict.
    pub conflict_sel: usize,
    /// Selected option of the selected conflict.
    pub option_sel: usize,
    /// Selected file.
    pub file_sel: usize,
    /// The preview of the selected file.
    pub preview: Option<Preview>,
    /// Show the diff instead of the content.
    pub show_diff: bool,
    /// Preview scroll, in rows.
    pub preview_scroll: u16,
    /// The commit message (generated at deliver, editable).
    pub commit_message: Option<String>,
    /// The status-bar message.
    pub toast: Option<Toast>,
    ctrl_c_at: Option<Instant>,
    /// The person asked to quit.
    pub quit: bool,
    /// The orchestrator has stopped.
    pub closed: bool,
    /// Ops for the run loop to send.
    pub outbox: Vec<Op>,
    next_req: RequestId,
    /// Rows of the transcript pane at the last draw (for paging).
    pub transcript_rows: u16,
    /// How far the help overlay can scroll at the last draw.
    pub help_max_scroll: u16,
}

/// A styled editor.
fn text_area(theme: &Theme, title: &str, text: &str) -> TextArea<'static> {
    let lines: Vec<String> = if text.is_empty() {
        vec![String::new()]
    } else {
        text.lines().map(String::from).collect()
    };
    let mut area = TextArea::new(lines);
    area.set_wrap_mode(WrapMode::WordOrGlyph);
    area.set_cursor_line_style(ratatui::style::Style::default());
    area.set_style(theme.style("ui.text"));
    area.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(theme.style("ui.popup.border"))
            .title(title.to_string()),
    );
    area.move_cursor(ratatui_textarea::CursorMove::Bottom);
    area.move_cursor(ratatui_textarea::CursorMove::End);
    area
}

impl App {
    /// A fresh TUI state.
    pub fn new(
        theme: Theme,
        agents: Vec<AgentInfo>,
        phases: Vec<(String, String)>,
        provider_label: String,
        dir: String,
        confirm_decisions: bool,
    ) -> Self {
        let mut prompt = TextArea::default();
        prompt.set_wrap_mode(WrapMode::WordOrGlyph);
        prompt.set_cursor_line_style(ratatui::style::Style::default());
        prompt
            .set_placeholder_text("What should the team build? (Enter starts, Alt-Enter: newline)");
        prompt.set_placeholder_style(theme.style("ui.text.dim"));
        let names = agents.iter().map(|a| a.name.clone()).collect();
        App {
            theme,
            keymap: Keymap::default(),
            agents,
            phases,
            provider_label,
            dir,
            confirm_decisions,
            screen: Screen::Main,
            focus: Focus::Prompt,
            overlay: None,
            prompt,
            history: Vec::new(),
            history_pos: None,
            session: SessionView::default(),
            transcripts: Transcripts::new(names),
            agent_sel: 0,
            conflict_sel: 0,
            option_sel: 0,
            file_sel: 0,
            preview: None,
            show_diff: false,
            preview_scroll: 0,
            commit_message: None,
            toast: None,
            ctrl_c_at: None,
            quit: false,
            closed: false,
            outbox: Vec::new(),
            next_req: 1,
            transcript_rows: 20,
            help_max_scroll: 0,
        }
    }

    fn req(&mut self) -> RequestId {
        self.next_req += 1;
        self.next_req
    }

    /// Shows a message in the status bar.
    pub fn toast(&mut self, text: impl Into<String>, error: bool) {
        self.toast = Some(Toast {
            text: text.into(),
            error,
            at: Instant::now(),
        });
    }

    /// Drops an expired toast; returns whether anything changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        if self
            .toast
            .as_ref()
            .is_some_and(|t| now.duration_since(t.at) > TOAST_FOR)
        {
            self.toast = None;
            return true;
        }
        false
    }

    /// The exit code for the session's end (DESIGN.md §5).
    pub fn exit_code(&self) -> i32 {
        self.session
            .status
            .map(SessionStatus::exit_code)
            .unwrap_or(0)
    }

    /// The key contexts active now, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        match self.overlay {
            Some(Overlay::Editor(_)) => return vec![Context::Editor, Context::Global],
            Some(Overlay::Help { .. }) => return vec![Context::List, Context::Global],
            Some(Overlay::ConfirmQuit) => return vec![Context::Global],
            None => {}
        }
        match self.screen {
            Screen::Main => match self.focus {
                Focus::Prompt => vec![Context::Editor, Context::Global],
                Focus::Agents => vec![
                    Context::Agents,
                    Context::List,
                    Context::Outside,
                    Context::Global,
                ],
                Focus::Transcript => vec![
                    Context::Transcript,
                    Context::List,
                    Context::Outside,
                    Context::Global,
                ],
            },
            Screen::Conflicts => vec![
                Context::Conflicts,
                Context::List,
                Context::Outside,
                Context::Global,
            ],
            Screen::Files => vec![
                Context::Files,
                Context::List,
                Context::Outside,
                Context::Global,
            ],
        }
    }

    /// Starts a session with `text` (from the prompt editor or the command line).
    pub fn submit_prompt(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            self.toast("the prompt is empty: say what to build", true);
            return;
        }
        if self.session.running() {
            self.toast(
                "a session is running; cancel it (Ctrl-C) before starting another",
                true,
            );
            return;
        }
        self.history.push(text.to_string());
        self.history_pos = None;
        self.outbox.push(Op::Start {
            prompt: text.to_string(),
            options: SessionOptions {
                interactive: true,
                ..SessionOptions::default()
            },
        });
        self.prompt = {
            let mut p = TextArea::new(text.lines().map(String::from).collect());
            p.set_wrap_mode(WrapMode::WordOrGlyph);
            p.set_cursor_line_style(ratatui::style::Style::default());
            p
        };
        self.focus = Focus::Transcript;
    }

    /// A bracketed paste: inserted into the focused editor, never submitted.
    pub fn on_paste(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        match &mut self.overlay {
            Some(Overlay::Editor(editor)) => {
                editor.area.insert_str(&text);
            }
            Some(_) => {}
            None if self.screen == Screen::Main && self.focus == Focus::Prompt => {
                self.prompt.insert_str(&text);
            }
            None => {}
        }
    }

    /// A key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        let contexts = self.contexts();
        let action = self.keymap.action(&contexts, &key);
        if action != Some(Action::CancelSession) {
            self.ctrl_c_at = None;
        }
        match self.overlay.take() {
            Some(Overlay::Help { scroll }) => {
                let scroll = match action {
                    Some(Action::Down) => scroll.saturating_add(1),
                    Some(Action::Up) => scroll.saturating_sub(1),
                    Some(Action::PageDown) => scroll.saturating_add(10),
                    Some(Action::PageUp) => scroll.saturating_sub(10),
                    Some(Action::Top) => 0,
                    Some(Action::Bottom) => self.help_max_scroll,
                    _ => scroll,
                };
                if !matches!(
                    key.code,
                    KeyCode::Char('?') | KeyCode::Esc | KeyCode::Char('q')
                ) {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll.min(self.help_max_scroll),
                    });
                }
                if action == Some(Action::CancelSession) {
                    self.cancel_or_quit();
                }
                return;
            }
            Some(Overlay::ConfirmQuit) => {
                match key.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => {
                        self.outbox.push(Op::Interrupt);
                        self.quit = true;
                    }
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
                    _ => self.overlay = Some(Overlay::ConfirmQuit),
                }
                return;
            }
            Some(Overlay::Editor(mut editor)) => {
                match action {
                    Some(Action::Submit) => self.editor_submitted(editor),
                    Some(Action::Newline) => {
                        editor.area.insert_newline();
                        self.overlay = Some(Overlay::Editor(editor));
                    }
                    Some(Action::LeaveEditor) => {}
                    Some(Action::CancelSession) => self.cancel_or_quit(),
                    _ => {
                        editor.area.input(key);
                        self.overlay = Some(Overlay::Editor(editor));
                    }
                }
                return;
            }
            None => {}
        }
        if self.screen == Screen::Main && self.focus == Focus::Prompt {
            match action {
                Some(Action::Submit) => {
                    let text = self.prompt.lines().join("\n");
                    self.submit_prompt(&text);
                }
                Some(Action::Newline) => self.prompt.insert_newline(),
                Some(Action::LeaveEditor) | Some(Action::FocusNext) => self.focus = Focus::Agents,
                Some(Action::FocusPrev) => self.focus = Focus::Transcript,
                Some(Action::CancelSession) => self.cancel_or_quit(),
                _ => {
                    let empty = self.prompt.is_empty() || self.history_pos.is_some();
                    match key.code {
                        KeyCode::Up if empty && !self.history.is_empty() => self.history_step(-1),
                        KeyCode::Down if self.history_pos.is_some() => self.history_step(1),
                        _ => {
                            self.history_pos = None;
                            self.prompt.input(key);
                        }
                    }
                }
            }
            return;
        }
        let Some(action) = action else {
            return;
        };
        self.on_action(action);
    }

    fn history_step(&mut self, delta: isize) {
        let n = self.history.len() as isize;
        let pos = match self.history_pos {
            None => n - 1,
            Some(p) => p as isize + delta,
        };
        if pos < 0 {
            return;
        }
        if pos >= n {
            self.history_pos = None;
            self.prompt = TextArea::default();
            return;
        }
        self.history_pos = Some(pos as usize);
        let text = self.history[pos as usize].clone();
        let mut p = TextArea::new(text.lines().map(String::from).collect());
        p.set_wrap_mode(WrapMode::WordOrGlyph);
        p.set_cursor_line_style(ratatui::style::Style::default());
        p.move_cursor(ratatui_textarea::CursorMove::Bottom);
        p.move_cursor(ratatui_textarea::CursorMove::End);
        self.prompt = p;
    }

    fn cancel_or_quit(&mut self) {
        let now = Instant::now();
        let second = self
            .ctrl_c_at
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(3));
        if self.session.running() && !second {
            self.outbox.push(Op::CancelSession);
            self.ctrl_c_at = Some(now);
            self.toast("cancelling the session — Ctrl-C again to quit", false);
        } else {
            self.quit = true;
        }
    }

    fn open_editor(&mut self, purpose: EditorPurpose, title: &str, text: &str) {
        let area = text_area(&self.theme, title, text);
        self.overlay = Some(Overlay::Editor(Box::new(Editor {
            purpose,
            title: title.to_string(),
            area,
        })));
    }

    fn editor_submitted(&mut self, editor: Box<Editor>) {
        let editor = *editor;
        let text = editor.area.lines().join("\n").trim().to_string();
        match editor.purpose {
            EditorPurpose::Override { conflict, option } => {
                if text.is_empty() {
                    self.toast("an override needs a note: say why", true);
                    self.overlay = Some(Overlay::Editor(Box::new(Editor {
                        purpose: EditorPurpose::Override { conflict, option },
                        title: editor.title,
                        area: editor.area,
                    })));
                    return;
                }
                self.outbox.push(Op::Override {
                    conflict,
                    option,
                    note: text,
                });
            }
            EditorPurpose::CommitMessage => {
                if !text.is_empty() {
                    self.commit_message = Some(text);
                }
            }
            EditorPurpose::Answer { question } => {
                let answer = if text.is_empty() {
                    self.session
                        .questions
                        .iter()
                        .find(|q| q.id == question)
                        .map(|q| q.default.clone())
                        .unwrap_or_default()
                } else {
                    text
                };
                self.outbox.push(Op::Answer { question, answer });
            }
        }
    }

    fn on_action(&mut self, action: Action) {
        match action {
            Action::CancelSession => self.cancel_or_quit(),
            Action::FocusNext | Action::FocusPrev => {
                if self.screen == Screen::Main {
                    let order = [Focus::Prompt, Focus::Agents, Focus::Transcript];
                    let i = order.iter().position(|f| *f == self.focus).unwrap_or(0);
                    let step = if action == Action::FocusNext { 1 } else { 2 };
                    self.focus = order[(i + step) % 3];
                }
            }
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Conflicts => self.screen = Screen::Conflicts,
            Action::Files => {
                self.screen = Screen::Files;
                self.load_selected_file();
            }
            Action::Answer => {
                match self
                    .session
                    .questions
                    .iter()
                    .find(|q| q.answer.is_none())
                    .cloned()
                {
                    Some(q) => self.open_editor(
                        EditorPurpose::Answer {
                            question: q.id.clone(),
                        },
                        &format!(
                            " {} — Enter answers (empty: “{}”) · Esc ",
                            q.text, q.default
                        ),
                        "",
                    ),
                    None => self.toast("no open question", false),
                }
            }
            Action::Back => self.screen = Screen::Main,
            Action::Quit => {
                if self.session.running() {
                    self.overlay = Some(Overlay::ConfirmQuit);
                } else {
                    self.quit = true;
                }
            }
            Action::Down
            | Action::Up
            | Action::Top
            | Action::Bottom
            | Action::PageUp
            | Action::PageDown => self.on_list(action),
            Action::PauseTask | Action::CancelTask | Action::RetryTask => {
                self.on_task_action(action)
            }
            Action::PrevTab => self.transcripts.cycle(-1),
            Action::NextTab => self.transcripts.cycle(1),
            Action::Follow => {
                let req = self.transcripts.follow();
                self.request_page(req);
            }
            Action::OptionPrev | Action::OptionNext => {
                let n = self
                    .selected_conflict()
                    .map(|c| c.options.len())
                    .unwrap_or(0);
                if n > 0 {
                    self.option_sel = if action == Action::OptionNext {
                        (self.option_sel + 1) % n
                    } else {
                        (self.option_sel + n - 1) % n
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
                    .map(|d| (self.conflict_sel + d) % n.max(1))
                    .find(|i| {
                        self.session
                            .conflicts
                            .get(*i)
                            .is_some_and(|c| c.decision.is_none())
                    })
                {
                    self.conflict_sel = i;
                    self.option_sel = 0;
                } else {
                    self.toast("no open conflict", false);
                }
            }
            Action::Preview => {
                self.show_diff = false;
                self.load_selected_file();
            }
            Action::Diff => {
                self.show_diff = !self.show_diff;
                self.preview_scroll = 0;
                if self.preview.as_ref().map(|p| p.path.as_str()) != self.selected_path().as_deref()
                {
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
            Action::EditMessage => {
                let text = self.commit_message.clone().unwrap_or_default();
                self.open_editor(
                    EditorPurpose::CommitMessage,
                    " commit message — Enter saves · Alt-Enter newline · Esc ",
                    &text,
                );
            }
            Action::Commit => {
                if self.session.commit.is_some() {
                    self.toast("already committed", false);
                } else if self.commit_message.is_none() {
                    self.toast(
                        "nothing to commit yet: the session has not reached deliver",
                        true,
                    );
                } else {
                    self.outbox.push(Op::Commit {
                        message: self.commit_message.clone(),
                    });
                    self.toast("committing…", false);
                }
            }
            Action::Submit | Action::Newline | Action::LeaveEditor => {}
        }
    }

    fn on_list(&mut self, action: Action) {
        let page = self.transcript_rows.max(2) as usize - 1;
        let step = |sel: usize, n: usize| -> usize {
            if n == 0 {
                return 0;
            }
            match action {
                Action::Down => (sel + 1).min(n - 1),
                Action::Up => sel.saturating_sub(1),
                Action::Top => 0,
                Action::Bottom => n - 1,
                Action::PageDown => (sel + page).min(n - 1),
                _ => sel.saturating_sub(page),
            }
        };
        match self.screen {
            Screen::Main => match self.focus {
                Focus::Agents => self.agent_sel = step(self.agent_sel, self.agents.len()),
                Focus::Transcript => {
                    let rows = self.transcript_rows as u64;
                    let req = match action {
                        Action::Down => self.transcripts.scroll_down(1, rows),
                        Action::Up => self.transcripts.scroll_up(1, rows),
                        Action::PageDown => self.transcripts.scroll_down(page as u64, rows),
                        Action::PageUp => self.transcripts.scroll_up(page as u64, rows),
                        Action::Top => self.transcripts.scroll_up(u64::MAX / 2, rows),
                        _ => self.transcripts.follow(),
                    };
                    self.request_page(req);
                }
                Focus::Prompt => {}
            },
            Screen::Conflicts => {
                let before = self.conflict_sel;
                self.conflict_sel = step(self.conflict_sel, self.session.conflicts.len());
                if before != self.conflict_sel {
                    self.option_sel = 0;
                }
            }
            Screen::Files => match action {
                Action::PageDown => {
                    self.preview_scroll = self.preview_scroll.saturating_add(page as u16)
                }
                Action::PageUp => {
                    self.preview_scroll = self.preview_scroll.saturating_sub(page as u16)
                }
                _ => {
                    let before = self.file_sel;
                    self.file_sel = step(self.file_sel, self.session.files.len());
                    if before != self.file_sel {
                        self.load_selected_file();
                    }
                }
            },
        }
    }

    fn request_page(&mut self, req: Option<PageRequest>) {
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
        let Some(agent) = self.agents.get(self.agent_sel).map(|a| a.name.clone()) else {
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

    /// The selected conflict.
    pub fn selected_conflict(&self) -> Option<&super::model::ConflictView> {
        self.session.conflicts.get(self.conflict_sel)
    }

    fn selected_option(&self) -> Option<(String, String)> {
        let c = self.selected_conflict()?;
        let option = c.options.get(self.option_sel)?;
        Some((c.id.clone(), option.clone()))
    }

    /// The selected file entry.
    pub fn selected_file(&self) -> Option<&super::model::FileEntry> {
        self.session.files.values().nth(self.file_sel)
    }

    fn selected_path(&self) -> Option<String> {
        self.selected_file()
            .filter(|f| f.refused.is_none())
            .map(|f| f.path.clone())
    }

    fn load_selected_file(&mut self) {
        self.preview_scroll = 0;
        let Some(path) = self.selected_path() else {
            self.preview = None;
            return;
        };
        if self
            .preview
            .as_ref()
            .is_some_and(|p| p.path == path && p.content.is_some())
        {
            return;
        }
        let req = self.req();
        self.preview = Some(Preview {
            req,
            path: path.clone(),
            content: None,
            diff: None,
            lines: Vec::new(),
        });
        self.outbox.push(Op::LoadFile { path, req });
    }

    /// An event from the orchestrator.
    pub fn on_event(&mut self, event: Event) {
        match event {
            Event::Logged(e) => {
                use crate::protocol::EventBody;
                if matches!(e.body, EventBody::SessionStarted { .. }) {
                    self.session = SessionView::default();
                    self.transcripts =
                        Transcripts::new(self.agents.iter().map(|a| a.name.clone()).collect());
                    self.commit_message = None;
                    self.preview = None;
                    self.conflict_sel = 0;
                    self.option_sel = 0;
                    self.file_sel = 0;
                }
                self.session.apply(&e);
                match &e.body {
                    EventBody::PhaseStarted { kind, .. }
                        if kind == "resolve"
                            && self.confirm_decisions
                            && self.session.open_conflicts() > 0 =>
                    {
                        self.toast("the session waits for your decisions: press c", false);
                    }
                    EventBody::QuestionAsked { id, .. } => {
                        self.toast(format!("question {id} waits for an answer: press A"), false);
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
                    _ => {}
                }
            }
            Event::Token { agent, task, text } => self.transcripts.on_token(&agent, &task, &text),
            Event::TranscriptAppended { lines } => self.transcripts.on_lines(&lines),
            Event::TranscriptPage {
                req,
                agent,
                lines,
                total,
            } => self.transcripts.on_page(req, &agent, &lines, total),
            Event::FileLoaded { req, file } => {
                if let Some(p) = self.preview.as_mut().filter(|p| p.req == req) {
                    match file {
                        Ok(view) => {
                            p.lines =
                                super::highlight::highlight(&view.path, &view.content, &self.theme);
                            p.content = Some(Ok(view.content));
                            p.diff = view.diff;
                        }
                        Err(e) => p.content = Some(Err(e)),
                    }
                }
            }
            Event::FileDecided { path, accepted } => {
                if let Some(f) = self.session.files.get_mut(&path) {
                    f.accepted = accepted;
                }
            }
            Event::DeliveryReady { message } => {
                self.commit_message = Some(message);
                self.toast("ready to deliver: f files · C commit", false);
            }
            // The memory view is not built yet; nothing asks for it.
            Event::Memory { .. } => {}
            Event::Rejected { op, reason } => self.toast(format!("{op}: {reason}"), true),
            Event::Fatal { message } => self.toast(message, true),
            Event::Closed => self.closed = true,
        }
    }
}
