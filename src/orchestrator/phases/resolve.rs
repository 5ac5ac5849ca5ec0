//! The resolve phase's decisions: the tally of the vote, the chair's
//! tie-breaks, the person's picks and overrides. Done when every conflict is
//! decided.

use std::collections::BTreeMap;

use super::super::actor::{Actor, Decision, Session, Task};
use super::super::inputs;
use super::super::session::Design;
use super::{PhaseStatus, TaskCounts};
use crate::config::workflow::{Phase, PhaseKind};
use crate::llm::TaskKind;
use crate::protocol::{DecidedBy, EventBody};
use crate::store::RecordKey;

/// The valid ballots on `conflict` per option (every option of the conflict
/// listed, with 0 when no ballot chose it; abstentions not counted), and the
/// option with more than half of the valid ballots, if one has.
pub(crate) fn tally(design: &Design, conflict: &str) -> (BTreeMap<String, u32>, Option<String>) {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    if let Some(k) = design.conflicts.iter().find(|k| k.id == conflict) {
        for option in &k.options {
            counts.insert(option.clone(), 0);
        }
    }
    let mut valid = 0;
    for ballot in design
        .ballots
        .get(conflict)
        .into_iter()
        .flat_map(|b| b.values())
        .flatten()
    {
        *counts.entry(ballot.option.clone()).or_insert(0) += 1;
        valid += 1;
    }
    let winner = counts
        .iter()
        .find(|(_, n)| **n * 2 > valid)
        .map(|(o, _)| o.clone());
    (counts, winner)
}

/// Done when every conflict is decided.
pub(super) fn status(s: &Session, phase: &Phase, c: &TaskCounts) -> PhaseStatus {
    let decided = s
        .design
        .conflicts
        .iter()
        .all(|k| s.design.decisions.contains_key(&k.id));
    if decided {
        PhaseStatus::Done
    } else if c.stalled() {
        c.stall(&phase.name)
    } else {
        PhaseStatus::Running
    }
}

impl Actor {
    /// [`tally`] of the running session (empty without one).
    pub(crate) fn tally(&self, conflict: &str) -> (BTreeMap<String, u32>, Option<String>) {
        match self.session.as_ref() {
            Some(s) => tally(&s.design, conflict),
            None => (BTreeMap::new(), None),
        }
    }

