//! The TUI (ratatui + crossterm): one run loop — a `tokio::select!` over
//! terminal input, orchestrator events, signals and the next frame's or
//! spinner's deadline. Handlers only update the [`app::App`] and mark the
//! screen dirty; frames are drawn at most every [`FRAME`] after the person's
//! input and every [`STREAM_FRAME`] after the orchestrator's events alone. While
//! a frame is pending, events wait in their channel and are all taken just
//! before it is drawn: a stream of tokens wakes the TUI once per frame, not
//! once per token, and a flood costs one frame; but the text that ends a
//! call's stream is drawn at once ([`StreamEnds`]). Events that change nothing
//! on screen (durable copies of streamed lines, [`App::leaves_screen_as_is`])
//! ask for no frame. An idle screen wakes nothing
//! up (no timer runs unless a spinner or a message is on screen). The terminal
//! itself (modes, suspend, `$EDITOR`, the byte counter) is in [`terminal`];
//! frames are written by [`screen`], which scrolls the transcript's rows in
//! the terminal instead of rewriting them.
//!
//! The TUI never calls a provider, sled or git2: it sends `Op`s and renders
//! `Event`s (docs/design.md §4).

pub mod app;
pub mod bell;
pub mod frame;
pub mod highlight;
pub mod metrics;
pub mod overlays;
pub mod screen;
pub mod screens;
pub mod search;
pub mod status;
pub mod terminal;
pub mod theme;
pub mod transcript;
pub mod widgets;

/// The key table lives in `config` (a bad `[keys]` entry is a config error
/// with its line, exit 2, before anything starts); the TUI reads it here.
pub use crate::config::keymap;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::time::Instant;

use self::app::{AgentInfo, App, EstimateBasis, External, UiOptions};
use self::terminal::TerminalGuard;
use crate::config::Settings;
use crate::config::keymap::Keymap;
use crate::config::workflow::Workflow;
use crate::protocol::{Channels, Event, EventBody, Op, SessionStatus};
use crate::tui::theme::{ColorDepth, Theme};

/// Shortest time between two frames after the person's input (keys, paste,
/// mouse, a resize): at most 60 frames per second.
pub const FRAME: Duration = Duration::from_millis(16);

/// Shortest time between two frames (start to start) when only the
/// orchestrator's events (streamed tokens, lines, state changes) or the
/// spinner changed the screen: 30 frames per second. Streamed text looks as
/// smooth, and each frame (its render and its bytes on an SSH link) is paid
/// half as often. A call forwards its text less often ([`DELTA_SPACING`]),
/// so each delta finds its frame due and is drawn as it arrives; the text
/// that ends a stream, which may come sooner, is drawn at once.
pub const STREAM_FRAME: Duration = Duration::from_millis(33);

/// The least time between two streamed deltas of one call: a call forwards
/// its text at most every `orchestrator::call::DELTA_INTERVAL` (50 ms; the
/// TUI does not import the orchestrator, docs/architecture.md), but the
/// text that ends its stream at once.
pub const DELTA_SPACING: Duration = Duration::from_millis(50);

/// What the session sends to the terminal besides frames: the bytes written
/// and tokens streamed when the session began, for the log's figures at its
/// end, and the notifications ([`bell`]); and when each task's streamed text
/// last came ([`StreamEnds`]).
struct SessionOutput {
    bytes_at_start: u64,
    tokens_at_start: u64,
    notifier: bell::Notifier,
    ends: StreamEnds,
}

impl SessionOutput {
    /// Nothing written yet; notifications as `[notify]`, `[ui]
    /// confirm_decisions` and the environment (`NO_COLOR`, `TMUX`) say.
    fn new(setup: &Setup) -> SessionOutput {
        SessionOutput {
            bytes_at_start: 0,
            tokens_at_start: 0,
            ends: StreamEnds::default(),
            notifier: bell::Notifier::new(
                &setup.settings.notify,
                setup.settings.ui.confirm_decisions,
                setup.run_notify_command,
                setup.dir.clone(),
                &|k| std::env::var(k).ok(),
            ),
        }
    }
}

