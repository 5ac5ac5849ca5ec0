//! The test phase's loop (docs/workflows.md, "Setup and tests"): which
//! components the tree has, each component's setup step (with the network)
//! and test run (without it) in the scratch tree, the round's verdict — a run
//! that executed no test never passes — and the repairs a failing round
//! becomes: routed by the files the failure names to their owners, with what
//! they need to fix it. A repair may decline; the chair then reassigns or
//! stops. These are `impl Actor` blocks: the state lives in the [`Session`].
//!
//! [`Session`]: super::actor::Session

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::actor::{Actor, Inbox, Stage, Task};
use crate::config::workflow::{Phase, PhaseKind};
use crate::llm::TaskKind;
use crate::protocol::{EventBody, SetupStatus, TestStatus};
use crate::workspace::report;
use crate::workspace::sandbox::{self, SetupOutcome, TestOutcome};
use crate::workspace::stack::{self, Component};

/// Bytes of a failure's output put into a repair request (its tail).
const REPORT_BYTES: usize = 8 * 1024;

/// Bytes of the files a repair request shows (under repair and named).
const REPAIR_FILE_BYTES: usize = 96 * 1024;

/// Lines of output that tell a failure is the machine's, not the code's: the
/// package registry could not be reached.
const NETWORK_SIGNS: &[&str] = &[
    "Could not resolve host",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "getaddrinfo",
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "Failed to establish a new connection",
    "NewConnectionError",
    "spurious network error",
    "--offline was specified",
    "network is unreachable",
    "dial tcp",
];

/// Why a failed setup is the environment's and not the code's, if it is: the
/// step had no network, or its output says the registry was unreachable.
pub(crate) fn environmental(outcome: &TestOutcome, network: bool) -> Option<String> {
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
    let sign = NETWORK_SIGNS
        .iter()
        .find(|sign| outcome.output.contains(*sign))?;
    Some(format!(
        "{}: the package registry could not be reached ({sign}): {shown}",
        outcome.component
    ))
}

/// `text` with each line numbered from 1, right-aligned, as `  12 | code`.
pub(crate) fn numbered(text: &str) -> String {
    let width = text.lines().count().max(1).to_string().len();
    text.lines()
        .enumerate()
        .map(|(i, line)| format!("{:>width$} | {line}\n", i + 1))
        .collect()
}

