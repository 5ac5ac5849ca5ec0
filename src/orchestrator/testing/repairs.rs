//! The repairs a failing round becomes (docs/workflows.md, "Repairs"): who
//! gets them, what each request carries, a repair that declines, and the
//! chair's answer to a round in which every repair declined.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::super::actor::{Actor, Stage, StagedFile, Task};
use super::super::inputs::{RepairInput, context, numbered, shared};
use crate::config::workflow::{Phase, PhaseKind};
use crate::llm::TaskKind;
use crate::protocol::{EventBody, TestStatus};
use crate::workspace::report;
use crate::workspace::sandbox::TestOutcome;
use crate::workspace::stack::{Component, is_test_path};

/// Bytes of a failure's output put into a repair request (its tail).
pub(super) const REPORT_BYTES: usize = 8 * 1024;

/// Bytes of the files a repair request shows (under repair and named).
const REPAIR_FILE_BYTES: usize = 96 * 1024;

/// The owners of the staged `paths`, each with the paths of its own that are
/// named. With `sources_first`, source files decide when any is named (a
/// failure that names a test and the code it tests is the code's); test
/// files only when nothing else is.
fn owners_of(
    files: &BTreeMap<String, StagedFile>,
    paths: &[String],
    sources_first: bool,
) -> BTreeMap<String, Vec<String>> {
    let sources: Vec<&String> = paths.iter().filter(|p| !is_test_path(p)).collect();
    let named: Vec<&String> = if sources.is_empty() || !sources_first {
        paths.iter().collect()
    } else {
        sources
    };
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in named {
        if let Some(f) = files.get(path) {
            owners
                .entry(f.agent.clone())
                .or_default()
                .push(path.clone());
        }
    }
    owners
}

/// Who repairs a failing round: agent → the paths of its staged files that
/// the failures name. A setup that failed goes to the owners of its
/// component's manifests, else to the lead; a run that executed no test goes
/// to the test writer; any other failure to the owners of the files it names
/// (source files first: [`owners_of`]), else to the test writer.
pub(super) fn route(
    files: &BTreeMap<String, StagedFile>,
    components: &[&Component],
    failing: &[TestOutcome],
    writer: &str,
    lead: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut named_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in failing {
        let (owners, fallback) = match t.status {
            TestStatus::NoTests => (BTreeMap::new(), writer),
            TestStatus::SetupFailed => {
                let manifests: Vec<String> = components
                    .iter()
                    .filter(|c| c.name == t.component)
                    .flat_map(|c| c.manifests.clone())
                    .collect();
                (owners_of(files, &manifests, false), lead)
            }
            TestStatus::Passed
            | TestStatus::Failed
            | TestStatus::BuildFailed
            | TestStatus::Timeout
            | TestStatus::Error => (owners_of(files, &t.paths, true), writer),
        };
        if owners.is_empty() {
            named_by.entry(fallback.to_string()).or_default();
        }
        for (agent, paths) in owners {
            named_by.entry(agent).or_default().extend(paths);
        }
    }
    named_by
}

/// The files `agent` repairs: its files in the failing components' `roots`
/// (all of them when there is no root), those the failure names (`named`),
/// and, for the test writer, its tests; all of the agent's files when none of
/// these is.
pub(super) fn under_repair(
    files: &BTreeMap<String, StagedFile>,
    agent: &str,
    named: &BTreeSet<String>,
    roots: &[&str],
    writer: &str,
) -> Vec<String> {
    let in_roots = |p: &str| {
        roots.is_empty()
            || roots
                .iter()
                .any(|r| r.is_empty() || p.starts_with(&format!("{r}/")))
    };
    let own: Vec<&String> = files
        .iter()
        .filter(|(_, f)| f.agent == agent)
        .map(|(p, _)| p)
        .collect();
    let chosen: Vec<String> = own
        .iter()
        .filter(|p| {
            in_roots(p) || named.contains(p.as_str()) || (agent == writer && is_test_path(p))
        })
        .map(|p| p.to_string())
        .collect();
    if chosen.is_empty() {
        own.iter().map(|p| p.to_string()).collect()
    } else {
        chosen
    }
}

