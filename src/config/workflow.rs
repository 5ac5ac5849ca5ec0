//! Workflows: the phases of a session as data (DESIGN.md §1). The default lives in
//! `assets/workflows/default.toml`; `--workflow FILE` loads a user's own.
//!
//! The engine knows phase [`PhaseKind`]s, not the default's phase names. Loading
//! validates the kinds, the agents against the roster, the inputs (only earlier
//! phases) and the required phases, so the orchestrator can trust a [`Workflow`].

use std::path::Path;

use serde::Deserialize;

/// The default workflow's text.
pub const DEFAULT_WORKFLOW: &str = include_str!("../../assets/workflows/default.toml");

/// What the engine does in a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
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

    /// Kinds that run no agent.
    fn needs_agents(self) -> bool {
        !matches!(self, PhaseKind::Deliver)
    }
}

/// One phase.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// The phase's name (unique in the workflow).
    pub name: String,
    /// What the engine does.
    pub kind: PhaseKind,
    /// The phase's agents; for compare, resolve and tasks the first is the chair.
    #[serde(default)]
    pub agents: Vec<String>,
    /// Earlier phases whose outputs this phase's prompts include.
    #[serde(default)]
    pub inputs: Vec<String>,
}

/// A validated workflow.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// The workflow's name (shown in `session_started`).
    pub name: String,
    /// One line about it.
    #[serde(default)]
    pub description: String,
    /// The phases, in order.
    #[serde(rename = "phase")]
    pub phases: Vec<Phase>,
}

/// A workflow that cannot be used; the message names the file and the phase.
#[derive(Debug, thiserror::Error)]
#[error("invalid workflow {source_name}: {message}")]
pub struct WorkflowError {
    /// File name, or `default`.
    pub source_name: String,
    /// What is wrong.
    pub message: String,
}

impl Workflow {
    /// The built-in default workflow, validated against `roster`.
    pub fn default_for(roster: &[String]) -> Result<Workflow, WorkflowError> {
        Workflow::parse(DEFAULT_WORKFLOW, "default", roster)
    }

    /// Reads and validates a workflow file.
    pub fn load(path: &Path, roster: &[String]) -> Result<Workflow, WorkflowError> {
        let text = std::fs::read_to_string(path).map_err(|e| WorkflowError {
            source_name: path.display().to_string(),
            message: e.to_string(),
        })?;
        Workflow::parse(&text, &path.display().to_string(), roster)
    }

    /// Parses and validates workflow text. Errors: TOML errors (with the line),
    /// unknown kinds, unknown agents, inputs that are not earlier phases,
    /// duplicate names, a phase without agents, a missing `tasks` or `deliver`
    /// phase, or anything after `deliver`.
    pub fn parse(
        text: &str,
        source_name: &str,
        roster: &[String],
    ) -> Result<Workflow, WorkflowError> {
        let err = |message: String| WorkflowError {
            source_name: source_name.to_string(),
            message,
        };
        let workflow: Workflow =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let mut seen: Vec<&str> = Vec::new();
        for phase in &workflow.phases {
            if seen.contains(&phase.name.as_str()) {
                return Err(err(format!("phase `{}` is defined twice", phase.name)));
            }
            for agent in &phase.agents {
                if !roster.contains(agent) {
                    return Err(err(format!(
                        "phase `{}` names agent `{agent}`, which is not in the roster ({})",
                        phase.name,
                        roster.join(", ")
                    )));
                }
            }
            if phase.kind.needs_agents() && phase.agents.is_empty() {
                return Err(err(format!(
                    "phase `{}` ({}) has no agents",
                    phase.name,
                    phase.kind.as_str()
                )));
            }
            for input in &phase.inputs {
                if input == &phase.name {
                    return Err(err(format!("phase `{}` takes itself as input", phase.name)));
                }
                if !seen.contains(&input.as_str()) {
                    return Err(err(format!(
                        "phase `{}` takes input `{input}`, which is not an earlier phase",
                        phase.name
                    )));
                }
            }
            seen.push(&phase.name);
        }
        for required in [PhaseKind::Single, PhaseKind::Tasks, PhaseKind::Deliver] {
            if !workflow.phases.iter().any(|p| p.kind == required) {
                return Err(err(format!(
                    "no `{}` phase; every workflow needs one",
                    required.as_str()
                )));
            }
        }
        if workflow.phases.last().map(|p| p.kind) != Some(PhaseKind::Deliver) {
            return Err(err("the `deliver` phase must be the last one".into()));
        }
        let order = |kind: PhaseKind| workflow.phases.iter().position(|p| p.kind == kind);
        for (before, after) in [
            (PhaseKind::FanOut, PhaseKind::Compare),
            (PhaseKind::Compare, PhaseKind::Vote),
            (PhaseKind::Vote, PhaseKind::Resolve),
            (PhaseKind::Tasks, PhaseKind::Test),
            (PhaseKind::Tasks, PhaseKind::Review),
        ] {
            if let Some(a) = order(after) {
                match order(before) {
                    Some(b) if b < a => {}
                    _ => {
                        return Err(err(format!(
                            "a `{}` phase needs a `{}` phase before it",
                            after.as_str(),
                            before.as_str()
                        )));
                    }
                }
            }
        }
        Ok(workflow)
    }

    /// Index of the first phase of `kind`.
    pub fn position(&self, kind: PhaseKind) -> Option<usize> {
        self.phases.iter().position(|p| p.kind == kind)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn roster() -> Vec<String> {
        crate::config::DEFAULT_ROSTER
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn the_default_workflow_has_nine_phases_in_order() {
        let w = Workflow::default_for(&roster()).unwrap();
        let names: Vec<_> = w.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "refine",
                "plan",
                "compare",
                "vote",
                "resolve",
                "implement",
                "test",
                "review",
                "deliver"
            ]
        );
        assert_eq!(w.phases[1].kind, PhaseKind::FanOut);
        assert_eq!(w.position(PhaseKind::Deliver), Some(8));
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            (
                DEFAULT_WORKFLOW.replace("kind = \"vote\"", "kind = \"ballot\""),
                "ballot",
            ),
            (
                DEFAULT_WORKFLOW.replace("agents = [\"qa\"]", "agents = [\"tester\"]"),
                "tester",
            ),
            (
                DEFAULT_WORKFLOW.replace("inputs = [\"refine\"]\n", "inputs = [\"review\"]\n"),
                "not an earlier phase",
            ),
            (
                DEFAULT_WORKFLOW.replace("kind = \"deliver\"", "kind = \"review\""),
                "deliver",
            ),
        ];
        for (text, needle) in cases {
            let e = Workflow::parse(&text, "w.toml", &roster())
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{needle}: {e}");
            assert!(e.contains("w.toml"), "{e}");
        }
    }
}