/// When each task's streamed text last came, by task. A token event that
/// comes sooner than [`DELTA_SPACING`] after the one before it of its task
/// ends its call's stream (only a stream's end is forwarded that soon): it
/// is drawn at once, not at the end of the frame interval, so a reply's
/// last word is on screen as soon as it arrives (issue 20).
#[derive(Debug, Default)]
pub struct StreamEnds(std::collections::HashMap<String, Instant>);

impl StreamEnds {
    /// Notes `event`, taken at `now`; whether it ends a call's stream.
    pub fn ends(&mut self, event: &Event, now: Instant) -> bool {
        let Event::Token { task, .. } = event else {
            return false;
        };
        let recent = |at: &Instant| now.saturating_duration_since(*at) < DELTA_SPACING;
        if let Some(at) = self.0.get_mut(task) {
            let ends = recent(at);
            *at = now;
            return ends;
        }
        // Tasks that stopped streaming are forgotten, a few dozen at a time.
        if self.0.len() >= 64 {
            self.0.retain(|_, at| recent(at));
        }
        self.0.insert(task.clone(), now);
        false
    }
}

/// Takes every orchestrator event already waiting into the app: before a
/// frame (they waited for it), and before the person's input is handled, so
/// that a key acts on the state the events that came before it made (a `q`
/// right after the session's end must see it ended). Returns whether any
/// came (or the channel closed).
fn take_waiting_events(
    app: &mut App,
    guard: &TerminalGuard,
    out: &mut SessionOutput,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
) -> bool {
    let mut took = false;
    loop {
        match events.try_recv() {
            Ok(event) => {
                take_event(app, guard, out, event);
            }
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => return took,
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                if !app.run.closed {
                    app.on_event(Event::Closed);
                }
                return true;
            }
        }
        took = true;
    }
}

/// Takes one orchestrator event into the app (and notes the terminal output
/// at the session's start and end for the log); a notice it gives waits in
/// `out.notifier` for the next frame ([`bell`]); whether it ends a call's
/// stream ([`StreamEnds`]).
fn take_event(app: &mut App, guard: &TerminalGuard, out: &mut SessionOutput, event: Event) -> bool {
    out.notifier.take(&event);
    let ends = out.ends.ends(&event, Instant::now());
    if let Event::Logged(e) = &event {
        match &e.body {
            EventBody::SessionStarted { .. } => {
                out.bytes_at_start = guard.bytes_written();
                out.tokens_at_start = app.screens.metrics.token_events;
            }
            EventBody::SessionFinished { .. } => {
                let bytes = guard.bytes_written() - out.bytes_at_start;
                let tokens = app
                    .screens
                    .metrics
                    .token_events
                    .saturating_sub(out.tokens_at_start);
                tracing::info!(
                    bytes_to_terminal = bytes,
                    token_events = tokens,
                    bytes_per_token = bytes as f64 / tokens.max(1) as f64,
                    "terminal output of the session"
                );
            }
            EventBody::SessionResumed { .. }
            | EventBody::InstructionsRead { .. }
            | EventBody::RepoMap { .. }
            | EventBody::PhaseStarted { .. }
            | EventBody::PhaseFinished { .. }
            | EventBody::QuestionAsked { .. }
            | EventBody::QuestionAnswered { .. }
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
            | EventBody::RepairDeclined { .. }
            | EventBody::TaskSummary { .. }
            | EventBody::Finding { .. }
            | EventBody::CommitCreated { .. }
            | EventBody::Error { .. } => {}
        }
    }
    app.on_event(event);
    ends
}

