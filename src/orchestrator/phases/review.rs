//! The review phase: the lead reviews the staged files; blocking findings
//! become repairs (sharing the test phase's repair rounds), whose files are
//! tested again and then reviewed again (`PHASE.2`, …). Done when a review
//! has no blocking finding left.

use super::super::actor::{Actor, Stage};
use super::super::inputs;
use super::super::outputs::{self, Findings};
use super::test::loop_status;
use super::{PhaseStatus, TaskCounts};
use crate::config::workflow::Phase;
use crate::llm::TaskKind;
use crate::protocol::EventBody;
use crate::store::RecordKey;

/// Where the review (and its re-test) stands.
pub(super) fn status(
    s: &super::super::actor::Session,
    phase: &Phase,
    c: &TaskCounts,
) -> PhaseStatus {
    loop_status(s, phase, c, s.tests.review_stage)
}

impl Actor {
    /// Queues a review of the staged files: `PHASE` the first time, then
    /// `PHASE.N` for the review of repaired files.
    pub(crate) fn queue_review(&mut self, phase: &Phase) {
        let lead = phase.agents.first().cloned().unwrap_or_default();
        let Some(s) = self.s() else {
            return;
        };
        s.tests.review_stage = Stage::Writing;
        s.tests.reviews += 1;
        let id = match s.tests.reviews {
            1 => phase.name.clone(),
            n => format!("{}.{n}", phase.name),
        };
        let context = self.input_of(inputs::review);
        let task = Actor::new_task(
            id,
            &lead,
            &phase.name,
            TaskKind::Review,
            "review the staged files".into(),
            context,
        );
        self.queue_task(task);
    }

    /// Applies a review's findings; blocking ones are repaired while repair
    /// rounds are left (`[test] max_repair_rounds`), else the review fails.
    pub(super) fn accept_findings(
        &mut self,
        task: &super::super::actor::Task,
        text: &str,
    ) -> Result<(), String> {
        let findings: Findings = outputs::parse_json(text)?;
        outputs::check_findings(&findings)?;
        self.record(RecordKey::Output, "findings", &findings);
        for f in &findings.findings {
            self.emit(EventBody::Finding {
                severity: f.severity.clone(),
                path: f.path.clone(),
                line: f.line,
                text: f.text.clone(),
                blocking: f.blocking,
            });
        }
        let blocking: Vec<_> = findings
            .findings
            .iter()
            .filter(|f| f.blocking)
            .cloned()
            .collect();
        if let Some(s) = self.s() {
            s.work.findings = findings.findings;
        }
        if !blocking.is_empty() {
            let report = blocking
                .iter()
                .map(|f| format!("{} {}:{}: {}", f.severity, f.path, f.line, f.text))
                .collect::<Vec<_>>()
                .join("\n");
            let max = self.settings.test.max_repair_rounds;
            let Some(s) = self.s() else {
                return Ok(());
            };
            // Repairs of findings share the test phase's rounds.
            if s.tests.repair_rounds >= max {
                s.tests.review_stage = Stage::Failed;
                s.progress.failure = Some(format!(
                    "{} blocking finding(s) remain after {} repair round(s): {}",
                    blocking.len(),
                    s.tests.repair_rounds,
                    report.replace('\n', "; ")
                ));
                return Ok(());
            }
            s.tests.repair_rounds += 1;
            let label = format!("fix{}", s.tests.repair_rounds);
            let paths: Vec<String> = blocking.iter().map(|f| f.path.clone()).collect();
            self.queue_repairs(&task.phase, &label, &paths, &report, &task.agent);
        }
        Ok(())
    }

    /// Blocking findings were repaired: test the changed files (then review
    /// them again, `testing.rs`); else the review is done.
    pub(super) fn step_review(&mut self, phase: &Phase, all_done: bool) {
        if self.judge_repair_round(phase, all_done) {
            return;
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        if s.tests.review_stage == Stage::Writing && all_done {
            if s.tests.retest {
                self.run_tests(phase);
            } else if let Some(s) = self.s() {
                s.tests.review_stage = Stage::Passed;
            }
        }
    }
}
