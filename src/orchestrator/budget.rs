//! Budgets and the pause they cause (docs/design.md §2, issue 4): token and dollar
//! budgets per agent (`[agents.NAME] budget_usd`, `budget_tokens`) and per
//! session (`[session] …`). At 80 % of a budget a `budget_warning`; at 100 % a
//! `budget_exhausted`, and what it covers pauses: an agent's queue (its running
//! calls finish; nothing new of it starts), or the whole session. In the TUI
//! the person decides (`Op::RaiseBudget`, or stopping); headless the session
//! stops, resumable (`paused_budget`, exit 3), once nothing else can run.

use super::actor::Actor;
use super::session::spend::{Level, SESSION, over, share};
use crate::protocol::{EventBody, SessionStatus, TaskState};

impl Actor {
    /// The budget of `scope` now: (dollars, tokens), raised ones first.
    fn budget_of(&self, scope: &str) -> (Option<f64>, Option<u64>) {
        if let Some(raised) = self
            .session
            .as_ref()
            .and_then(|s| s.spend.budgets.get(scope))
        {
            return *raised;
        }
        if scope == SESSION {
            (
                self.settings.session.budget_usd,
                self.settings.session.budget_tokens,
            )
        } else {
            self.settings
                .agent(scope)
                .map(|a| (a.budget_usd, a.budget_tokens))
                .unwrap_or((None, None))
        }
    }

    /// What `scope` has spent: (dollars, tokens).
    fn spent_in(&self, scope: &str) -> (f64, u64) {
        self.session
            .as_ref()
            .map_or((0.0, 0), |s| s.spend.spent_in(scope))
    }

    /// Checks the budgets `agent`'s last call counts against, warning at 80 %
    /// and pausing at 100 %.
    pub(crate) fn check_budgets(&mut self, agent: &str) {
        for scope in [agent, SESSION] {
            let (budget_usd, budget_tokens) = self.budget_of(scope);
            if budget_usd.is_none() && budget_tokens.is_none() {
                continue;
            }
            let (spent_usd, spent_tokens) = self.spent_in(scope);
            let level = Level::of(share(
                (spent_usd, spent_tokens),
                (budget_usd, budget_tokens),
            ));
            let Some(s) = self.s() else {
                return;
            };
            if level == Level::Exhausted && s.spend.budget_exhausted.insert(scope.to_string()) {
                s.spend.budget_warned.insert(scope.to_string());
                self.emit(EventBody::BudgetExhausted {
                    scope: scope.to_string(),
                    spent_usd,
                    budget_usd,
                    spent_tokens,
                    budget_tokens,
                });
                self.pause_for_budget(scope);
            } else if level != Level::Under && s.spend.budget_warned.insert(scope.to_string()) {
                self.emit(EventBody::BudgetWarning {
                    scope: scope.to_string(),
                    spent_usd,
                    budget_usd,
                    spent_tokens,
                    budget_tokens,
                });
            }
        }
    }

    /// Whether `agent`'s new tasks must wait for a budget decision.
    pub(crate) fn held_by_budget(&self, agent: &str) -> bool {
        self.session.as_ref().is_some_and(|s| {
            s.spend.budget_exhausted.contains(SESSION) || s.spend.budget_exhausted.contains(agent)
        })
    }

