//! The state of one session: the [`Session`] the actor owns (serialised as
//! the `state`/`session` record so that `quorum resume` can rebuild it), in
//! named parts: its progress through the workflow (here), its design
//! (`session/design.rs`), its work (tasks, staged files, findings:
//! `session/work.rs`), its test loop (`session/test_loop.rs`), its spend
//! (`session/spend.rs`) and its live runtime state (`session/live.rs`).
//!
//! The parts are `#[serde(flatten)]`ed: the record's JSON has the same keys
//! and values as when `Session` had 49 fields of its own (serde_json sorts an
//! object's keys, so the text is the same too; the test below lists them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::scheduler::Scheduler;
use crate::protocol::{SessionId, SessionOptions, SessionStatus, TaskState};
use crate::store::SessionRecord;

mod design;
mod live;
pub(crate) mod spend;
mod test_loop;
mod work;

pub(crate) use design::{Decision, Design};
pub(crate) use live::Live;
pub(crate) use spend::Spend;
pub(crate) use test_loop::{Stage, TestLoop};
pub(crate) use work::{StagedFile, Task, Work};

/// Where a session is in its workflow, and how it ended. Flattened into the
/// `state`/`session` record.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// The index of the current phase in the workflow.
    pub phase: usize,
    pub phase_started: bool,
    pub delivered: bool,
    pub finished: Option<SessionStatus>,
    pub failure: Option<String>,
    /// Interactive only: the test or review phase failed for good and the
    /// session moved on to deliver so the person can decide; the session ends
    /// `failed` unless they commit.
    pub tests_failed: Option<String>,
    /// Paused by the person ([`crate::protocol::Op::PauseSession`]): no task starts.
    pub paused: bool,
    /// The tasks that pause stopped, queued again on resume.
    pub paused_by_session: Vec<String>,
    /// The last stall reported (so it is reported once).
    pub stall: Option<String>,
    /// The states of the tasks that were still open when the session ended
    /// resumably (interrupted, cancelled, paused by a budget, waiting at
    /// deliver): `quorum resume` puts them back.
    #[serde(default)]
    pub interrupted: BTreeMap<String, TaskState>,
}

/// One running session. Serialised (without `record` and `live`, which live
/// in their own records or are rebuilt) as the `state`/`session` record of
/// every group that changes it, so that `quorum resume` can rebuild it from
/// the db alone (see `resume.rs`).
#[derive(Serialize, Deserialize)]
pub(crate) struct Session {
    pub id: SessionId,
    pub prompt: String,
    pub options: SessionOptions,
    /// The `sessions` row (stored there).
    #[serde(skip, default = "placeholder_record")]
    pub record: SessionRecord,
    #[serde(flatten)]
    pub progress: Progress,
    #[serde(flatten)]
    pub design: Design,
    #[serde(flatten)]
    pub work: Work,
    #[serde(flatten)]
    pub tests: TestLoop,
    #[serde(flatten)]
    pub spend: Spend,
    #[serde(skip)]
    pub live: Live,
}

impl Session {
    /// A session that has not started its first phase: `record` is its
    /// `sessions` row, `project` the map of DIR's project, if any.
    pub fn new(
        id: SessionId,
        prompt: String,
        options: SessionOptions,
        record: SessionRecord,
        scheduler: Scheduler,
        project: Option<Value>,
    ) -> Session {
        Session {
            id,
            prompt,
            options,
            record,
            progress: Progress::default(),
            design: Design::default(),
            work: Work::default(),
            tests: TestLoop::default(),
            spend: Spend::default(),
            live: Live {
                scheduler,
                project,
                ..Live::default()
            },
        }
    }
}

