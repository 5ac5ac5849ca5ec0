//! The TUI's model and update (The Elm Architecture): [`App`] is the whole
//! state; [`App::on_key`], [`App::on_paste`], [`App::on_mouse`] and
//! [`App::on_event`] are the update; the ops they produce wait in
//! [`App::outbox`] for the run loop to send, and what needs the terminal
//! itself (suspending, running `$EDITOR`) waits in [`App::external`]. No I/O
//! happens here, so every key → op flow is testable without a terminal.
//!
//! Input handling lives in `app/input.rs`, the actions behind the keys in
//! `app/actions.rs`; the command palette,
//! transcript search and the history view's state in their own modules; the
//! session's controls (pause, budgets, agent memory, retry on another model)
//! in `app/control.rs`.

mod actions;
pub mod control;
mod input;
pub mod palette;
pub mod past;
pub mod search;
mod status;

use std::time::{Duration, Instant};

use ratatui::layout::Rect;
use ratatui::widgets::{Block, BorderType, Borders};
use ratatui_textarea::{TextArea, WrapMode};

use self::control::{Control, MemoryView, ModelPicker};
use self::palette::Palette;
use self::past::PastSessions;
use self::search::Search;
use super::metrics::Metrics;
use super::transcript::Transcripts;
use crate::config::keymap::{Context, Keymap};
use crate::config::theme::Theme;
use crate::protocol::SessionView;
use crate::protocol::{Event, EventBody, Op, RequestId, SessionStatus, TaskState};

/// A roster entry as shown.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentInfo {
    /// Name.
    pub name: String,
    /// Provider label ("offline (simulated)" or the provider's name).
    pub provider: String,
    /// Model.
    pub model: String,
    /// The agent's spending limit in US dollars (`budget_usd`), if any.
    pub budget_usd: Option<f64>,
    /// Its model chain as `provider:model`: the model, then the fallbacks
    /// (offered when a task is retried on another model).
    pub models: Vec<String>,
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
    /// Token rates, cost against budget, phase timeline.
    Metrics,
    /// Past sessions of DIR.
    History,
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
    /// A transcript search.
    Search,
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
        /// Rows scrolled past the top, at most [`FrameInfo::help_max_scroll`].
        scroll: u16,
    },
    /// A text editor (boxed: it is large and overlays are rare).
    Editor(Box<Editor>),
    /// "Quit while a session runs?"
    ConfirmQuit,
    /// "Cancel the running session?": the first `Ctrl-C` while a session
    /// runs; a second `Ctrl-C` (or `y`) cancels it, `n`/`Esc` keeps it.
    ConfirmCancel,
    /// The command palette.
    Palette(Palette),
    /// An agent's memory for DIR.
    Memory(MemoryView),
    /// A budget is spent: continue or stop ([`Control::exhausted`]'s first).
    Budget,
    /// The model to retry a failed task on.
    Models(ModelPicker),
    /// "This machine cannot confine model-written code: run it anyway?",
    /// before the session on `prompt` starts ([`App::unconfined`]).
    ConfirmUnconfined {
        /// The prompt the session will start with.
        prompt: String,
    },
}

/// Work for the run loop that needs the terminal itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum External {
    /// Suspend to the shell (Ctrl-Z); the TUI comes back on `fg`.
    Suspend,
    /// Run `$VISUAL`/`$EDITOR` on a copy of a staged file's content.
    Edit {
        /// The staged file's path, relative to DIR.
        path: String,
        /// Its staged content, as loaded.
        content: String,
    },
    /// Run `$VISUAL`/`$EDITOR` on a copy of an agent's memory.
    EditMemory {
        /// The agent whose notes are edited.
        agent: String,
        /// The notes as shown (or as last sent, after a refusal).
        notes: String,
    },
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

/// Time between two spinner frames: at most 10 per second.
pub const SPIN: Duration = Duration::from_millis(100);

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

/// Submitted prompts, recalled with Up/Down in an empty prompt editor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PromptHistory {
    /// Oldest first.
    pub entries: Vec<String>,
    pos: Option<usize>,
}