/// What the TUI needs to start.
pub struct Setup {
    /// Validated settings (roster, providers, UI options, key overrides).
    pub settings: Arc<Settings>,
    /// The workflow (for the phase counter).
    pub workflow: Workflow,
    /// The theme, as configured (adapted to the terminal's colours by [`run`]).
    pub theme: Theme,
    /// The target directory.
    pub dir: PathBuf,
    /// A prompt to start with at once.
    pub prompt: Option<String>,
    /// A stored session to resume at once (`quorum resume`): its id or
    /// prefix, or `None` inside for the newest resumable one.
    pub resume: Option<Option<String>>,
    /// Why this machine cannot confine model-written code, when it cannot and
    /// `--allow-unconfined-tests` was not given: the TUI then asks before a
    /// session starts (docs/sandbox.md).
    pub unconfined: Option<String>,
    /// The sandbox probe runs on a thread of its own: `unconfined` is known
    /// once [`crate::workspace::sandbox::probe_if_done`] answers.
    pub unconfined_pending: bool,
    /// The offline (simulated) team runs only because no provider is
    /// configured (not `--offline`): a prompt for what its demo is not ends
    /// the session `demo` ([`crate::protocol::SessionOptions::unbuilt`]).
    pub implicit_demo: bool,
    /// The channels are a connection to `quorum serve`: a hangup, a closed
    /// terminal or `Ctrl-\\` detaches instead of interrupting the session.
    pub client: bool,
    /// This process hosts the orchestrator, so it runs the person's
    /// `[notify] command` with each notice ([`crate::notify`]); a TUI that is
    /// a server's client leaves it to the server.
    pub run_notify_command: bool,
}

/// Builds the initial [`App`] for a setup: the roster with budgets, the
/// phases, the provider label, the `[ui]` options and the `[keys]` overrides
/// (already validated with the settings; an invalid table falls back to the
/// defaults).
pub fn app_for(setup: &Setup) -> App {
    let settings = &setup.settings;
    let agents = settings
        .agents
        .iter()
        .map(|a| AgentInfo {
            name: a.name.clone(),
            provider: settings.provider_label(a),
            model: a.model.model.clone(),
            budget_usd: a.budget_usd,
            models: std::iter::once(&a.model)
                .chain(&a.fallback)
                .map(|m| m.to_string())
                .collect(),
        })
        .collect();
    let phases = setup
        .workflow
        .phases
        .iter()
        .map(|p| (p.name.clone(), p.kind.as_str().to_string()))
        .collect();
    let label = if settings.offline_demo() {
        // The header says what the unscripted offline team builds.
        "offline (simulated) demo team".to_string()
    } else if settings.all_offline() {
        crate::config::OFFLINE_LABEL.to_string()
    } else {
        let mut names: Vec<String> = settings.providers.values().map(|p| p.label()).collect();
        names.sort();
        names.dedup();
        names.join(", ")
    };
    let mut app = App::new(
        setup.theme.clone(),
        agents,
        phases,
        label,
        setup.dir.display().to_string(),
        UiOptions {
            confirm_decisions: settings.ui.confirm_decisions,
            mouse: settings.ui.mouse,
        },
    );
    app.keymap = Keymap::default()
        .with_overrides(&settings.keys)
        .unwrap_or_default();
    app.gate.unconfined = setup.unconfined.clone();
    app.gate.unconfined_pending = setup.unconfined_pending;
    app.gate.implicit_demo = setup.implicit_demo;
    app.gate.estimate = Some(EstimateBasis {
        settings: Arc::clone(&setup.settings),
        workflow: setup.workflow.clone(),
        project_tokens: Arc::default(),
    });
    app
}

/// Reads how much of DIR's project the agents would be shown, on a thread
/// of its own (it lists DIR and reads its key files), into the estimate's
/// basis (docs/tui.md, "Cost estimate").
fn read_project_size(app: &App, setup: &Setup) {
    let Some(basis) = &app.gate.estimate else {
        return;
    };
    let cell = Arc::clone(&basis.project_tokens);
    let dir = setup.dir.clone();
    let map_tokens = setup.settings.session.map_tokens;
    let spawned = std::thread::Builder::new()
        .name("project-size".into())
        .spawn(move || {
            let state = crate::workspace::state_dir::StateDir::location(&dir, None);
            let tokens = crate::workspace::Workspace::new(&dir, &state).shown_tokens(map_tokens);
            let _ = cell.set(tokens);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot read the project's size for the estimate");
    }
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

impl App {
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
            Some(SessionStatus::Failed) => self.screens.commit_message.is_some(),
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
}

/// Resolves on SIGHUP (the SSH link dropped: `true`) or SIGTERM (`false`).
async fn hangup() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut hup), Ok(mut term)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
        ) {
            return tokio::select! {
                _ = hup.recv() => true,
                _ = term.recv() => false,
            };
        }
    }
    futures::future::pending::<bool>().await
}

