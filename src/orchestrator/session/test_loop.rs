//! The test-loop part of a [`super::Session`]: where the test phase and the
//! review's re-test stand (the round, its stages, the last runs, the
//! components and their setups) and the repair bookkeeping. Written by
//! `testing.rs`, `testing/repairs.rs` and the test and review phases.
//! (Named `test_loop`, not `tests`: a `tests.rs` is a test module here.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::workspace::sandbox::TestOutcome;
use crate::workspace::stack::Component;

/// Where the test phase (and the review's re-test) is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Stage {
    /// Agents are writing (tests, or fixes).
    #[default]
    Writing,
    /// The test command runs.
    Running,
    /// The phase's work is complete.
    Passed,
    /// The phase failed for good.
    Failed,
}

/// The session's test loop. Flattened into the `state`/`session` record.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct TestLoop {
    pub test_round: u32,
    pub test_stage: Stage,
    pub review_stage: Stage,
    /// The failing (else the last) component run of the last round.
    pub last_test: Option<TestOutcome>,
    /// Every component's run of the last finished round.
    #[serde(default)]
    pub last_tests: Vec<TestOutcome>,
    /// The runs of the round under way.
    #[serde(default)]
    pub round_tests: Vec<TestOutcome>,
    /// The components of the last round.
    #[serde(default)]
    pub components: Vec<Component>,
    /// A component's root and setup command → the fingerprint of its last
    /// successful setup (a setup whose inputs are unchanged is not run again).
    #[serde(default)]
    pub setups: BTreeMap<String, String>,
    /// Repair rounds run so far (test and review), against `[test] max_repair_rounds`.
    #[serde(default)]
    pub repair_rounds: u32,
    /// This round's declined repairs: (task, agent, reason).
    #[serde(default)]
    pub declined: Vec<(String, String, String)>,
    /// Reviews queued so far (the first, then one per repaired round).
    #[serde(default)]
    pub reviews: u32,
    /// A repair round was queued since the last test run: its files are to be
    /// tested again (the review phase reads it; `testing.rs` sets and clears it).
    #[serde(default)]
    pub retest: bool,
    pub test_command: Option<String>,
    /// A repair round was queued and has not been judged yet.
    pub awaiting_repairs: bool,
    /// A repair of the current round changed a file.
    pub round_changed: bool,
    /// The current round's task-id part (`.repair1.`, `.fix.`).
    pub round_label: String,
}
