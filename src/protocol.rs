//! The only types the TUI, the headless runner and the orchestrator share.
//!
//! Consumers send [`Op`]s (user intent) to the orchestrator actor and receive
//! [`Event`]s (what happened). [`Event::Logged`] carries a [`LoggedEvent`], the
//! durable, numbered record of the public event stream (docs/design.md §5, "Headless
//! event stream"); every other [`Event`] variant is ephemeral: answers to
//! requests (pages of a transcript, a file's content) and token deltas.
//!
//! Invariants: a [`LoggedEvent`] reaches a consumer only after the sled flush that
//! holds it has completed; within one session `seq` starts at 1 and has no gaps.
//!
//! Here: the shared small types (ids, statuses, options); `events` the durable
//! stream, `messages` the ephemeral [`Event`]s and what they carry, `ops` the
//! [`Op`]s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the event stream's schema (`v` on every JSON line).
pub const SCHEMA_VERSION: u32 = 1;

/// A session's id: 12 lowercase hexadecimal characters (48 random bits).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// Length of an id in characters.
    pub const LEN: usize = 12;

    /// A fresh random id.
    pub fn new() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        SessionId(hex[..Self::LEN].to_string())
    }

    /// Parses an id; `None` unless it is exactly [`Self::LEN`] lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| SessionId(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 4 characters, as shown in the status bar.
    pub fn short(&self) -> &str {
        &self.0[..4]
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Options fixed when a session starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionOptions {
    /// A person is at the keyboard: the session waits at resolve until the
    /// decisions are confirmed, and at deliver until [`Op::Commit`].
    pub interactive: bool,
    /// Write the accepted files into DIR but make no commit.
    pub no_commit: bool,
    /// Run through review and write nothing into DIR.
    pub dry_run: bool,
    /// Headless: overwrite files in DIR that quorum did not write in this session.
    pub allow_overwrite: bool,
    /// Deliver files that the secret scan flags (`--allow-secrets`).
    #[serde(default)]
    pub allow_secrets: bool,
    /// Answers to the refine phase's questions, by question id (`--answers FILE`).
    pub answers: BTreeMap<String, String>,
    /// Run model-written setup and tests without the jail where this machine
    /// cannot build one (`--allow-unconfined-tests`, or the person's answer in
    /// the TUI; docs/sandbox.md). Kept with the session, so a resume keeps it.
    #[serde(default)]
    pub allow_unconfined: bool,
    /// Why the prompt asks for what the offline team's demo is not (e.g.
    /// `it asks for Rust`), when the offline team runs only because no
    /// provider is configured (not `--offline`): the session then ends
    /// [`SessionStatus::Demo`], and the commit message says so.
    #[serde(default)]
    pub unbuilt: Option<String>,
}

/// Who settled a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// More than half of the valid ballots.
    Vote,
    /// The chair agent broke a tie (headless).
    Chair,
    /// The person picked or overrode the option.
    Human,
}

/// A task's state (docs/design.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting in its agent's queue.
    Queued,
    /// A provider call is under way.
    Running,
    /// Waiting for a retry after a failed attempt.
    Retrying,
    /// Held by the person; not started until resumed.
    Paused,
    /// Finished with a valid output.
    Done,
    /// Failed after retries and fallbacks.
    Failed,
    /// Cancelled by the person or by the end of the session.
    Cancelled,
}

impl TaskState {
    /// `true` for done, failed and cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Done | TaskState::Failed | TaskState::Cancelled
        )
    }

    /// The state's name as shown on screen and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Retrying => "retrying",
            TaskState::Paused => "paused",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }
}

/// How a session ended (`session_finished.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Delivered (written, and committed unless `--no-commit`; or a completed dry run).
    Succeeded,
    /// A phase failed; nothing was committed.
    Failed,
    /// Cancelled by the person.
    Cancelled,
    /// Interrupted by a signal or a lost terminal; resumable.
    Interrupted,
    /// Stopped at the budget prompt; resumable.
    PausedBudget,
    /// Everything is staged; the person left before delivering.
    AwaitingDelivery,
    /// The offline (simulated) team, used because no provider is configured,
    /// delivered its demo project instead of what the prompt asked for
    /// ([`SessionOptions::unbuilt`]). Committed like a success, but the
    /// request was not built: exit 1.
    Demo,
}

