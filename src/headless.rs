//! The headless runner (`quorum run`): a second consumer of the orchestrator's
//! events, beside the TUI. With `--json` every durable event is one JSON line on
//! stdout (and token deltas with `--json=tokens`); without it, progress goes to
//! stderr and the result to stdout. Progress is plain lines when stderr is not a
//! terminal (no control sequence ever reaches a file or a pipe), and the same
//! lines under a live status line (phase, running tasks, counts, a spinner) when
//! it is one. SIGINT, SIGTERM and SIGHUP interrupt the session (exit 3) after
//! its state is flushed, and so does a closed output pipe (`| head -1`).

use std::collections::BTreeMap;

use serde_json::json;

use crate::protocol::{Channels, Event, EventBody, LoggedEvent, Op, SessionStatus};

mod live;
pub use live::Live;

/// What `--json` prints (`quorum run --json[=tokens]`, docs/commands.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JsonMode {
    /// Durable events only.
    Events,
    /// Durable events and token deltas.
    Tokens,
}
/// How the runner reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// `--json` / `--json=tokens`.
    pub json: Option<JsonMode>,
    /// `-q`: no progress lines.
    pub quiet: bool,
    /// The workflow's phase count, for "phase 3/9" (0 when unknown).
    pub phases: usize,
    /// The person's `[notify] command`, run when the session ends (a
    /// headless session waits for nobody; docs/configuration.md,
    /// "Notifications").
    pub notify: Option<crate::notify::NotifyCommand>,
}

/// Writes one line to stdout, through the sanitiser ([`crate::sanitize::text`]:
/// it may name model-chosen paths); a closed pipe (`| head`) is remembered
/// ([`crate::output::pipe_closed`]) and interrupts the session ([`run`]).
fn out(line: &str) {
    crate::outln!("{}", crate::sanitize::text(line));
}

/// Writes one JSON line to stdout, its DEL, C1 and bidi controls escaped
/// ([`crate::sanitize::json`]; serde_json escapes the C0 controls).
fn out_json(line: &str) {
    crate::outln!("{}", crate::sanitize::json(line));
}

/// Progress on stderr: nothing (`--json`, `-q`), plain lines (stderr is not a
/// terminal), or the plain lines plus a live status line (phase, running tasks,
/// counts, tokens, a spinner) redrawn in place at the bottom (stderr is a
/// terminal). Only the live mode writes control sequences.
enum Display {
    Silent,
    Plain,
    Live(Live<crate::output::Stderr>),
}

impl Display {
    fn new(output: &Output) -> Display {
        use std::io::IsTerminal as _;
        if output.json.is_some() || output.quiet {
            return Display::Silent;
        }
        let dumb = std::env::var("TERM").map_or(true, |t| t.is_empty() || t == "dumb");
        if std::io::stderr().is_terminal() && !dumb {
            let width = crossterm::terminal::size()
                .map(|(cols, _)| usize::from(cols))
                .unwrap_or(80);
            Display::Live(Live::new(crate::output::Stderr, width, output.phases))
        } else {
            Display::Plain
        }
    }

    fn is_live(&self) -> bool {
        matches!(self, Display::Live(_))
    }

    fn event(&mut self, event: &LoggedEvent) {
        match self {
            Display::Silent => {}
            Display::Plain => {
                if let Some(line) = describe(event) {
                    crate::errln!("{line}");
                }
            }
            Display::Live(live) => live.event(event),
        }
    }

    /// A message that is not an event (a rejected op, a fatal error): shown
    /// even with `--json` and `-q`, as before.
    fn message(&mut self, line: &str) {
        match self {
            Display::Live(live) => live.line(line),
            Display::Silent | Display::Plain => crate::errln!("{}", crate::sanitize::text(line)),
        }
    }

    fn tick(&mut self) {
        if let Display::Live(live) = self {
            live.tick();
        }
    }

    fn finish(&mut self) {
        if let Display::Live(live) = self {
            live.finish();
        }
    }
}

/// A plain progress line for an event, or `None` for events not worth a line;
/// model and project text in it shown visibly ([`crate::sanitize::text`]).
fn describe(event: &LoggedEvent) -> Option<String> {
    describe_raw(event).map(|line| crate::sanitize::text(&line).into_owned())
}

