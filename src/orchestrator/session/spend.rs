//! The spend part of a [`super::Session`]: tokens and dollars, in total and
//! per agent, the budgets the person raised and which scopes were warned,
//! exhausted or paused, and the pure checks of a scope against its budget
//! ([`share`], [`Level`], [`over`]; their effects are in `budget.rs`).

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

/// The scope name of the session's budget.
pub(crate) const SESSION: &str = "session";

/// Share of a budget at which the warning comes.
pub(crate) const WARN_AT: f64 = 0.8;

/// A scope's budget: (dollars, tokens); `None` where there is no limit.
pub(crate) type Budget = (Option<f64>, Option<u64>);

impl Spend {
    /// What `scope` (an agent's name, or [`SESSION`]) has spent: (dollars,
    /// tokens in and out).
    pub fn spent_in(&self, scope: &str) -> (f64, u64) {
        if scope == SESSION {
            (
                self.cost_usd,
                self.usage.input_tokens + self.usage.output_tokens,
            )
        } else {
            (
                self.agent_cost.get(scope).copied().unwrap_or(0.0),
                self.agent_tokens.get(scope).copied().unwrap_or(0),
            )
        }
    }
}

/// How much of `budget` is `spent`: the larger of the dollar and the token
/// share (1.0 is all of it); a zero budget is spent at once (infinite), a
/// missing one counts 0.
pub(crate) fn share(spent: (f64, u64), budget: Budget) -> f64 {
    let (spent_usd, spent_tokens) = spent;
    let (budget_usd, budget_tokens) = budget;
    f64::max(
        budget_usd.map_or(0.0, |b| {
            if b > 0.0 {
                spent_usd / b
            } else {
                f64::INFINITY
            }
        }),
        budget_tokens.map_or(0.0, |b| {
            if b > 0 {
                spent_tokens as f64 / b as f64
            } else {
                f64::INFINITY
            }
        }),
    )
}

/// Where a scope stands against its budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Under [`WARN_AT`] of it.
    Under,
    /// At [`WARN_AT`] or more: warned once.
    Warn,
    /// All of it spent: what it covers pauses.
    Exhausted,
}

impl Level {
    /// The level of a [`share`] of a budget.
    pub fn of(share: f64) -> Level {
        if share >= 1.0 {
            Level::Exhausted
        } else if share >= WARN_AT {
            Level::Warn
        } else {
            Level::Under
        }
    }
}

/// Whether `spent` reaches either limit of `budget` (a resume's recheck: a
/// raised budget releases the scope).
pub(crate) fn over(spent: (f64, u64), budget: Budget) -> bool {
    budget.0.is_some_and(|b| spent.0 >= b) || budget.1.is_some_and(|b| spent.1 >= b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_the_larger_of_dollars_and_tokens() {
        assert!((share((1.0, 100), (Some(4.0), Some(1_000))) - 0.25).abs() < 1e-9);
        assert!((share((1.0, 900), (Some(4.0), Some(1_000))) - 0.9).abs() < 1e-9);
        assert!((share((3.0, 0), (Some(4.0), None)) - 0.75).abs() < 1e-9);
        assert_eq!(share((5.0, 5), (None, None)), 0.0, "no budget, no share");
        assert!(
            share((0.0, 0), (Some(0.0), None)).is_infinite(),
            "a zero budget"
        );
        assert!(share((0.0, 0), (None, Some(0))).is_infinite());
    }

    #[test]
    fn a_budget_warns_at_eighty_percent_and_is_exhausted_at_all_of_it() {
        assert_eq!(Level::of(0.79), Level::Under);
        assert_eq!(Level::of(WARN_AT), Level::Warn);
        assert_eq!(Level::of(0.999), Level::Warn);
        assert_eq!(Level::of(1.0), Level::Exhausted);
        assert_eq!(Level::of(f64::INFINITY), Level::Exhausted);
        let spent = (0.5, 850);
        assert_eq!(
            Level::of(share(spent, (Some(10.0), Some(1_000)))),
            Level::Warn
        );
    }

    #[test]
    fn over_means_either_limit_reached() {
        assert!(over((2.0, 0), (Some(2.0), None)));
        assert!(over((0.0, 10), (Some(2.0), Some(10))));
        assert!(!over((1.99, 9), (Some(2.0), Some(10))));
        assert!(!over((100.0, 100), (None, None)));
    }

    #[test]
    fn a_scope_spends_its_agents_or_the_sessions_total() {
        let mut spend = Spend {
            cost_usd: 3.0,
            ..Spend::default()
        };
        spend.usage.input_tokens = 100;
        spend.usage.output_tokens = 20;
        spend.agent_cost.insert("ada".into(), 1.0);
        spend.agent_tokens.insert("ada".into(), 70);
        assert_eq!(spend.spent_in(SESSION), (3.0, 120));
        assert_eq!(spend.spent_in("ada"), (1.0, 70));
        assert_eq!(spend.spent_in("bob"), (0.0, 0));
    }
}
