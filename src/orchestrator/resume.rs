//! `quorum resume` ([`Op::Resume`](crate::protocol::Op::Resume)): a stored
//! session is rebuilt from the db alone and goes on where it stopped.
//!
//! What makes this sound is the group commit (docs/design.md §4): every group of
//! writes is one sled transaction holding the group's events, task and file
//! records, transcript lines and the session's state (the `state`/`session`
//! record), so after any crash the db holds the session exactly as some
//! released-or-not group left it, never half a step. A model reply and the
//! task it completes are in one group: a reply that was stored is never asked
//! for again, because its task is stored as done.
//!
//! On resume: finished tasks stay finished; tasks that were running, retrying
//! or queued when the session stopped are queued again (a call cut off by the
//! crash starts over: its reply was never stored); tasks a budget paused stay
//! paused unless the budget now allows them; a test run cut off is run again;
//! decisions, ballots and staged files are kept; the scratch tree is rebuilt
//! from HEAD and the staged files; and delivery happens exactly once: a commit
//! already made is found by its `Quorum-Session:` trailer, and a file already
//! written is not written twice (see `deliver.rs` for hand edits).

use std::collections::BTreeMap;

use serde_json::Value;

use super::actor::{Actor, Session, Stage, StagedFile, Task};
use crate::config::workflow::{PhaseKind, Workflow};
use crate::protocol::{Event, EventBody, SessionId, SessionStatus, TaskState};
use crate::store::{RecordKey, SessionRecord, Store, StoreError};

/// A session as the db holds it.
struct Stored {
    record: SessionRecord,
    state: Session,
    workflow: Option<Workflow>,
    project: Option<Value>,
    tasks: BTreeMap<String, Task>,
    files: BTreeMap<String, StagedFile>,
    events: Vec<crate::protocol::LoggedEvent>,
    last_seq: u64,
    next_line: u64,
    agent_lines: BTreeMap<String, u64>,
}

/// Reads the session `wanted` (an id or unique prefix; `None`: the newest
/// resumable one) from the db. Errors are messages for the person.
fn load(store: &Store, wanted: Option<&str>) -> Result<Stored, String> {
    let text = |e: StoreError| e.to_string();
    // A failed session can be resumed when it failed at the test gate (its
    // setup or tests, or the review's re-test): the person fixed the
    // environment or the config, and its staged files are tested again.
    // So can one that failed at deliver before delivering (a headless run
    // refused to overwrite files, found a secret, or its tests had failed):
    // it waits at deliver again, where the TUI lets the person choose the
    // files and commit anyway (docs/tui.md, "A failed session").
    let at_gate = |id: &SessionId| {
        let Some(s) = store
            .record::<Session>(id, RecordKey::State.as_str(), "session")
            .ok()
            .flatten()
        else {
            return false;
        };
        let workflow = store
            .record::<Workflow>(id, RecordKey::State.as_str(), "workflow")
            .ok()
            .flatten();
        failed_at_gate(&s) || workflow.is_some_and(|w| failed_at_deliver(&s, &w))
    };
    let record = match wanted {
        Some(id) => store.find_session(id).map_err(text)?,
        None => store
            .sessions()
            .map_err(text)?
            .into_iter()
            .find(|r| {
                r.status.is_none_or(SessionStatus::is_resumable)
                    || (r.status == Some(SessionStatus::Failed) && at_gate(&r.id))
            })
            .ok_or_else(|| {
                format!(
                    "no session to resume in {} (every stored session succeeded, or failed before its tests)",
                    store.path().display()
                )
            })?,
    };
    let id = record.id.clone();
    if let Some(status) = record.status
        && !status.is_resumable()
        && !(status == SessionStatus::Failed && at_gate(&id))
    {
        return Err(format!(
            "session {id} {}: there is nothing to resume (start a new one)",
            status.as_str()
        ));
    }
    let state: Session = store
        .record(&id, RecordKey::State.as_str(), "session")
        .map_err(text)?
        .ok_or_else(|| {
            format!(
                "session {id} has no stored state to resume from (it was stored by an older quorum)"
            )
        })?;
    let workflow = store
        .record(&id, RecordKey::State.as_str(), "workflow")
        .map_err(text)?;
    let project = store
        .record::<Option<Value>>(&id, RecordKey::State.as_str(), "project")
        .map_err(text)?
        .flatten();
    let tasks = store
        .records::<Task>(&id, RecordKey::Task.as_str())
        .map_err(text)?
        .into_iter()
        .collect();
    let files = store
        .records::<StagedFile>(&id, RecordKey::File.as_str())
        .map_err(text)?
        .into_iter()
        .collect();
    let events = store.events(&id).map_err(text)?;
    let last_seq = events.last().map_or(0, |e| e.seq);
    let (next_line, agent_lines) = store.next_line_seqs(&id).map_err(text)?;
    Ok(Stored {
        record,
        state,
        workflow,
        project,
        tasks,
        files,
        events,
        last_seq,
        next_line,
        agent_lines,
    })
}