/// A stream of SIGCONT (the process was stopped from outside and continued):
/// the screen may hold anything, so it is redrawn whole.
struct Continued {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Continued {
    fn new() -> Self {
        Continued {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
                libc::SIGCONT,
            ))
            .ok(),
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = self.signal.as_mut() {
            s.recv().await;
            return;
        }
        futures::future::pending::<()>().await;
    }
}

/// Runs the person's editor on a private temporary copy of `content` named
/// like `name` (so that the editor picks the right syntax), with the terminal
/// handed over and taken back; returns the text it left, or why not.
async fn edit_copy(
    name: &str,
    content: &str,
    guard: &mut TerminalGuard,
) -> io::Result<Result<String, String>> {
    let editor = terminal::editor_command(&|k| std::env::var(k).ok());
    // The temporary copy is written, read and removed on the blocking
    // pool, never on the UI's task.
    let (n, c) = (name.to_string(), content.to_string());
    let made = tokio::task::spawn_blocking(move || terminal::TempCopy::new(&n, &c))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| format!("cannot make a temporary copy: {e}")));
    Ok(match made {
        Ok(copy) => {
            guard.leave();
            let ran = terminal::run_editor(&editor, &copy.path).await;
            guard.resume()?;
            let read = tokio::task::spawn_blocking(move || {
                let text = copy.read().map_err(|e| e.to_string());
                drop(copy);
                text
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            ran.and(read)
        }
        Err(e) => Err(e),
    })
}

/// The terminal's input, read by a task of its own and handed over through a
/// channel. crossterm's `EventStream` tries its global reader's lock each time
/// it is polled (spinning and yielding while its reader thread holds it), and
/// a `select!` polls every branch at each wake-up: polled in the loop's
/// `select!`, it cost each streamed token's wake-up about as much as drawing.
/// Here it is polled only when input arrived.
struct Input {
    events: tokio::sync::mpsc::UnboundedReceiver<io::Result<TermEvent>>,
    task: tokio::task::JoinHandle<()>,
}

impl Input {
    fn start() -> Input {
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut stream = EventStream::new();
            while let Some(event) = stream.next().await {
                let (event, after) = match event {
                    Ok(TermEvent::Paste(text)) => {
                        let (text, after) = paste_tail(text, &mut stream).await;
                        (Ok(TermEvent::Paste(text)), after)
                    }
                    other => (other, None),
                };
                if tx.send(event).is_err() {
                    break;
                }
                if let Some(after) = after
                    && tx.send(after).is_err()
                {
                    break;
                }
            }
            // The terminal is gone: the channel closes.
        });
        Input { events, task }
    }

    /// Stops reading (the stream is dropped once this returns), so that the
    /// editor or the shell gets every key.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// How long after a bracketed paste's end the next input still belongs to
/// it: the terminal writes a paste in one burst, a person's next key comes
/// far later.
const PASTE_TAIL: Duration = Duration::from_millis(15);