    /// Pauses the queued tasks `scope` covers (an agent's, or all of them).
    fn pause_for_budget(&mut self, scope: &str) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let queued: Vec<String> = s
            .work
            .tasks
            .values()
            .filter(|t| t.state == TaskState::Queued && (scope == SESSION || t.agent == scope))
            .map(|t| t.id.clone())
            .collect();
        for id in queued {
            self.pause_by_budget(&id);
        }
        let who = if scope == SESSION {
            "the session".to_string()
        } else {
            format!("agent {scope}")
        };
        let interactive = self.session.as_ref().is_some_and(|s| s.options.interactive);
        let message = if interactive {
            format!(
                "the budget of {who} is spent: its queue is paused; raise the budget to go on, or stop (resumable)"
            )
        } else {
            format!("the budget of {who} is spent: its queue is paused")
        };
        self.emit(EventBody::Error { message });
        if scope == SESSION && !interactive {
            self.finish(SessionStatus::PausedBudget);
        }
    }

    /// Pauses one queued task because of a budget, so a raise can resume it.
    pub(crate) fn pause_by_budget(&mut self, id: &str) {
        let Some(s) = self.s() else {
            return;
        };
        s.live.scheduler.remove(id);
        s.spend.budget_paused.insert(id.to_string());
        let Some(task) = s.work.tasks.get(id).cloned() else {
            return;
        };
        self.set_state(id, TaskState::Paused);
        self.note(&task.agent, id, "⏸ paused: budget spent");
        self.emit(EventBody::TaskPaused {
            task: task.id,
            agent: task.agent,
            phase: task.phase,
        });
    }

    /// `Op::RaiseBudget`: a new budget for `scope`, and its paused tasks queued again.
    pub(crate) fn raise_budget(&mut self, scope: &str, usd: Option<f64>, tokens: Option<u64>) {
        let known = scope == SESSION || self.settings.agent(scope).is_some();
        if !known {
            self.ephemeral(crate::protocol::Event::Rejected {
                op: "raise budget".into(),
                reason: format!("no budget scope `{scope}` (an agent's name, or `session`)"),
            });
            return;
        }
        let (old_usd, old_tokens) = self.budget_of(scope);
        let (spent_usd, spent_tokens) = self.spent_in(scope);
        let new_usd = usd.or(old_usd.map(|b| (b * 1.5).max(spent_usd * 1.25)));
        let new_tokens =
            tokens.or(old_tokens.map(|b| (b + b / 2).max(spent_tokens + spent_tokens / 4)));
        let Some(s) = self.s() else {
            return;
        };
        s.spend
            .budgets
            .insert(scope.to_string(), (new_usd, new_tokens));
        s.spend.budget_exhausted.remove(scope);
        s.spend.budget_warned.remove(scope);
        let resume: Vec<String> = s
            .spend
            .budget_paused
            .iter()
            .filter(|id| {
                scope == SESSION || s.work.tasks.get(*id).is_some_and(|t| t.agent == scope)
            })
            .cloned()
            .collect();
        let chair = self
            .settings
            .agents
            .first()
            .map(|a| a.name.clone())
            .unwrap_or_default();
        self.note(
            &chair,
            "budget",
            &format!(
                "budget of {scope} raised to {} / {}",
                new_usd.map_or("no dollar limit".into(), |u| format!("${u:.2}")),
                new_tokens.map_or("no token limit".into(), |t| format!("{t} tokens"))
            ),
        );
        self.release_budget_paused(resume);
    }

    /// Queues again each of `ids` (tasks a budget paused) that no budget holds
    /// any more; a task still held by the other scope (an agent's or the
    /// session's) waits.
    fn release_budget_paused(&mut self, ids: Vec<String>) {
        for id in ids {
            let agent = self
                .session
                .as_ref()
                .and_then(|s| s.work.tasks.get(&id))
                .map(|t| t.agent.clone());
            if agent.is_some_and(|a| self.held_by_budget(&a)) {
                continue;
            }
            if let Some(s) = self.s() {
                s.spend.budget_paused.remove(&id);
            }
            self.resume_paused(&id);
        }
    }

    /// On resume: budgets are checked again against the configuration now (it
    /// may have been raised since), and the tasks of every scope no longer
    /// over its budget are queued again.
    pub(crate) fn recheck_budgets(&mut self) {
        let exhausted: Vec<String> = self
            .session
            .as_ref()
            .map(|s| s.spend.budget_exhausted.iter().cloned().collect())
            .unwrap_or_default();
        for scope in exhausted {
            let (budget_usd, budget_tokens) = self.budget_of(&scope);
            let (spent_usd, spent_tokens) = self.spent_in(&scope);
            if over((spent_usd, spent_tokens), (budget_usd, budget_tokens)) {
                // Still spent: said again, so the person (TUI) is asked again.
                self.emit(EventBody::BudgetExhausted {
                    scope: scope.clone(),
                    spent_usd,
                    budget_usd,
                    spent_tokens,
                    budget_tokens,
                });
            } else if let Some(s) = self.s() {
                s.spend.budget_exhausted.remove(&scope);
                s.spend.budget_warned.remove(&scope);
            }
        }
        let paused: Vec<String> = self
            .session
            .as_ref()
            .map(|s| s.spend.budget_paused.iter().cloned().collect())
            .unwrap_or_default();
        self.release_budget_paused(paused);
    }

    /// Headless: a budget paused an agent and nothing else can run, so the
    /// session stops, resumable. Returns whether it stopped.
    pub(crate) fn stop_if_budget_blocks(&mut self) -> bool {
        let Some(s) = self.session.as_ref() else {
            return false;
        };
        if s.options.interactive
            || s.spend.budget_paused.is_empty()
            || s.progress.finished.is_some()
        {
            return false;
        }
        // Busy: a call under way, or a queued task that could start (every
        // dependency done); a task behind a paused one cannot.
        let deps_done = |t: &super::actor::Task| {
            t.deps.iter().all(|d| {
                s.work
                    .tasks
                    .get(d)
                    .is_some_and(|d| d.state == TaskState::Done)
            })
        };
        let busy = s.work.tasks.values().any(|t| {
            matches!(t.state, TaskState::Running | TaskState::Retrying)
                || (t.state == TaskState::Queued
                    && !s.spend.budget_paused.contains(&t.id)
                    && deps_done(t))
        });
        if busy {
            return false;
        }
        self.finish(SessionStatus::PausedBudget);
        true
    }
}