/// Whether a stored session stopped in its deliver phase without delivering
/// (nothing written, nothing committed).
fn failed_at_deliver(s: &Session, workflow: &Workflow) -> bool {
    s.progress.phase_started
        && !s.progress.delivered
        && s.record.commit.is_none()
        && workflow.phases.get(s.progress.phase).map(|p| p.kind) == Some(PhaseKind::Deliver)
}

/// Whether a stored session stopped at the test gate: its test phase, or the
/// review's re-test, failed for good.
fn failed_at_gate(s: &Session) -> bool {
    s.tests.test_stage == Stage::Failed || s.tests.review_stage == Stage::Failed
}

/// Puts back the tasks a session's end left open: those it cancelled (their
/// states before it are kept) and those a crash left running are queued
/// again, except the ones a budget paused; when the session is `delivered`
/// already, every open task is cancelled instead. Returns (queued again,
/// cancelled).
fn reopen_tasks(s: &mut Session, delivered: bool) -> (Vec<String>, Vec<String>) {
    // The tasks to queue again: those the end of the session cancelled
    // (their states before it are kept), and those a crash left open.
    let before = std::mem::take(&mut s.progress.interrupted);
    let mut requeue = Vec::new();
    let mut cancel = Vec::new();
    for task in s.work.tasks.values_mut() {
        let prior = match before.get(&task.id) {
            Some(prior) if task.state == TaskState::Cancelled => *prior,
            _ => task.state,
        };
        task.state = match prior {
            // Delivered already: what was still open has nothing left to do.
            TaskState::Queued | TaskState::Running | TaskState::Retrying | TaskState::Paused
                if delivered =>
            {
                cancel.push(task.id.clone());
                TaskState::Cancelled
            }
            TaskState::Paused if s.spend.budget_paused.contains(&task.id) => TaskState::Paused,
            TaskState::Queued | TaskState::Running | TaskState::Retrying | TaskState::Paused => {
                requeue.push(task.id.clone());
                TaskState::Queued
            }
            done => done,
        };
    }
    (requeue, cancel)
}

/// A session that failed at the test gate is tested again (setup re-runs,
/// with a fresh budget of repair rounds), and a test run the stop cut off
/// runs again.
fn reset_test_loop(s: &mut Session) {
    // A session that failed at the test gate is tested again: setup
    // re-runs (the environment or the config changed), with a fresh
    // budget of repair rounds.
    let retest = failed_at_gate(s);
    if retest {
        // The review phase tests again only when told to.
        s.tests.retest = s.tests.review_stage == Stage::Failed;
        for stage in [&mut s.tests.test_stage, &mut s.tests.review_stage] {
            if *stage == Stage::Failed {
                *stage = Stage::Writing;
            }
        }
        s.tests.setups.clear();
        s.tests.repair_rounds = 0;
        s.progress.tests_failed = None;
        s.tests.awaiting_repairs = false;
    }
    // A test run the stop cut off runs again.
    for stage in [&mut s.tests.test_stage, &mut s.tests.review_stage] {
        if *stage == Stage::Running {
            *stage = Stage::Writing;
            s.tests.test_round = s.tests.test_round.saturating_sub(1);
        }
    }
}