/// A bracketed paste ends at the first end marker (`ESC[201~`) the terminal
/// sends, also one that was inside the pasted text: crossterm then reports
/// the rest of the paste as typed keys, and a newline in it as `Enter`, which
/// would start a session on half a paste. So the keys that follow the paste
/// at once ([`PASTE_TAIL`]) are taken into its text (characters as they are,
/// `Enter` as a newline, `Tab` as a tab, a further paste appended); the first
/// other input ends the paste and is returned to be handled after it.
async fn paste_tail(
    mut text: String,
    stream: &mut EventStream,
) -> (String, Option<io::Result<TermEvent>>) {
    use crossterm::event::{KeyCode, KeyModifiers};
    loop {
        let next = match tokio::time::timeout(PASTE_TAIL, stream.next()).await {
            Ok(Some(next)) => next,
            Ok(None) | Err(_) => return (text, None),
        };
        match next {
            Ok(TermEvent::Paste(more)) => text.push_str(&more),
            Ok(TermEvent::Key(key)) if key.kind == KeyEventKind::Release => {}
            Ok(TermEvent::Key(key))
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                match key.code {
                    KeyCode::Char(c) => text.push(c),
                    KeyCode::Enter => text.push('\n'),
                    KeyCode::Tab => text.push('\t'),
                    _ => return (text, Some(Ok(TermEvent::Key(key)))),
                }
            }
            other => return (text, Some(other)),
        }
    }
}

/// Runs what [`crate::tui::app::RunLoop::external`] asks for, with the terminal handed over and
/// taken back; the input stream is stopped meanwhile so that it cannot steal
/// the editor's or the shell's keys.
async fn run_external(
    external: External,
    guard: &mut TerminalGuard,
    input: &mut Option<Input>,
    app: &mut App,
) -> io::Result<()> {
    if let Some(reading) = input.take() {
        reading.stop().await;
    }
    match external {
        External::Suspend => guard.suspend()?,
        External::Edit { path, content } => {
            let edited = edit_copy(&path, &content, guard).await?;
            app.edited(&path, &content, edited);
        }
        External::EditMemory { agent, notes } => {
            let edited = edit_copy(&format!("{agent}-memory.md"), &notes, guard).await?;
            app.memory_edited(&agent, &notes, edited);
        }
    }
    *input = Some(Input::start());
    Ok(())
}

/// Runs the TUI on a running orchestrator's channels until the person quits;
/// returns the exit code of the session's end (0 when no session ran).
pub async fn run(channels: Channels, setup: Setup) -> io::Result<i32> {
    let Channels {
        ops,
        mut events,
        stopped,
    } = channels;
    let (mut app, setup) = start(setup);
    let mut guard = TerminalGuard::enter(app.about.options.mouse)?;
    let mut input = Some(Input::start());
    // Something changed since the last frame; `urgent`: the person did it;
    // `at_once`: a call's stream ended ([`StreamEnds`]).
    let mut dirty = true;
    let mut urgent = true;
    let mut at_once = false;
    let mut last_frame: Option<Instant> = None;
    let hup = hangup();
    tokio::pin!(hup);
    let mut continued = Continued::new();
    let mut output = SessionOutput::new(&setup);
    // The frame's and the spinner's timers, moved rather than made anew on
    // each turn of the loop: a new timer takes the runtime's timer lock
    // twice (in and out) and, when it is the earliest, wakes the worker
    // thread that waits on the timers to re-arm its wait.
    let frame_timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(frame_timer);
    let wake_timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(wake_timer);
    loop {
        send_outbox(&mut app, &ops);
        if app.run.quit {
            break;
        }
        take_probe(&mut app);
        if let Some(external) = app.run.external.take() {
            run_external(external, &mut guard, &mut input, &mut app).await?;
            (dirty, urgent) = (true, true);
            continue;
        }
        let due = match last_frame {
            Some(at) if !at_once => at + if urgent { FRAME } else { STREAM_FRAME },
            _ => Instant::now(),
        };
        let now = Instant::now();
        if dirty && now >= due {
            // The events that waited for this frame, all of them.
            take_waiting_events(&mut app, &guard, &mut output, &mut events);
            draw_frame(&mut app, &mut guard, now)?;
            // After the frame, never inside it.
            output.notifier.write_to(guard.terminal.backend_mut())?;
            (dirty, urgent, at_once) = (false, false, false);
            // Frames are spaced from start to start: text forwarded every
            // `DELTA_INTERVAL` (a little over `STREAM_FRAME`) then finds its
            // frame due and is drawn as it arrives, with no timer to wait on.
            last_frame = Some(now);
            // An event taken for the frame may have ended the TUI.
            if app.run.quit {
                continue;
            }
        }
        let wake = app
            .next_wake(std::time::Instant::now())
            .map(Instant::from_std);
        rearm(wake_timer.as_mut(), wake);
        rearm(frame_timer.as_mut(), dirty.then_some(due));
        let reading = input.as_mut();
        tokio::select! {
            term = async {
                match reading {
                    Some(i) => i.events.recv().await,
                    None => futures::future::pending().await,
                }
            } => {
                // What happened before the input comes first.
                if !app.run.closed {
                    dirty |= take_waiting_events(&mut app, &guard, &mut output, &mut events);
                }
                if on_input(&mut app, &mut guard, term)? {
                    (dirty, urgent) = (true, true);
                }
            },
            // While a frame is pending the events wait: they are taken just
            // before it is drawn. A closed channel is not polled again.
            event = events.recv(), if !dirty && !app.run.closed => {
                dirty = match event {
                    Some(event) => {
                        // Durable copies of streamed lines change nothing
                        // on screen: no frame for them alone.
                        let as_is = app.leaves_screen_as_is(&event);
                        at_once |= take_event(&mut app, &guard, &mut output, event);
                        // A notice is written after the next frame.
                        !as_is || output.notifier.pending()
                    }
                    None => {
                        // A server that stopped or died says nothing more.
                        app.on_event(Event::Closed);
                        true
                    }
                };
            }
            hangup = &mut hup => signalled(&mut app, hangup),
            _ = continued.recv() => {
                guard.resume()?;
                (dirty, urgent) = (true, true);
            }
            _ = &mut wake_timer, if wake.is_some() => {
                dirty |= app.tick(std::time::Instant::now());
            }
            _ = &mut frame_timer, if dirty => {}
        }
    }
    send_outbox(&mut app, &ops);
    if let Some(reading) = input.take() {
        reading.stop().await;
    }
    drop(guard);
    finish(app, &ops, events, stopped, &setup).await
}

