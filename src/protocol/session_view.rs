//! What a consumer knows of a session: the one fold of the durable events
//! ([`SessionView::apply`]) into tasks, conflicts, files, questions, findings
//! and totals. The TUI folds its live session and every past one with it;
//! headless and export can fold with it too. The fold is exhaustive over
//! [`EventBody`] (no catch-all arm: a new event kind must say what it changes
//! here). Pure data, no I/O.

use std::collections::BTreeMap;

use super::{
    DecidedBy, EventBody, FileChange, LoggedEvent, Position, SessionStatus, TaskState, TestStatus,
};

/// One task as the TUI sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskView {
    /// The owning agent.
    pub agent: String,
    /// Its phase.
    pub phase: String,
    /// One line.
    pub title: String,
    /// Its state.
    pub state: TaskState,
    /// The last error, if it failed.
    pub error: Option<String>,
    /// Tokens in and out when finished.
    pub tokens: (u64, u64),
}

/// One conflict with its ballots and decision.
#[derive(Clone, Debug, PartialEq)]
pub struct ConflictView {
    /// Id.
    pub id: String,
    /// Title.
    pub topic: String,
    /// Options.
    pub options: Vec<String>,
    /// Blocks implementation.
    pub blocking: bool,
    /// Quoted positions.
    pub positions: Vec<Position>,
    /// voter → (option or abstention, rationale), in arrival order.
    pub ballots: Vec<(String, Option<String>, String)>,
    /// The decision, once made.
    pub decision: Option<(String, DecidedBy)>,
    /// The person's override note, if any.
    pub note: Option<String>,
    /// The chair asks a person to decide, whatever the vote.
    pub needs_human: bool,
}

impl ConflictView {
    /// Valid ballots per option (every option listed).
    pub fn tally(&self) -> Vec<(String, u32)> {
        self.options
            .iter()
            .map(|o| {
                let n = self
                    .ballots
                    .iter()
                    .filter(|(_, b, _)| b.as_deref() == Some(o.as_str()))
                    .count();
                (o.clone(), n as u32)
            })
            .collect()
    }

    /// The option with more than half of the valid ballots.
    pub fn majority(&self) -> Option<String> {
        let valid = self.ballots.iter().filter(|(_, b, _)| b.is_some()).count() as u32;
        self.tally()
            .into_iter()
            .find(|(_, n)| n * 2 > valid)
            .map(|(o, _)| o)
    }

    /// `true` when ballots were cast and no option has a majority.
    pub fn is_tie(&self) -> bool {
        !self.ballots.is_empty() && self.majority().is_none()
    }
}

/// A staged or refused file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileEntry {
    /// Path relative to DIR.
    pub path: String,
    /// Who wrote it.
    pub agent: String,
    /// Size in bytes.
    pub bytes: u64,
    /// New or modified; `None` when refused.
    pub change: Option<FileChange>,
    /// Will be delivered.
    pub accepted: bool,
    /// Why it was refused.
    pub refused: Option<String>,
    /// Review findings on it.
    pub findings: u32,
}

/// A question of the refine phase.
#[derive(Clone, Debug, PartialEq)]
pub struct QuestionView {
    /// Id.
    pub id: String,
    /// The question.
    pub text: String,
    /// The default answer.
    pub default: String,
    /// The answer, once given.
    pub answer: Option<String>,
}

/// A review finding.
#[derive(Clone, Debug, PartialEq)]
pub struct FindingView {
    /// info … critical.
    pub severity: String,
    /// File.
    pub path: String,
    /// Line.
    pub line: u32,
    /// Text.
    pub text: String,
    /// Must be fixed.
    pub blocking: bool,
}

