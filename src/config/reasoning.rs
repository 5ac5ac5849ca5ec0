//! Reasoning settings (docs/configuration.md, `[agents.NAME]`): how hard a
//! reasoning model thinks, per agent and per phase. `reasoning_effort` is
//! OpenAI's Chat Completions field (`minimal`, `low`, `medium`, `high`);
//! `thinking_budget` is a token budget, Anthropic's `thinking.budget_tokens`
//! and Gemini's `thinkingConfig.thinkingBudget`. Nothing is sent when
//! neither is set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How hard a reasoning model thinks (OpenAI's `reasoning_effort` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    /// As little reasoning as the model allows (GPT-5 family).
    Minimal,
    /// Little reasoning.
    Low,
    /// The models' usual default.
    Medium,
    /// Much reasoning.
    High,
}

impl ReasoningEffort {
    /// The name written in the config and sent to OpenAI.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }

    /// The thinking budget in tokens this effort stands for where a provider
    /// takes a budget (Anthropic, Gemini): minimal 1,024 (Anthropic's least
    /// `budget_tokens`), low 2,048, medium 8,192, high 24,576 (Gemini 2.5
    /// Flash's largest `thinkingBudget`).
    pub fn budget(self) -> u32 {
        match self {
            ReasoningEffort::Minimal => MIN_THINKING_BUDGET,
            ReasoningEffort::Low => 2_048,
            ReasoningEffort::Medium => 8_192,
            ReasoningEffort::High => 24_576,
        }
    }
}

/// The least `thinking_budget` (Anthropic's docs, "Extended thinking":
/// `budget_tokens` is at least 1,024).
pub const MIN_THINKING_BUDGET: u32 = 1_024;

/// The reasoning asked for in one call; the default asks for none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoning {
    /// `reasoning_effort`, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<ReasoningEffort>,
    /// `thinking_budget` in tokens, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<u32>,
}

impl Reasoning {
    /// `true` when anything is set.
    pub fn is_set(&self) -> bool {
        self.effort.is_some() || self.thinking_budget.is_some()
    }

    /// The thinking budget in tokens: `thinking_budget`, else the effort's
    /// ([`ReasoningEffort::budget`]); `None` when neither is set.
    pub fn budget(&self) -> Option<u32> {
        self.thinking_budget
            .or_else(|| self.effort.map(ReasoningEffort::budget))
    }

    /// This setting with `over`'s fields where `over` sets them.
    pub fn with(self, over: Reasoning) -> Reasoning {
        Reasoning {
            effort: over.effort.or(self.effort),
            thinking_budget: over.thinking_budget.or(self.thinking_budget),
        }
    }
}

/// An agent's reasoning settings: its own, and per phase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentReasoning {
    /// `[agents.NAME] reasoning_effort` and `thinking_budget`.
    pub default: Reasoning,
    /// `[agents.NAME.phases.PHASE]`, by phase name.
    pub phases: BTreeMap<String, Reasoning>,
}

impl AgentReasoning {
    /// The setting of a call in phase `phase`: the phase's keys over the
    /// agent's.
    pub fn for_phase(&self, phase: &str) -> Reasoning {
        match self.phases.get(phase) {
            Some(over) => self.default.with(*over),
            None => self.default,
        }
    }
}

/// Every `[agents.NAME.phases.PHASE]` of `settings` names a phase of
/// `workflow` (the built-in one, or a `--workflow` file's).
///
/// Errors: the first table that names no phase of the workflow, as
/// `agents.NAME.phases.PHASE: no phase `PHASE` in the workflow `W` (phases:
/// …)` (the command line exits 2 with it).
pub fn check_phases(
    settings: &super::Settings,
    workflow: &super::workflow::Workflow,
) -> Result<(), String> {
    let names: Vec<&str> = workflow.phases.iter().map(|p| p.name.as_str()).collect();
    for agent in &settings.agents {
        if let Some(phase) = agent
            .reasoning
            .phases
            .keys()
            .find(|p| !names.contains(&p.as_str()))
        {
            return Err(format!(
                "agents.{}.phases.{phase}: no phase `{phase}` in the workflow `{}` (phases: {})",
                agent.name,
                workflow.name,
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// `[agents.NAME.phases.PHASE]` as written.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhase {
    pub(super) reasoning_effort: Option<ReasoningEffort>,
    pub(super) thinking_budget: Option<u32>,
}

impl RawPhase {
    /// The setting as written.
    pub(super) fn reasoning(&self) -> Reasoning {
        Reasoning {
            effort: self.reasoning_effort,
            thinking_budget: self.thinking_budget,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn phases_override_the_agent_key_by_key() {
        let agent = AgentReasoning {
            default: Reasoning {
                effort: Some(ReasoningEffort::Low),
                thinking_budget: Some(4_000),
            },
            phases: BTreeMap::from([(
                "plan".to_string(),
                Reasoning {
                    effort: Some(ReasoningEffort::High),
                    thinking_budget: None,
                },
            )]),
        };
        let plan = agent.for_phase("plan");
        assert_eq!(plan.effort, Some(ReasoningEffort::High));
        assert_eq!(plan.budget(), Some(4_000));
        assert_eq!(agent.for_phase("review").effort, Some(ReasoningEffort::Low));
        assert!(!Reasoning::default().is_set());
        assert_eq!(Reasoning::default().budget(), None);
        let effort_only = Reasoning {
            effort: Some(ReasoningEffort::Medium),
            thinking_budget: None,
        };
        assert_eq!(effort_only.budget(), Some(8_192));
    }
}