/// Sends the ops the app's update left in its outbox.
fn send_outbox(app: &mut App, ops: &tokio::sync::mpsc::UnboundedSender<Op>) {
    for op in app.outbox.drain(..) {
        let _ = ops.send(op);
    }
}

/// Takes the answer of the sandbox probe, started beside the TUI
/// (docs/sandbox.md), once it is there.
fn take_probe(app: &mut App) {
    if app.gate.unconfined_pending
        && let Some(answer) = crate::workspace::sandbox::probe_if_done()
    {
        app.gate.unconfined = answer.err();
        app.gate.unconfined_pending = false;
    }
}

/// Moves `timer` to `at`, when there is a new deadline: a timer is moved
/// rather than made anew on each turn of the loop.
fn rearm(timer: std::pin::Pin<&mut tokio::time::Sleep>, at: Option<Instant>) {
    if let Some(at) = at
        && at != timer.deadline()
    {
        timer.reset(at);
    }
}

/// Draws a frame at `now`.
fn draw_frame(app: &mut App, guard: &mut TerminalGuard, now: Instant) -> io::Result<()> {
    app.before_frame(now.into_std());
    guard.draw(|frame| {
        frame::draw(app, frame);
        screen::Rendered {
            scroll_band: app.frame.scroll_band.clone(),
            cursor: None,
        }
    })?;
    // Debug builds only: lets the end-to-end tests prove that a panic
    // restores the terminal. Release builds do not contain this.
    #[cfg(debug_assertions)]
    if std::env::var_os("QUORUM_DEBUG_PANIC").is_some() {
        panic!("QUORUM_DEBUG_PANIC: a deliberate panic after the first frame");
    }
    Ok(())
}

/// What the TUI starts with: the theme adapted to the terminal's colours,
/// the app, and the session to start or resume at once.
fn start(setup: Setup) -> (App, Setup) {
    let depth = ColorDepth::detect(&|k| std::env::var(k).ok());
    let setup = Setup {
        theme: setup.theme.for_depth(depth),
        ..setup
    };
    let mut app = app_for(&setup);
    app.about.client = setup.client;
    tracing::info!(
        colours = depth.as_str(),
        theme = app.theme.name(),
        "tui started"
    );
    highlight::warm_up();
    read_project_size(&app, &setup);
    if let Some(prompt) = &setup.prompt {
        app.submit_prompt(prompt);
    }
    if let Some(session) = &setup.resume {
        app.outbox.push(Op::Resume {
            session: session.clone(),
            interactive: true,
            allow_overwrite: false,
            allow_secrets: false,
        });
    }
    (app, setup)
}