impl SessionStatus {
    /// The process exit code for a session that ended this way (docs/design.md §5).
    pub fn exit_code(self) -> i32 {
        match self {
            SessionStatus::Succeeded | SessionStatus::AwaitingDelivery => 0,
            SessionStatus::Failed | SessionStatus::Demo => 1,
            SessionStatus::Cancelled | SessionStatus::Interrupted | SessionStatus::PausedBudget => {
                3
            }
        }
    }

    /// Whether `quorum resume` can continue a session that ended so:
    /// interrupted, cancelled, paused by a budget, or waiting at deliver. A
    /// session that succeeded or failed is over.
    pub fn is_resumable(self) -> bool {
        !matches!(
            self,
            SessionStatus::Succeeded | SessionStatus::Failed | SessionStatus::Demo
        )
    }

    /// The status's name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Succeeded => "succeeded",
            SessionStatus::Demo => "demo",
            SessionStatus::Failed => "failed",
            SessionStatus::Cancelled => "cancelled",
            SessionStatus::Interrupted => "interrupted",
            SessionStatus::PausedBudget => "paused_budget",
            SessionStatus::AwaitingDelivery => "awaiting_delivery",
        }
    }
}

/// Whether a staged file is new in DIR or changes an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    /// No file at that path in DIR.
    New,
    /// A file exists at that path in DIR; its change is shown as a diff.
    Modified,
}

/// Outcome of one component's test run (`test_run.status`): the run's class
/// (docs/workflows.md, "The test gate"). Only [`TestStatus::Passed`] lets a
/// session be committed as tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// Exit status 0 and at least one test executed.
    Passed,
    /// Tests ran and at least one failed (`tests_failed`).
    Failed,
    /// The runner executed no test (exit 0 or not): never counted as passed.
    NoTests,
    /// Dependencies could not be resolved or installed: the setup step failed,
    /// or the run could not fetch a package (no network, unknown package).
    SetupFailed,
    /// The code did not compile or import (compiler errors, `ImportError`,
    /// a bundler's missing export).
    BuildFailed,
    /// Killed at the timeout.
    Timeout,
    /// The command could not be started.
    Error,
}

impl TestStatus {
    /// The status as the event stream spells it (`no_tests`, `setup_failed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::NoTests => "no_tests",
            TestStatus::SetupFailed => "setup_failed",
            TestStatus::BuildFailed => "build_failed",
            TestStatus::Timeout => "timeout",
            TestStatus::Error => "error",
        }
    }

    /// The status in words for people: `passed`, `failed`, `ran no tests`, `setup failed`,
    /// `did not build`, `timed out`, `could not run`.
    pub fn describe(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::NoTests => "ran no tests",
            TestStatus::SetupFailed => "setup failed",
            TestStatus::BuildFailed => "did not build",
            TestStatus::Timeout => "timed out",
            TestStatus::Error => "could not run",
        }
    }
}

/// What confined a sandboxed setup or test run (docs/sandbox.md): in every
/// `setup_run` and `test_run` event, the run's transcript and the test report,
/// and in `quorum doctor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// The namespaces the run had of its own, a subset of `user`, `mount`,
    /// `pid`, `ipc`, `uts` and `net`, in that order.
    pub namespaces: Vec<String>,
    /// The filesystem was confined: the root read-only, the scratch tree (and
    /// for setup the package managers' caches) the only writable places, a
    /// private `/proc`, `/tmp` and `/dev`, and the target's `.git`, the state
    /// directory, `$HOME` and `/run` hidden.
    pub filesystem: bool,
    /// The Landlock ABI version enforced as a second layer; 0 when none.
    pub landlock: u32,
    /// What bounds the run's processes, e.g. `cgroup v1 pids.max=1024`,
    /// `RLIMIT_NPROC=1024 in the user namespace`, `timeout only`.
    pub processes: String,
    /// What bounds the run's memory, e.g. `cgroup v2 memory.max=4096 MiB for
    /// the whole tree`, `RLIMIT_DATA=4096 MiB per process`.
    pub memory: String,
    /// The network was cut: a private network namespace with only loopback.
    pub network: bool,
}

