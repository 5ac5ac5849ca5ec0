//! The spend part of a [`super::Session`]: tokens and dollars, in total and
//! per agent, the budgets the person raised and which scopes were warned,
//! exhausted or paused (the checks are in `budget.rs`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::llm::Usage;

/// The session's spend. Flattened into the `state`/`session` record.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Spend {
    pub usage: Usage,
    /// US dollars.
    pub cost_usd: f64,
    /// Cost per agent, US dollars.
    pub agent_cost: BTreeMap<String, f64>,
    /// Tokens (input and output) per agent.
    pub agent_tokens: BTreeMap<String, u64>,
    /// Budgets raised by the person: scope → (dollars, tokens).
    pub budgets: BTreeMap<String, (Option<f64>, Option<u64>)>,
    /// Scopes past 80 % of their budget (warned once).
    pub budget_warned: BTreeSet<String>,
    /// Scopes past their budget.
    pub budget_exhausted: BTreeSet<String>,
    /// Tasks paused by a budget, resumed when it is raised.
    pub budget_paused: BTreeSet<String>,
}
