//! The test phase's loop (docs/workflows.md, "Setup and tests"): which
//! components the tree has, each component's setup step (with the network)
//! and test run (without it) in the scratch tree, the round's verdict — a run
//! that executed no test never passes — and the repairs a failing round
//! becomes: routed by the files the failure names to their owners, with what
//! they need to fix it. A repair may decline; the chair then reassigns or
//! stops. These are `impl Actor` blocks: the state lives in the [`Session`].
//!
//! [`Session`]: super::actor::Session

use std::time::Duration;

use serde_json::json;

use super::actor::{Actor, Inbox, Stage};
use crate::config::workflow::{Phase, PhaseKind};
use crate::protocol::{EventBody, SetupStatus, TestStatus};
use crate::store::RecordKey;
use crate::workspace::report;
use crate::workspace::sandbox::{self, SetupOutcome, TestOutcome};
use crate::workspace::stack::Component;

mod components;
mod repairs;

pub(crate) use components::{environment, warm_tools};

/// Why a failed setup or run is the environment's and not the code's, if it
/// is: the sandbox refused to run model-written code unconfined, the step had
/// no network, or its output says the registry was unreachable.
pub(crate) fn environmental(outcome: &TestOutcome, network: bool) -> Option<String> {
    if let Some(at) = outcome.output.find(sandbox::UNCONFINED_REFUSED) {
        let line = outcome.output[at..].lines().next().unwrap_or_default();
        return Some(format!(
            "{}: {}",
            outcome.component,
            report::clean_line(line)
        ));
    }
    if outcome.status != TestStatus::SetupFailed {
        return None;
    }
    let shown = outcome
        .lines
        .first()
        .cloned()
        .unwrap_or_else(|| "the setup step failed".into());
    if !network {
        return Some(format!(
            "{}: setup ran without the network ([test] setup_network = false or --no-setup-network) and could not install the dependencies: {shown}",
            outcome.component
        ));
    }
    let sign = report::unreachable(&outcome.output)?;
    Some(format!(
        "{}: the package registry could not be reached ({sign}): {shown}",
        outcome.component
    ))
}

/// One line per component of a round, for notes, failures and the commit
/// message: `backend (…pytest -q tests/backend): passed, 68 passed, 0 failed`.
pub(crate) fn round_lines(results: &[TestOutcome]) -> Vec<String> {
    results
        .iter()
        .map(|t| {
            // The command may be the plan's: model text, cleaned.
            let mut line = format!(
                "{} (`{}`): {}, {} passed, {} failed",
                t.component,
                report::clean_line(&t.command).replace('`', "'"),
                t.status.describe(),
                t.passed,
                t.failed
            );
            if t.skipped > 0 {
                line.push_str(&format!(", {} skipped", t.skipped));
            }
            line
        })
        .collect()
}

/// The key of a component's setup in [`Session::setups`]: its root and its
/// setup command (two components may share a root: a `Cargo.toml` and a
/// `package.json` at the tree's root).
///
/// [`Session::setups`]: super::actor::Session::setups
fn setup_key(component: &Component) -> String {
    format!(
        "{}\u{0}{}",
        component.root,
        component.setup.as_deref().unwrap_or("")
    )
}

/// The setup fingerprint of a component: its setup command and the bytes of
/// its manifests in `tree` (a setup whose inputs did not change is not run
/// again: the venv and `node_modules` stay in the scratch tree).
fn fingerprint(tree: &std::path::Path, component: &Component, setup: &str) -> String {
    let mut bytes = setup.as_bytes().to_vec();
    for manifest in &component.manifests {
        bytes.push(0);
        bytes.extend_from_slice(manifest.as_bytes());
        bytes.push(0);
        bytes.extend(std::fs::read(tree.join(manifest)).unwrap_or_default());
    }
    crate::workspace::blob_id(&bytes)
}

