//! The TUI (ratatui + crossterm): a terminal guard that restores the terminal on
//! every exit path (panics included), and one run loop — a `tokio::select!` over
//! terminal input, orchestrator events, signals and the next frame's deadline.
//! Handlers only update the [`app::App`] and mark the screen dirty; frames are
//! drawn at most every [`FRAME`], so a flood of events costs one frame.
//!
//! The TUI never calls a provider, sled or git2: it sends `Op`s and renders
//! `Event`s (DESIGN.md §4).

pub mod app;
pub mod highlight;
pub mod model;
pub mod transcript;
pub mod view;
pub mod views;

#[cfg(test)]
mod tests;

use std::io::{self, Stdout};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, Event as TermEvent, EventStream, KeyEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::time::Instant;

use self::app::{AgentInfo, App};
use crate::config::Settings;
use crate::config::theme::Theme;
use crate::config::workflow::Workflow;
use crate::orchestrator::OrchestratorHandle;
use crate::protocol::{Event, Op};

/// Shortest time between two frames (at most 60 frames per second).
pub const FRAME: Duration = Duration::from_millis(16);

/// What the TUI needs to start.
pub struct Setup {
    /// Validated settings (roster, providers, UI options).
    pub settings: Arc<Settings>,
    /// The workflow (for the phase counter).
    pub workflow: Workflow,
    /// The theme.
    pub theme: Theme,
    /// The target directory.
    pub dir: PathBuf,
    /// A prompt to start with at once.
    pub prompt: Option<String>,
}

/// Builds the initial [`App`] for a setup.
pub fn app_for(setup: &Setup) -> App {
    let settings = &setup.settings;
    let agents = settings
        .agents
        .iter()
        .map(|a| AgentInfo {
            name: a.name.clone(),
            provider: settings.provider_label(a),
            model: a.model.model.clone(),
        })
        .collect();
    let phases = setup
        .workflow
        .phases
        .iter()
        .map(|p| (p.name.clone(), p.kind.as_str().to_string()))
        .collect();
    let label = if settings.all_offline() {
        crate::config::OFFLINE_LABEL.to_string()
    } else {
        let mut names: Vec<String> = settings.providers.values().map(|p| p.label()).collect();
        names.sort();
        names.dedup();
        names.join(", ")
    };
    App::new(
        setup.theme.clone(),
        agents,
        phases,
        label,
        setup.dir.display().to_string(),
        settings.ui.confirm_decisions,
    )
}

/// Restores the terminal when dropped (and from the panic hook).
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

/// Whether the terminal is in the TUI's mode (raw, alternate screen). It mirrors
/// the terminal's own state, which is process-wide, so that it is restored
/// exactly once: leaving the alternate screen twice would move the cursor back
/// to where it was on entry, and the shell would then overwrite whatever was
/// printed since (a panic's message, say).
static TUI_MODE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn restore() {
    if TUI_MODE.swap(false, std::sync::atomic::Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(
            io::stdout(),
            DisableBracketedPaste,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
    }
}

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode()?;
        TUI_MODE.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, EnableBracketedPaste) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Resolves on SIGHUP (the SSH link dropped) or SIGTERM.
async fn hangup() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut hup), Ok(mut term)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = hup.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    futures::future::pending::<()>().await;
}

/// Runs the TUI until the person quits; returns the exit code of the session's
/// end (0 when no session ran).
pub async fn run(handle: OrchestratorHandle, setup: Setup) -> io::Result<i32> {
    let mut events = handle.subscribe();
    let ops = handle.sender();
    let mut app = app_for(&setup);
    highlight::warm_up();
    if let Some(prompt) = &setup.prompt {
        app.submit_prompt(prompt);
    }
    let mut guard = TerminalGuard::enter()?;
    let mut input = EventStream::new();
    let mut dirty = true;
    let mut next_frame = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let hup = hangup();
    tokio::pin!(hup);
    loop {
        for op in app.outbox.drain(..) {
            let _ = ops.send(op);
        }
        if app.quit {
            break;
        }
        if dirty && Instant::now() >= next_frame {
            guard.terminal.draw(|frame| view::draw(&mut app, frame))?;
            dirty = false;
            next_frame = Instant::now() + FRAME;
            // Debug builds only: lets the end-to-end tests prove that a panic
            // restores the terminal. Release builds do not contain this.
            #[cfg(debug_assertions)]
            if std::env::var_os("QUORUM_DEBUG_PANIC").is_some() {
                panic!("QUORUM_DEBUG_PANIC: a deliberate panic after the first frame");
            }
        }
        tokio::select! {
            term = input.next() => match term {
                Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => {
                    app.on_key(key);
                    dirty = true;
                }
                Some(Ok(TermEvent::Paste(text))) => {
                    app.on_paste(&text);
                    dirty = true;
                }
                Some(Ok(TermEvent::Resize(_, _))) => {
                    guard.terminal.autoresize()?;
                    dirty = true;
                }
                Some(Ok(_)) => {}
                // The terminal is gone (closed pty): stop like an interrupt.
                Some(Err(_)) | None => {
                    app.outbox.push(Op::Interrupt);
                    app.quit = true;
                }
            },
            event = events.recv() => {
                match event {
                    Some(event) => {
                        app.on_event(event);
                        // Take everything already waiting: one frame for the lot.
                        while let Ok(event) = events.try_recv() {
                            app.on_event(event);
                        }
                    }
                    None => app.closed = true,
                }
                dirty = true;
            }
            _ = &mut hup => {
                app.outbox.push(Op::Interrupt);
                app.quit = true;
            }
            _ = ticker.tick() => {
                dirty |= app.tick(std::time::Instant::now());
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    }
    for op in app.outbox.drain(..) {
        let _ = ops.send(op);
    }
    drop(guard);
    handle.send(Op::Shutdown);
    // Take the session's last events (its end status), then stop.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        let closed = event == Event::Closed;
        app.on_event(event);
        if closed {
            break;
        }
    }
    handle.join().await;
    Ok(app.exit_code())
}
