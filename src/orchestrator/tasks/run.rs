//! A task's model call: the chain of models it may use (the agent's model,
//! or the person's choice, then its fallbacks), its prompt fitted to the
//! smallest window along the chain, and the call's events as they come back
//! (streamed text, retries, fallbacks, the reply and its cost, failure).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::super::actor::{Actor, Task};
use super::super::call::{self, CallEvent, CallMsg};
use crate::config::{AgentSpec, Settings};
use crate::llm::{CallMeta, ChatRequest, TaskKind, Usage};
use crate::protocol::{Event, EventBody, LineKind, TaskState};
use crate::store::RecordKey;

impl Actor {
    /// Starts (or restarts) the model call of a task whose slot is held.
    pub(crate) fn start_call(&mut self, id: &str) {
        let settings = Arc::clone(&self.settings);
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        task.generation += 1;
        let first_start = task.generation == 1 || task.state == TaskState::Queued;
        task.state = TaskState::Running;
        let task = task.clone();
        let Some(agent) = settings.agent(&task.agent) else {
            self.fail_task(id, format!("agent `{}` is not in the roster", task.agent));
            return;
        };
        let primary = task.model.as_ref().unwrap_or(&agent.model).clone();
        let (chain, window) = self.chain_for(&task, agent, &settings);
        // An implementer builds on what the tasks it waits for wrote, and
        // edits its declared files as they stand: known only now.
        let (deps, existing) = match (task.kind, self.session.as_ref()) {
            (TaskKind::Implement, Some(s)) => (
                super::super::inputs::dependencies(s, &task),
                super::super::inputs::existing(s, &task, &|p| self.read_text(p)),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        // Asked of the primary model; a fallback's reply in the other
        // format is accepted too (docs/design.md §1, "Edits").
        let format = settings.edit_format(&primary);
        let memory = self.memory_of(&task.agent);
        let (context, inputs, trimmed) = super::super::context::call_inputs(
            &task,
            memory,
            deps,
            existing,
            &agent.role,
            format,
            window,
        );
        let mut messages =
            super::super::prompts::build(&agent.role, task.kind, &task.title, &context, format);
        messages.extend(task.extra.iter().cloned());
        let request = ChatRequest {
            model: agent.model.model.clone(),
            messages,
            json: super::super::outputs::schema_for_task(task.kind, inputs.as_ref()),
            meta: CallMeta {
                agent: task.agent.clone(),
                role: agent.role.clone(),
                phase: task.phase.clone(),
                task: task.id.clone(),
                kind: task.kind,
                inputs,
            },
            reasoning: agent.reasoning.for_phase(&task.phase),
        };
        let token = CancellationToken::new();
        if let Some(s) = self.session.as_mut() {
            s.live.cancels.insert(id.to_string(), token.clone());
        }
        self.record(RecordKey::Task, id, &task);
        if first_start {
            self.emit(EventBody::TaskStarted {
                task: task.id.clone(),
                agent: task.agent.clone(),
                phase: task.phase.clone(),
            });
        }
        let model = match settings.providers.get(&primary.provider) {
            Some(p) if p.kind == crate::config::ProviderKind::Offline => p.label(),
            _ => primary.to_string(),
        };
        self.line(
            &task.agent,
            &task.id,
            LineKind::Prompt,
            &format!("▸ {} · {model}", task.title),
            false,
        );
        if let Some(text) = trimmed {
            self.note(&task.agent, &task.id, &text);
        }
        tokio::spawn(call::run(
            task.id.clone(),
            task.generation,
            chain,
            request,
            self.calls_tx.clone(),
            token,
        ));
    }

    /// A file of DIR as text: `None` when it is absent, refused by the path
    /// rules, unreadable, or not UTF-8 text. Read on the actor's thread: only
    /// an implementer's few declared files are, as its call starts.
    fn read_text(&self, path: &str) -> Option<String> {
        let bytes = self.workspace.read(path).ok()??;
        if bytes.contains(&0) {
            return None;
        }
        String::from_utf8(bytes).ok()
    }

    /// The models a task's call may use, in order (the person's choice or
    /// the agent's model, then its fallbacks; those whose provider is
    /// configured), and the smallest context window and largest reply along
    /// them: the prompt must fit whichever model ends up answering.
    fn chain_for(
        &mut self,
        task: &Task,
        agent: &AgentSpec,
        settings: &Settings,
    ) -> (Vec<call::Link>, Option<(u32, u32)>) {
        let mut chain = Vec::new();
        let mut window: Option<(u32, u32)> = None;
        let primary = task.model.as_ref().unwrap_or(&agent.model);
        let fallbacks = agent.fallback.iter().filter(|m| *m != primary);
        for model in std::iter::once(primary).chain(fallbacks) {
            if let (Some(p), Some(spec)) = (
                self.providers.get(&model.provider),
                settings.providers.get(&model.provider),
            ) {
                window = Some(match window {
                    None => (spec.context_tokens, spec.max_tokens),
                    Some((w, r)) => (w.min(spec.context_tokens), r.max(spec.max_tokens)),
                });
                let health = self.health.entry(model.provider.clone()).or_default();
                chain.push(call::Link {
                    provider: Arc::clone(p),
                    model: model.clone(),
                    policy: call::CallPolicy::for_provider(spec),
                    health: Arc::clone(health),
                });
            }
        }
        (chain, window)
    }

    pub(crate) async fn on_call(&mut self, msg: CallMsg) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get(&msg.task) else {
            return;
        };
        let live = task.generation == msg.generation
            && matches!(task.state, TaskState::Running | TaskState::Retrying)
            && s.progress.finished.is_none();
        if !live {
            return;
        }
        let agent = task.agent.clone();
        let id = msg.task.clone();
        match msg.event {
            CallEvent::Delta(text) => self.on_delta(agent, id, text),
            CallEvent::Reasoning(text) => self.on_reasoning(&agent, &id, &text),
            CallEvent::Discarded { reason } => {
                if let Some(s) = self.session.as_mut() {
                    s.live.partial.remove(&id);
                    s.live.thinking.remove(&id);
                }
                self.line(
                    &agent,
                    &id,
                    LineKind::Retry,
                    &format!("✗ attempt failed ({reason}); its text above is discarded"),
                    true,
                );
            }
            CallEvent::Retrying {
                attempt,
                reason,
                delay,
            } => {
                self.set_state(&id, TaskState::Retrying);
                self.line(
                    &agent,
                    &id,
                    LineKind::Retry,
                    &format!(
                        "↻ retry {attempt} in {:.1} s: {reason}",
                        delay.as_secs_f64()
                    ),
                    false,
                );
                // The call runner goes on by itself after the delay.
                self.emit(EventBody::TaskRetrying {
                    task: id,
                    attempt,
                    reason,
                    delay_ms: delay.as_millis() as u64,
                });
            }
            CallEvent::Fallback { from, to, reason } => {
                self.line(
                    &agent,
                    &id,
                    LineKind::Retry,
                    &format!("⇢ falling back from {from} to {to}: {reason}"),
                    false,
                );
                self.emit(EventBody::ProviderFallback {
                    task: id,
                    from,
                    to,
                    reason,
                });
            }
            CallEvent::Finished { text, usage, model } => {
                self.on_reply(agent, id, text, usage, model).await;
            }
            CallEvent::Failed { error } => {
                self.flush_partial(&agent, &id, true);
                self.fail_task(&id, error);
            }
        }
    }

    /// Streamed reasoning: complete lines go to the transcript as
    /// [`LineKind::Reasoning`] (shown dimmed, never parsed: the reply's text
    /// is the deltas' alone), the rest waits for the next.
    fn on_reasoning(&mut self, agent: &str, id: &str, text: &str) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let partial = s.live.thinking.entry(id.to_string()).or_default();
        partial.push_str(text);
        let Some(cut) = partial.rfind('\n') else {
            return;
        };
        let done: String = partial.drain(..=cut).collect();
        for line in done.lines() {
            self.line(agent, id, LineKind::Reasoning, line, false);
        }
    }

