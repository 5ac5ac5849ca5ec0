//! The domain's small enums that several layers name: what a call is for
//! ([`TaskKind`]), what the engine does in a phase ([`PhaseKind`]), how bad a
//! review finding is ([`Severity`]), and the token counts of a call
//! ([`Usage`]), and the states and outcomes the event stream reports (a
//! task's [`TaskState`], a session's [`SessionStatus`], who settled a
//! conflict, a file's change, a test or setup run's status, the sandbox's
//! [`Isolation`]). The workflow loader, the transport, the simulated team,
//! the orchestrator and the frontends all share these; their serialised forms are
//! part of the wire (docs/wire-formats.md) and of the workflow files.

use serde::{Deserialize, Serialize};

/// What a call is for. Real providers see only the messages; the offline
/// provider reads the kind and the typed inputs to answer in character.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Requirements from the prompt (phase kind `single`).
    Requirements,
    /// A technical plan (`fan-out`).
    Plan,
    /// Conflicts between plans (`compare`).
    Compare,
    /// One ballot on one conflict (`vote`).
    Ballot,
    /// The chair's tie-break (`resolve`, headless).
    Chair,
    /// Implementation tasks from the resolved design (`tasks`).
    Breakdown,
    /// Files for one implementation task (`tasks`).
    Implement,
    /// Test files (`test`).
    Tests,
    /// Fixed files after a failing test run or a blocking finding.
    Repair,
    /// Review findings (`review`).
    Review,
    /// A free question (`quorum ask`): plain text back.
    Chat,
}

impl TaskKind {
    /// `true` for kinds whose reply is a JSON document (structured output);
    /// the others reply with fenced file blocks.
    pub fn is_json(self) -> bool {
        !matches!(
            self,
            TaskKind::Implement | TaskKind::Tests | TaskKind::Repair
        )
    }

    /// The kind's name (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Requirements => "requirements",
            TaskKind::Plan => "plan",
            TaskKind::Compare => "compare",
            TaskKind::Ballot => "ballot",
            TaskKind::Chair => "chair",
            TaskKind::Breakdown => "breakdown",
            TaskKind::Implement => "implement",
            TaskKind::Tests => "tests",
            TaskKind::Repair => "repair",
            TaskKind::Review => "review",
            TaskKind::Chat => "chat",
        }
    }
}

/// Token counts of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens: the whole prompt, its cached parts included
    /// (`cache_read_tokens` and `cache_write_tokens` are parts of it).
    pub input_tokens: u64,
    /// Completion tokens (reasoning tokens included, as providers bill them).
    pub output_tokens: u64,
    /// Prompt tokens read from the provider's prompt cache (OpenAI
    /// `cached_tokens`, Anthropic `cache_read_input_tokens`, Gemini
    /// `cachedContentTokenCount`; docs/wire-formats.md).
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the provider's prompt cache (Anthropic
    /// `cache_creation_input_tokens`; the other providers report none).
    #[serde(default)]
    pub cache_write_tokens: u64,
}

impl Usage {
    /// Adds another call's counts.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }

    /// Prompt tokens neither read from nor written to a cache.
    pub fn uncached_input(&self) -> u64 {
        self.input_tokens
            .saturating_sub(self.cache_read_tokens)
            .saturating_sub(self.cache_write_tokens)
    }
}

/// What the engine does in a phase (docs/design.md §1; the `kind` of a
/// workflow file's phase, written in kebab case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseKind {
    /// One task for the first agent; its output is the requirements.
    Single,
    /// One task per agent in parallel; each output is a technical plan.
    FanOut,
    /// The first agent (the chair) lists the conflicts between the plans.
    Compare,
    /// One ballot per agent per conflict, in parallel.
    Vote,
    /// Tally; ties go to the chair (headless) or the person (TUI).
    Resolve,
    /// The first agent breaks the design into tasks; tasks run as a DAG.
    Tasks,
    /// The agent writes tests, quorum runs them, failures become repair tasks.
    Test,
    /// The agent reviews the staged files; blocking findings become repair tasks.
    Review,
    /// Accepted files are written into DIR and committed.
    Deliver,
}

impl PhaseKind {
    /// The kind's name as written in a workflow file and in events.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseKind::Single => "single",
            PhaseKind::FanOut => "fan-out",
            PhaseKind::Compare => "compare",
            PhaseKind::Vote => "vote",
            PhaseKind::Resolve => "resolve",
            PhaseKind::Tasks => "tasks",
            PhaseKind::Test => "test",
            PhaseKind::Review => "review",
            PhaseKind::Deliver => "deliver",
        }
    }

    /// `false` for the kinds that run no agent (deliver).
    pub fn needs_agents(self) -> bool {
        !matches!(self, PhaseKind::Deliver)
    }
}

/// How bad a review finding is, from least to most severe (the order of
/// [`Severity::ALL`] and of `Ord`). A finding's `severity` is written as the
/// lowercase name (`"high"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// A small risk.
    Low,
    /// A risk to fix soon.
    Medium,
    /// A risk to fix before use.
    High,
    /// Exploitable as it stands.
    Critical,
}

impl Severity {
    /// Every severity, from least to most severe.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The severity's name as written in a finding (`"info"` … `"critical"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The severity named `name` exactly (lowercase), if any.
    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Every name, least severe first (`["info", …, "critical"]`).
    pub fn names() -> [&'static str; 5] {
        Severity::ALL.map(Severity::as_str)
    }
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
    /// ([`super::SessionOptions::unbuilt`]). Committed like a success, but the
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_their_own_names_and_nothing_else() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(Severity::parse("High"), None);
        assert_eq!(Severity::parse("severe"), None);
        assert_eq!(
            Severity::names(),
            ["info", "low", "medium", "high", "critical"]
        );
        assert!(Severity::Info < Severity::Critical);
    }

    #[test]
    fn kinds_serialise_as_their_names() {
        assert_eq!(
            serde_json::to_value(PhaseKind::FanOut).unwrap(),
            serde_json::json!("fan-out")
        );
        assert_eq!(PhaseKind::FanOut.as_str(), "fan-out");
        assert_eq!(
            serde_json::to_value(TaskKind::Breakdown).unwrap(),
            serde_json::json!(TaskKind::Breakdown.as_str())
        );
        assert!(!PhaseKind::Deliver.needs_agents());
    }
}
