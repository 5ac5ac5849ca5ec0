//! The TUI's model and update (The Elm Architecture): [`App`] is the whole
//! state; [`App::on_key`], [`App::on_paste`], [`App::on_mouse`] and
//! [`App::on_event`] are the update; the ops they produce wait in
//! [`App::outbox`] for the run loop to send, and what needs the terminal
//! itself (suspending, running `$EDITOR`) waits in [`RunLoop::external`]. No I/O
//! happens here, so every key → op flow is testable without a terminal.
//!
//! Here: the state shared by every screen (the screen, the focus, the
//! overlay, the outbox, the session's fold), and the routing: a key goes to
//! the overlay on top, then to the prompt editor, then to the key table's
//! action, which the screen it belongs to handles; an event updates the
//! fold and whatever screen or overlay it answers. Each screen's state, keys
//! and drawing are in [`super::screens`], each overlay's in
//! [`super::overlays`].

use std::time::{Duration, Instant};

mod parts;
mod stored;
pub use parts::{About, EstimateBasis, RunLoop, Screens, StartGate};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui_textarea::TextArea;

pub use super::overlays::editor::{Editor, EditorPurpose};
pub use super::screens::conflicts::ConflictsState;
pub use super::screens::files::{FilesState, Preview};
pub use super::screens::main::PromptHistory;