    /// Streamed text: complete lines go to the transcript, the rest waits
    /// in the task's partial line; the text goes to consumers as tokens.
    fn on_delta(&mut self, agent: String, id: String, text: String) {
        self.flush_reasoning(&agent, &id);
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if let Some(t) = s.work.tasks.get_mut(&id) {
            t.state = TaskState::Running;
        }
        let partial = s.live.partial.entry(id.clone()).or_default();
        partial.push_str(&text);
        let mut complete = Vec::new();
        if let Some(cut) = partial.rfind('\n') {
            let done: String = partial.drain(..=cut).collect();
            complete.extend(done.lines().map(String::from));
        }
        for line in complete {
            self.line(&agent, &id, LineKind::Text, &line, false);
        }
        self.ephemeral(Event::Token {
            agent,
            task: id,
            text,
        });
    }

    /// The reply: its cost counted (and the budgets checked), then the
    /// phase's acceptance; a reply that fails it is asked for again.
    async fn on_reply(
        &mut self,
        agent: String,
        id: String,
        text: String,
        usage: Usage,
        model: crate::config::ModelRef,
    ) {
        self.flush_partial(&agent, &id, true);
        let cost = self.cost_of(&agent, &id, &model, usage);
        if let Some(s) = self.session.as_mut() {
            s.live.cancels.remove(&id);
            s.spend.usage.add(usage);
            s.spend.cost_usd += cost;
            *s.spend.agent_cost.entry(agent.clone()).or_insert(0.0) += cost;
            *s.spend.agent_tokens.entry(agent.clone()).or_insert(0) +=
                usage.input_tokens + usage.output_tokens;
            if let Some(t) = s.work.tasks.get_mut(&id) {
                t.usage.add(usage);
                t.cost_usd += cost;
            }
        }
        self.check_budgets(&agent);
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.progress.finished.is_some())
        {
            return;
        }
        match self.accept_output(&id, &text).await {
            Ok(()) => self.complete_task(&id),
            Err(problem) => self.invalid_output(&id, &text, problem),
        }
    }

    /// The cost of a call in US dollars from the price table. The offline
    /// provider costs nothing; a model the table does not know costs nothing
    /// and says so once in the agent's transcript.
    pub(crate) fn cost_of(
        &mut self,
        agent: &str,
        task: &str,
        model: &crate::config::ModelRef,
        usage: Usage,
    ) -> f64 {
        let offline = self
            .settings
            .providers
            .get(&model.provider)
            .is_some_and(|p| p.kind == crate::config::ProviderKind::Offline);
        if offline {
            return 0.0;
        }
        match self.settings.pricing.cost(&model.model, usage) {
            Some(cost) => cost,
            None => {
                if self.unpriced.insert(model.model.clone()) {
                    self.note(
                        agent,
                        task,
                        &format!(
                            "model {} is not in the price table; its cost counts as $0 (add [pricing.\"{}\"] to quorum.toml)",
                            model.model, model.model
                        ),
                    );
                }
                0.0
            }
        }
    }
}