/// What the last frame measured, for paging, scrolling and the mouse.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameInfo {
    /// Rows of the transcript pane.
    pub transcript_rows: u16,
    /// Where the transcript pane's text was drawn.
    pub transcript_area: Rect,
    /// The rows of the pane whose text scrolls (the transcript's), when it
    /// spans the screen's width: the terminal may scroll them in place
    /// ([`super::screen::Screen::draw`]) instead of having them rewritten.
    pub scroll_band: Option<std::ops::Range<u16>>,
    /// How far the help overlay can scroll.
    pub help_max_scroll: u16,
    /// How far the conflicts view's positions can scroll, and a page's rows.
    pub conflicts_scroll: (u16, u16),
    /// The spinner's frame (advanced at most every [`SPIN`]).
    pub spinner: usize,
    /// When the spinner last advanced.
    pub spun: Option<Instant>,
    /// When the last frame was drawn ([`App::before_frame`]).
    pub drawn: Option<Instant>,
}

/// Options from the config's `[ui]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UiOptions {
    /// Whether the session waits for the person at resolve.
    pub confirm_decisions: bool,
    /// Mouse capture (wheel scrolling) is on.
    pub mouse: bool,
}

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
    /// `[ui]` options.
    pub options: UiOptions,
    /// The current screen.
    pub screen: Screen,
    /// The focused pane of the main screen.
    pub focus: Focus,
    /// The overlay, if any.
    pub overlay: Option<Overlay>,
    /// Why this machine cannot confine model-written code, when it cannot
    /// and the person has not allowed it (`--allow-unconfined-tests`): a new
    /// session asks first ([`Overlay::ConfirmUnconfined`]; docs/sandbox.md).
    pub unconfined: Option<String>,
    /// The sandbox probe has not answered yet (it runs beside the TUI's
    /// start); the run loop fills [`App::unconfined`] when it does.
    pub unconfined_pending: bool,
    /// The offline team runs only because no provider is configured: a
    /// session on a prompt its demo does not build ends `demo`
    /// ([`crate::protocol::SessionOptions::unbuilt`]).
    pub implicit_demo: bool,
    /// The prompt editor.
    pub prompt: TextArea<'static>,
    /// The prompt editor takes the keys. At start it does not: `?` and `q`
    /// act as everywhere else until the person starts typing (any other
    /// character) or presses `Enter`/`i` (docs/tui.md, "The prompt").
    pub prompt_active: bool,
    /// Submitted prompts.
    pub prompt_history: PromptHistory,
    /// The session.
    pub session: SessionView,
    /// The session's metrics.
    pub metrics: Metrics,
    /// Transcript windows.
    pub transcripts: Transcripts,
    /// The transcript search, once one was asked for.
    pub search: Option<Search>,
    /// Selected row of the agents pane.
    pub agent_sel: usize,
    /// The conflicts view's selection.
    pub conflicts: ConflictsState,
    /// The files view's state.
    pub files: FilesState,
    /// The history view's state.
    pub past: PastSessions,
    /// Pause, budgets: what the session's controls know.
    pub control: Control,
    /// The commit message (generated at deliver, editable).
    pub commit_message: Option<String>,
    /// The status-bar message.
    pub toast: Option<Toast>,
    /// The person asked to quit.
    pub quit: bool,
    /// The orchestrator has stopped.
    pub closed: bool,
    /// Ops for the run loop to send.
    pub outbox: Vec<Op>,
    /// Work for the run loop that needs the terminal.
    pub external: Option<External>,
    next_req: RequestId,
    /// What the last frame measured.
    pub frame: FrameInfo,
}

/// `word` as one shell word: as it is when it holds only safe characters,
/// else in single quotes.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
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
    area.set_cursor_style(theme.style("ui.cursor"));
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