/// The session as shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The current (or last) phase's name.
    pub phase: String,
    /// How it ended.
    pub status: Option<SessionStatus>,
    /// Tasks by id, in id order.
    pub tasks: BTreeMap<String, TaskView>,
    /// Task ids in the order they were queued.
    pub task_order: Vec<String>,
    /// Conflicts in detection order.
    pub conflicts: Vec<ConflictView>,
    /// Files by path.
    pub files: BTreeMap<String, FileEntry>,
    /// Questions.
    pub questions: Vec<QuestionView>,
    /// Findings.
    pub findings: Vec<FindingView>,
    /// The last test run: round, passed, failed, status.
    pub tests: Option<(u32, u32, u32, TestStatus)>,
    /// The commit made.
    pub commit: Option<String>,
    /// Errors reported by the session.
    pub errors: Vec<String>,
    /// Tokens in and out so far.
    pub tokens: (u64, u64),
    /// Cost so far, US dollars.
    pub cost_usd: f64,
    /// The last seq applied.
    pub last_seq: u64,
    /// The project's instruction files the agents were given (paths from
    /// DIR, unsanitized), root first.
    pub instructions: Vec<String>,
}

impl SessionView {
    /// Applies one durable event.
    #[warn(clippy::wildcard_enum_match_arm)]
    pub fn apply(&mut self, event: &LoggedEvent) {
        self.id = event.session.to_string();
        self.last_seq = event.seq;
        match &event.body {
            EventBody::SessionStarted { prompt, .. } => self.prompt = prompt.clone(),
            EventBody::SessionResumed { .. } => self.status = None,
            EventBody::InstructionsRead { files, .. } => self.instructions = files.clone(),
            EventBody::RepoMap { .. } => {}
            EventBody::PhaseStarted { phase, .. } => self.phase = phase.clone(),
            EventBody::QuestionAsked { id, text, default } => self.questions.push(QuestionView {
                id: id.clone(),
                text: text.clone(),
                default: default.clone(),
                answer: None,
            }),
            EventBody::QuestionAnswered { id, answer, .. } => self.question_answered(id, answer),
            EventBody::TaskQueued {
                task,
                agent,
                phase,
                title,
            } => self.task_queued(task, agent, phase, title),
            EventBody::TaskStarted { task, .. } => self.set_task(task, TaskState::Running),
            EventBody::TaskPaused { task, .. } => self.set_task(task, TaskState::Paused),
            EventBody::TaskCancelled { task, .. } => self.set_task(task, TaskState::Cancelled),
            EventBody::TaskRetrying { task, .. } => self.set_task(task, TaskState::Retrying),
            EventBody::TaskFinished {
                task,
                tokens_in,
                tokens_out,
                cost_usd,
                ..
            } => self.task_finished(task, (*tokens_in, *tokens_out), *cost_usd),
            EventBody::TaskFailed { task, error, .. } => self.task_failed(task, error),
            body @ EventBody::ConflictDetected { .. } => self.conflict_detected(body),
            EventBody::VoteCast {
                conflict,
                agent,
                option,
                rationale,
            } => self.vote_cast(conflict, agent, option.as_deref(), rationale),
            EventBody::ConflictResolved {
                conflict,
                option,
                decided_by,
                ..
            } => {
                if let Some(c) = self.conflict_mut(conflict) {
                    c.decision = Some((option.clone(), *decided_by));
                }
            }
            EventBody::DecisionOverridden {
                conflict, to, note, ..
            } => self.decision_overridden(conflict, to, note),
            EventBody::FileStaged {
                path,
                agent,
                bytes,
                change,
            } => self.file_staged(path, agent, *bytes, *change),
            EventBody::PathRefused {
                path,
                agent,
                reason,
            } => self.path_refused(path, agent, reason),
            EventBody::TestRun {
                round,
                passed,
                failed,
                status,
                ..
            } => self.test_run(*round, *passed, *failed, *status),
            body @ EventBody::Finding { .. } => self.finding(body),
            EventBody::CommitCreated { sha, .. } => self.commit = Some(sha.clone()),
            EventBody::SessionFinished {
                status,
                tokens_in,
                tokens_out,
                cost_usd,
            } => {
                // The session's own totals replace the sums of its tasks.
                (self.status, self.tokens) = (Some(*status), (*tokens_in, *tokens_out));
                self.cost_usd = *cost_usd;
            }
            EventBody::Error { message } => self.errors.push(message.clone()),
            EventBody::PhaseFinished { .. }
            | EventBody::ProviderFallback { .. }
            | EventBody::BudgetWarning { .. }
            | EventBody::BudgetExhausted { .. }
            | EventBody::SetupRun { .. }
            | EventBody::RepairDeclined { .. }
            | EventBody::TaskSummary { .. } => {}
        }
    }