/// SIGHUP (`hangup`): the terminal is gone ([`hung_up`]); SIGTERM: asked to
/// end, the session is interrupted (resumable).
fn signalled(app: &mut App, hangup: bool) {
    if hangup {
        hung_up(app);
    } else {
        app.outbox.push(Op::Interrupt);
        app.run.quit = true;
    }
}

/// The terminal hung up (SIGHUP, a closed pty): a client of
/// `quorum serve` detaches and the session goes on; a TUI that runs its
/// session itself interrupts it (resumable).
fn hung_up(app: &mut App) {
    if app.about.client {
        app.run.detached = true;
    } else {
        app.outbox.push(Op::Interrupt);
    }
    app.run.quit = true;
}

/// The person's input (a key, a paste, the mouse, a resize) into the app;
/// returns whether the screen changed. A closed terminal stops the TUI like
/// an interrupt.
fn on_input(
    app: &mut App,
    guard: &mut TerminalGuard,
    term: Option<io::Result<TermEvent>>,
) -> io::Result<bool> {
    match term {
        Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => app.on_key(key),
        Some(Ok(TermEvent::Paste(text))) => app.on_paste(&text),
        Some(Ok(TermEvent::Mouse(mouse))) => app.on_mouse(mouse),
        Some(Ok(TermEvent::Resize(_, _))) => guard.terminal.autoresize()?,
        Some(Ok(_)) => return Ok(false),
        // The terminal is gone (closed pty): stop like an interrupt.
        Some(Err(_)) | None => {
            hung_up(app);
            return Ok(false);
        }
    }
    Ok(true)
}

/// After the loop, with the terminal given back: the orchestrator is shut down and its last events (the session's end status)
/// taken, and an unfinished session says how to go on with it. Returns the
/// exit code of the session's end.
async fn finish(
    mut app: App,
    ops: &tokio::sync::mpsc::UnboundedSender<Op>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    stopped: crate::protocol::Stopped,
    setup: &Setup,
) -> io::Result<i32> {
    if app.run.detached {
        return Ok(detached(app, events, stopped).await);
    }
    let _ = ops.send(Op::Shutdown);
    // Take the session's last events (its end status), then stop.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        let closed = event == Event::Closed;
        app.on_event(event);
        if closed {
            break;
        }
    }
    stopped.await;
    // A client that left while other terminals watch: the session goes on.
    if app.about.client && app.session.running() {
        say_detached(&app.session.id);
        return Ok(crate::protocol::exit::OK);
    }
    // The terminal is back (the alternate screen left): an unfinished
    // session says how to go on with it.
    let here = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .ok()
        .is_some_and(|d| setup.dir.canonicalize().is_ok_and(|dir| dir == d));
    let dir = setup.dir.display().to_string();
    if let Some(hint) = app.resume_hint((!here).then_some(dir.as_str())) {
        use std::io::Write as _;
        let _ = writeln!(io::stderr(), "{hint}");
    }
    Ok(app.exit_code())
}

/// A client that detached: the connection is closed and the session goes
/// on in the server; says how to come back. Exit 0.
async fn detached(
    app: App,
    events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    stopped: crate::protocol::Stopped,
) -> i32 {
    // The connection closes with the process: nothing to wait for.
    drop((events, stopped));
    if app.session.running() {
        say_detached(&app.session.id);
    }
    crate::protocol::exit::OK
}

/// Says on stderr that the session goes on in the server without this TUI.
fn say_detached(id: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        io::stderr(),
        "quorum: detached; session {} goes on in the server: `quorum attach` to come back",
        crate::sanitize::line(id)
    );
}