/// The stand-in `sessions` row of a deserialised [`Session`] until the stored
/// row replaces it.
pub(crate) fn placeholder_record() -> SessionRecord {
    SessionRecord {
        id: SessionId::new(),
        prompt: String::new(),
        dir: String::new(),
        workflow: String::new(),
        created_at: String::new(),
        updated_at: String::new(),
        status: None,
        phase: String::new(),
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: 0.0,
        commit: None,
        last_seq: 0,
        offline: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of the `state`/`session` record as they were when `Session`
    /// had its 49 fields of its own (the 39 that were not `skip`).
    const KEYS: &[&str] = &[
        "id",
        "prompt",
        "options",
        "phase",
        "phase_started",
        "requirements",
        "questions",
        "answers",
        "plans",
        "conflicts",
        "ballots",
        "decisions",
        "overrides",
        "breakdown",
        "findings",
        "test_round",
        "test_stage",
        "review_stage",
        "last_test",
        "last_tests",
        "round_tests",
        "components",
        "setups",
        "repair_rounds",
        "declined",
        "reviews",
        "retest",
        "decisions_prefix",
        "summaries",
        "test_command",
        "delivered",
        "usage",
        "cost_usd",
        "agent_cost",
        "agent_tokens",
        "budgets",
        "budget_warned",
        "budget_exhausted",
        "budget_paused",
        "finished",
        "failure",
        "tests_failed",
        "paused",
        "paused_by_session",
        "stall",
        "awaiting_repairs",
        "round_changed",
        "round_label",
        "interrupted",
    ];

    fn session() -> Session {
        Session::new(
            SessionId::new(),
            "a prompt".into(),
            SessionOptions::default(),
            placeholder_record(),
            Scheduler::default(),
            Some(serde_json::json!({"files": ["a.py"]})),
        )
    }

    #[test]
    fn the_stored_record_has_the_flat_keys_of_before_the_split() {
        let value = serde_json::to_value(session()).unwrap_or(Value::Null);
        let Value::Object(map) = value else {
            panic!("a session serialises to an object");
        };
        let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
        let mut want = KEYS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
        // Parts are flattened, never nested; the live part is never stored.
        for part in [
            "progress", "design", "work", "tests", "spend", "live", "project", "seq",
        ] {
            assert!(!map.contains_key(part), "{part} is stored");
        }
    }

    #[test]
    fn a_stored_record_reads_back_into_its_parts() {
        let mut s = session();
        s.progress.phase = 3;
        s.progress.tests_failed = Some("red".into());
        s.design.answers.insert("q1".into(), "yes".into());
        s.tests.test_stage = Stage::Running;
        s.tests.round_label = ".fix1.".into();
        s.spend.cost_usd = 1.25;
        s.spend.budget_paused.insert("t".into());
        s.work.summaries.insert("t".into(), "did it".into());
        s.live.seq = 42;
        let text = serde_json::to_string(&s).unwrap_or_default();
        let back: Session = match serde_json::from_str(&text) {
            Ok(back) => back,
            Err(e) => panic!("{e}: {text}"),
        };
        assert_eq!(back.progress.phase, 3);
        assert_eq!(back.progress.tests_failed.as_deref(), Some("red"));
        assert_eq!(
            back.design.answers.get("q1").map(String::as_str),
            Some("yes")
        );
        assert_eq!(back.tests.test_stage, Stage::Running);
        assert_eq!(back.tests.round_label, ".fix1.");
        assert!((back.spend.cost_usd - 1.25).abs() < f64::EPSILON);
        assert!(back.spend.budget_paused.contains("t"));
        assert_eq!(
            back.work.summaries.get("t").map(String::as_str),
            Some("did it")
        );
        // The live part is rebuilt by a resume, not read.
        assert_eq!(back.live.seq, 0);
        assert!(back.live.project.is_none());
        // Same text again: the snapshot hash of an unchanged session is stable.
        assert_eq!(serde_json::to_string(&back).unwrap_or_default(), text);
    }

    #[test]
    fn a_record_missing_the_defaulted_keys_still_reads() {
        // Records of older quorums lack the keys marked `serde(default)`.
        let mut value = serde_json::to_value(session()).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            for key in [
                "last_tests",
                "setups",
                "summaries",
                "interrupted",
                "decisions_prefix",
            ] {
                map.remove(key);
            }
        }
        assert!(serde_json::from_value::<Session>(value).is_ok());
    }
}