/// One line per component of a round, for notes, failures and the commit
/// message: `backend (…pytest -q tests/backend): passed, 68 passed, 0 failed`.
pub(crate) fn round_lines(results: &[TestOutcome]) -> Vec<String> {
    results
        .iter()
        .map(|t| {
            let mut line = format!(
                "{} (`{}`): {}, {} passed, {} failed",
                t.component,
                t.command,
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

/// The tools on this machine, one line ([`stack::tools_line`]), once probed.
static TOOLS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Probes the tools on a blocking thread (each `--version` once per process),
/// so that prompts can name them without the actor waiting.
pub(crate) fn warm_tools() {
    if TOOLS.get().is_none() {
        tokio::task::spawn_blocking(|| TOOLS.get_or_init(|| stack::tools_line(stack::tools())));
    }
}

/// The `environment` input of a task: the tools and versions on this machine,
/// how tests run, and the components' exact setup and test commands when they
/// are known.
pub(crate) fn environment(components: &[Component]) -> Value {
    let mut env = json!({
        "tools": TOOLS.get().cloned().unwrap_or_else(|| "(not probed yet)".into()),
        "tests": "Each component's setup command runs first, in its root, with the network; then its test command runs in its root without the network, in a sandbox (scrubbed environment, time and memory limits). A run that executes no test fails, as does a setup that fails.",
    });
    if !components.is_empty() {
        env["components"] = json!(
            components
                .iter()
                .map(|c| json!({"name": c.name, "root": c.root, "setup": c.setup, "test": c.test}))
                .collect::<Vec<_>>()
        );
    }
    env
}

impl Actor {
    /// Resolves the components before qa writes the tests, so the test
    /// writer's `environment` names the commands that will run them.
    pub(crate) fn plan_components(&mut self) {
        if let Some(components) = self.components()
            && let Some(s) = self.s()
        {
            s.components = components;
        }
    }

    /// The components the next round runs, or `None` while the pytest probe
    /// runs (asked again once its answer is cached). `[test] command` other
    /// than `auto` makes one component at the root; else the breakdown's
    /// components when it named any whose roots exist in the tree, else the
    /// ones detected from the tree ([`stack::detect`]). `[test] setup` other
    /// than `auto` replaces every detected setup (`""`: none).
    fn components(&mut self) -> Option<Vec<Component>> {
        let test = self.settings.test.clone();
        let s = self.session.as_ref()?;
        let mut paths: Vec<String> = s.files.keys().cloned().collect();
        if let Some(files) = s.project.as_ref().and_then(|p| p["files"].as_array()) {
            paths.extend(files.iter().filter_map(Value::as_str).map(String::from));
        }
        paths.sort();
        paths.dedup();
        let files = &s.files;
        let mut probe = false;
        let pytest = || {
            sandbox::pytest_probed().unwrap_or_else(|| {
                probe = true;
                false
            })
        };
        let detected = stack::detect(
            &paths,
            |path: &str| files.get(path).map(|f| f.content.as_str()),
            pytest,
        );
        let planned: Vec<Component> = s
            .breakdown
            .as_ref()
            .map(|b| b.components.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !c.test.trim().is_empty())
            .filter_map(|c: super::outputs::PlannedComponent| {
                let root = if c.root.trim().trim_matches('/').is_empty() || c.root.trim() == "." {
                    String::new()
                } else {
                    crate::workspace::paths::normalize(c.root.trim().trim_end_matches('/')).ok()?
                };
                let exists =
                    root.is_empty() || paths.iter().any(|p| p.starts_with(&format!("{root}/")));
                exists.then(|| Component {
                    name: if c.name.trim().is_empty() {
                        if root.is_empty() {
                            "project".into()
                        } else {
                            root.clone()
                        }
                    } else {
                        crate::workspace::report::clean_line(c.name.trim())
                    },
                    manifests: detected
                        .iter()
                        .filter(|d| d.root == root)
                        .flat_map(|d| d.manifests.clone())
                        .collect(),
                    root,
                    setup: Some(c.setup.trim().to_string()).filter(|s| !s.is_empty()),
                    test: c.test.trim().to_string(),
                })
            })
            .collect();
        if probe && test.command == "auto" && planned.is_empty() {
            self.spawn_pytest_probe();
            return None;
        }
        let mut components = if test.command != "auto" {
            let setup = detected
                .iter()
                .find(|c| c.root.is_empty() && detected.len() == 1)
                .and_then(|c| c.setup.clone());
            vec![Component {
                name: "project".into(),
                root: String::new(),
                setup,
                test: test.command.clone(),
                manifests: detected.iter().flat_map(|c| c.manifests.clone()).collect(),
            }]
        } else if !planned.is_empty() {
            planned
        } else {
            detected
        };
        if test.setup != "auto" {
            let setup = Some(test.setup.trim().to_string()).filter(|s| !s.is_empty());
            for (i, c) in components.iter_mut().enumerate() {
                c.setup = if i == 0 { setup.clone() } else { None };
            }
        }
        Some(components)
    }

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
            PhaseKind::Review => &mut s.review_stage,
            _ => &mut s.test_stage,
        };
        *stage = Stage::Running;
        s.test_round += 1;
        s.round_tests.clear();
        let round = s.test_round;
        s.test_command = Some(
            components
                .iter()
                .map(|c| c.test.clone())
                .collect::<Vec<_>>()
                .join("; "),
        );
        s.components = components.clone();
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
        let known: Vec<String> = s.files.keys().cloned().collect();
        let done = s.setups.clone();
        let test = self.settings.test.clone();
        let scrub = self.settings.key_variables();
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
                    if done.get(&component.root) != Some(&print) {
                        let outcome = sandbox::run_setup(
                            &cwd,
                            setup,
                            Duration::from_secs(test.setup_timeout_s),
                            test.setup_network,
                            &scrub,
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
        if s.finished.is_some() || s.test_round != round {
            return;
        }
        if outcome.status == SetupStatus::Ok {
            s.setups.insert(component.root.clone(), fingerprint);
        } else {
            s.setups.remove(&component.root);
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
            "output",
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
            .is_none_or(|s| s.finished.is_some() || s.test_round != round)
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
        if s.finished.is_some() || s.test_round != round {
            return;
        }
        s.round_tests.push(outcome.clone());
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
        if !outcome.network_isolated && round == 1 {
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
            "output",
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
        if s.finished.is_some() || s.test_round != round {
            return;
        }
        let results = s.round_tests.clone();
        s.last_tests = results.clone();
        s.last_test = results
            .iter()
            .find(|t| t.status != TestStatus::Passed)
            .or_else(|| results.last())
            .cloned();
        let passed = !results.is_empty() && results.iter().all(|t| t.status == TestStatus::Passed);
        let review = phase.kind == PhaseKind::Review;
        let stage = if review {
            &mut s.review_stage
        } else {
            &mut s.test_stage
        };
        if passed {
            *stage = Stage::Passed;
            return;
        }
        let lines = round_lines(&results);
        let environment: Vec<String> = results
            .iter()
            .filter_map(|t| environmental(t, network))
            .collect();
        if !environment.is_empty() {
            *stage = Stage::Failed;
            s.failure = Some(format!(
                "the environment, not the code: {} — fix it (or the config) and run `quorum resume {}`",
                environment.join("; "),
                s.id
            ));
            return;
        }
        if s.repair_rounds < max_rounds {
            s.repair_rounds += 1;
            *stage = Stage::Writing;
            let label = if review {
                format!("fix{}", s.repair_rounds)
            } else {
                format!("repair{}", s.repair_rounds)
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
        s.failure = Some(format!(
            "tests still fail after {} repair round(s): {} [{}]",
            s.repair_rounds,
            why.join("; "),
            lines.join("; ")
        ));
    }

    /// Queues the repairs of a failing round, per failing component: a run
    /// that executed no test goes to the test writer; a setup failure to the
    /// owners of the component's manifests; a build or test failure to the
    /// owners of the files its output names (sources before tests; the test
    /// writer when only tests, or nothing, are named).
    fn route_repairs(&mut self, phase: &Phase, label: &str, results: &[TestOutcome]) {
        let lead = phase.agents.first().cloned().unwrap_or_default();
        let Some(s) = self.session.as_ref() else {
            return;
        };
        // The test writer: the agent of the test phase's writing task.
        let writer = s
            .tasks
            .values()
            .find(|t| t.kind == TaskKind::Tests)
            .map(|t| t.agent.clone())
            .unwrap_or_else(|| lead.clone());
        let owner = |path: &str| s.files.get(path).map(|f| f.agent.clone());
        let is_test = |p: &str| crate::workspace::sandbox::is_test_path(p);
        let mut named_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut failing = Vec::new();
        for t in results.iter().filter(|t| t.status != TestStatus::Passed) {
            failing.push(t.clone());
            let component = s.components.iter().find(|c| c.name == t.component);
            let agents: Vec<(String, Vec<String>)> = match t.status {
                TestStatus::NoTests => vec![(writer.clone(), Vec::new())],
                TestStatus::SetupFailed => {
                    let manifests: Vec<String> = component
                        .map(|c| c.manifests.clone())
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|m| s.files.contains_key(m))
                        .collect();
                    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for m in manifests {
                        if let Some(a) = owner(&m) {
                            by.entry(a).or_default().push(m);
                        }
                    }
                    if by.is_empty() {
                        vec![(lead.clone(), Vec::new())]
                    } else {
                        by.into_iter().collect()
                    }
                }
                _ => {
                    let sources: Vec<&String> = t.paths.iter().filter(|p| !is_test(p)).collect();
                    let named: Vec<&String> = if sources.is_empty() {
                        t.paths.iter().collect()
                    } else {
                        sources
                    };
                    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for p in named {
                        if let Some(a) = owner(p) {
                            by.entry(a).or_default().push(p.clone());
                        }
                    }
                    if by.is_empty() {
                        vec![(writer.clone(), Vec::new())]
                    } else {
                        by.into_iter().collect()
                    }
                }
            };
            for (agent, paths) in agents {
                named_by.entry(agent).or_default().extend(paths);
            }
        }
        let report = failure_report(&failing);
        let base = self.base_context();
        let mut tasks = Vec::new();
        for (agent, named) in named_by {
            // The files under repair: the agent's files in the failing
            // components' roots.
            let roots: Vec<String> = failing
                .iter()
                .filter_map(|t| s.components.iter().find(|c| c.name == t.component))
                .map(|c| c.root.clone())
                .collect();
            let in_roots = |p: &str, f: &super::actor::StagedFile| {
                f.agent == agent
                    && (roots.is_empty()
                        || roots
                            .iter()
                            .any(|r| r.is_empty() || p.starts_with(&format!("{r}/")))
                        || named.contains(p)
                        || (agent == writer && is_test(p)))
            };
            let mut files: Vec<String> = s
                .files
                .iter()
                .filter(|(p, f)| in_roots(p, f))
                .map(|(p, _)| p.clone())
                .collect();
            if files.is_empty() {
                files = s
                    .files
                    .iter()
                    .filter(|(_, f)| f.agent == agent)
                    .map(|(p, _)| p.clone())
                    .collect();
            }
            let mut used = 0;
            let mut current = serde_json::Map::new();
            for p in &files {
                if let Some(f) = s.files.get(p) {
                    let shown = if used + f.content.len() > REPAIR_FILE_BYTES {
                        "(omitted: prompt budget)".to_string()
                    } else {
                        used += f.content.len();
                        numbered(&f.content)
                    };
                    current.insert(p.clone(), Value::String(shown));
                }
            }
            // Files the failure names that are not under repair, for reference.
            let mut others = serde_json::Map::new();
            for t in &failing {
                for p in &t.paths {
                    if files.contains(p) || others.contains_key(p) {
                        continue;
                    }
                    if let Some(f) = s.files.get(p)
                        && used + f.content.len() <= REPAIR_FILE_BYTES
                    {
                        used += f.content.len();
                        others.insert(p.clone(), Value::String(numbered(&f.content)));
                    }
                }
            }
            let mut manifest = serde_json::Map::new();
            for t in &failing {
                for c in s.components.iter().filter(|c| c.name == t.component) {
                    for m in &c.manifests {
                        if let Some(f) = s.files.get(m) {
                            manifest.insert(m.clone(), Value::String(f.content.clone()));
                        }
                    }
                }
            }
            let mut context = base.clone();
            context["files"] = json!(files);
            context["failure"] = json!(
                failing
                    .iter()
                    .map(|t| json!({
                        "component": t.component, "command": t.command,
                        "status": t.status.as_str(), "passed": t.passed, "failed": t.failed,
                        "failing_tests": t.failures.iter().take(20).collect::<Vec<_>>(),
                        "decisive_lines": t.lines, "named_files": t.paths,
                    }))
                    .collect::<Vec<_>>()
            );
            context["report"] = json!(report);
            context["current"] = Value::Object(current);
            if !others.is_empty() {
                context["named"] = Value::Object(others);
            }
            if !manifest.is_empty() {
                context["manifest"] = Value::Object(manifest);
            }
            let mut task = Actor::new_task(
                format!("{}.{label}.{agent}", phase.name),
                &agent,
                &phase.name,
                TaskKind::Repair,
                format!("repair ({label})"),
                context,
            );
            task.declared = files;
            task.priority = 5;
            tasks.push(task);
        }
        let owners: Vec<String> = tasks.iter().map(|t| t.agent.clone()).collect();
        if let Some(s) = self.s() {
            s.awaiting_repairs = true;
            s.round_changed = false;
            s.round_label = format!(".{label}.");
            s.declined.clear();
        }
        self.note(
            &lead,
            &phase.name,
            &format!("↻ {label}: repairs go to {}", owners.join(", ")),
        );
        for task in tasks {
            self.queue_task(task);
        }
    }

    /// Queues one repair task per owner of the files named in `paths` (source
    /// files first; test files only when nothing else is named), for a review's
    /// blocking findings. With no file named, the repair goes to `fallback`.
    pub(crate) fn queue_repairs(
        &mut self,
        phase: &str,
        label: &str,
        paths: &[String],
        report: &str,
        fallback: &str,
    ) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let is_test = |p: &str| crate::workspace::sandbox::is_test_path(p);
        let sources: Vec<&String> = paths.iter().filter(|p| !is_test(p)).collect();
        let named: Vec<&String> = if sources.is_empty() {
            paths.iter().collect()
        } else {
            sources
        };
        let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for path in named {
            if let Some(f) = s.files.get(path) {
                owners.entry(f.agent.clone()).or_default();
            }
        }
        if owners.is_empty() {
            owners.insert(fallback.to_string(), Vec::new());
        }
        for (agent, files) in owners.iter_mut() {
            files.extend(
                s.files
                    .iter()
                    .filter(|(_, f)| &f.agent == agent)
                    .map(|(p, _)| p.clone()),
            );
        }
        let report = tail(report, REPORT_BYTES);
        let base = self.base_context();
        let tasks: Vec<Task> = owners
            .into_iter()
            .map(|(agent, files)| {
                let current: BTreeMap<&String, String> = files
                    .iter()
                    .filter_map(|p| s.files.get(p).map(|f| (p, numbered(&f.content))))
                    .collect();
                let mut context = base.clone();
                context["files"] = json!(files);
                context["report"] = json!(report);
                context["current"] = json!(current);
                let mut task = Actor::new_task(
                    format!("{phase}.{label}.{agent}"),
                    &agent,
                    phase,
                    TaskKind::Repair,
                    format!("repair ({label})"),
                    context,
                );
                task.declared = files;
                task.priority = 5;
                task
            })
            .collect();
        if let Some(s) = self.s() {
            s.awaiting_repairs = true;
            s.round_changed = false;
            s.round_label = format!(".{label}.");
            s.declined.clear();
        }
        for task in tasks {
            self.queue_task(task);
        }
    }

    /// A repair reply said that no change in its files can fix the failure:
    /// the event, the transcript, and the reason kept for the chair.
    pub(crate) fn repair_declined(&mut self, task: &Task, text: &str) {
        let reason: String = text
            .lines()
            .map(report::clean_line)
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let mut reason: String = reason.chars().take(600).collect();
        if reason.is_empty() {
            reason = "(no reason given)".into();
        }
        self.note(&task.agent, &task.id, &format!("⊘ declined: {reason}"));
        self.emit(EventBody::RepairDeclined {
            task: task.id.clone(),
            agent: task.agent.clone(),
            reason: reason.clone(),
        });
        if let Some(s) = self.s() {
            s.declined
                .push((task.id.clone(), task.agent.clone(), reason));
        }
    }

    /// The chair's answer to a round in which every repair declined or
    /// changed nothing: reassign the repair to the owners of staged files a
    /// declining reply names outside its own files (once per round), else stop
    /// the repairs with the agents' reasons. Returns whether repairs were
    /// reassigned.
    pub(crate) fn chair_on_declined(&mut self, phase: &Phase) -> bool {
        let lead = phase.agents.first().cloned().unwrap_or_default();
        let Some(s) = self.session.as_ref() else {
            return false;
        };
        if s.declined.is_empty() || s.round_label.ends_with(".chair.") {
            return false;
        }
        let mut reassign: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (task, agent, reason) in &s.declined {
            let declared = s
                .tasks
                .get(task)
                .map(|t| t.declared.clone())
                .unwrap_or_default();
            for (path, f) in &s.files {
                if reason.contains(path.as_str()) && !declared.contains(path) && &f.agent != agent {
                    reassign
                        .entry(f.agent.clone())
                        .or_default()
                        .push(path.clone());
                }
            }
        }
        if reassign.is_empty() {
            return false;
        }
        let report = s
            .declined
            .iter()
            .map(|(_, agent, reason)| format!("{agent} declined: {reason}"))
            .collect::<Vec<_>>()
            .join("\n");
        let last = s.last_tests.clone();
        let label = s.round_label.trim_matches('.').to_string();
        let paths: Vec<String> = reassign.values().flatten().cloned().collect();
        self.note(
            &lead,
            &phase.name,
            &format!(
                "⚖ chair: the repair is reassigned to {} ({})",
                reassign.keys().cloned().collect::<Vec<_>>().join(", "),
                paths.join(", ")
            ),
        );
        let report = format!("{report}\n\n{}", failure_report(&last));
        self.queue_repairs(
            &phase.name,
            &format!("{label}.chair"),
            &paths,
            &report,
            &lead,
        );
        true
    }
}

/// The text of a failing round for a repair request: per failing component,
/// its class, command, decisive lines and the tail of its output.
fn failure_report(results: &[TestOutcome]) -> String {
    let mut out = String::new();
    let each = REPORT_BYTES / results.len().max(1);
    for t in results.iter().filter(|t| t.status != TestStatus::Passed) {
        out.push_str(&format!(
            "## {} — {} (`{}`): {} passed, {} failed\n",
            t.component,
            t.status.as_str(),
            t.command,
            t.passed,
            t.failed
        ));
        if t.status == TestStatus::NoTests {
            out.push_str(
                "The runner executed no test. Write the tests where this command finds them (file names, directories, the framework the command runs).\n",
            );
        }
        for line in &t.lines {
            out.push_str(&format!("> {line}\n"));
        }
        out.push_str(&tail(&t.output, each));
        out.push('\n');
    }
    out
}

/// The last `bytes` bytes of `text`, on a character boundary.
fn tail(text: &str, bytes: usize) -> String {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn outcome(status: TestStatus, output: &str) -> TestOutcome {
        TestOutcome {
            component: "project".into(),
            command: "cargo test --offline".into(),
            status,
            passed: 0,
            failed: 0,
            skipped: 0,
            failures: Vec::new(),
            lines: vec![
                "error: failed to get `clap` as a dependency of package `wcu v0.1.0`".into(),
            ],
            paths: Vec::new(),
            output: output.into(),
            duration: Duration::ZERO,
            network_isolated: true,
        }
    }

    #[test]
    fn a_setup_that_could_not_reach_the_registry_is_the_environments() {
        let offline = outcome(
            TestStatus::SetupFailed,
            "error: failed to get `clap`\nCaused by: [6] Could not resolve host: index.crates.io",
        );
        let why = environmental(&offline, true).unwrap();
        assert!(why.contains("Could not resolve host"), "{why}");
        assert!(why.contains("clap"), "{why}");
        // Without the network, any setup failure is.
        let other = outcome(TestStatus::SetupFailed, "no matching package named `clapp`");
        assert!(environmental(&other, true).is_none());
        assert!(
            environmental(&other, false)
                .unwrap()
                .contains("without the network")
        );
        // A build failure never is.
        let build = outcome(TestStatus::BuildFailed, "Could not resolve host");
        assert!(environmental(&build, true).is_none());
    }

    #[test]
    fn numbered_lines_are_aligned_and_start_at_one() {
        let text: String = (1..=10).map(|i| format!("l{i}\n")).collect();
        let n = numbered(&text);
        assert!(n.starts_with(" 1 | l1\n"), "{n}");
        assert!(n.ends_with("10 | l10\n"), "{n}");
        assert_eq!(numbered(""), "");
    }

    #[test]
    fn round_lines_name_each_component_its_class_and_counts() {
        let mut a = outcome(TestStatus::Passed, "");
        a.component = "backend".into();
        a.command = ".venv/bin/python -m pytest -q".into();
        a.passed = 68;
        let mut b = outcome(TestStatus::NoTests, "");
        b.component = "frontend".into();
        b.command = "npx vitest run".into();
        b.skipped = 2;
        let lines = round_lines(&[a, b]);
        assert_eq!(
            lines[0],
            "backend (`.venv/bin/python -m pytest -q`): passed, 68 passed, 0 failed"
        );
        assert_eq!(
            lines[1],
            "frontend (`npx vitest run`): ran no tests, 0 passed, 0 failed, 2 skipped"
        );
    }

    #[test]
    fn a_failure_report_says_what_ran_and_keeps_the_outputs_tail() {
        let mut t = outcome(TestStatus::NoTests, &format!("{}END", "x".repeat(20_000)));
        t.lines = vec!["Ran 0 tests in 0.000s".into()];
        let report = failure_report(&[t]);
        assert!(
            report.starts_with("## project — no_tests (`cargo test --offline`)"),
            "{report}"
        );
        assert!(report.contains("executed no test"), "{report}");
        assert!(report.contains("> Ran 0 tests"), "{report}");
        assert!(report.trim_end().ends_with("END"), "{report}");
        assert!(report.len() < REPORT_BYTES + 1024);
    }
}
