//! Workflows: the phases of a session as data (docs/design.md §1). The default lives in
//! `assets/workflows/default.toml`; `--workflow FILE` loads a user's own.
//!
//! The engine knows phase [`PhaseKind`]s, not the default's phase names. Loading
//! validates the kinds, the agents against the roster, the inputs (only earlier
//! phases) and the required phases, so the orchestrator can trust a [`Workflow`].

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The default workflow's text.
pub const DEFAULT_WORKFLOW: &str = include_str!("../../assets/workflows/default.toml");

pub use crate::protocol::PhaseKind;

/// One phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// A validated workflow. Stored with each session (serde) so that a resumed
/// session runs the workflow it started with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// The workflow's name (shown in `session_started`).
    pub name: String,
    /// One line about it.
    pub description: String,
    /// The phases, in order.
    pub phases: Vec<Phase>,
}

/// The file as written, with the span of each phase (for line numbers).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "phase")]
    phases: Vec<toml::Spanned<Phase>>,
}

/// The path from phase `from` back to phase `to` through inputs, if any.
fn cycle_path(phases: &[Phase], from: &str, to: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = std::collections::BTreeSet::new();
    while let Some((name, path)) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let phase = phases.iter().find(|p| p.name == name)?;
        for input in &phase.inputs {
            let mut next = path.clone();
            next.push(input.clone());
            if input == to {
                return Some(next);
            }
            stack.push((input.clone(), next));
        }
    }
    None
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

