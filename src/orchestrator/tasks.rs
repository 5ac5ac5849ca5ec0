//! A task's lifecycle in the session: queued (in its agent's queue),
//! started when its dependencies are done and a slot is free, then done,
//! failed (a reply that failed validation is asked for once more), paused,
//! cancelled, retried (on another model, if the person chooses one), and the
//! whole session's pause. The model call itself and its events are
//! `tasks/run.rs`; what a reply means is the phase's (`phases/`).

use serde_json::Value;

use super::actor::{Actor, Task};
use crate::llm::{TaskKind, Usage};
use crate::protocol::{EventBody, LineKind, TaskState};
use crate::store::RecordKey;

mod run;

impl Actor {
    /// Changes a task's state and stores the task.
    pub fn set_state(&mut self, id: &str, state: TaskState) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        task.state = state;
        let task = task.clone();
        self.record(RecordKey::Task, id, &task);
    }

    /// Adds a task to its agent's queue.
    pub fn queue_task(&mut self, task: Task) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.live
            .scheduler
            .enqueue(&task.agent, &task.id, task.priority);
        let body = EventBody::TaskQueued {
            task: task.id.clone(),
            agent: task.agent.clone(),
            phase: task.phase.clone(),
            title: task.title.clone(),
        };
        s.work.tasks.insert(task.id.clone(), task.clone());
        self.record(RecordKey::Task, &task.id, &task);
        self.emit(body);
        if self.held_by_budget(&task.agent) {
            self.pause_by_budget(&task.id);
        }
    }

    /// A new task value with the defaults.
    pub fn new_task(
        id: String,
        agent: &str,
        phase: &str,
        kind: TaskKind,
        title: String,
        context: Value,
    ) -> Task {
        Task {
            id,
            agent: agent.to_string(),
            phase: phase.to_string(),
            kind,
            title,
            state: TaskState::Queued,
            deps: Vec::new(),
            priority: 0,
            declared: Vec::new(),
            subject: None,
            context,
            generation: 0,
            invalid_retries: 0,
            extra: Vec::new(),
            usage: Usage::default(),
            cost_usd: 0.0,
            model: None,
            error: None,
        }
    }

    /// Starts every queued task whose dependencies are done and whose agent and
    /// provider have a free slot.
    pub fn schedule(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if s.progress.finished.is_some() || s.progress.paused {
            return;
        }
        let tasks = &s.work.tasks;
        let ready = |id: &str| {
            tasks.get(id).is_some_and(|t| {
                t.state == TaskState::Queued
                    && t.deps
                        .iter()
                        .all(|d| tasks.get(d).is_some_and(|d| d.state == TaskState::Done))
            })
        };
        let started = s.live.scheduler.start_ready(&ready);
        for (_, task) in started {
            self.start_call(&task);
        }
    }

    /// Marks a task done after its output was accepted.
    pub(crate) fn complete_task(&mut self, id: &str) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        task.state = TaskState::Done;
        let task = task.clone();
        s.live.scheduler.release(&task.agent);
        self.record(RecordKey::Task, id, &task);
        self.note(&task.agent, id, "✓ done");
        self.emit(EventBody::TaskFinished {
            task: task.id.clone(),
            agent: task.agent.clone(),
            phase: task.phase.clone(),
            tokens_in: task.usage.input_tokens,
            tokens_out: task.usage.output_tokens,
            cost_usd: task.cost_usd,
            cache_read_tokens: task.usage.cache_read_tokens,
            cache_write_tokens: task.usage.cache_write_tokens,
        });
    }

    /// An output failed validation: ask once more with the problem, then fail.
    /// The model is told the whole problem; the transcript and the task's
    /// error show its first line (a problem with edits that did not apply
    /// goes on with the blocks and the nearest lines of the file).
    pub(crate) fn invalid_output(&mut self, id: &str, text: &str, problem: String) {
        let shown = match problem.split_once('\n') {
            Some((first, _)) => first.to_string(),
            None => problem.clone(),
        };
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        let agent = task.agent.clone();
        // The same reply as the attempt being corrected: the agent is looping.
        let repeated = task
            .extra
            .first()
            .is_some_and(|previous| previous.content.trim() == text.trim());
        if repeated {
            self.fail_task(
                id,
                format!("loop: the agent returned the same invalid reply twice ({shown})"),
            );
        } else if task.invalid_retries == 0 {
            task.invalid_retries = 1;
            task.extra = super::prompts::validation_retry(text, &problem);
            self.line(
                &agent,
                id,
                LineKind::Error,
                &format!("✗ reply rejected: {shown}; asking again"),
                false,
            );
            self.start_call(id);
        } else {
            self.fail_task(id, format!("invalid reply: {shown}"));
        }
    }

    /// Marks a task failed and lets its phase react (a failed ballot is an abstention).
    pub fn fail_task(&mut self, id: &str, error: String) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        let was_running = matches!(task.state, TaskState::Running | TaskState::Retrying);
        task.state = TaskState::Failed;
        task.error = Some(error.clone());
        let task = task.clone();
        s.live.cancels.remove(id);
        if was_running {
            s.live.scheduler.release(&task.agent);
        }
        self.record(RecordKey::Task, id, &task);
        self.line(
            &task.agent,
            id,
            LineKind::Error,
            &format!("✗ failed: {error}"),
            false,
        );
        self.emit(EventBody::TaskFailed {
            task: task.id.clone(),
            agent: task.agent.clone(),
            phase: task.phase.clone(),
            error,
        });
        self.task_failed(&task);
    }

    pub(crate) fn pause_task(&mut self, id: &str) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("pause", "no session");
        };
        let Some(task) = s.work.tasks.get(id).cloned() else {
            return self.reject("pause", format!("no task `{id}`"));
        };
        match task.state {
            TaskState::Queued | TaskState::Running | TaskState::Retrying => {
                s.live.halt(id, &task.agent, task.state);
            }
            TaskState::Paused | TaskState::Done | TaskState::Failed | TaskState::Cancelled => {
                return self.reject("pause", format!("task `{id}` is {}", task.state.as_str()));
            }
        }
        self.set_state(id, TaskState::Paused);
        self.note(&task.agent, id, "⏸ paused");
        self.emit(EventBody::TaskPaused {
            task: task.id,
            agent: task.agent,
            phase: task.phase,
        });
    }

    pub(crate) fn pause_session(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("pause session", "no session");
        };
        if s.progress.finished.is_some() {
            return self.reject("pause session", "the session has ended");
        }
        if s.progress.paused {
            return self.reject("pause session", "the session is paused already");
        }
        s.progress.paused = true;
        let running: Vec<String> = s
            .work
            .tasks
            .values()
            .filter(|t| matches!(t.state, TaskState::Running | TaskState::Retrying))
            .map(|t| t.id.clone())
            .collect();
        s.progress.paused_by_session = running.clone();
        for id in running {
            self.pause_task(&id);
        }
    }

    pub(crate) fn resume_session(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("resume session", "no session");
        };
        if !s.progress.paused {
            return self.reject("resume session", "the session is not paused");
        }
        s.progress.paused = false;
        let stopped = std::mem::take(&mut s.progress.paused_by_session);
        for id in stopped {
            let still = self.session.as_ref().is_some_and(|s| {
                !s.spend.budget_paused.contains(&id)
                    && s.work
                        .tasks
                        .get(&id)
                        .is_some_and(|t| t.state == TaskState::Paused)
            });
            if still {
                self.resume_task(&id);
            }
        }
    }

    /// Puts a paused, failed or cancelled task back in its queue.
    pub(crate) fn requeue(&mut self, id: &str, op: &str, allowed: &[TaskState]) {
        let Some(s) = self.session.as_mut() else {
            return self.reject(op, "no session");
        };
        if s.progress.finished.is_some() {
            return self.reject(op, "the session has ended");
        }
        let Some(task) = s.work.tasks.get_mut(id) else {
            return self.reject(op, format!("no task `{id}`"));
        };
        if !allowed.contains(&task.state) {
            let state = task.state.as_str();
            return self.reject(op, format!("task `{id}` is {state}"));
        }
        task.state = TaskState::Queued;
        task.invalid_retries = 0;
        task.extra.clear();
        task.error = None;
        let task = task.clone();
        s.live.scheduler.enqueue(&task.agent, id, task.priority);
        self.record(RecordKey::Task, id, &task);
        self.emit(EventBody::TaskQueued {
            task: task.id,
            agent: task.agent,
            phase: task.phase,
            title: task.title,
        });
    }

    pub(crate) fn resume_task(&mut self, id: &str) {
        self.requeue(id, "resume", &[TaskState::Paused]);
    }

    /// Queues a paused task again (a budget raised).
    pub(crate) fn resume_paused(&mut self, id: &str) {
        self.requeue(id, "resume", &[TaskState::Paused]);
    }

    pub(crate) fn retry_task(&mut self, id: &str) {
        self.requeue(id, "retry", &[TaskState::Failed, TaskState::Cancelled]);
    }

    pub(crate) fn retry_task_on(&mut self, id: &str, model: &str) {
        let Some(parsed) = crate::config::ModelRef::parse(model) else {
            return self.reject("retry", format!("`{model}` is not provider:model"));
        };
        if !self.settings.providers.contains_key(&parsed.provider) {
            let names: Vec<&str> = self.settings.providers.keys().map(String::as_str).collect();
            return self.reject(
                "retry",
                format!(
                    "no provider `{}` (configured: {})",
                    parsed.provider,
                    names.join(", ")
                ),
            );
        }
        let Some(task) = self.s().and_then(|s| s.work.tasks.get_mut(id)) else {
            return self.reject("retry", format!("no task `{id}`"));
        };
        if !matches!(task.state, TaskState::Failed | TaskState::Cancelled) {
            let state = task.state.as_str();
            return self.reject("retry", format!("task `{id}` is {state}"));
        }
        task.model = Some(parsed.clone());
        let agent = task.agent.clone();
        self.note(
            &agent,
            id,
            &format!("↻ rerun on {parsed} (chosen by the person)"),
        );
        self.retry_task(id);
    }

    pub(crate) fn cancel_task(&mut self, id: &str) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("cancel", "no session");
        };
        let Some(task) = s.work.tasks.get(id).cloned() else {
            return self.reject("cancel", format!("no task `{id}`"));
        };
        match task.state {
            TaskState::Queued | TaskState::Running | TaskState::Retrying | TaskState::Paused => {
                s.live.halt(id, &task.agent, task.state);
            }
            TaskState::Done | TaskState::Failed | TaskState::Cancelled => {
                return self.reject("cancel", format!("task `{id}` is {}", task.state.as_str()));
            }
        }
        self.set_state(id, TaskState::Cancelled);
        self.note(&task.agent, id, "■ cancelled");
        self.emit(EventBody::TaskCancelled {
            task: task.id.clone(),
            agent: task.agent.clone(),
            phase: task.phase.clone(),
        });
        self.task_failed(&task);
    }
}