/// A prompt editor holding `text`.
fn prompt_area(theme: &Theme, text: &str) -> TextArea<'static> {
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
    /// A fresh TUI state.
    pub fn new(
        theme: Theme,
        agents: Vec<AgentInfo>,
        phases: Vec<(String, String)>,
        provider_label: String,
        dir: String,
        options: UiOptions,
    ) -> Self {
        let names = agents.iter().map(|a| a.name.clone()).collect();
        App {
            prompt: prompt_area(&theme, ""),
            prompt_active: false,
            theme,
            keymap: Keymap::default(),
            agents,
            phases,
            provider_label,
            dir,
            options,
            screen: Screen::Main,
            focus: Focus::Prompt,
            overlay: None,
            unconfined: None,
            unconfined_pending: false,
            implicit_demo: false,
            prompt_history: PromptHistory::default(),
            session: SessionView::default(),
            metrics: Metrics::default(),
            transcripts: Transcripts::new(names),
            search: None,
            agent_sel: 0,
            conflicts: ConflictsState::default(),
            files: FilesState::default(),
            past: PastSessions::default(),
            control: Control::default(),
            commit_message: None,
            toast: None,
            quit: false,
            closed: false,
            outbox: Vec::new(),
            external: None,
            next_req: 1,
            frame: FrameInfo {
                transcript_rows: 20,
                ..FrameInfo::default()
            },
        }
    }

    /// The roster's names, in config order.
    pub fn agent_names(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.name.clone()).collect()
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

    /// Whether something on screen moves by itself (a spinner).
    pub fn animating(&self) -> bool {
        self.session.running()
            && self
                .session
                .tasks
                .values()
                .any(|t| matches!(t.state, TaskState::Running | TaskState::Retrying))
    }

    /// When the screen next changes by itself: the next spinner frame, or a
    /// toast's expiry; `None` when idle (then nothing wakes the TUI up).
    ///
    /// The spinner's wake-up is [`SPIN`] after the last frame: frames drawn
    /// for other reasons (a streaming reply's, 20 a second) turn the spinner
    /// themselves ([`App::before_frame`]), so it never adds a frame to them,
    /// and it never stands still while they come.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        let spin = self
            .animating()
            .then(|| self.frame.drawn.unwrap_or(now) + SPIN);
        let toast = self.toast.as_ref().map(|t| t.at + TOAST_FOR);
        match (spin, toast) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time passed: advances the spinner (when [`SPIN`] has passed since it
    /// last did) and drops an expired toast; returns whether anything
    /// visible changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        let mut changed = false;
        let due = self.frame.spun.is_none_or(|at| now >= at + SPIN);
        if due && self.animating() {
            self.frame.spinner = self.frame.spinner.wrapping_add(1);
            self.frame.spun = Some(now);
            self.metrics.advance(now);
            changed = true;
        }
        if self
            .toast
            .as_ref()
            .is_some_and(|t| now.duration_since(t.at) >= TOAST_FOR)
        {
            self.toast = None;
            changed = true;
        }
        changed
    }

    /// Called just before a frame is drawn at `now`: time's changes
    /// ([`App::tick`]) go into it, and the spinner's next wake-up counts from it.
    pub fn before_frame(&mut self, now: Instant) {
        self.tick(now);
        self.frame.drawn = Some(now);
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
            Some(Overlay::Memory(_)) => {
                return vec![Context::Memory, Context::List, Context::Global];
            }
            Some(Overlay::Budget) => return vec![Context::Budget, Context::Global],
            Some(Overlay::ConfirmQuit)
            | Some(Overlay::ConfirmCancel)
            | Some(Overlay::Palette(_))
            | Some(Overlay::Models(_))
            | Some(Overlay::ConfirmUnconfined { .. }) => {
                return vec![Context::Global];
            }
            None => {}
        }
        let view = |c: Context| vec![c, Context::List, Context::Outside, Context::Global];
        match self.screen {
            Screen::Main => match self.focus {
                Focus::Prompt => vec![Context::Editor, Context::Global],
                Focus::Agents => view(Context::Agents),
                Focus::Transcript => view(Context::Transcript),
            },
            Screen::Conflicts => view(Context::Conflicts),
            Screen::Files => view(Context::Files),
            Screen::History => view(Context::History),
            Screen::Metrics => vec![Context::Outside, Context::Global],
        }
    }

    /// The context whose hints the status bar shows.
    pub fn hint_context(&self) -> Context {
        match self.screen {
            Screen::Conflicts => Context::Conflicts,
            Screen::Files => Context::Files,
            Screen::History => Context::History,
            Screen::Metrics => Context::Outside,
            Screen::Main => match self.focus {
                Focus::Prompt => Context::Editor,
                Focus::Agents => Context::Agents,
                Focus::Transcript => Context::Transcript,
            },
        }
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
        if self.unconfined_pending {
            // A prompt within the probe's first milliseconds: wait for its
            // answer (it is nearly always there already).
            self.unconfined = crate::workspace::sandbox::probe().err();
            self.unconfined_pending = false;
        }
        if self.unconfined.is_some() {
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
                    .implicit_demo
                    .then(|| crate::llm::offline::project::unbuilt(text))
                    .flatten(),
                ..Default::default()
            },
        });
        self.prompt = prompt_area(&self.theme, text);
        self.focus = Focus::Transcript;
    }

    /// `Ctrl-C`: while a session runs, asks whether to cancel it
    /// ([`Overlay::ConfirmCancel`]; a second `Ctrl-C` confirms); otherwise quits.
    fn cancel_or_quit(&mut self) {
        if self.session.running() {
            self.overlay = Some(Overlay::ConfirmCancel);
        } else {
            self.quit = true;
        }
    }

    /// The cancel was confirmed: the session is cancelled (resumable).
    fn cancel_confirmed(&mut self) {
        if self.session.running() {
            self.outbox.push(Op::CancelSession);
            let quit = self
                .keymap
                .key_for(
                    crate::config::keymap::Context::Outside,
                    crate::config::keymap::Action::Quit,
                )
                .unwrap_or("q");
            self.toast(
                format!("cancelling the session — {quit} or Ctrl-C quits; `quorum resume` continues it later"),
                false,
            );
        }
    }

    /// What to print once the terminal is back, when the session the person
    /// leaves is unfinished and `quorum resume` can go on with it:
    /// "quorum: session ID is interrupted; resume it with: quorum resume ID".
    /// `dir` is added (`--dir DIR`) unless it is the current directory.
    pub fn resume_hint(&self, dir_flag: Option<&str>) -> Option<String> {
        let s = &self.session;
        if s.id.is_empty() || s.commit.is_some() {
            return None;
        }
        let resumable = match s.status {
            None => true,
            Some(SessionStatus::Failed) => self.commit_message.is_some(),
            Some(st) => st.is_resumable() && st != SessionStatus::Succeeded,
        };
        if !resumable {
            return None;
        }
        let state = s.status.map(SessionStatus::as_str).unwrap_or("unfinished");
        let dir = dir_flag
            .map(|d| format!(" --dir {}", shell_word(d)))
            .unwrap_or_default();
        Some(format!(
            "quorum: session {} is {state}; resume it with: quorum resume {}{dir}",
            s.id, s.id
        ))
    }

    fn open_editor(&mut self, purpose: EditorPurpose, title: &str, text: &str) {
        let area = text_area(&self.theme, title, text);
        self.overlay = Some(Overlay::Editor(Box::new(Editor {
            purpose,
            title: title.to_string(),
            area,
        })));
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

    /// [`Event::Resumed`]: the stored session is folded as if it had been
    /// watched live, and each transcript view pages in its last stored lines.
    fn on_resumed(
        &mut self,
        events: &[crate::protocol::LoggedEvent],
        lines: u64,
        agent_lines: &std::collections::BTreeMap<String, u64>,
    ) {
        self.session = SessionView::default();
        self.metrics = Metrics::default();
        self.search = None;
        self.transcripts = Transcripts::new(self.agents.iter().map(|a| a.name.clone()).collect());
        self.commit_message = None;
        self.files = FilesState::default();
        self.conflicts = ConflictsState::default();
        self.control = Control::default();
        for e in events {
            self.session.apply(e);
            self.metrics.apply(e);
        }
        if self.session.status == Some(SessionStatus::Failed) {
            self.files.failed_before = Some(
                self.session
                    .errors
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "the session failed".to_string()),
            );
        }
        self.metrics.anchor(Instant::now());
        // As after typing the prompt: it is shown, and keys go to the session.
        self.prompt = prompt_area(&self.theme, &self.session.prompt);
        self.focus = Focus::Transcript;
        for page in self.transcripts.resume_at(lines, agent_lines) {
            self.request_page(Some(page));
        }
        let id = events
            .first()
            .map(|e| e.session.short().to_string())
            .unwrap_or_default();
        self.toast(
            format!("resuming session {id} after event {}", events.len()),
            false,
        );
    }

    /// Whether `event`, once taken, leaves the screen as it is: durable
    /// copies of lines that tokens already showed
    /// ([`Transcripts::settles_streamed`](super::transcript::Transcripts::settles_streamed))
    /// while the transcript follows its live end. The committer releases
    /// them after its flush, up to 250 ms after their tokens, at times of
    /// its own; the run loop draws no frame for them alone (a frame for
    /// them would change nothing on screen, and would move the next frame
    /// off the beat of the streamed text, which then waits for a timer).
    pub fn leaves_screen_as_is(&self, event: &Event) -> bool {
        let Event::TranscriptAppended { lines } = event else {
            return false;
        };
        let window = self.transcripts.window();
        window.following && window.at_live_end() && self.transcripts.settles_streamed(lines)
    }

    /// An event from the orchestrator.
    pub fn on_event(&mut self, event: Event) {
        match event {
            Event::Resumed {
                events,
                lines,
                agent_lines,
            } => self.on_resumed(&events, lines, &agent_lines),
            Event::Logged(e) => {
                if matches!(e.body, EventBody::SessionStarted { .. }) {
                    self.session = SessionView::default();
                    self.metrics = Metrics::default();
                    self.search = None;
                    self.transcripts =
                        Transcripts::new(self.agents.iter().map(|a| a.name.clone()).collect());
                    self.commit_message = None;
                    self.files = FilesState::default();
                    self.conflicts = ConflictsState::default();
                    self.control = Control::default();
                }
                self.session.apply(&e);
                self.on_control_event(&e.body);
                self.metrics.apply(&e);
                self.metrics.anchor(Instant::now());
                match &e.body {
                    EventBody::PhaseStarted { kind, .. }
                        if kind == "resolve"
                            && self.options.confirm_decisions
                            && self.session.open_conflicts() > 0 =>
                    {
                        self.toast("the session waits for your decisions: press c", false);
                    }
                    // Every open question is announced, the next one
                    // once one is answered (the status bar keeps it).
                    EventBody::QuestionAsked { .. } | EventBody::QuestionAnswered { .. } => {
                        if let Some(waiting) = self.questions_status() {
                            self.toast(waiting, false);
                        } else if matches!(e.body, EventBody::QuestionAnswered { .. }) {
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
                    EventBody::RepairDeclined { agent, reason, .. } => self.toast(
                        format!("{agent} declined the repair: {reason} (the chair decides)"),
                        true,
                    ),
                    _ => {}
                }
            }
            Event::Token { agent, task, text } => {
                self.metrics.on_token(&agent, &task, &text, Instant::now());
                self.transcripts.on_token(&agent, &task, &text);
            }
            Event::TranscriptAppended { lines } => self.transcripts.on_lines(&lines),
            Event::TranscriptPage {
                req,
                agent,
                lines,
                total,
            } => self.transcripts.on_page(req, &agent, &lines, total),
            Event::FileLoaded { req, file } => {
                if let Some(p) = self.files.preview.as_mut().filter(|p| p.req == req) {
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
            Event::FileEdited { path, bytes } => {
                if let Some(f) = self.session.files.get_mut(&path) {
                    f.bytes = bytes;
                }
                self.toast(format!("{path}: your edit is staged and accepted"), false);
                if self.files.preview.as_ref().is_some_and(|p| p.path == path) {
                    self.files.preview = None;
                    if self.screen == Screen::Files {
                        self.load_selected_file();
                    }
                }
            }
            // Sent again when the person accepts, rejects or edits a file:
            // the prefill follows, unless they wrote their own message.
            Event::DeliveryReady { message } if self.files.generated_message.is_some() => {
                if self.commit_message == self.files.generated_message {
                    self.commit_message = Some(message.clone());
                }
                self.files.generated_message = Some(message);
            }
            Event::DeliveryReady { message } => {
                self.files.generated_message = Some(message.clone());
                self.commit_message = Some(message);
                match (self.tests_verdict(), self.files.failed_before.clone()) {
                    (Some(verdict), None) => self.toast(verdict, true),
                    (verdict, Some(failure)) => {
                        let next = verdict.unwrap_or_else(|| self.ready_status());
                        self.toast(
                            format!("this session had failed: {failure} — it waits at deliver again; {next}"),
                            true,
                        )
                    }
                    (None, None) => {
                        let ready = self.ready_status();
                        self.toast(ready, false)
                    }
                }
            }
            Event::Memory { agent, notes } => self.on_memory(&agent, notes),
            Event::SearchResults {
                req,
                agent,
                query,
                positions,
                truncated,
            } => self.on_search_results(req, agent, query, positions, truncated),
            Event::SessionsListed { req, sessions } => self.past.on_list(req, sessions),
            Event::SessionLoaded {
                req,
                session,
                events,
            } => self.past.on_loaded(req, &session, events),
            Event::Rejected { op, reason } => {
                if op == "search" {
                    self.search = None;
                }
                self.on_control_rejected(&op, &reason);
                if op == "commit" && reason.contains("secret") {
                    self.files.secrets_blocked = Some(reason.clone());
                    let key = self
                        .keymap
                        .key_for(Context::Files, crate::config::keymap::Action::CommitAnyway)
                        .unwrap_or("!");
                    self.toast(
                        format!("commit: {reason} — in files, {key} commits them anyway"),
                        true,
                    );
                } else {
                    self.toast(format!("{op}: {reason}"), true)
                }
            }
            Event::Fatal { message } => self.toast(message, true),
            Event::Closed => self.closed = true,
        }
    }
}
