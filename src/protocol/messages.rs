//! What the orchestrator tells its consumers besides the durable events:
//! [`Event`], transcript lines and pages, session summaries, file views.

use serde::{Deserialize, Serialize};

use super::*;

/// What kind of line a transcript holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// What the agent was asked (one summary line per call).
    Prompt,
    /// Text the model produced.
    Text,
    /// The model's reasoning (thinking): shown dimmed, never parsed as the
    /// reply.
    Reasoning,
    /// A note from quorum (task started, file staged, …).
    Note,
    /// A retry or fallback; text of the failed attempt is discarded.
    Retry,
    /// An error.
    Error,
}

/// One line of an agent's transcript, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Position in the session's combined transcript ("all"), from 0.
    pub seq: u64,
    /// Position in this agent's transcript, from 0.
    pub agent_seq: u64,
    /// The agent.
    pub agent: String,
    /// The task the line belongs to.
    pub task: String,
    /// The line's kind.
    pub kind: LineKind,
    /// The text, without a line ending.
    pub text: String,
    /// The last line of a call's attempt: a consumer drops any partial line it
    /// built from [`Event::Token`]s of this task.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ends_call: bool,
}

/// A request id chosen by the consumer, echoed in the answer so stale answers can
/// be dropped.
pub type RequestId = u64;

/// Most positions one [`Event::SearchResults`] carries.
pub const SEARCH_LIMIT: usize = 10_000;

/// A stored session as the history lists it (answering [`Op::ListSessions`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The session's id.
    pub id: SessionId,
    /// The prompt it started from.
    pub prompt: String,
    /// How it ended; `None` while it runs (or when a crash interrupted it).
    pub status: Option<SessionStatus>,
    /// The phase it is in, or ended in.
    pub phase: String,
    /// When it started, RFC 3339 UTC.
    pub created_at: String,
    /// When it last changed, RFC 3339 UTC.
    pub updated_at: String,
    /// Input and output tokens of all its calls.
    pub tokens: (u64, u64),
    /// Its cost in US dollars.
    pub cost_usd: f64,
    /// The commit it made, 40 hex digits.
    pub commit: Option<String>,
    /// Its last event's seq (how many events it stored).
    pub last_seq: u64,
    /// Its target directory (absolute).
    #[serde(default)]
    pub dir: String,
    /// Its workflow's name.
    #[serde(default)]
    pub workflow: String,
    /// Every agent ran on the offline provider.
    #[serde(default)]
    pub offline: bool,
}

/// A file's content and its diff against DIR, answering [`Op::LoadFile`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileView {
    /// Relative path in DIR.
    pub path: String,
    /// Staged content (UTF-8; binary content is shown as a note).
    pub content: String,
    /// Unified diff against the file in DIR, when one exists there.
    pub diff: Option<String>,
}