impl Actor {
    /// Judges a repair round once its tasks are all done: when none of its
    /// repairs changed a file, another test run would only fail the same way,
    /// so the chair reassigns the repair (`chair_on_declined`) or the repairs
    /// stop with a finding and the phase fails. Returns whether the phase's
    /// step is over (nothing else is to happen in it now).
    pub(crate) fn judge_repair_round(&mut self, phase: &Phase, all_done: bool) -> bool {
        let Some(s) = self.session.as_ref() else {
            return true;
        };
        // A repair round is over: if none of its repairs changed a file, another
        // test run would only fail the same way — stop with a finding instead
        // of burning tokens.
        if all_done
            && s.tests.awaiting_repairs
            && matches!(phase.kind, PhaseKind::Test | PhaseKind::Review)
        {
            let changed = s.tests.round_changed;
            let round: Vec<&Task> = s
                .work
                .tasks
                .values()
                .filter(|t| {
                    t.phase == phase.name
                        && t.kind == TaskKind::Repair
                        && t.id.contains(&s.tests.round_label)
                })
                .collect();
            let owners: Vec<String> = round.iter().map(|t| t.agent.clone()).collect();
            let path = round
                .iter()
                .find_map(|t| t.declared.first().cloned())
                .unwrap_or_default();
            if let Some(s) = self.s() {
                s.tests.awaiting_repairs = false;
            }
            if !changed {
                if self.chair_on_declined(phase) {
                    return true;
                }
                let Some(s) = self.session.as_ref() else {
                    return true;
                };
                let declined: Vec<String> = s
                    .tests
                    .declined
                    .iter()
                    .map(|(_, agent, reason)| format!("{agent}: {reason}"))
                    .collect();
                let unchanged: Vec<String> = owners
                    .iter()
                    .filter(|o| !s.tests.declined.iter().any(|(_, a, _)| a == *o))
                    .cloned()
                    .collect();
                let mut causes = Vec::new();
                if !declined.is_empty() {
                    causes.push(format!(
                        "no change in the files under repair can fix the failure, say {}",
                        declined.join("; ")
                    ));
                }
                if !unchanged.is_empty() {
                    causes.push(format!(
                        "{} returned the failing files unchanged",
                        unchanged.join(", ")
                    ));
                }
                let text = format!(
                    "the repair round changed nothing ({}); repairs stop here",
                    causes.join("; ")
                );
                self.emit(EventBody::Finding {
                    severity: "medium".into(),
                    path,
                    line: 1,
                    text: text.clone(),
                    blocking: false,
                });
                if let Some(s) = self.s() {
                    s.progress.failure = Some(text);
                    match phase.kind {
                        PhaseKind::Review => s.tests.review_stage = Stage::Failed,
                        _ => s.tests.test_stage = Stage::Failed,
                    }
                }
                return true;
            }
        }
        false
    }