/// [`describe`] before the sanitiser.
fn describe_raw(event: &LoggedEvent) -> Option<String> {
    Some(match &event.body {
        EventBody::SessionStarted { dir, .. } => {
            format!("quorum: session {} in {dir}", event.session)
        }
        EventBody::InstructionsRead { files, .. } => {
            format!("  instructions: {}", files.join(", "))
        }
        EventBody::RepoMap {
            files,
            parsed,
            cached,
            symbols,
            tokens,
            ..
        } => format!(
            "  repository map: {files} source files ({parsed} parsed, {cached} cached), {symbols} symbols, {tokens} tokens"
        ),
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
            ..
        } => format!(
            "  tests round {round} ({command}): {} — {passed} passed, {failed} failed",
            status.describe()
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
        EventBody::SessionFinished {
            status: SessionStatus::Demo,
            ..
        } => "session demo: the offline (simulated) team built its demo, not what the prompt asked for (exit 1)".to_string(),
        EventBody::SessionFinished { status, .. } => format!("session {}", status.as_str()),
        _ => return None,
    })
}

/// What a resumed session left open for the person (a TUI stopped while it
/// waited for them), as a line that says the headless rules settle it
/// (`Actor::settle_headless`): questions asked and not answered, and, once
/// the resolve phase started, conflicts neither resolved nor handed to the
/// chair (a task `PHASE.CONFLICT`). A headless session never leaves those:
/// it answers a question in the group that asks it and queues the chair's
/// tie-breaks with the phase's start. `None` when nothing is open. Ids are
/// model text: the line passes the sanitiser where it is printed.
fn left_open(stored: &[LoggedEvent]) -> Option<String> {
    let mut questions: Vec<&str> = Vec::new();
    let mut conflicts: Vec<&str> = Vec::new();
    let mut at_resolve = false;
    let mut chaired: Vec<&str> = Vec::new();
    for e in stored {
        match &e.body {
            EventBody::QuestionAsked { id, .. } => questions.push(id),
            EventBody::QuestionAnswered { id, .. } => questions.retain(|q| q != id),
            EventBody::ConflictDetected { conflict, .. } => conflicts.push(conflict),
            EventBody::ConflictResolved { conflict, .. } => conflicts.retain(|k| k != conflict),
            EventBody::PhaseStarted { kind, .. } if kind == "resolve" => at_resolve = true,
            EventBody::TaskQueued { task, .. } => chaired.push(task),
            _ => {}
        }
    }
    if !at_resolve {
        conflicts.clear();
    }
    conflicts.retain(|k| {
        let suffix = format!(".{k}");
        !chaired.iter().any(|t| t.ends_with(&suffix))
    });
    let mut said = Vec::new();
    if !questions.is_empty() {
        said.push(format!(
            "question(s) {} take their defaults (or the session's --answers)",
            questions.join(", ")
        ));
    }
    if !conflicts.is_empty() {
        said.push(format!(
            "the vote and the chair settle conflict(s) {}",
            conflicts.join(", ")
        ));
    }
    (!said.is_empty()).then(|| {
        format!(
            "quorum: resumed headless, so the person's open choices follow the headless rules: {}, as `quorum run` would. To decide them yourself, stop this (Ctrl-C) and run `quorum resume` (the TUI).",
            said.join("; ")
        )
    })
}

/// Sends the op that begins the session, and from then on forwards SIGINT,
/// SIGTERM and SIGHUP as `Op::Interrupt`. Returns `(dry_run, no_commit)`
/// of a started session (both false for a resumed one).
fn begin_session(ops: &tokio::sync::mpsc::UnboundedSender<Op>, begin: Op) -> (bool, bool) {
    let (dry_run, no_commit) = match &begin {
        Op::Start { options, .. } => (options.dry_run, options.no_commit),
        _ => (false, false),
    };
    let signalled = on_interrupt();
    let _ = ops.send(begin);
    let interrupt = ops.clone();
    tokio::spawn(async move {
        signalled.await;
        let _ = interrupt.send(Op::Interrupt);
    });
    (dry_run, no_commit)
}

/// Says why the orchestrator stopped on a fatal fault (the state db could
/// not be written: a full disk, say) and returns the exit code: 1 before a
/// session began, 3 after (what was stored is kept, and the session resumes
/// from it).
fn fatal(session: &str, message: &str) -> i32 {
    // The state db could not be written (a full disk, say): what
    // was stored is kept, and the session resumes from it.
    if session.is_empty() {
        crate::errln!("quorum: {}", crate::sanitize::line(message));
        1
    } else {
        crate::errln!(
            "quorum: {}; what was stored is kept: fix the cause (free space on the disk of the state directory), then `quorum resume {session}`",
            crate::sanitize::line(message)
        );
        3
    }
}