use super::keymap::{Action, Context, Keymap};
use super::metrics::Metrics;
use super::overlays::budget::Control;
use super::overlays::memory::MemoryView;
use super::overlays::models::ModelPicker;
use super::overlays::palette::Palette;
use super::screens::main::prompt_area;
use super::search::Search;
use super::theme::Theme;
use super::transcript::Transcripts;
use crate::protocol::SessionView;
use crate::protocol::{Event, EventBody, LoggedEvent, Op, RequestId, SessionStatus, TaskState};

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
    /// before the session on `prompt` starts ([`StartGate::unconfined`]).
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
    /// What the session runs with.
    pub about: About,
    /// What a new session must pass first.
    pub gate: StartGate,
    /// The full-screen views' state.
    pub screens: Screens,
    /// What the run loop reads back.
    pub run: RunLoop,
    /// The roster.
    pub agents: Vec<AgentInfo>,
    /// The current screen.
    pub screen: Screen,
    /// The focused pane of the main screen.
    pub focus: Focus,
    /// The overlay, if any.
    pub overlay: Option<Overlay>,
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
    /// Transcript windows.
    pub transcripts: Transcripts,
    /// The transcript search, once one was asked for.
    pub search: Option<Search>,
    /// Pause, budgets: what the session's controls know.
    pub control: Control,
    /// The status-bar message.
    pub toast: Option<Toast>,
    /// Ops for the run loop to send.
    pub outbox: Vec<Op>,
    /// What the last frame measured.
    pub frame: FrameInfo,
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
            about: About {
                phases,
                provider_label,
                dir,
                options,
                client: false,
            },
            gate: StartGate::default(),
            screens: Screens::default(),
            run: RunLoop {
                next_req: 1,
                ..RunLoop::default()
            },
            screen: Screen::Main,
            focus: Focus::Prompt,
            overlay: None,
            prompt_history: PromptHistory::default(),
            session: SessionView::default(),
            transcripts: Transcripts::new(names),
            search: None,
            control: Control::default(),
            toast: None,
            outbox: Vec::new(),
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

    pub(crate) fn req(&mut self) -> RequestId {
        self.run.next_req += 1;
        self.run.next_req
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
            self.screens.metrics.advance(now);
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

    /// The exit code for the session's end (docs/design.md §5).
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

    /// Forgets the session shown: a new one starts, or a stored one is
    /// resumed.
    fn reset_session(&mut self) {
        self.session = SessionView::default();
        self.screens.metrics = Metrics::default();
        self.search = None;
        self.transcripts = Transcripts::new(self.agent_names());
        self.screens.commit_message = None;
        self.screens.files = FilesState::default();
        self.screens.conflicts = ConflictsState::default();
        self.control = Control::default();
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
            } => self.on_resumed_event(&events, lines, &agent_lines),
            Event::Attached {
                events,
                lines,
                agent_lines,
                files,
                delivery,
            } => self.on_attached(&events, (lines, &agent_lines), files, delivery),
            Event::Clients { attached } => self.run.clients = attached,
            Event::Logged(e) => self.on_logged(&e),
            Event::Token { agent, task, text } => {
                self.screens
                    .metrics
                    .on_token(&agent, &task, &text, Instant::now());
                self.transcripts.on_token(&agent, &task, &text);
            }
            Event::TranscriptAppended { lines } => self.transcripts.on_lines(&lines),
            Event::TranscriptPage {
                req,
                agent,
                lines,
                total,
            } => self.transcripts.on_page(req, &agent, &lines, total),
            Event::FileLoaded { req, file } => self.file_loaded(req, file),
            Event::FileDecided { path, accepted } => {
                if let Some(f) = self.session.files.get_mut(&path) {
                    f.accepted = accepted;
                }
            }
            Event::FileEdited { path, bytes } => self.file_edited(path, bytes),
            Event::DeliveryReady { message } => self.delivery_ready(message),
            Event::Memory { agent, notes } => self.on_memory(&agent, notes),
            Event::SearchResults {
                req,
                agent,
                query,
                positions,
                truncated,
            } => self.on_search_results(req, agent, query, positions, truncated),
            Event::SessionsListed { req, sessions } => self.screens.past.on_list(req, sessions),
            Event::SessionLoaded {
                req,
                session,
                events,
            } => self.screens.past.on_loaded(req, &session, events),
            Event::Rejected { op, reason } => {
                if op == "search" {
                    self.search = None;
                }
                self.on_control_rejected(&op, &reason);
                if op == "commit" && reason.contains("secret") {
                    self.commit_refused_for_secrets(&reason);
                } else {
                    self.toast(format!("{op}: {reason}"), true)
                }
            }
            Event::Fatal { message } => self.toast(message, true),
            Event::Closed => {
                self.run.closed = true;
                // The server could not be reached: nothing to show; the
                // command says why once the terminal is back.
                if self.about.client && self.session.id.is_empty() {
                    self.run.quit = true;
                    return;
                }
                if self.about.client && !self.run.quit {
                    self.toast(
                        "the server stopped (quorum serve --stop, or it failed): q quits; `quorum resume` continues the session".to_string(),
                        true,
                    );
                }
            }
        }
    }

    /// A durable event: folded into the session and its metrics; the
    /// controls and the status bar take what concerns them.
    fn on_logged(&mut self, e: &LoggedEvent) {
        if matches!(e.body, EventBody::SessionStarted { .. }) {
            self.reset_session();
        }
        self.session.apply(e);
        self.on_control_event(&e.body);
        self.screens.metrics.apply(e);
        self.screens.metrics.anchor(Instant::now());
        self.announce(&e.body);
    }

    /// A key press: the overlay on top takes it first, then the prompt
    /// editor when it is focused, then the key table's action.
    pub fn on_key(&mut self, mut key: KeyEvent) {
        // Terminals send Ctrl-\ as the byte 0x1c, which crossterm reads as
        // Ctrl-4: one key, named as people know it.
        if key.code == KeyCode::Char('4') && key.modifiers == KeyModifiers::CONTROL {
            key.code = KeyCode::Char('\\');
        }
        let contexts = self.contexts();
        let action = self.keymap.action(&contexts, &key);
        match self.overlay.take() {
            Some(Overlay::Help { scroll }) => return self.help_key(scroll, key, action),
            Some(Overlay::ConfirmUnconfined { prompt }) => return self.unconfined_key(prompt, key),
            Some(Overlay::ConfirmCancel) => return self.confirm_cancel_key(key, action),
            Some(Overlay::ConfirmQuit) => return self.confirm_quit_key(key),
            Some(Overlay::Palette(palette)) => return self.palette_key(palette, key, action),
            Some(Overlay::Memory(view)) => return self.memory_key(view, key, action),
            Some(Overlay::Budget) => return self.budget_key(key, action),
            Some(Overlay::Models(picker)) => return self.models_key(picker, key, action),
            Some(Overlay::Editor(editor)) => return self.editor_key(editor, key, action),
            None => {}
        }
        if self.screen == Screen::Main && self.focus == Focus::Prompt {
            return self.prompt_key(key, action);
        }
        if let Some(action) = action {
            self.on_action(action);
        }
    }

    /// A bracketed paste: inserted into the focused editor, never submitted.
    ///
    /// A NUL byte is refused at once (git cannot hold it in a commit
    /// message, and no prompt needs one): nothing is inserted and the status
    /// bar says why.
    pub fn on_paste(&mut self, text: &str) {
        if text.contains('\0') {
            self.toast(
                "the pasted text holds a NUL byte (\\0), which a prompt cannot carry: nothing was pasted; remove it and paste again",
                true,
            );
            return;
        }
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        if self.overlay.is_none() && self.screen == Screen::Main && self.focus == Focus::Prompt {
            self.prompt_active = true;
        }
        match &mut self.overlay {
            Some(Overlay::Editor(editor)) => {
                editor.area.insert_str(&text);
            }
            Some(Overlay::Palette(p)) => {
                p.input.push_str(text.lines().next().unwrap_or(""));
                p.sel = 0;
            }
            Some(_) => {}
            None if self.screen == Screen::Main && self.focus == Focus::Prompt => {
                self.prompt.insert_str(&text);
            }
            None => {}
        }
    }

    /// A mouse event (only with `[ui] mouse = true`): the wheel scrolls what is under it.
    pub fn on_mouse(&mut self, event: MouseEvent) {
        if !self.about.options.mouse || self.overlay.is_some() {
            return;
        }
        let action = match event.kind {
            MouseEventKind::ScrollUp => Action::Up,
            MouseEventKind::ScrollDown => Action::Down,
            _ => return,
        };
        if self.screen == Screen::Main {
            let area = self.frame.transcript_area;
            let inside = event.column >= area.x
                && event.column < area.x + area.width
                && event.row >= area.y
                && event.row < area.y + area.height;
            if !inside {
                return;
            }
            let rows = u64::from(self.frame.transcript_rows);
            let req = if action == Action::Up {
                self.transcripts.scroll_up(3, rows)
            } else {
                self.transcripts.scroll_down(3, rows)
            };
            self.request_page(req);
            return;
        }
        if self.screen == Screen::Files {
            self.screens.files.scroll = if action == Action::Up {
                self.screens.files.scroll.saturating_sub(3)
            } else {
                self.screens.files.scroll.saturating_add(3)
            };
            return;
        }
        self.on_list(action);
    }

    /// What an action of the key table does: the ones that work everywhere
    /// here, the others in the screen or overlay they belong to.
    pub(crate) fn on_action(&mut self, action: Action) {
        match action {
            Action::CancelSession => self.cancel_or_quit(),
            Action::Suspend => self.run.external = Some(External::Suspend),
            Action::Detach => self.detach(),
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Palette => self.overlay = Some(Overlay::Palette(Default::default())),
            Action::Conflicts => self.screen = Screen::Conflicts,
            Action::Files => {
                self.screen = Screen::Files;
                self.load_selected_file();
            }
            Action::Metrics => self.screen = Screen::Metrics,
            Action::History => self.open_history(),
            Action::OpenSession => self.open_session(),
            Action::Answer => self.answer_question(),
            Action::Back => self.screen = Screen::Main,
            Action::Quit => {
                // With other terminals on the server's session, quitting
                // only leaves it: nothing to confirm.
                if self.session.running() && !self.others_attached() {
                    self.overlay = Some(Overlay::ConfirmQuit);
                } else {
                    self.run.quit = true;
                }
            }
            Action::Down
            | Action::Up
            | Action::Top
            | Action::Bottom
            | Action::PageUp
            | Action::PageDown => self.on_list(action),
            Action::FocusNext
            | Action::FocusPrev
            | Action::PauseTask
            | Action::CancelTask
            | Action::RetryTask
            | Action::PrevTab
            | Action::NextTab
            | Action::Follow
            | Action::Search
            | Action::SearchNext
            | Action::SearchPrev => self.main_action(action),
            Action::OptionPrev
            | Action::OptionNext
            | Action::Decide
            | Action::AcceptVotes
            | Action::Override
            | Action::NextOpen => self.conflicts_action(action),
            Action::Preview
            | Action::Diff
            | Action::ToggleAccept
            | Action::EditFile
            | Action::EditMessage
            | Action::Commit
            | Action::CommitAnyway => self.files_action(action),
            Action::PauseSession => self.toggle_pause(),
            Action::BudgetPrompt => self.show_budget_prompt(),
            Action::Memory => self.open_memory(),
            Action::RetryTaskOn => self.retry_on_another_model(),
            // The overlays' own keys (memory, budget prompt) and the
            // editors' keys are handled where they apply.
            Action::EditMemory
            | Action::RaiseBudget
            | Action::StopSession
            | Action::Submit
            | Action::Newline
            | Action::LeaveEditor => {}
        }
    }

    /// The list keys (Up/Down, Top/Bottom, PgUp/PgDn) on the current screen.
    pub(crate) fn on_list(&mut self, action: Action) {
        let page = self.frame.transcript_rows.max(2) as usize - 1;
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
            Screen::Main => self.main_list(action, page, step),
            Screen::Conflicts => self.conflicts_list(action, step),
            Screen::Files => self.files_list(action, page, step),
            Screen::History => {
                self.screens.past.sel = step(self.screens.past.sel, self.screens.past.list().len())
            }
            Screen::Metrics => {}
        }
    }
}