    /// Queues the repairs of a failing round, per failing component: a run
    /// that executed no test goes to the test writer; a setup failure to the
    /// owners of the component's manifests; a build or test failure to the
    /// owners of the files its output names (sources before tests; the test
    /// writer when nothing is named).
    pub(crate) fn route_repairs(&mut self, phase: &Phase, label: &str, results: &[TestOutcome]) {
        let lead = phase.agents.first().cloned().unwrap_or_default();
        let Some(s) = self.session.as_ref() else {
            return;
        };
        // The test writer: the agent of the test phase's writing task.
        let writer = s
            .work
            .tasks
            .values()
            .find(|t| t.kind == TaskKind::Tests)
            .map(|t| t.agent.clone())
            .unwrap_or_else(|| lead.clone());
        let failing: Vec<TestOutcome> = results
            .iter()
            .filter(|t| t.status != TestStatus::Passed)
            .cloned()
            .collect();
        let components: Vec<_> = failing
            .iter()
            .filter_map(|t| s.tests.components.iter().find(|c| c.name == t.component))
            .collect();
        let named_by = route(&s.work.files, &components, &failing, &writer, &lead);
        let roots: Vec<&str> = components.iter().map(|c| c.root.as_str()).collect();
        let manifest: BTreeMap<String, String> = components
            .iter()
            .flat_map(|c| &c.manifests)
            .filter_map(|m| Some((m.clone(), s.work.files.get(m)?.content.clone())))
            .collect();
        let failure = json!(
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
        let report = failure_report(&failing);
        let mut tasks = Vec::new();
        for (agent, named) in named_by {
            let files = under_repair(&s.work.files, &agent, &named, &roots, &writer);
            let mut used = 0;
            let mut shown = |path: &String| -> Option<String> {
                let f = s.work.files.get(path)?;
                if used + f.content.len() > REPAIR_FILE_BYTES {
                    return None;
                }
                used += f.content.len();
                Some(numbered(&f.content))
            };
            let current: BTreeMap<String, String> = files
                .iter()
                .map(|p| {
                    let text = shown(p).unwrap_or_else(|| "(omitted: prompt budget)".into());
                    (p.clone(), text)
                })
                .collect();
            // Files the failure names that are not under repair, for reference.
            let mut named = BTreeMap::new();
            for p in failing.iter().flat_map(|t| &t.paths) {
                if !files.contains(p)
                    && !named.contains_key(p)
                    && let Some(text) = shown(p)
                {
                    named.insert(p.clone(), text);
                }
            }
            let input = RepairInput {
                shared: shared(s),
                files,
                report: report.clone(),
                current,
                failure: Some(failure.clone()),
                named: named.into(),
                manifest: manifest.clone(),
            };
            tasks.push(repair_task(&phase.name, label, &agent, input));
        }
        let owners: Vec<String> = tasks.iter().map(|t| t.agent.clone()).collect();
        self.note(
            &lead,
            &phase.name,
            &format!("↻ {label}: repairs go to {}", owners.join(", ")),
        );
        self.begin_repairs(label, tasks);
    }

    /// Queues one repair task per owner of the files named in `paths` (source
    /// files first; test files only when nothing else is named), for a review's
    /// blocking findings or the chair's reassignment. With no file named, the
    /// repair goes to `fallback`. Each owner repairs all its files.
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
        let mut owners = owners_of(&s.work.files, paths, true);
        if owners.is_empty() {
            owners.insert(fallback.to_string(), Vec::new());
        }
        let report = tail(report, REPORT_BYTES);
        let tasks: Vec<Task> = owners
            .into_keys()
            .map(|agent| {
                let files: Vec<String> = s
                    .work
                    .files
                    .iter()
                    .filter(|(_, f)| f.agent == agent)
                    .map(|(p, _)| p.clone())
                    .collect();
                let current = files
                    .iter()
                    .filter_map(|p| Some((p.clone(), numbered(&s.work.files.get(p)?.content))))
                    .collect();
                let input = RepairInput {
                    shared: shared(s),
                    files,
                    report: report.clone(),
                    current,
                    failure: None,
                    named: Default::default(),
                    manifest: BTreeMap::new(),
                };
                repair_task(phase, label, &agent, input)
            })
            .collect();
        self.begin_repairs(label, tasks);
    }

    /// Starts a repair round: its state (judged when its tasks are done, in
    /// `phases.rs`'s `step_phase`) and its tasks.
    fn begin_repairs(&mut self, label: &str, tasks: Vec<Task>) {
        if let Some(s) = self.s() {
            s.tests.awaiting_repairs = true;
            s.tests.retest = true;
            s.tests.round_changed = false;
            s.tests.round_label = format!(".{label}.");
            s.tests.declined.clear();
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
        let mut reason = crate::secrets::redact::clip(&reason, 600);
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
            s.tests
                .declined
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
        if s.tests.declined.is_empty() || s.tests.round_label.ends_with(".chair.") {
            return false;
        }
        let mut reassign: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (task, agent, reason) in &s.tests.declined {
            let declared = s
                .work
                .tasks
                .get(task)
                .map(|t| t.declared.clone())
                .unwrap_or_default();
            for (path, f) in &s.work.files {
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
            .tests
            .declined
            .iter()
            .map(|(_, agent, reason)| format!("{agent} declined: {reason}"))
            .collect::<Vec<_>>()
            .join("\n");
        let last = s.tests.last_tests.clone();
        let label = s.tests.round_label.trim_matches('.').to_string();
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

/// A repair task `PHASE.LABEL.AGENT` for `agent`, declaring the input's files.
fn repair_task(phase: &str, label: &str, agent: &str, input: RepairInput) -> Task {
    let declared = input.files.clone();
    let mut task = Actor::new_task(
        format!("{phase}.{label}.{agent}"),
        agent,
        phase,
        TaskKind::Repair,
        format!("repair ({label})"),
        context(&input),
    );
    task.declared = declared;
    task.priority = 5;
    task
}

/// The text of a failing round for a repair request: per failing component,
/// its class, command, decisive lines and the tail of its output.
pub(super) fn failure_report(results: &[TestOutcome]) -> String {
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
        // Redacted before the cut (src/redact.rs): a cut key no longer matches.
        out.push_str(&tail(&crate::secrets::redact::redacted(&t.output), each));
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