impl Actor {
    /// Starts the next test round of the test (or review) phase: every
    /// component's setup (when its inputs changed) and tests, one after the
    /// other, off the actor. Results come back as [`Inbox::SetupDone`],
    /// [`Inbox::TestDone`] and [`Inbox::RoundDone`].
    pub(crate) fn run_tests(&mut self, phase: &Phase) {
        if self.probing_pytest {
            return;
        }
        let Some(components) = self.components() else {
            return;
        };
        let lead = phase.agents.first().cloned().unwrap_or_default();
        let Some(s) = self.s() else {
            return;
        };
        let stage = match phase.kind {
            PhaseKind::Review => &mut s.tests.review_stage,
            _ => &mut s.tests.test_stage,
        };
        *stage = Stage::Running;
        s.tests.retest = false;
        s.tests.test_round += 1;
        s.tests.round_tests.clear();
        let round = s.tests.test_round;
        s.tests.test_command = Some(
            components
                .iter()
                .map(|c| c.test.clone())
                .collect::<Vec<_>>()
                .join("; "),
        );
        s.tests.components = components.clone();
        if components.is_empty() {
            // Nothing a runner can run: as a run that executed no test.
            let outcome = TestOutcome {
                component: "project".into(),
                command: "(none)".into(),
                status: TestStatus::NoTests,
                passed: 0,
                failed: 0,
                skipped: 0,
                failures: Vec::new(),
                lines: vec![
                    "no test runner found for the tree: no Cargo.toml, go.mod, package.json, Python project or Python tests".into(),
                ],
                paths: Vec::new(),
                output: String::new(),
                duration: Duration::ZERO,
                network_isolated: true,
                isolation: Default::default(),
            };
            self.on_test_done(round, outcome);
            self.on_round_done(round);
            return;
        }
        for c in &components {
            let setup = match &c.setup {
                Some(setup) => format!("`{setup}`, then "),
                None => String::new(),
            };
            let root = if c.root.is_empty() {
                "."
            } else {
                c.root.as_str()
            };
            self.note(
                &lead,
                &phase.name,
                &format!("▶ {}: {setup}`{}` in {root}", c.name, c.test),
            );
        }
        self.spawn_test_round(round, components);
    }

