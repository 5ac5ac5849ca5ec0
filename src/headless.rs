//! The headless runner (`quorum run`): a second consumer of the orchestrator's
//! events, beside the TUI. With `--json` every durable event is one JSON line on
//! stdout (and token deltas with `--json=tokens`); without it, progress goes to
//! stderr as plain lines and the result to stdout. SIGINT and SIGTERM interrupt
//! the session (exit 3) after its state is flushed.

use std::collections::BTreeMap;
use std::io::Write as _;

use serde_json::json;

use crate::cli::JsonMode;
use crate::orchestrator::OrchestratorHandle;
use crate::protocol::{
    Event, EventBody, LoggedEvent, Op, SessionOptions, SessionStatus, TestStatus,
};

/// How the runner reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    /// `--json` / `--json=tokens`.
    pub json: Option<JsonMode>,
    /// `-q`: no progress lines.
    pub quiet: bool,
}

/// Writes one line to stdout; a closed pipe (`| head`) is not an error worth
/// dying for, the session goes on.
fn out(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn progress(quiet: bool, line: &str) {
    if !quiet {
        eprintln!("{line}");
    }
}

/// A plain progress line for an event, or `None` for events not worth a line.
fn describe(event: &LoggedEvent) -> Option<String> {
    Some(match &event.body {
        EventBody::SessionStarted { dir, .. } => {
            format!("quorum: session {} in {dir}", event.session)
        }
        EventBody::PhaseStarted { phase, .. } => format!("▸ {phase}"),
        EventBody::QuestionAsked { id, text, .. } => format!("  ? {id}: {text}"),
        EventBody::QuestionAnswered { id, answer, by } => format!("  ↳ {id}: {answer} ({by})"),
        EventBody::TaskFailed { task, error, .. } => format!("  ✗ {task}: {error}"),
        EventBody::TaskRetrying {
            task,
            attempt,
            reason,
            ..
        } => format!("  ↻ {task} retry {attempt}: {reason}"),
        EventBody::ProviderFallback { task, from, to, .. } => {
            format!("  ⇢ {task}: {from} → {to}")
        }
        EventBody::ConflictDetected { topic, options, .. } => {
            format!("  conflict: {topic} ({})", options.join(" vs "))
        }
        EventBody::ConflictResolved {
            conflict,
            option,
            decided_by,
            tally,
        } => {
            let counts: Vec<String> = tally.iter().map(|(o, n)| format!("{o} {n}")).collect();
            format!(
                "  decided {conflict}: {option} by {} ({})",
                match decided_by {
                    crate::protocol::DecidedBy::Vote => "vote",
                    crate::protocol::DecidedBy::Chair => "the chair",
                    crate::protocol::DecidedBy::Human => "the person",
                },
                counts.join(", ")
            )
        }
        EventBody::FileStaged { path, bytes, .. } => format!("  + {path} ({bytes} bytes)"),
        EventBody::PathRefused { path, reason, .. } => format!("  ⊘ refused {path}: {reason}"),
        EventBody::TestRun {
            round,
            command,
            passed,
            failed,
            status,
        } => format!(
            "  tests round {round} ({command}): {} — {passed} passed, {failed} failed",
            match status {
                TestStatus::Passed => "passed",
                TestStatus::Failed => "failed",
                TestStatus::Timeout => "timed out",
                TestStatus::Error => "could not run",
            }
        ),
        EventBody::Finding {
            severity,
            path,
            line,
            text,
            ..
        } => format!("  {severity}: {path}:{line}: {text}"),
        EventBody::CommitCreated { sha, .. } => format!("  commit {}", &sha[..sha.len().min(12)]),
        EventBody::Error { message } => format!("error: {message}"),
        EventBody::SessionFinished { status, .. } => format!("session {}", status.as_str()),
        _ => return None,
    })
}

/// Runs one session headless to its end and returns the process exit code.
pub async fn run(
    handle: OrchestratorHandle,
    prompt: String,
    options: SessionOptions,
    output: Output,
) -> i32 {
    let mut events = handle.subscribe();
    let dry_run = options.dry_run;
    let no_commit = options.no_commit;
    handle.send(Op::Start { prompt, options });
    let interrupt = handle.sender();
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = interrupt.send(Op::Interrupt);
    });

    let mut last_seq = 0u64;
    let mut session = String::new();
    let mut staged: Vec<String> = Vec::new();
    let mut commit: Option<(String, String)> = None;
    let mut dir = String::new();
    let mut status: Option<SessionStatus> = None;
    while let Some(event) = events.recv().await {
        match event {
            Event::Logged(e) => {
                last_seq = e.seq;
                session = e.session.to_string();
                if output.json.is_some() {
                    out(&serde_json::to_string(&e).unwrap_or_default());
                } else if let Some(line) = describe(&e) {
                    progress(output.quiet, &line);
                }
                match &e.body {
                    EventBody::SessionStarted { dir: d, .. } => dir = d.clone(),
                    EventBody::FileStaged { path, .. } if !staged.contains(path) => {
                        staged.push(path.clone());
                    }
                    EventBody::CommitCreated { sha, repo, .. } => {
                        commit = Some((sha.clone(), repo.clone()));
                    }
                    EventBody::SessionFinished { status: s, .. } => {
                        status = Some(*s);
                        break;
                    }
                    _ => {}
                }
            }
            Event::Token { agent, task, text } => {
                if output.json == Some(JsonMode::Tokens) {
                    // Token lines are ephemeral: they repeat the seq of the last
                    // durable event (DESIGN.md §5 gives `seq` to durable events).
                    let line = json!({
                        "v": crate::protocol::SCHEMA_VERSION,
                        "seq": last_seq,
                        "type": "token",
                        "session": session,
                        "at": crate::orchestrator::now(),
                        "agent": agent,
                        "task": task,
                        "text": text,
                    });
                    out(&line.to_string());
                }
            }
            Event::Rejected { op, reason } => {
                eprintln!("quorum: {op}: {reason}");
                if op == "start" {
                    break;
                }
            }
            Event::Fatal { message } => {
                eprintln!("quorum: {message}");
                handle.send(Op::Shutdown);
                handle.join().await;
                return 1;
            }
            Event::Closed => break,
            Event::TranscriptAppended { .. }
            | Event::TranscriptPage { .. }
            | Event::FileLoaded { .. }
            | Event::FileDecided { .. }
            | Event::DeliveryReady { .. }
            | Event::SearchResults { .. }
            | Event::SessionsListed { .. }
            | Event::SessionLoaded { .. }
            | Event::FileEdited { .. } => {}
        }
    }

    let status = status.unwrap_or(SessionStatus::Failed);
    if status == SessionStatus::Succeeded && output.json.is_none() {
        if dry_run {
            print_dry_run(&handle, &mut events, &staged).await;
        } else if let Some((sha, repo)) = &commit {
            out(&format!(
                "committed {sha} in {repo}: {} file(s)",
                staged.len()
            ));
        } else if no_commit {
            out(&format!(
                "wrote {} file(s) to {dir} (no commit)",
                staged.len()
            ));
        }
    }
    handle.send(Op::Shutdown);
    handle.join().await;
    status.exit_code()
}

/// Prints each staged file: its diff against DIR, or its whole content when new.
async fn print_dry_run(
    handle: &OrchestratorHandle,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    staged: &[String],
) {
    let mut pending: BTreeMap<u64, String> = BTreeMap::new();
    for (i, path) in staged.iter().enumerate() {
        pending.insert(i as u64, path.clone());
        handle.send(Op::LoadFile {
            path: path.clone(),
            req: i as u64,
        });
    }
    let mut loaded: BTreeMap<u64, String> = BTreeMap::new();
    while loaded.len() < pending.len() {
        let Some(event) = events.recv().await else {
            break;
        };
        if let Event::FileLoaded { req, file } = event {
            let text = match file {
                Ok(view) => match view.diff {
                    Some(diff) => diff,
                    None => {
                        let mut s = format!("--- /dev/null\n+++ b/{}\n", view.path);
                        for line in view.content.lines() {
                            s.push('+');
                            s.push_str(line);
                            s.push('\n');
                        }
                        s
                    }
                },
                Err(e) => format!("# {e}\n"),
            };
            loaded.insert(req, text);
        }
    }
    out(&format!(
        "dry run: {} file(s) staged, nothing written",
        staged.len()
    ));
    for text in loaded.values() {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