impl Actor {
    /// [`Op::Resume`](crate::protocol::Op::Resume).
    pub(crate) async fn resume(
        &mut self,
        wanted: Option<String>,
        interactive: bool,
        allow_overwrite: bool,
        allow_secrets: bool,
    ) {
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.progress.finished.is_none())
        {
            return self.reject_resume("a session is already running");
        }
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || load(&store, wanted.as_deref())).await;
        let stored = match loaded {
            Ok(Ok(stored)) => stored,
            Ok(Err(message)) => return self.reject_resume(message),
            Err(e) => return self.reject_resume(e.to_string()),
        };
        if let Some(workflow) = stored.workflow {
            self.workflow = workflow;
        }
        let mut s = stored.state;
        // Named in DIR's lock, as a session that starts is (workspace/state_dir.rs).
        crate::workspace::state_dir::note_session(
            self.workspace.state(),
            stored.record.id.as_str(),
        );
        s.record = stored.record;
        s.record.status = None;
        s.live.seq = stored.last_seq.max(s.record.last_seq);
        s.work.tasks = stored.tasks;
        s.work.files = stored.files;
        s.live.project = stored.project;
        s.live.line_seq = stored.next_line;
        s.live.agent_line_seq = stored
            .agent_lines
            .iter()
            .map(|(a, n)| (a.clone(), *n))
            .collect();
        // A TUI's session resumed headless: what it left for the person
        // is settled by the headless rules (`settle_headless`).
        let left_by_tui = s.options.interactive && !interactive;
        s.options.interactive = interactive;
        s.options.allow_overwrite |= allow_overwrite;
        s.options.allow_secrets |= allow_secrets;
        s.progress.finished = None;
        s.progress.failure = None;
        s.progress.stall = None;
        s.progress.paused = false;
        s.progress.paused_by_session.clear();
        s.live.scheduler = self.new_scheduler();
        // A commit of this session already in the repository means its
        // delivery happened (the group recording it was lost).
        let own_commit = if s.progress.delivered || s.options.dry_run || s.options.no_commit {
            None
        } else {
            let workspace = self.workspace.clone();
            let session = s.id.clone();
            tokio::task::spawn_blocking(move || workspace.session_commit(&session))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        };
        let (requeue, cancel) = reopen_tasks(&mut s, own_commit.is_some());
        reset_test_loop(&mut s);
        let from_seq = s.live.seq + 1;
        let id = s.id.clone();
        self.session = Some(s);
        self.snapshot = None;
        tracing::info!(session = %id, from_seq, "session resumed");
        self.ephemeral(Event::Resumed {
            events: stored.events,
            lines: stored.next_line,
            agent_lines: stored.agent_lines,
        });
        self.emit(EventBody::SessionResumed { from_seq });
        self.announce_reopened(&cancel, TaskState::Cancelled);
        if let Some((sha, repo)) = own_commit {
            self.adopt_commit(sha, repo).await;
        }
        self.announce_reopened(&requeue, TaskState::Queued);
        let lead = self
            .settings
            .agents
            .first()
            .map(|a| a.name.clone())
            .unwrap_or_default();
        self.note(
            &lead,
            "resume",
            &format!(
                "⟳ session resumed: events 1–{} kept, {} task(s) queued again",
                from_seq - 1,
                requeue.len()
            ),
        );
        self.memories().await;
        self.recheck_budgets();
        self.rebuild_scratch().await;
        if left_by_tui {
            self.settle_headless();
        }
        self.resume_delivery().await;
    }

    /// Tells what [`reopen_tasks`] did: each task stored with its new state,
    /// and `task_cancelled` (`state` cancelled) or, queued again in its
    /// agent's queue, `task_queued`.
    fn announce_reopened(&mut self, ids: &[String], state: TaskState) {
        for id in ids {
            let Some(t) = self
                .session
                .as_ref()
                .and_then(|s| s.work.tasks.get(id))
                .cloned()
            else {
                continue;
            };
            if state == TaskState::Queued
                && let Some(s) = self.s()
            {
                s.live.scheduler.enqueue(&t.agent, &t.id, t.priority);
            }
            self.record(RecordKey::Task, &t.id, &t);
            let body = if state == TaskState::Queued {
                EventBody::TaskQueued {
                    task: t.id.clone(),
                    agent: t.agent.clone(),
                    phase: t.phase.clone(),
                    title: t.title.clone(),
                }
            } else {
                EventBody::TaskCancelled {
                    task: t.id,
                    agent: t.agent,
                    phase: t.phase,
                }
            };
            self.emit(body);
        }
    }

    /// A headless resume of a session that a TUI left waiting for the
    /// person applies the headless rules to what the person left open, as
    /// `quorum run` would have (docs/commands.md, `quorum resume`): every
    /// unanswered question takes its answer from the session's `--answers`
    /// file or its default (`by: "default"`, recorded as an assumption), and
    /// at resolve a majority is decided by the vote and a tie goes to the
    /// chair. A transcript note says so. Without this the session would wait
    /// for an answer that no one can give (issue 18: resume never hangs).
    /// Called only when the stored session was interactive and the resume
    /// is not; sessions with nothing open are left as they are.
    fn settle_headless(&mut self) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        if s.options.interactive || s.progress.finished.is_some() {
            return;
        }
        let questions: Vec<(String, String, &'static str)> = s
            .design
            .questions
            .iter()
            .filter(|q| !s.design.answers.contains_key(&q.id))
            .map(|q| match s.options.answers.get(&q.id) {
                Some(given) => (q.id.clone(), given.clone(), "answers_file"),
                None => (q.id.clone(), q.default.clone(), "default"),
            })
            .collect();
        let resolve = self
            .current_phase()
            .filter(|p| p.kind == PhaseKind::Resolve && s.progress.phase_started);
        let open: Vec<String> = if resolve.is_some() {
            s.design
                .conflicts
                .iter()
                .filter(|k| !s.design.decisions.contains_key(&k.id))
                .map(|k| k.id.clone())
                .collect()
        } else {
            Vec::new()
        };
        if questions.is_empty() && open.is_empty() {
            return;
        }
        let mut said = Vec::new();
        if !questions.is_empty() {
            let ids: Vec<&str> = questions.iter().map(|(id, _, _)| id.as_str()).collect();
            said.push(format!(
                "the open question(s) {} take their defaults",
                ids.join(", ")
            ));
        }
        if !open.is_empty() {
            said.push(format!(
                "the vote and the chair settle the open conflict(s) {}",
                open.join(", ")
            ));
        }
        let lead = self
            .settings
            .agents
            .first()
            .map(|a| a.name.clone())
            .unwrap_or_default();
        self.note(
            &lead,
            "resume",
            &format!(
                "headless resume: {}, as `quorum run` would (to decide yourself, stop and run `quorum resume` in the TUI)",
                said.join("; ")
            ),
        );
        for (id, answer, by) in questions {
            self.answer(&id, &answer, by);
        }
        if let Some(phase) = resolve {
            let chair = phase.agents.first().cloned().unwrap_or_default();
            self.start_resolve(&phase, &chair);
        }
    }

    fn reject_resume(&mut self, reason: impl Into<String>) {
        self.ephemeral(Event::Rejected {
            op: "resume".into(),
            reason: reason.into(),
        });
    }

    /// A commit the session made before it stopped (its trailer on one of
    /// HEAD's commits) is its delivery: `commit_created` is logged (its first
    /// logging was lost with the crash), the session moves to its deliver
    /// phase, and nothing is committed again.
    async fn adopt_commit(&mut self, sha: String, repo: std::path::PathBuf) {
        let deliver = self
            .workflow
            .phases
            .iter()
            .position(|p| p.kind == PhaseKind::Deliver);
        let files = self
            .session
            .as_ref()
            .map(|s| s.work.accepted_paths())
            .unwrap_or_default();
        if let Some(s) = self.s() {
            s.progress.delivered = true;
            s.record.commit = Some(sha.clone());
            if let Some(at) = deliver
                && s.progress.phase != at
            {
                s.progress.phase = at;
                s.progress.phase_started = false;
            }
        }
        self.emit(EventBody::CommitCreated {
            sha,
            files,
            repo: repo.display().to_string(),
        });
        self.remember_delivery().await;
    }

    /// The scratch tree (HEAD plus the staged files) as the tests need it,
    /// when the session is past the start of its tasks phase and not
    /// delivered: the crash may have left it half written, or it may be gone.
    async fn rebuild_scratch(&mut self) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let tasks_at = self
            .workflow
            .phases
            .iter()
            .position(|p| p.kind == PhaseKind::Tasks);
        let past_tasks = tasks_at.is_some_and(|at| {
            s.progress.phase > at || (s.progress.phase == at && s.progress.phase_started)
        });
        if !past_tasks || s.progress.delivered {
            return;
        }
        let workspace = self.workspace.clone();
        let id = s.id.clone();
        // Redacted, as at staging (Actor::stage_files).
        let redactor = super::committer::Redactor::new(self.configured_key_values());
        let files: Vec<(String, String)> = s
            .work
            .files
            .iter()
            .map(|(p, f)| {
                let mut content = f.content.clone();
                redactor.text(&mut content);
                (p.clone(), content)
            })
            .collect();
        let rebuilt = tokio::task::spawn_blocking(move || {
            workspace.prepare_scratch(&id)?;
            for (path, content) in &files {
                workspace.stage(&id, path, content.as_bytes())?;
            }
            Ok::<(), crate::workspace::WorkspaceError>(())
        })
        .await;
        let problem = match rebuilt {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            self.fail_session(format!("cannot rebuild the scratch tree: {problem}"));
        }
    }

    /// A session that stopped at deliver delivers now (headless), or tells
    /// the person again that it waits for them (TUI).
    async fn resume_delivery(&mut self) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let at_deliver = s.progress.phase_started
            && !s.progress.delivered
            && self.workflow.phases.get(s.progress.phase).map(|p| p.kind)
                == Some(PhaseKind::Deliver);
        if !at_deliver || s.progress.finished.is_some() {
            return;
        }
        if s.options.interactive {
            let message = self.commit_summary();
            self.ephemeral(Event::DeliveryReady { message });
        } else if let Some(failed) = s.progress.tests_failed.clone() {
            // Only the person may commit what failed its tests.
            self.fail_session(format!("{failed}; resume in the TUI to commit anyway"));
        } else {
            self.deliver(None).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::session::placeholder_record;
    use super::*;
    use crate::protocol::{SessionId, SessionOptions};

    fn session_with(tasks: &[(&str, TaskState)]) -> Session {
        let mut s = Session::new(
            SessionId::new(),
            "p".into(),
            SessionOptions::default(),
            placeholder_record(),
            super::super::scheduler::Scheduler::default(),
            None,
        );
        for (id, state) in tasks {
            let mut t = Actor::new_task(
                id.to_string(),
                "ada",
                "plan",
                crate::llm::TaskKind::Plan,
                "t".into(),
                serde_json::Value::Null,
            );
            t.state = *state;
            s.work.tasks.insert(id.to_string(), t);
        }
        s
    }

    #[test]
    fn open_and_interrupted_tasks_are_queued_again_but_budget_pauses_stay() {
        let mut s = session_with(&[
            ("crashed", TaskState::Running),
            ("stopped", TaskState::Cancelled),
            ("cancelled", TaskState::Cancelled),
            ("budget", TaskState::Paused),
            ("done", TaskState::Done),
        ]);
        // The end of the session cancelled `stopped`, which was queued.
        s.progress
            .interrupted
            .insert("stopped".into(), TaskState::Queued);
        s.spend.budget_paused.insert("budget".into());
        let (requeue, cancel) = reopen_tasks(&mut s, false);
        assert_eq!(requeue, ["crashed", "stopped"]);
        assert!(cancel.is_empty());
        let state = |id: &str| s.work.tasks[id].state;
        assert_eq!(state("crashed"), TaskState::Queued);
        assert_eq!(
            state("cancelled"),
            TaskState::Cancelled,
            "the person's cancel"
        );
        assert_eq!(state("budget"), TaskState::Paused);
        assert_eq!(state("done"), TaskState::Done);
        assert!(s.progress.interrupted.is_empty(), "used once");
    }

    #[test]
    fn a_delivered_session_cancels_what_was_open() {
        let mut s = session_with(&[("open", TaskState::Queued), ("done", TaskState::Done)]);
        let (requeue, cancel) = reopen_tasks(&mut s, true);
        assert!(requeue.is_empty());
        assert_eq!(cancel, ["open"]);
        assert_eq!(s.work.tasks["open"].state, TaskState::Cancelled);
    }

    #[test]
    fn a_failed_gate_is_tested_again_and_a_cut_off_run_runs_again() {
        let mut s = session_with(&[]);
        s.tests.test_stage = Stage::Passed;
        s.tests.review_stage = Stage::Failed;
        s.tests.repair_rounds = 3;
        s.progress.tests_failed = Some("red".into());
        reset_test_loop(&mut s);
        assert_eq!(s.tests.review_stage, Stage::Writing);
        assert!(s.tests.retest, "the review tests again");
        assert_eq!(s.tests.repair_rounds, 0);
        assert!(s.progress.tests_failed.is_none());
        let mut s = session_with(&[]);
        s.tests.test_stage = Stage::Running;
        s.tests.test_round = 2;
        reset_test_loop(&mut s);
        assert_eq!(s.tests.test_stage, Stage::Writing);
        assert_eq!(s.tests.test_round, 1);
        assert_eq!(s.tests.repair_rounds, 0);
    }
}