impl Isolation {
    /// The isolation of a run without the jail: the network namespace when
    /// `network`, and the per-process limits among `rlimits`
    /// (`(resource, value)` as `setrlimit(2)` takes them).
    #[allow(clippy::unnecessary_cast)] // the resource is u32 on glibc, c_int on musl
    pub fn unconfined(network: bool, rlimits: &[(u32, u64)]) -> Isolation {
        let limit = |resource: u32| {
            rlimits
                .iter()
                .find(|(r, _)| *r == resource)
                .map(|(_, v)| *v)
        };
        Isolation {
            namespaces: if network {
                vec!["net".into()]
            } else {
                Vec::new()
            },
            filesystem: false,
            landlock: 0,
            processes: match limit(libc::RLIMIT_NPROC as u32) {
                Some(n) => format!("RLIMIT_NPROC={n}"),
                None => "timeout only".into(),
            },
            memory: match limit(libc::RLIMIT_DATA as u32) {
                Some(bytes) => format!("RLIMIT_DATA={} MiB per process", bytes >> 20),
                None => "none".into(),
            },
            network,
        }
    }

    /// One line for people: `namespaces user+mount+pid+ipc+uts+net ·
    /// filesystem confined · Landlock v7 · processes: … · memory: … ·
    /// network cut`, or `filesystem NOT confined` first when it was not.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.filesystem {
            parts.push("filesystem NOT confined".to_string());
        }
        if self.namespaces.is_empty() {
            parts.push("no namespaces".into());
        } else {
            parts.push(format!("namespaces {}", self.namespaces.join("+")));
        }
        if self.filesystem {
            parts.push("filesystem confined".into());
        }
        if self.landlock > 0 {
            parts.push(format!("Landlock v{}", self.landlock));
        }
        parts.push(format!("processes: {}", self.processes));
        parts.push(format!("memory: {}", self.memory));
        parts.push(
            if self.network {
                "network cut"
            } else {
                "network open"
            }
            .into(),
        );
        parts.join(" · ")
    }
}

/// Outcome of a component's setup step (`setup_run.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStatus {
    /// Exit status 0.
    Ok,
    /// Nonzero exit status, or the command could not be started.
    Failed,
    /// Killed at `[test] setup_timeout_s`.
    Timeout,
}

/// One agent's position on a conflict, quoted from its plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The agent whose plan holds the position.
    pub agent: String,
    /// The option the agent's plan chose.
    pub option: String,
    /// The agent's words, quoted from its plan.
    pub quote: String,
}

pub mod documents;
mod domain;
mod events;
pub mod file_blocks;
pub mod inputs;
mod messages;
mod ops;

pub use domain::*;
pub use events::*;
pub use messages::*;
pub use ops::*;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_12_hex_and_parse_back() {
        let id = SessionId::new();
        assert_eq!(id.as_str().len(), SessionId::LEN);
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.short().len(), 4);
        assert_eq!(SessionId::parse("ABCDEF012345"), None);
        assert_eq!(SessionId::parse("abc"), None);
        assert_ne!(SessionId::new(), SessionId::new());
    }

    #[test]
    fn logged_event_serialises_flat_with_type_tag() {
        let event = LoggedEvent {
            v: SCHEMA_VERSION,
            seq: 7,
            session: SessionId::parse("0123456789ab").unwrap(),
            at: "2026-01-01T00:00:00Z".into(),
            body: EventBody::VoteCast {
                conflict: "c1".into(),
                agent: "qa".into(),
                option: None,
                rationale: "failed".into(),
            },
        };
        let json: serde_json::Value = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "vote_cast");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["v"], 1);
        assert!(json["option"].is_null());
        let back: LoggedEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.body.type_name(), "vote_cast");
    }

    #[test]
    fn exit_codes_follow_the_design() {
        assert_eq!(SessionStatus::Succeeded.exit_code(), 0);
        assert_eq!(SessionStatus::Failed.exit_code(), 1);
        assert_eq!(SessionStatus::Interrupted.exit_code(), 3);
        assert_eq!(SessionStatus::PausedBudget.exit_code(), 3);
        assert_eq!(SessionStatus::Cancelled.exit_code(), 3);
    }
}