/// What happened. Only [`Event::Logged`] is durable and numbered. Serialised
/// (serde's default, externally tagged) only on the server's socket
/// ([`super::wire`]); the public stream is [`LoggedEvent`]'s JSON lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A durable event, released after its group commit was flushed.
    Logged(LoggedEvent),
    /// Text streamed by a model (ephemeral; the text reaches the transcript
    /// as [`Event::TranscriptAppended`] lines).
    Token {
        /// The agent whose model streamed the text.
        agent: String,
        /// The id of the task whose call streamed the text.
        task: String,
        /// The streamed fragment; it may end mid-line or mid-word.
        text: String,
    },
    /// Complete transcript lines that are now durable.
    TranscriptAppended {
        /// The new lines, in ascending `seq`.
        lines: Vec<TranscriptLine>,
    },
    /// Answer to [`Op::LoadTranscript`]: lines in ascending `seq`
    /// (`agent_seq` for one agent); `total` is the view's line count.
    TranscriptPage {
        /// The id of the [`Op::LoadTranscript`] this answers.
        req: RequestId,
        /// The agent whose transcript was read, or `None` for all agents combined, as requested.
        agent: Option<String>,
        /// At most 5,000 lines from the requested `from_seq`; empty past the end.
        lines: Vec<TranscriptLine>,
        /// The view's line count (its last position + 1), whatever part was loaded.
        total: u64,
    },
    /// Answer to [`Op::LoadFile`]; `Err` holds a message naming the problem.
    FileLoaded {
        /// The id of the [`Op::LoadFile`] this answers.
        req: RequestId,
        /// The file's content and diff, or a message such as "no staged file `x`".
        file: Result<FileView, String>,
    },
    /// The person's accept/reject choice for a staged file was stored.
    FileDecided {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// `true` when it will be written at deliver, `false` when it is left out.
        accepted: bool,
    },
    /// The session waits at deliver for [`Op::Commit`]; `message` is the
    /// generated commit message (without its trailers, which are always added).
    DeliveryReady {
        /// The generated commit message, without the trailers.
        message: String,
    },
    /// An agent's memory for this DIR, answering [`Op::LoadMemory`] and
    /// [`Op::SetMemory`], and sent when a delivery adds notes.
    Memory {
        /// The agent.
        agent: String,
        /// Its notes (UTF-8 text, one note per line; empty when it has none),
        /// at most [`MEMORY_MAX_BYTES`].
        notes: String,
    },
    /// An [`Op`] could not be applied (unknown conflict, wrong phase, …); the
    /// session is unchanged.
    Rejected {
        /// The op's short name, e.g. `pause`, `pick`, `commit` or `load transcript`.
        op: String,
        /// Why it was refused, e.g. "no task `x`" or "the session has ended".
        reason: String,
    },
    /// The store failed: durability can no longer be promised and the session
    /// stops. No further events are released.
    Fatal {
        /// The store's error message, naming the db path or the record.
        message: String,
    },
    /// The orchestrator stopped; no more events follow.
    Closed,
    /// Answer to [`Op::SearchTranscript`]: where `query` occurs in the view.
    SearchResults {
        /// The id of the [`Op::SearchTranscript`] this answers.
        req: RequestId,
        /// The view searched: an agent's transcript, or `None` for all agents combined.
        agent: Option<String>,
        /// The text searched for, as sent.
        query: String,
        /// Positions of the matching lines in ascending order: `agent_seq` for one agent, `seq`
        /// for all; at most [`SEARCH_LIMIT`].
        positions: Vec<u64>,
        /// `true` when more lines matched than `positions` holds.
        truncated: bool,
    },
    /// Answer to [`Op::ListSessions`]: the sessions stored for DIR, newest first.
    SessionsListed {
        /// The id of the [`Op::ListSessions`] this answers.
        req: RequestId,
        /// One summary per stored session, newest first; `Err` names why the store could not
        /// be read.
        sessions: Result<Vec<SessionSummary>, String>,
    },
    /// Answer to [`Op::LoadSession`]: a stored session's durable events.
    SessionLoaded {
        /// The id of the [`Op::LoadSession`] this answers.
        req: RequestId,
        /// The session asked for.
        session: SessionId,
        /// Its events in seq order, or a message naming why they could not be read.
        events: Result<Vec<LoggedEvent>, String>,
    },
    /// A stored session is being resumed ([`Op::Resume`]): its durable events so
    /// far, for a consumer to fold before the live ones (`session_resumed`
    /// follows at once), and the transcript's size, so that views continue at
    /// the right positions and page back into the stored lines.
    Resumed {
        /// The stored events, in seq order (1 to the last stored).
        events: Vec<LoggedEvent>,
        /// Transcript lines stored over all agents (the next line's `seq`).
        lines: u64,
        /// Lines stored per agent (the next line's `agent_seq`), by agent.
        agent_lines: std::collections::BTreeMap<String, u64>,
    },
    /// A staged file's content was replaced by the person's edit
    /// ([`Op::AcceptEdited`]); a [`Event::FileDecided`] accepting it follows.
    FileEdited {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// The new content's size in bytes.
        bytes: u64,
    },
    /// Sent by `quorum serve` to a client that attaches while a session is
    /// (or was last) on the server: what a client that watched from the
    /// start knows (the durable events so far, the transcript's size, the
    /// staged files' choices, a waiting delivery), folded like
    /// [`Event::Resumed`] but without resuming anything; live events follow
    /// (docs/design.md §4, "Server and clients").
    Attached {
        /// The session's stored events, in seq order (1 to the last released).
        events: Vec<LoggedEvent>,
        /// Transcript lines over all agents (the next line's `seq`).
        lines: u64,
        /// Lines per agent (the next line's `agent_seq`), by agent.
        agent_lines: std::collections::BTreeMap<String, u64>,
        /// The person's accept/reject choices of staged files so far
        /// ([`Event::FileDecided`]), by path.
        files: std::collections::BTreeMap<String, bool>,
        /// The generated commit message while the session waits at deliver
        /// ([`Event::DeliveryReady`]); `None` otherwise.
        delivery: Option<String>,
    },
    /// Sent by `quorum serve` to every client when one attaches or leaves:
    /// how many are attached now (this one included).
    Clients {
        /// Attached clients, 1 or more.
        attached: u32,
    },
}