/// What the headless run has seen of its session, for the lines it prints
/// at the end.
#[derive(Default)]
struct Seen {
    /// The last durable event's seq (token lines repeat it).
    last_seq: u64,
    /// The session's id, once an event named it.
    session: String,
    /// Staged paths, in staging order, each once.
    staged: Vec<String>,
    /// The commit made (sha, repository) and how many files it holds.
    commit: Option<(String, String, usize)>,
    /// DIR, as the session's start gave it.
    dir: String,
    /// How the session ended.
    status: Option<SessionStatus>,
    /// The last error the session reported.
    last_error: Option<String>,
}

impl Seen {
    /// Takes a durable event; returns whether it ended the session.
    #[warn(clippy::wildcard_enum_match_arm)]
    fn logged(&mut self, e: &LoggedEvent) -> bool {
        self.last_seq = e.seq;
        self.session = e.session.to_string();
        match &e.body {
            EventBody::SessionStarted { dir, .. } => self.dir = dir.clone(),
            EventBody::FileStaged { path, .. } => {
                if !self.staged.contains(path) {
                    self.staged.push(path.clone());
                }
            }
            EventBody::CommitCreated { sha, repo, files } => {
                self.commit = Some((sha.clone(), repo.clone(), files.len()));
            }
            EventBody::SessionFinished { status, .. } => {
                self.status = Some(*status);
                return true;
            }
            EventBody::Error { message } => self.last_error = Some(message.clone()),
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
            | EventBody::PathRefused { .. }
            | EventBody::SetupRun { .. }
            | EventBody::TestRun { .. }
            | EventBody::RepairDeclined { .. }
            | EventBody::TaskSummary { .. }
            | EventBody::Finding { .. } => {}
        }
        false
    }

    /// A token's JSON line (`--json tokens`). Token lines are ephemeral:
    /// they repeat the seq of the last durable event (docs/design.md §5
    /// gives `seq` to durable events).
    fn token_line(&self, agent: &str, task: &str, text: &str) -> String {
        json!({
            "v": crate::protocol::SCHEMA_VERSION,
            "seq": self.last_seq,
            "type": "token",
            "session": self.session,
            "at": crate::protocol::now(),
            "agent": agent,
            "task": task,
            "text": text,
        })
        .to_string()
    }
}

/// The lines after a session's end: why a `--json` session failed (on
/// stderr), the dry run's files, the commit or the files written, or what
/// stopped it before delivery. `(dry_run, no_commit)` as the session was
/// started.
async fn report_end(
    seen: &Seen,
    status: SessionStatus,
    output: &Output,
    (dry_run, no_commit): (bool, bool),
    ops: &tokio::sync::mpsc::UnboundedSender<Op>,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
) {
    let session = &seen.session;
    if status == SessionStatus::Failed && output.json.is_some() && !session.is_empty() {
        // stdout is the event stream: stderr still says why, and where the
        // staged work is.
        crate::errln!("{}", failure_line(session, seen.last_error.as_deref()));
    }
    if matches!(status, SessionStatus::Succeeded | SessionStatus::Demo) && output.json.is_none() {
        if dry_run {
            print_dry_run(ops, events, &seen.staged).await;
        } else if let Some((sha, repo, committed)) = &seen.commit {
            out(&format!("committed {sha} in {repo}: {committed} file(s)"));
        } else if no_commit {
            out(&format!(
                "wrote {} file(s) to {} (no commit)",
                seen.staged.len(),
                seen.dir
            ));
        }
    }
    if status == SessionStatus::AwaitingDelivery
        && (output.json.is_some() || output.quiet)
        && let Some(cause) = &seen.last_error
    {
        // Stopped before delivery (uncommitted files in the way, a full
        // disk): the one line that says what to do.
        crate::errln!("quorum: {}", crate::sanitize::line(cause));
    }
}

/// Takes a durable event: printed (a JSON line, or the progress display)
/// when `print`, and folded into `seen`; returns whether it ended the
/// session.
fn take_logged(
    e: &LoggedEvent,
    print: bool,
    output: &Output,
    display: &mut Display,
    seen: &mut Seen,
) -> bool {
    if print {
        if output.json.is_some() {
            out_json(&serde_json::to_string(e).unwrap_or_default());
        } else {
            display.event(e);
        }
    }
    seen.logged(e)
}

