//! Unit tests of the phases' pure logic: the tally of a vote and each phase
//! kind's status, on sessions built by hand.

use std::collections::BTreeMap;

use serde_json::Value;

use super::super::actor::{Actor, Decision, Session, Stage};
use super::super::outputs::{Ballot, Breakdown, Conflict, Question, Requirements};
use super::super::scheduler::Scheduler;
use super::super::session::placeholder_record;
use super::resolve::tally;
use super::{PhaseStatus, TaskCounts, blocked, status};
use crate::config::workflow::{Phase, PhaseKind};
use crate::llm::TaskKind;
use crate::protocol::{DecidedBy, SessionId, SessionOptions, SessionStatus, TaskState};

fn session() -> Session {
    Session::new(
        SessionId::new(),
        "a prompt".into(),
        SessionOptions::default(),
        placeholder_record(),
        Scheduler::default(),
        None,
    )
}

fn phase(name: &str, kind: PhaseKind) -> Phase {
    Phase {
        name: name.into(),
        kind,
        agents: vec!["ada".into()],
        inputs: Vec::new(),
    }
}

/// Adds a task of phase `phase` in state `state`.
fn task(s: &mut Session, id: &str, phase: &str, state: TaskState, deps: &[&str]) {
    let mut t = Actor::new_task(
        id.into(),
        "ada",
        phase,
        TaskKind::Plan,
        "t".into(),
        Value::Null,
    );
    t.state = state;
    t.deps = deps.iter().map(|d| d.to_string()).collect();
    if state == TaskState::Failed {
        t.error = Some("boom".into());
    }
    s.work.tasks.insert(id.into(), t);
}

fn conflict(s: &mut Session, id: &str, options: &[&str]) {
    s.design.conflicts.push(Conflict {
        id: id.into(),
        topic: id.into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        positions: Vec::new(),
        blocking: true,
        needs_human: false,
    });
}

fn ballot(s: &mut Session, conflict: &str, voter: &str, option: Option<&str>) {
    s.design.ballots.entry(conflict.into()).or_default().insert(
        voter.into(),
        option.map(|o| Ballot {
            option: o.into(),
            rationale: String::new(),
        }),
    );
}

fn counts(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(o, n)| (o.to_string(), *n)).collect()
}

#[test]
fn a_majority_of_the_valid_ballots_wins_the_tally() {
    let mut s = session();
    conflict(&mut s, "db", &["sqlite", "postgres", "files"]);
    ballot(&mut s, "db", "ada", Some("sqlite"));
    ballot(&mut s, "db", "bob", Some("sqlite"));
    ballot(&mut s, "db", "cy", Some("postgres"));
    let (tally_, winner) = tally(&s.design, "db");
    assert_eq!(
        tally_,
        counts(&[("files", 0), ("postgres", 1), ("sqlite", 2)])
    );
    assert_eq!(winner.as_deref(), Some("sqlite"));
}

#[test]
fn a_tie_has_no_winner_and_abstentions_do_not_count() {
    let mut s = session();
    conflict(&mut s, "db", &["sqlite", "postgres"]);
    ballot(&mut s, "db", "ada", Some("sqlite"));
    ballot(&mut s, "db", "bob", Some("postgres"));
    ballot(&mut s, "db", "cy", None);
    let (tally_, winner) = tally(&s.design, "db");
    assert_eq!(tally_, counts(&[("postgres", 1), ("sqlite", 1)]));
    assert_eq!(winner, None);
    // One valid ballot against two abstentions: a majority of the valid ones.
    let mut s = session();
    conflict(&mut s, "db", &["sqlite", "postgres"]);
    ballot(&mut s, "db", "ada", Some("postgres"));
    ballot(&mut s, "db", "bob", None);
    ballot(&mut s, "db", "cy", None);
    assert_eq!(tally(&s.design, "db").1.as_deref(), Some("postgres"));
}

#[test]
fn a_conflict_without_ballots_lists_its_options_at_zero() {
    let mut s = session();
    conflict(&mut s, "db", &["a", "b"]);
    let (tally_, winner) = tally(&s.design, "db");
    assert_eq!(tally_, counts(&[("a", 0), ("b", 0)]));
    assert_eq!(winner, None);
    assert!(tally(&s.design, "nope").0.is_empty());
}

#[test]
fn tasks_behind_a_failed_dependency_are_blocked_not_active() {
    let mut s = session();
    task(&mut s, "p.a", "p", TaskState::Failed, &[]);
    task(&mut s, "p.b", "p", TaskState::Queued, &["p.a"]);
    task(&mut s, "p.c", "p", TaskState::Queued, &["p.b"]);
    task(&mut s, "p.d", "p", TaskState::Running, &[]);
    assert!(blocked(&s, "p.b"));
    assert!(blocked(&s, "p.c"), "blocked through another dependency");
    assert!(!blocked(&s, "p.d"));
    let c = TaskCounts::of(&s, "p");
    assert_eq!((c.total, c.done, c.active), (4, 0, 1));
    assert_eq!(c.failed, vec!["task p.a failed: boom".to_string()]);
}