    /// Settles what it can of the resolve phase's open conflicts: a majority
    /// is decided by the vote unless the person confirms decisions
    /// (interactive with `[ui] confirm_decisions`); a tie (or a conflict
    /// flagged for a person) goes to the chair headless, and waits for the
    /// person interactive. Called when the phase starts, and again by a
    /// headless resume of a session a TUI left waiting (`resume.rs`); a tie
    /// whose chair task exists already is not queued twice.
    pub(crate) fn start_resolve(&mut self, phase: &Phase, chair: &str) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let interactive = s.options.interactive;
        let confirm = self.settings.ui.confirm_decisions;
        let open: Vec<_> = s
            .design
            .conflicts
            .iter()
            .filter(|k| !s.design.decisions.contains_key(&k.id))
            .cloned()
            .collect();
        for conflict in open {
            let (tally, winner) = self.tally(&conflict.id);
            // A conflict the chair flagged for a person is settled like a tie.
            let winner = winner.filter(|_| !conflict.needs_human);
            match winner {
                Some(option) if !interactive || !confirm => {
                    self.decide(
                        &conflict.id,
                        &option,
                        DecidedBy::Vote,
                        "majority of the ballots".into(),
                    );
                }
                Some(_) => {}
                None if interactive => {}
                None if self.session.as_ref().is_some_and(|s| {
                    s.work
                        .tasks
                        .contains_key(&format!("{}.{}", phase.name, conflict.id))
                }) => {}
                None => {
                    let context = self.input_of(|s| inputs::chair(s, &conflict, &tally));
                    let mut task = Actor::new_task(
                        format!("{}.{}", phase.name, conflict.id),
                        chair,
                        &phase.name,
                        TaskKind::Chair,
                        format!("break the tie on {}", conflict.topic),
                        context,
                    );
                    task.subject = Some(conflict.id.clone());
                    self.queue_task(task);
                }
            }
        }
        let waiting = self.session.as_ref().is_some_and(|s| {
            s.design
                .conflicts
                .iter()
                .any(|k| !s.design.decisions.contains_key(&k.id))
        });
        if interactive && waiting {
            self.note(
                chair,
                &phase.name,
                "⏳ waiting for the person to confirm the decisions (c: conflicts)",
            );
        }
    }

    /// The chair's tie-break decides its conflict.
    pub(super) fn accept_chair(&mut self, task: &Task, text: &str) -> Result<(), String> {
        let (conflict, ballot) = self.checked_ballot(task, text)?;
        self.decide(
            &conflict,
            &ballot.option,
            DecidedBy::Chair,
            ballot.rationale.clone(),
        );
        Ok(())
    }

    /// Records a conflict's decision.
    pub(crate) fn decide(
        &mut self,
        conflict: &str,
        option: &str,
        by: DecidedBy,
        rationale: String,
    ) {
        let (tally, _) = self.tally(conflict);
        let decision = Decision {
            option: option.to_string(),
            decided_by: by,
            tally: tally.clone(),
            rationale,
        };
        if let Some(s) = self.s() {
            s.design
                .decisions
                .insert(conflict.to_string(), decision.clone());
        }
        self.record(
            RecordKey::Output,
            &format!("decision/{conflict}"),
            &decision,
        );
        self.emit(EventBody::ConflictResolved {
            conflict: conflict.to_string(),
            option: option.to_string(),
            decided_by: by,
            tally,
        });
    }

    pub(super) fn in_phase(&self, kind: PhaseKind) -> bool {
        self.current_phase().is_some_and(|p| p.kind == kind)
    }

    /// Whether decisions may still change: implementation has not started.
    pub(super) fn decisions_open(&self) -> bool {
        let Some(s) = self.session.as_ref() else {
            return false;
        };
        let tasks_at = self
            .workflow
            .position(PhaseKind::Tasks)
            .unwrap_or(usize::MAX);
        s.progress.finished.is_none() && s.progress.phase < tasks_at
    }

    pub(crate) fn pick(&mut self, conflict: &str, option: &str) {
        if !self.in_phase(PhaseKind::Resolve) {
            return self.reject_op("pick", "decisions are picked in the resolve phase");
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some(k) = s.design.conflicts.iter().find(|k| k.id == conflict) else {
            return self.reject_op("pick", format!("no conflict `{conflict}`"));
        };
        if !k.options.iter().any(|o| o == option) {
            return self.reject_op(
                "pick",
                format!("`{option}` is not an option of `{conflict}`"),
            );
        }
        if s.design.decisions.contains_key(conflict) {
            return self.reject_op(
                "pick",
                format!("`{conflict}` is decided; override it (o) to change it"),
            );
        }
        self.decide(
            conflict,
            option,
            DecidedBy::Human,
            "picked by the person".into(),
        );
    }

    pub(crate) fn accept_votes(&mut self) {
        if !self.in_phase(PhaseKind::Resolve) {
            return self.reject_op(
                "accept votes",
                "vote results are accepted in the resolve phase",
            );
        }
        let open: Vec<String> = self
            .session
            .as_ref()
            .map(|s| {
                s.design
                    .conflicts
                    .iter()
                    .filter(|k| !s.design.decisions.contains_key(&k.id))
                    .map(|k| k.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for id in open {
            let for_a_person = self
                .session
                .as_ref()
                .and_then(|s| s.design.conflicts.iter().find(|k| k.id == id))
                .is_some_and(|k| k.needs_human);
            if for_a_person {
                continue;
            }
            if let (_, Some(option)) = self.tally(&id) {
                self.decide(
                    &id,
                    &option,
                    DecidedBy::Vote,
                    "majority of the ballots".into(),
                );
            }
        }
    }

    pub(crate) fn override_decision(&mut self, conflict: &str, option: &str, note: &str) {
        if !self.decisions_open() {
            return self.reject_op(
                "override",
                "implementation has started; decisions are final",
            );
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some(k) = s.design.conflicts.iter().find(|k| k.id == conflict) else {
            return self.reject_op("override", format!("no conflict `{conflict}`"));
        };
        if !k.options.iter().any(|o| o == option) {
            return self.reject_op(
                "override",
                format!("`{option}` is not an option of `{conflict}`"),
            );
        }
        let previous = s.design.decisions.get(conflict).map(|d| d.option.clone());
        let from = previous.clone().or_else(|| self.tally(conflict).1);
        if let Some(s) = self.s() {
            s.design
                .overrides
                .insert(conflict.to_string(), (from.clone(), note.to_string()));
        }
        self.emit(EventBody::DecisionOverridden {
            conflict: conflict.to_string(),
            from,
            to: option.to_string(),
            note: note.to_string(),
        });
        if previous.is_some() {
            let updated = self.s().and_then(|s| {
                let d = s.design.decisions.get_mut(conflict)?;
                d.option = option.to_string();
                d.decided_by = DecidedBy::Human;
                d.rationale = note.to_string();
                Some(d.clone())
            });
            if let Some(d) = updated {
                self.record(RecordKey::Output, &format!("decision/{conflict}"), &d);
            }
        } else {
            self.decide(conflict, option, DecidedBy::Human, note.to_string());
        }
    }
}