/// The phase names of the default workflow, in order (what
/// `[agents.NAME.phases.PHASE]` may name; docs/configuration.md).
pub fn default_phase_names() -> Vec<String> {
    toml::from_str::<RawWorkflow>(DEFAULT_WORKFLOW)
        .map(|w| w.phases.into_iter().map(|p| p.into_inner().name).collect())
        .unwrap_or_default()
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

    /// Parses and validates workflow text. Errors name the line: TOML errors,
    /// unknown kinds, unknown agents, inputs that form a cycle or are not
    /// earlier phases, duplicate names, a phase without agents, a missing
    /// `single`, `tasks` or `deliver` phase, or anything after `deliver`.
    pub fn parse(
        text: &str,
        source_name: &str,
        roster: &[String],
    ) -> Result<Workflow, WorkflowError> {
        let err = |message: String| WorkflowError {
            source_name: source_name.to_string(),
            message,
        };
        let raw: RawWorkflow =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let line_at = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        // The line of `needle` inside the phase's text, else the phase's own line.
        let line_of = |span: &std::ops::Range<usize>, needle: &str| {
            let body = &text[span.start.min(text.len())..span.end.min(text.len())];
            match body.find(needle) {
                Some(i) => line_at(span.start + i),
                None => line_at(span.start),
            }
        };
        // A phase's text runs from its `[[phase]]` header to the next one (the
        // span toml gives an array-of-tables entry covers its header only).
        let starts: Vec<usize> = raw.phases.iter().map(|p| p.span().start).collect();
        let spans: Vec<std::ops::Range<usize>> = starts
            .iter()
            .enumerate()
            .map(|(i, start)| *start..starts.get(i + 1).copied().unwrap_or(text.len()))
            .collect();
        let workflow = Workflow {
            name: raw.name,
            description: raw.description,
            phases: raw
                .phases
                .into_iter()
                .map(toml::Spanned::into_inner)
                .collect(),
        };
        workflow.check_phases(&spans, roster, &line_of, &err)?;
        workflow.check_order(&spans, &line_at, &err)?;
        Ok(workflow)
    }

    /// Checks each phase against the earlier ones (docs/workflows.md): no
    /// name twice, agents from the roster, agents where the kind needs them,
    /// inputs that are earlier phases (a cycle is named as one).
    fn check_phases(
        &self,
        spans: &[std::ops::Range<usize>],
        roster: &[String],
        line_of: &impl Fn(&std::ops::Range<usize>, &str) -> usize,
        err: &impl Fn(String) -> WorkflowError,
    ) -> Result<(), WorkflowError> {
        let workflow = self;
        let names: Vec<&str> = workflow.phases.iter().map(|p| p.name.as_str()).collect();
        let mut seen: Vec<&str> = Vec::new();
        for (i, phase) in workflow.phases.iter().enumerate() {
            let span = &spans[i];
            let at = |needle: &str| line_of(span, needle);
            if seen.contains(&phase.name.as_str()) {
                return Err(err(format!(
                    "line {}: phase `{}` is defined twice",
                    at(&format!("\"{}\"", phase.name)),
                    phase.name
                )));
            }
            for agent in &phase.agents {
                if !roster.contains(agent) {
                    return Err(err(format!(
                        "line {}: phase `{}` names agent `{agent}`, which is not in the roster ({})",
                        at(&format!("\"{agent}\"")),
                        phase.name,
                        roster.join(", ")
                    )));
                }
            }
            if phase.kind.needs_agents() && phase.agents.is_empty() {
                return Err(err(format!(
                    "line {}: phase `{}` ({}) has no agents",
                    at("agents"),
                    phase.name,
                    phase.kind.as_str()
                )));
            }
            for input in &phase.inputs {
                let line = at(&format!("\"{input}\""));
                if input == &phase.name {
                    return Err(err(format!(
                        "line {line}: phase `{}` takes itself as input (a cycle)",
                        phase.name
                    )));
                }
                if seen.contains(&input.as_str()) {
                    continue;
                }
                let Some(later) = workflow.phases.iter().find(|p| &p.name == input) else {
                    return Err(err(format!(
                        "line {line}: phase `{}` takes input `{input}`, which is no phase of this workflow ({})",
                        phase.name,
                        names.join(", ")
                    )));
                };
                // A later phase: a cycle when it leads back here through its inputs.
                if let Some(path) = cycle_path(&workflow.phases, &later.name, &phase.name) {
                    return Err(err(format!(
                        "line {line}: the inputs form a cycle: {} → {}",
                        phase.name,
                        path.join(" → ")
                    )));
                }
                return Err(err(format!(
                    "line {line}: phase `{}` takes input `{input}`, which comes later; inputs must be earlier phases",
                    phase.name
                )));
            }
            seen.push(&phase.name);
        }
        Ok(())
    }

    /// Checks the workflow as a whole: a `single`, a `tasks` and a `deliver`
    /// phase, `deliver` last, and each kind after the kind it needs.
    fn check_order(
        &self,
        spans: &[std::ops::Range<usize>],
        line_at: &impl Fn(usize) -> usize,
        err: &impl Fn(String) -> WorkflowError,
    ) -> Result<(), WorkflowError> {
        let workflow = self;
        for required in [PhaseKind::Single, PhaseKind::Tasks, PhaseKind::Deliver] {
            if !workflow.phases.iter().any(|p| p.kind == required) {
                return Err(err(format!(
                    "no `{}` phase; every workflow needs one",
                    required.as_str()
                )));
            }
        }
        if let Some(i) = workflow
            .phases
            .iter()
            .position(|p| p.kind == PhaseKind::Deliver)
            && i + 1 != workflow.phases.len()
        {
            return Err(err(format!(
                "line {}: the `deliver` phase must be the last one",
                line_at(spans[i + 1].start)
            )));
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
                            "line {}: a `{}` phase needs a `{}` phase before it",
                            line_at(spans[a].start),
                            after.as_str(),
                            before.as_str()
                        )));
                    }
                }
            }
        }
        Ok(())
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
        // compare (3rd) takes vote (4th), which takes compare.
        assert_eq!(
            DEFAULT_WORKFLOW
                .matches("inputs = [\"refine\", \"plan\"]\n")
                .count(),
            1
        );
        let cycle = DEFAULT_WORKFLOW.replace(
            "inputs = [\"refine\", \"plan\"]\n",
            "inputs = [\"refine\", \"vote\"]\n",
        );
        let e = Workflow::parse(&cycle, "w.toml", &roster())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cycle: compare → vote → compare"), "{e}");
        let line = cycle
            .lines()
            .position(|l| l.contains("inputs = [\"refine\", \"vote\"]"))
            .unwrap()
            + 1;
        assert!(e.contains(&format!("line {line}:")), "{e}");
        let unknown = DEFAULT_WORKFLOW.replace("agents = [\"qa\"]", "agents = [\"tester\"]");
        let e = Workflow::parse(&unknown, "w.toml", &roster())
            .unwrap_err()
            .to_string();
        let line = unknown
            .lines()
            .position(|l| l.contains("\"tester\""))
            .unwrap()
            + 1;
        assert!(e.contains(&format!("line {line}:")), "{e}");
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
                DEFAULT_WORKFLOW.replace("inputs = [\"refine\"]\n", "inputs = [\"design\"]\n"),
                "no phase of this workflow",
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
