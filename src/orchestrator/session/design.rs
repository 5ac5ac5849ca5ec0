//! The design part of a [`super::Session`]: what the agents and the person
//! decided before any code was written (requirements and their questions,
//! plans, conflicts, ballots, decisions, overrides, the breakdown). Written by
//! the refine, plan, compare, vote, resolve and implement phases
//! (`phases/`); read by the task inputs and the decision record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::outputs::{Ballot, Breakdown, Conflict, Plan, Question, Requirements};
use crate::protocol::DecidedBy;

/// A conflict's decision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Decision {
    pub option: String,
    pub decided_by: DecidedBy,
    pub tally: BTreeMap<String, u32>,
    pub rationale: String,
}

/// The session's design. Flattened into the `state`/`session` record: its
/// fields are top-level keys there, as they were before the split.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Design {
    pub requirements: Option<Requirements>,
    pub questions: Vec<Question>,
    /// Question id → the answer.
    pub answers: BTreeMap<String, String>,
    /// Planner → plan.
    pub plans: BTreeMap<String, Plan>,
    pub conflicts: Vec<Conflict>,
    /// conflict → voter → ballot (`None`: abstained).
    pub ballots: BTreeMap<String, BTreeMap<String, Option<Ballot>>>,
    pub decisions: BTreeMap<String, Decision>,
    /// conflict → (the option overridden, if any; the person's note).
    pub overrides: BTreeMap<String, (Option<String>, String)>,
    pub breakdown: Option<Breakdown>,
    /// The text `docs/DECISIONS.md` had before this session's section, as
    /// first staged (the section is staged again with the test results).
    #[serde(default)]
    pub decisions_prefix: Option<String>,
}
