//! What consumers ask of the orchestrator: [`Op`].

use serde::{Deserialize, Serialize};

use super::*;

/// User intent, sent to the orchestrator. Each variant names the events that
/// answer it. Serialised (serde's default, externally tagged) only on the
/// server's socket ([`super::wire`]), never in the public event stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Start a session on `prompt`. Answered by `session_started`, then the phases'
    /// events, and at the end `session_finished`.
    Start {
        /// The person's prompt; surrounding whitespace is trimmed and an empty prompt is rejected.
        prompt: String,
        /// Options fixed for the whole session.
        options: SessionOptions,
    },
    /// Continue a stored session of DIR from the db alone (`quorum resume`):
    /// finished tasks stay finished, tasks that were running or queued are
    /// queued again, decisions and staged files are kept, and a commit the
    /// session already made (found by its `Quorum-Session:` trailer) is not
    /// made again. Answered by `session_resumed` (its own seq, `from_seq`,
    /// follows the last stored event's), then the session's events; or
    /// [`Event::Rejected`] (op
    /// `resume`) naming why: no such session, it succeeded or failed, a
    /// session is running, the db holds no state for it.
    Resume {
        /// The session's id or a unique prefix; `None` for the newest
        /// resumable session of DIR.
        session: Option<String>,
        /// A person is at the keyboard (the TUI): as in [`SessionOptions`].
        interactive: bool,
        /// Headless: overwrite existing files (`--allow-overwrite`), on top
        /// of what the session started with.
        allow_overwrite: bool,
        /// Headless: commit despite the secret scan (`--allow-secrets`), on
        /// top of what the session started with.
        allow_secrets: bool,
    },
    /// Answer a refine question. Answered by `question_answered`.
    Answer {
        /// The question's id, as in its `question_asked`.
        question: String,
        /// The person's answer text.
        answer: String,
    },
    /// Decide an open conflict with `option`. Answered by `conflict_resolved`
    /// (`decided_by` human).
    Pick {
        /// The open conflict's id, as in its `conflict_detected`.
        conflict: String,
        /// The chosen option, one of the conflict's `options`.
        option: String,
    },
    /// Accept every open conflict's vote majority. Answered by one
    /// `conflict_resolved` (`decided_by` vote) per conflict that has a majority.
    AcceptVotes,
    /// Replace a decision or vote result with `option`, with the person's note.
    /// Answered by `decision_overridden` (and `conflict_resolved` when the
    /// conflict was still open).
    Override {
        /// The conflict's id, as in its `conflict_detected`.
        conflict: String,
        /// The new option, one of the conflict's `options`.
        option: String,
        /// The person's note on why, stored as the decision's rationale.
        note: String,
    },
    /// Pause a queued or running task (a running call is cancelled and will start
    /// again on resume). Answered by `task_paused`.
    PauseTask {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
    },
    /// Resume a paused task. Answered by `task_queued`.
    ResumeTask {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
    },
    /// Cancel a task. Answered by `task_cancelled`.
    CancelTask {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
    },
    /// Queue a failed or cancelled task again. Answered by `task_queued`.
    RetryTask {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
    },
    /// Accept or reject a staged file for delivery. Answered by
    /// [`Event::FileDecided`].
    SetFileAccepted {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// `true` to write it at deliver, `false` to leave it out.
        accepted: bool,
    },
    /// Deliver: write the accepted files and commit with `message` (or the
    /// generated summary). Answered by `commit_created` and `session_finished`;
    /// when an accepted file looks like it holds a secret and `allow_secrets`
    /// is `false`, by a blocking `finding` per hit (once) and
    /// [`Event::Rejected`] (op `commit`) naming the files.
    Commit {
        /// The commit message; `None` for the generated summary. The trailers are always added.
        message: Option<String>,
        /// The person's explicit override of the secret scan: commit files that
        /// look like they hold a secret.
        allow_secrets: bool,
    },
    /// Load `len` transcript lines from `from_seq` (of one agent, or of all agents
    /// when `agent` is `None`). Answered by [`Event::TranscriptPage`].
    LoadTranscript {
        /// The agent whose transcript to read; `None` for all agents combined.
        agent: Option<String>,
        /// The first line's position, from 0: `agent_seq` for one agent, `seq` for all.
        from_seq: u64,
        /// How many lines at most; the actor caps it at 5,000.
        len: u64,
        /// The consumer's id for this request, echoed in [`Event::TranscriptPage`].
        req: RequestId,
    },
    /// Load a staged file and its diff. Answered by [`Event::FileLoaded`].
    LoadFile {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// The consumer's id for this request, echoed in [`Event::FileLoaded`].
        req: RequestId,
    },
    /// Pause the whole session: running tasks are paused (their calls
    /// stopped) and no queued task starts until [`Op::ResumeSession`].
    /// Answered by `task_paused` for each running task, or [`Event::Rejected`]
    /// when there is no running session or it is paused already.
    PauseSession,
    /// Resume a paused session: the tasks the pause stopped are queued again
    /// (those a budget paused stay paused until it is raised). Answered by
    /// `task_queued` for each, or [`Event::Rejected`] when it is not paused.
    ResumeSession,
    /// Cancel the session: running calls are stopped, state is flushed.
    /// Answered by `session_finished` with status `cancelled`.
    CancelSession,
    /// A signal or lost terminal: like [`Op::CancelSession`] with status
    /// `interrupted`.
    Interrupt,
    /// Queue a failed or cancelled task again on another model (`provider:model`,
    /// a configured provider), keeping the agent's fallbacks after it; the
    /// tasks that succeeded stay as they are. Answered by `task_queued`.
    RetryTaskOn {
        /// The task's id.
        task: String,
        /// `provider:model`, e.g. `ollama:qwen2.5-coder:14b`.
        model: String,
    },
    /// Raise an exhausted (or any) budget and resume what it paused: `scope` is
    /// an agent's name or `session`; `usd` and `tokens` are the new budgets, or
    /// `None` for the current one plus half. Answered by `task_queued` for each
    /// task the budget had paused.
    RaiseBudget {
        /// An agent's name, or `session`.
        scope: String,
        /// The new budget in US dollars.
        usd: Option<f64>,
        /// The new token budget.
        tokens: Option<u64>,
    },
    /// Load an agent's memory for this DIR. Answered by [`Event::Memory`], or
    /// [`Event::Rejected`] for an agent not in the roster. Needs no session.
    LoadMemory {
        /// The agent.
        agent: String,
    },
    /// Replace an agent's memory for this DIR (empty text clears it); it is
    /// stored at once and used from the agent's next task. Answered by
    /// [`Event::Memory`], or [`Event::Rejected`] for an agent not in the
    /// roster or notes over [`MEMORY_MAX_BYTES`].
    SetMemory {
        /// The agent.
        agent: String,
        /// The new notes.
        notes: String,
    },
    /// Stop the orchestrator after flushing. Answered by [`Event::Closed`].
    Shutdown,
    /// The person quit a TUI that is a client of `quorum serve`: the running
    /// session ends as at [`Op::Shutdown`] (waiting at deliver:
    /// `awaiting_delivery`; after failed tests: `failed`; else
    /// `interrupted`), but the orchestrator keeps serving. Answered by
    /// `session_finished`; nothing when no session runs.
    Quit,
    /// Find the lines of the current session's transcript (one agent's, or all
    /// agents' when `agent` is `None`) whose text contains `query`, ignoring
    /// case. The search runs in the store. Answered by [`Event::SearchResults`]
    /// (or [`Event::Rejected`] with op `search`).
    SearchTranscript {
        /// The agent whose transcript to search; `None` for all agents combined.
        agent: Option<String>,
        /// The text to find; an empty query matches nothing.
        query: String,
        /// The consumer's id for this request, echoed in [`Event::SearchResults`].
        req: RequestId,
    },
    /// List the sessions stored for DIR. Answered by [`Event::SessionsListed`].
    ListSessions {
        /// The consumer's id for this request, echoed in [`Event::SessionsListed`].
        req: RequestId,
    },
    /// Load a stored session's durable events (to fold them read-only).
    /// Answered by [`Event::SessionLoaded`].
    LoadSession {
        /// The session to read, as listed by [`Event::SessionsListed`].
        session: SessionId,
        /// The consumer's id for this request, echoed in [`Event::SessionLoaded`].
        req: RequestId,
    },
    /// Replace a staged file's content with the person's edit and accept it for
    /// delivery. Answered by [`Event::FileEdited`] then [`Event::FileDecided`]
    /// (accepted), or [`Event::Rejected`] with op `edit` (no such file, already
    /// delivered).
    AcceptEdited {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// The edited content (UTF-8), delivered in place of the staged content.
        content: String,
    },
}

/// Most bytes of notes an agent keeps per DIR: what its prompts carry at most
/// (about 1,400 tokens). Notes added at delivery push the oldest lines out.
pub const MEMORY_MAX_BYTES: usize = 4096;