    /// `question_answered`: the question gets its answer.
    fn question_answered(&mut self, id: &str, answer: &str) {
        if let Some(q) = self.questions.iter_mut().find(|q| q.id == id) {
            q.answer = Some(answer.to_string());
        }
    }

    /// `task_failed`: the task failed with `error`.
    fn task_failed(&mut self, task: &str, error: &str) {
        self.set_task(task, TaskState::Failed);
        if let Some(t) = self.tasks.get_mut(task) {
            t.error = Some(error.to_string());
        }
    }

    /// `vote_cast`: the agent's ballot replaces its earlier one, if any.
    fn vote_cast(&mut self, conflict: &str, agent: &str, option: Option<&str>, rationale: &str) {
        if let Some(c) = self.conflict_mut(conflict) {
            c.ballots.retain(|(a, _, _)| a != agent);
            c.ballots.push((
                agent.to_string(),
                option.map(str::to_string),
                rationale.to_string(),
            ));
        }
    }

    /// `conflict_detected`: a conflict with no ballot and no decision yet.
    fn conflict_detected(&mut self, body: &EventBody) {
        let EventBody::ConflictDetected {
            conflict,
            topic,
            options,
            blocking,
            positions,
            needs_human,
        } = body
        else {
            return;
        };
        self.conflicts.push(ConflictView {
            id: conflict.clone(),
            topic: topic.clone(),
            options: options.clone(),
            blocking: *blocking,
            positions: positions.clone(),
            ballots: Vec::new(),
            decision: None,
            note: None,
            needs_human: *needs_human,
        });
    }

    /// `finding`: counted on its file, and listed.
    fn finding(&mut self, body: &EventBody) {
        let EventBody::Finding {
            severity,
            path,
            line,
            text,
            blocking,
        } = body
        else {
            return;
        };
        if let Some(f) = self.files.get_mut(path) {
            f.findings += 1;
        }
        self.findings.push(FindingView {
            severity: severity.clone(),
            path: path.clone(),
            line: *line,
            text: text.clone(),
            blocking: *blocking,
        });
    }

    /// `task_queued`: a new task, or a retried one queued again.
    fn task_queued(&mut self, task: &str, agent: &str, phase: &str, title: &str) {
        if !self.tasks.contains_key(task) {
            self.task_order.push(task.to_string());
        }
        let entry = self.tasks.entry(task.to_string()).or_insert(TaskView {
            agent: agent.to_string(),
            phase: phase.to_string(),
            title: title.to_string(),
            state: TaskState::Queued,
            error: None,
            tokens: (0, 0),
        });
        entry.state = TaskState::Queued;
        entry.error = None;
    }

    /// `task_finished`: the task is done; its tokens and cost add up.
    fn task_finished(&mut self, task: &str, tokens: (u64, u64), cost_usd: f64) {
        self.set_task(task, TaskState::Done);
        if let Some(t) = self.tasks.get_mut(task) {
            t.tokens = tokens;
        }
        self.tokens.0 += tokens.0;
        self.tokens.1 += tokens.1;
        self.cost_usd += cost_usd;
    }

    /// `decision_overridden`: a decided conflict takes the person's option;
    /// the note is kept either way.
    fn decision_overridden(&mut self, conflict: &str, to: &str, note: &str) {
        if let Some(c) = self.conflict_mut(conflict) {
            if c.decision.is_some() {
                c.decision = Some((to.to_string(), DecidedBy::Human));
            }
            c.note = Some(note.to_string());
        }
    }

    /// `file_staged`: a new file is accepted at once, a modified one waits
    /// for the person.
    fn file_staged(&mut self, path: &str, agent: &str, bytes: u64, change: FileChange) {
        self.files.insert(
            path.to_string(),
            FileEntry {
                path: path.to_string(),
                agent: agent.to_string(),
                bytes,
                change: Some(change),
                accepted: change == FileChange::New,
                refused: None,
                findings: 0,
            },
        );
    }