/// How a headless run begins.
pub enum Begin {
    /// Send this op ([`Op::Start`] or [`Op::Resume`]); a signal interrupts
    /// the session.
    Op(Op),
    /// `quorum attach --json`: the server sends the session's snapshot
    /// ([`Event::Attached`]) and its live events; print those from
    /// `from_seq` on. A signal only ends this process (the session goes on).
    Attach {
        /// The first seq printed (0 or 1: all).
        from_seq: u64,
    },
}

/// Nobody reads the output any more (`| head -1`): the session stops as if
/// interrupted, resumable, instead of running on unseen
/// (docs/troubleshooting.md, "Output to a closed pipe"). Once.
fn interrupt_unread(reader_gone: &mut bool, ops: &tokio::sync::mpsc::UnboundedSender<Op>) {
    if !*reader_gone && crate::output::pipe_closed() {
        *reader_gone = true;
        tracing::warn!("the output pipe is closed: interrupting the session");
        let _ = ops.send(Op::Interrupt);
    }
}

impl Begin {
    /// Begins: sends the op (and arms the interrupt), or nothing for an
    /// attach; returns `(dry_run, no_commit, from_seq)`.
    fn apply(self, ops: &tokio::sync::mpsc::UnboundedSender<Op>) -> (bool, bool, u64) {
        match self {
            Begin::Op(op) => {
                let (dry_run, no_commit) = begin_session(ops, op);
                (dry_run, no_commit, 0)
            }
            Begin::Attach { from_seq } => (false, false, from_seq),
        }
    }
}

/// Runs one session headless to its end and returns the process exit code.
pub async fn run(channels: Channels, begin: Begin, output: Output) -> i32 {
    let Channels {
        ops,
        mut events,
        stopped,
    } = channels;
    let (dry_run, no_commit, from_seq) = begin.apply(&ops);

    let mut seen = Seen::default();
    let mut refused = false;
    let mut display = Display::new(&output);
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(100));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut reader_gone = false;
    let mut notify = crate::notify::Host::new(output.notify.clone(), false, false);
    loop {
        interrupt_unread(&mut reader_gone, &ops);
        let event = tokio::select! {
            event = events.recv() => event,
            _ = ticker.tick(), if display.is_live() => {
                display.tick();
                continue;
            }
        };
        let Some(event) = event else {
            break;
        };
        notify.take(&event);
        match event {
            Event::Logged(e) => {
                if take_logged(&e, e.seq >= from_seq, &output, &mut display, &mut seen) {
                    break;
                }
            }
            Event::Attached { events: stored, .. } => {
                let ended = stored
                    .iter()
                    .any(|e| take_logged(e, e.seq >= from_seq, &output, &mut display, &mut seen));
                if ended {
                    break;
                }
            }
            Event::Token { agent, task, text } => {
                if output.json == Some(JsonMode::Tokens) {
                    out_json(&seen.token_line(&agent, &task, &text));
                }
            }
            Event::Rejected { op, reason } => {
                display.message(&format!("quorum: {op}: {reason}"));
                if op == "start" || op == "resume" {
                    refused = true;
                    break;
                }
            }
            Event::Fatal { message } => {
                display.finish();
                let code = fatal(&seen.session, &message);
                let _ = ops.send(Op::Shutdown);
                stopped.await;
                return code;
            }
            Event::Closed => break,
            Event::TranscriptAppended { .. }
            | Event::TranscriptPage { .. }
            | Event::FileLoaded { .. }
            | Event::FileDecided { .. }
            | Event::Memory { .. }
            | Event::DeliveryReady { .. }
            | Event::SearchResults { .. }
            | Event::SessionsListed { .. }
            | Event::SessionLoaded { .. }
            | Event::Clients { .. }
            | Event::FileEdited { .. } => {}
            Event::Resumed { events: stored, .. } => {
                if let Some(line) = left_open(&stored) {
                    display.message(&line);
                }
            }
        }
    }

    display.finish();
    if refused {
        // The session never began (an empty prompt, nothing to resume).
        let _ = ops.send(Op::Shutdown);
        stopped.await;
        return crate::protocol::exit::USAGE;
    }
    let status = seen.status.unwrap_or(SessionStatus::Failed);
    report_end(
        &seen,
        status,
        &output,
        (dry_run, no_commit),
        &ops,
        &mut events,
    )
    .await;
    // No notify command is left running after quorum (at most 30 s).
    let _ = tokio::task::spawn_blocking(move || notify.wait()).await;
    let _ = ops.send(Op::Shutdown);
    stopped.await;
    exit_code(status)
}