    /// Runs one round's components in the scratch tree on a tokio task.
    fn spawn_test_round(&mut self, round: u32, components: Vec<Component>) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let tree = self.workspace.scratch(&s.id);
        let known: Vec<String> = s.work.files.keys().cloned().collect();
        let done = s.tests.setups.clone();
        let test = self.settings.test.clone();
        let scrub = self.settings.key_variables();
        let policy = sandbox::Policy::for_session(
            &tree,
            self.workspace.dir(),
            self.workspace.state(),
            self.settings.test.allow_unconfined || s.options.allow_unconfined,
        );
        let inbox = self.inbox_tx.clone();
        tokio::spawn(async move {
            for component in components {
                let cwd = if component.root.is_empty() {
                    tree.clone()
                } else {
                    tree.join(&component.root)
                };
                if let Some(setup) = &component.setup {
                    let (t, c, s) = (tree.clone(), component.clone(), setup.clone());
                    let print = tokio::task::spawn_blocking(move || fingerprint(&t, &c, &s))
                        .await
                        .unwrap_or_default();
                    if done.get(&setup_key(&component)) != Some(&print) {
                        let outcome = sandbox::run_setup(
                            &cwd,
                            setup,
                            Duration::from_secs(test.setup_timeout_s),
                            test.setup_network,
                            &scrub,
                            &policy,
                        )
                        .await;
                        let ok = outcome.status == SetupStatus::Ok;
                        let failed = (!ok)
                            .then(|| TestOutcome::setup_failed(&component.name, setup, &outcome));
                        let _ = inbox.send(Inbox::SetupDone {
                            round,
                            component: component.clone(),
                            outcome,
                            fingerprint: print,
                        });
                        if let Some(outcome) = failed {
                            let _ = inbox.send(Inbox::TestDone { round, outcome });
                            continue;
                        }
                    } else {
                        let _ = inbox.send(Inbox::SetupReused {
                            round,
                            component: component.clone(),
                        });
                    }
                }
                let mut outcome = sandbox::run_tests_in(
                    &cwd,
                    &component.test,
                    Duration::from_secs(test.timeout_s),
                    &scrub,
                    &known,
                    &policy,
                )
                .await;
                outcome.component = component.name.clone();
                outcome.paths = report::named_paths(&outcome.output, &component.root, &known);
                let _ = inbox.send(Inbox::TestDone { round, outcome });
            }
            let _ = inbox.send(Inbox::RoundDone { round });
        });
    }

    /// A component's setup step ended: its event, the transcript, and the
    /// fingerprint of a setup that succeeded.
    pub(crate) fn on_setup_done(
        &mut self,
        round: u32,
        component: Component,
        outcome: SetupOutcome,
        fingerprint: String,
    ) {
        let Some(phase) = self.current_phase() else {
            return;
        };
        let network = self.settings.test.setup_network;
        let Some(s) = self.s() else {
            return;
        };
        if s.progress.finished.is_some() || s.tests.test_round != round {
            return;
        }
        if outcome.status == SetupStatus::Ok {
            s.tests.setups.insert(setup_key(&component), fingerprint);
        } else {
            s.tests.setups.remove(&setup_key(&component));
        }
        let lead = phase.agents.first().cloned().unwrap_or_default();
        let command = component.setup.clone().unwrap_or_default();
        let status = match outcome.status {
            SetupStatus::Ok => "ok",
            SetupStatus::Failed => "failed",
            SetupStatus::Timeout => "timed out",
        };
        self.note(
            &lead,
            &phase.name,
            &format!(
                "■ setup {}: {status} ({:.1} s{})",
                component.name,
                outcome.duration.as_secs_f64(),
                if network {
                    ", with network"
                } else {
                    ", no network"
                }
            ),
        );
        for line in &outcome.lines {
            self.note(&lead, &phase.name, &format!("│ {line}"));
        }
        self.record(
            RecordKey::Output,
            &format!("setup/{round}/{}", component.name),
            &json!({"command": command, "status": outcome.status, "output": outcome.output}),
        );
        self.emit(EventBody::SetupRun {
            round,
            component: component.name,
            command,
            status: outcome.status,
            network,
            duration_ms: outcome.duration.as_millis() as u64,
            lines: outcome.lines,
            isolation: outcome.isolation,
        });
    }

    /// A component's setup was not run again: its inputs are as they were at
    /// its last success.
    pub(crate) fn on_setup_reused(&mut self, round: u32, component: Component) {
        let Some(phase) = self.current_phase() else {
            return;
        };
        if self
            .session
            .as_ref()
            .is_none_or(|s| s.progress.finished.is_some() || s.tests.test_round != round)
        {
            return;
        }
        let lead = phase.agents.first().cloned().unwrap_or_default();
        self.note(
            &lead,
            &phase.name,
            &format!(
                "■ setup {}: reused (its manifests are unchanged since it last succeeded)",
                component.name
            ),
        );
    }

    /// A component's test run ended: its event, the transcript and the record.
    pub(crate) fn on_test_done(&mut self, round: u32, outcome: TestOutcome) {
        let Some(phase) = self.current_phase() else {
            return;
        };
        let Some(s) = self.s() else {
            return;
        };
        if s.progress.finished.is_some() || s.tests.test_round != round {
            return;
        }
        s.tests.round_tests.push(outcome.clone());
        let lead = phase.agents.first().cloned().unwrap_or_default();
        self.note(
            &lead,
            &phase.name,
            &format!(
                "■ tests round {round}, {}: {}, {} passed, {} failed{} ({:.1} s)",
                outcome.component,
                outcome.status.describe(),
                outcome.passed,
                outcome.failed,
                if outcome.skipped > 0 {
                    format!(", {} skipped", outcome.skipped)
                } else {
                    String::new()
                },
                outcome.duration.as_secs_f64()
            ),
        );
        if outcome.isolation != Default::default() {
            let warn = if outcome.isolation.filesystem {
                ""
            } else {
                "⚠ "
            };
            self.note(
                &lead,
                &phase.name,
                &format!("{warn}sandbox: {}", outcome.isolation.summary()),
            );
        } else if !outcome.network_isolated && round == 1 {
            self.note(
                &lead,
                &phase.name,
                "⚠ network not isolated for the test run (needs root or user namespaces)",
            );
        }
        if outcome.status != TestStatus::Passed {
            for line in &outcome.lines {
                self.note(&lead, &phase.name, &format!("▷ {line}"));
            }
            let tail: Vec<&str> = outcome.output.lines().rev().take(30).collect();
            for line in tail.into_iter().rev() {
                self.note(
                    &lead,
                    &phase.name,
                    &format!("│ {}", report::clean_line(line)),
                );
            }
        }
        self.record(
            RecordKey::Output,
            &format!("test/{round}/{}", outcome.component),
            &json!({
                "component": outcome.component, "command": outcome.command,
                "status": outcome.status, "passed": outcome.passed, "failed": outcome.failed,
                "skipped": outcome.skipped, "failures": outcome.failures,
                "lines": outcome.lines, "paths": outcome.paths, "output": outcome.output,
            }),
        );
        self.emit(EventBody::TestRun {
            round,
            component: outcome.component.clone(),
            command: outcome.command.clone(),
            passed: outcome.passed,
            failed: outcome.failed,
            skipped: outcome.skipped,
            status: outcome.status,
            failures: outcome.failures.iter().take(20).cloned().collect(),
            lines: outcome.lines.clone(),
            isolation: outcome.isolation.clone(),
        });
    }

    /// A round ended: every component passed (the phase passes), or the
    /// failure is the environment's (the session stops, naming no agent), or
    /// repairs are routed while rounds remain, or the phase fails.
    pub(crate) fn on_round_done(&mut self, round: u32) {
        let Some(phase) = self.current_phase() else {
            return;
        };
        let max_rounds = self.settings.test.max_repair_rounds;
        let network = self.settings.test.setup_network;
        let Some(s) = self.s() else {
            return;
        };
        if s.progress.finished.is_some() || s.tests.test_round != round {
            return;
        }
        let results = s.tests.round_tests.clone();
        s.tests.last_tests = results.clone();
        s.tests.last_test = results
            .iter()
            .find(|t| t.status != TestStatus::Passed)
            .or_else(|| results.last())
            .cloned();
        let passed = !results.is_empty() && results.iter().all(|t| t.status == TestStatus::Passed);
        let review = phase.kind == PhaseKind::Review;
        let stage = if review {
            &mut s.tests.review_stage
        } else {
            &mut s.tests.test_stage
        };
        if passed {
            if review {
                // The repaired files passed: review them again (each review
                // follows a repair round, so the rounds bound the reviews).
                self.queue_review(&phase);
            } else {
                *stage = Stage::Passed;
            }
            return;
        }
        let lines = round_lines(&results);
        let environment: Vec<String> = results
            .iter()
            .filter_map(|t| environmental(t, network))
            .collect();
        if !environment.is_empty() {
            *stage = Stage::Failed;
            s.progress.failure = Some(format!(
                "the environment, not the code: {} — fix it (or the config) and run `quorum resume {}`",
                environment.join("; "),
                s.id
            ));
            return;
        }
        if s.tests.repair_rounds < max_rounds {
            s.tests.repair_rounds += 1;
            *stage = Stage::Writing;
            let label = if review {
                format!("fix{}", s.tests.repair_rounds)
            } else {
                format!("repair{}", s.tests.repair_rounds)
            };
            self.route_repairs(&phase, &label, &results);
            return;
        }
        *stage = Stage::Failed;
        let why: Vec<String> = results
            .iter()
            .filter(|t| t.status != TestStatus::Passed)
            .map(|t| {
                let first = t
                    .lines
                    .first()
                    .map(|l| format!(" — {l}"))
                    .unwrap_or_default();
                format!("{}: {}{first}", t.component, t.status.describe())
            })
            .collect();
        s.progress.failure = Some(format!(
            "tests still fail after {} repair round(s): {} [{}]",
            s.tests.repair_rounds,
            why.join("; "),
            lines.join("; ")
        ));
    }
}

#[cfg(test)]
mod tests;
