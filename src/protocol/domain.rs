//! The domain's small enums that several layers name: what a call is for
//! ([`TaskKind`]), what the engine does in a phase ([`PhaseKind`]), how bad a
//! review finding is ([`Severity`]), and the token counts of a call
//! ([`Usage`]). The workflow loader, the transport, the simulated team, the
//! orchestrator and the frontends all share these; their serialised forms are
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
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

impl Usage {
    /// Adds another call's counts.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
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