#[test]
fn a_plan_phase_is_running_then_done_or_stalled() {
    let p = phase("plan", PhaseKind::FanOut);
    let mut s = session();
    task(&mut s, "plan.a", "plan", TaskState::Done, &[]);
    task(&mut s, "plan.b", "plan", TaskState::Running, &[]);
    task(&mut s, "other", "elsewhere", TaskState::Failed, &[]);
    assert_eq!(status(&s, &p), PhaseStatus::Running);
    task(&mut s, "plan.b", "plan", TaskState::Done, &[]);
    assert_eq!(status(&s, &p), PhaseStatus::Done);
    task(&mut s, "plan.b", "plan", TaskState::Failed, &[]);
    assert_eq!(
        status(&s, &p),
        PhaseStatus::Stalled("phase plan: task plan.b failed: boom".into())
    );
}

#[test]
fn refine_waits_for_the_requirements_and_every_answer() {
    let p = phase("refine", PhaseKind::Single);
    let mut s = session();
    task(&mut s, "refine", "refine", TaskState::Done, &[]);
    assert_eq!(status(&s, &p), PhaseStatus::Running, "no requirements yet");
    s.design.requirements = Some(Requirements {
        summary: String::new(),
        goals: Vec::new(),
        constraints: Vec::new(),
        acceptance_criteria: Vec::new(),
        assumptions: Vec::new(),
        questions: Vec::new(),
    });
    s.design.questions.push(Question {
        id: "q1".into(),
        text: "which?".into(),
        default: "this".into(),
    });
    assert_eq!(status(&s, &p), PhaseStatus::Running, "q1 is unanswered");
    s.design.answers.insert("q1".into(), "that".into());
    assert_eq!(status(&s, &p), PhaseStatus::Done);
}

#[test]
fn a_vote_is_done_once_no_ballot_is_open_even_when_some_failed() {
    let p = phase("vote", PhaseKind::Vote);
    let mut s = session();
    task(&mut s, "vote.db.ada", "vote", TaskState::Failed, &[]);
    task(&mut s, "vote.db.bob", "vote", TaskState::Queued, &[]);
    assert_eq!(status(&s, &p), PhaseStatus::Running);
    task(&mut s, "vote.db.bob", "vote", TaskState::Done, &[]);
    assert_eq!(status(&s, &p), PhaseStatus::Done);
}

#[test]
fn resolve_is_done_when_every_conflict_is_decided() {
    let p = phase("resolve", PhaseKind::Resolve);
    let mut s = session();
    conflict(&mut s, "db", &["a", "b"]);
    conflict(&mut s, "ui", &["c", "d"]);
    let decision = Decision {
        option: "a".into(),
        decided_by: DecidedBy::Vote,
        tally: BTreeMap::new(),
        rationale: String::new(),
    };
    s.design.decisions.insert("db".into(), decision.clone());
    assert_eq!(status(&s, &p), PhaseStatus::Running);
    task(&mut s, "resolve.ui", "resolve", TaskState::Failed, &[]);
    assert!(matches!(status(&s, &p), PhaseStatus::Stalled(_)));
    s.design.decisions.insert("ui".into(), decision);
    assert_eq!(status(&s, &p), PhaseStatus::Done);
}

#[test]
fn implement_needs_the_breakdown_as_well_as_its_tasks() {
    let p = phase("implement", PhaseKind::Tasks);
    let mut s = session();
    task(
        &mut s,
        "implement.breakdown",
        "implement",
        TaskState::Done,
        &[],
    );
    assert_eq!(status(&s, &p), PhaseStatus::Running);
    s.design.breakdown = Some(Breakdown {
        tasks: Vec::new(),
        components: Vec::new(),
    });
    assert_eq!(status(&s, &p), PhaseStatus::Done);
}

#[test]
fn test_and_review_follow_their_stage() {
    let test = phase("test", PhaseKind::Test);
    let review = phase("review", PhaseKind::Review);
    let mut s = session();
    assert_eq!(status(&s, &test), PhaseStatus::Running);
    s.tests.test_stage = Stage::Passed;
    assert_eq!(status(&s, &test), PhaseStatus::Done);
    assert_eq!(status(&s, &review), PhaseStatus::Running, "its own stage");
    s.tests.review_stage = Stage::Failed;
    assert_eq!(
        status(&s, &review),
        PhaseStatus::Failed("phase review failed".into())
    );
    s.progress.failure = Some("2 blocking findings remain".into());
    assert_eq!(
        status(&s, &review),
        PhaseStatus::Failed("2 blocking findings remain".into())
    );
    // Writing with a failed task and nothing running: stalled; running: not.
    task(&mut s, "test.write", "test", TaskState::Failed, &[]);
    s.tests.test_stage = Stage::Writing;
    assert!(matches!(status(&s, &test), PhaseStatus::Stalled(_)));
    s.tests.test_stage = Stage::Running;
    assert_eq!(status(&s, &test), PhaseStatus::Running);
}

#[test]
fn deliver_is_done_once_delivered() {
    let p = phase("deliver", PhaseKind::Deliver);
    let mut s = session();
    assert_eq!(status(&s, &p), PhaseStatus::Running);
    s.progress.delivered = true;
    assert_eq!(status(&s, &p), PhaseStatus::Done);
    // The status reads the session only: an ended session changes nothing.
    s.progress.finished = Some(SessionStatus::Succeeded);
    assert_eq!(status(&s, &p), PhaseStatus::Done);
}