/// The exit code of a headless session that ended with `status`: as
/// [`SessionStatus::exit_code`], except that a session stopped at deliver
/// (`awaiting_delivery`: uncommitted files in the way, a fault at delivery)
/// is resumable, 3 (docs/commands.md, "Exit codes").
pub fn exit_code(status: SessionStatus) -> i32 {
    match status {
        SessionStatus::AwaitingDelivery => 3,
        other => other.exit_code(),
    }
}

/// The one stderr line of a failed session under `--json`: its cause (on one
/// line, controls shown visibly by [`crate::sanitize::line`]: it may quote
/// model or test output) and how to get the staged work out of the state
/// directory.
pub fn failure_line(session: &str, cause: Option<&str>) -> String {
    let cause = crate::sanitize::line(cause.unwrap_or("see the event stream"));
    format!(
        "quorum: session {session} failed: {cause}; the staged files: `quorum sessions export {session} --format tar -o {session}.tar.gz`; after fixing the cause: `quorum resume {session}`"
    )
}

/// Prints each staged file: its diff against DIR, or its whole content when new.
async fn print_dry_run(
    ops: &tokio::sync::mpsc::UnboundedSender<Op>,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    staged: &[String],
) {
    let mut pending: BTreeMap<u64, String> = BTreeMap::new();
    for (i, path) in staged.iter().enumerate() {
        pending.insert(i as u64, path.clone());
        let _ = ops.send(Op::LoadFile {
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
        let _ = crate::output::stdout_bytes(crate::sanitize::text(text).as_bytes());
    }
}

/// Listens to SIGINT, SIGTERM and SIGHUP (the terminal or the SSH link went
/// away) from now on; the future resolves on the first of them. Each
/// interrupts the session, which stays resumable (exit 3). Listening starts
/// before the session does, so that no signal meets its default action
/// (SIGHUP's kills with 129).
fn on_interrupt() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut streams: Vec<tokio::signal::unix::Signal> = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ]
        .into_iter()
        .filter_map(|kind| signal(kind).ok())
        .collect();
        async move {
            if streams.is_empty() {
                std::future::pending::<()>().await;
            }
            futures::future::select_all(streams.iter_mut().map(|s| Box::pin(s.recv()))).await;
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::SessionId;

    #[test]
    fn a_resume_names_what_the_person_left_open_and_nothing_else() {
        let asked = |seq, id: &str| {
            logged(
                seq,
                EventBody::QuestionAsked {
                    id: id.into(),
                    text: "?".into(),
                    default: "d".into(),
                },
            )
        };
        let detected = |seq, id: &str| {
            logged(
                seq,
                EventBody::ConflictDetected {
                    conflict: id.into(),
                    topic: "t".into(),
                    options: vec!["a".into(), "b".into()],
                    blocking: true,
                    needs_human: false,
                    positions: Vec::new(),
                },
            )
        };
        let mut stored = vec![
            asked(1, "port"),
            asked(2, "auth"),
            logged(
                3,
                EventBody::QuestionAnswered {
                    id: "port".into(),
                    answer: "80".into(),
                    by: "person".into(),
                },
            ),
            detected(4, "storage"),
            detected(5, "api"),
            detected(7, "auth-mode"),
            logged(
                8,
                EventBody::PhaseStarted {
                    phase: "resolve".into(),
                    kind: "resolve".into(),
                },
            ),
            // A headless session handed this tie to the chair: not the person's.
            logged(
                9,
                EventBody::TaskQueued {
                    task: "resolve.auth-mode".into(),
                    agent: "pm".into(),
                    phase: "resolve".into(),
                    title: "break the tie".into(),
                },
            ),
            logged(
                6,
                EventBody::ConflictResolved {
                    conflict: "api".into(),
                    option: "a".into(),
                    decided_by: crate::protocol::DecidedBy::Vote,
                    tally: Default::default(),
                },
            ),
        ];
        let line = left_open(&stored).unwrap();
        assert!(
            line.contains("question(s) auth take their defaults"),
            "{line}"
        );
        assert!(line.contains("conflict(s) storage,"), "{line}");
        assert!(
            !line.contains("port") && !line.contains("api") && !line.contains("auth-mode"),
            "{line}"
        );
        // Before resolve, open conflicts are the vote's, not the person's.
        let before: Vec<LoggedEvent> = stored
            .iter()
            .filter(|e| !matches!(e.body, EventBody::PhaseStarted { .. }))
            .cloned()
            .collect();
        assert!(!left_open(&before).unwrap().contains("conflict"));
        assert!(line.contains("`quorum resume`"), "{line}");
        stored.truncate(1);
        stored.push(logged(
            2,
            EventBody::QuestionAnswered {
                id: "port".into(),
                answer: "80".into(),
                by: "person".into(),
            },
        ));
        assert_eq!(left_open(&stored), None);
    }

    fn logged(seq: u64, body: EventBody) -> LoggedEvent {
        LoggedEvent {
            v: 1,
            seq,
            session: SessionId::parse("0123456789ab").unwrap(),
            at: "2026-01-01T00:00:00Z".into(),
            body,
        }
    }

    #[test]
    fn the_live_display_keeps_one_status_line_under_the_permanent_lines() {
        let mut live = Live::new(Vec::new(), 60, 9);
        live.event(&logged(
            1,
            EventBody::PhaseStarted {
                phase: "refine".into(),
                kind: "single".into(),
            },
        ));
        live.event(&logged(
            2,
            EventBody::TaskStarted {
                task: "refine".into(),
                agent: "pm".into(),
                phase: "refine".into(),
            },
        ));
        assert!(
            live.status().contains("phase 1/9 refine"),
            "{}",
            live.status()
        );
        assert!(
            live.status().contains("running: pm refine"),
            "{}",
            live.status()
        );
        live.event(&logged(
            3,
            EventBody::TaskFinished {
                task: "refine".into(),
                agent: "pm".into(),
                phase: "refine".into(),
                tokens_in: 1200,
                tokens_out: 300,
                cost_usd: 0.0,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            },
        ));
        let status = live.status();
        assert!(
            status.contains("1 done") && status.contains("1500 tok"),
            "{status}"
        );
        assert!(!status.contains("running"), "{status}");
        live.event(&logged(
            4,
            EventBody::PhaseStarted {
                phase: "plan".into(),
                kind: "fan-out".into(),
            },
        ));
        assert!(
            live.status().contains("phase 2/9 plan"),
            "{}",
            live.status()
        );
        live.tick();
        live.finish();
        let text = String::from_utf8(live.into_inner()).unwrap();
        // Permanent lines are printed once each; the later one after erasing the
        // status line that was drawn meanwhile.
        assert!(text.starts_with("▸ refine\n"), "{text:?}");
        assert_eq!(text.matches("▸ plan\n").count(), 1, "{text:?}");
        assert!(text.contains("\r\x1b[2K▸ plan\n"), "{text:?}");
        // It ends erased: the last thing written clears the status line.
        assert!(text.ends_with("\r\x1b[2K"), "{text:?}");
        // Every status line fits the width.
        for part in text.split("\r\x1b[2K") {
            let last = part.rsplit('\n').next().unwrap();
            assert!(last.chars().count() < 60, "{last:?}");
        }
    }

    #[test]
    fn the_live_display_writes_only_its_own_control_sequences() {
        let hostile = "\x1b]52;c;aGk=\x07\x1b[2J\u{9b}31m\x07\u{202e}x";
        let mut live = Live::new(Vec::new(), 80, 9);
        live.event(&logged(
            1,
            EventBody::PhaseStarted {
                phase: hostile.into(),
                kind: "single".into(),
            },
        ));
        live.event(&logged(
            2,
            EventBody::Finding {
                severity: "low".into(),
                path: "a.py".into(),
                line: 1,
                text: hostile.into(),
                blocking: false,
            },
        ));
        live.line(hostile);
        live.finish();
        let text = String::from_utf8(live.into_inner()).unwrap();
        // Without the display's own "\r ESC [2K", nothing drives the terminal.
        let rest = text.replace("\r\x1b[2K", "");
        assert!(crate::sanitize::is_clean(&rest), "{rest:?}");
        assert!(
            rest.contains("low: a.py:1: ^[]52;c;aGk=^G^[[2JM-^[31m^G<U+202E>x"),
            "{rest:?}"
        );
    }

    #[test]
    fn a_narrow_status_line_is_cut() {
        let mut live = Live::new(Vec::new(), 20, 9);
        for (i, agent) in ["backend", "frontend", "qa", "security"].iter().enumerate() {
            live.event(&logged(
                i as u64 + 1,
                EventBody::TaskStarted {
                    task: format!("plan.{agent}"),
                    agent: agent.to_string(),
                    phase: "plan".into(),
                },
            ));
        }
        let status = live.status();
        assert_eq!(status.chars().count(), 19, "{status}");
        assert!(status.ends_with('…'), "{status}");
    }
}