    /// `path_refused`: listed as `⊘ PATH`, never accepted.
    fn path_refused(&mut self, path: &str, agent: &str, reason: &str) {
        let shown = format!("⊘ {path}");
        self.files.insert(
            shown,
            FileEntry {
                path: path.to_string(),
                agent: agent.to_string(),
                bytes: 0,
                change: None,
                accepted: false,
                refused: Some(reason.to_string()),
                findings: 0,
            },
        );
    }

    /// `test_run`: several components run per round, so the round shows its
    /// worst run (one that did not pass stays).
    fn test_run(&mut self, round: u32, passed: u32, failed: u32, status: TestStatus) {
        let keep =
            matches!(self.tests, Some((r, _, _, st)) if r == round && st != TestStatus::Passed);
        if !keep {
            self.tests = Some((round, passed, failed, status));
        }
    }

    fn set_task(&mut self, task: &str, state: TaskState) {
        if let Some(t) = self.tasks.get_mut(task) {
            t.state = state;
        }
    }

    fn conflict_mut(&mut self, id: &str) -> Option<&mut ConflictView> {
        self.conflicts.iter_mut().find(|c| c.id == id)
    }

    /// Conflicts without a decision.
    pub fn open_conflicts(&self) -> usize {
        self.conflicts
            .iter()
            .filter(|c| c.decision.is_none())
            .count()
    }

    /// The tasks of an agent, in queue order.
    pub fn agent_tasks<'a>(
        &'a self,
        agent: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a TaskView)> + 'a {
        self.task_order
            .iter()
            .filter_map(|id| self.tasks.get(id).map(|t| (id, t)))
            .filter(move |(_, t)| t.agent == agent)
    }

    /// Whether the session is still running.
    pub fn running(&self) -> bool {
        !self.id.is_empty() && self.status.is_none()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::SessionId;

    fn ev(seq: u64, body: EventBody) -> LoggedEvent {
        LoggedEvent {
            v: 1,
            seq,
            session: SessionId::parse("0123456789ab").unwrap(),
            at: String::new(),
            body,
        }
    }

    #[test]
    fn ballots_fold_into_tallies_ties_and_decisions() {
        let mut s = SessionView::default();
        s.apply(&ev(
            1,
            EventBody::ConflictDetected {
                conflict: "storage".into(),
                topic: "Storage".into(),
                options: vec!["json-file".into(), "sqlite".into()],
                blocking: true,
                needs_human: false,
                positions: vec![],
            },
        ));
        for (agent, option) in [
            ("a", Some("sqlite")),
            ("b", Some("json-file")),
            ("c", None),
            ("d", Some("sqlite")),
        ] {
            s.apply(&ev(
                2,
                EventBody::VoteCast {
                    conflict: "storage".into(),
                    agent: agent.into(),
                    option: option.map(String::from),
                    rationale: String::new(),
                },
            ));
        }
        let c = &s.conflicts[0];
        assert_eq!(
            c.tally(),
            vec![("json-file".into(), 1), ("sqlite".into(), 2)]
        );
        assert_eq!(c.majority().as_deref(), Some("sqlite"));
        assert!(!c.is_tie());
        assert_eq!(s.open_conflicts(), 1);
        s.apply(&ev(
            3,
            EventBody::ConflictResolved {
                conflict: "storage".into(),
                option: "sqlite".into(),
                decided_by: DecidedBy::Vote,
                tally: Default::default(),
            },
        ));
        assert_eq!(s.open_conflicts(), 0);
        s.apply(&ev(
            4,
            EventBody::DecisionOverridden {
                conflict: "storage".into(),
                from: Some("sqlite".into()),
                to: "json-file".into(),
                note: "simpler".into(),
            },
        ));
        assert_eq!(
            s.conflicts[0].decision,
            Some(("json-file".into(), DecidedBy::Human))
        );
        assert_eq!(s.last_seq, 4);
    }
}
