//! Per-agent queues (docs/design.md §2): each agent's queue is ordered by priority
//! (higher first), then FIFO; a task starts when its dependencies are done (the
//! caller's `ready` predicate) and both its agent and its provider have a free
//! slot. Pure bookkeeping: no I/O, no clocks.

use std::collections::BTreeMap;

/// Slots in use and the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lane {
    running: usize,
    limit: usize,
}

impl Lane {
    fn free(&self) -> bool {
        self.running < self.limit
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    priority: i32,
    order: u64,
    task: String,
}

/// The queues of every agent and the provider slots.
#[derive(Clone, Debug, Default)]
pub struct Scheduler {
    agents: BTreeMap<String, (Lane, Vec<Entry>, String)>,
    providers: BTreeMap<String, Lane>,
    order: u64,
}

impl Scheduler {
    /// Registers an agent with its concurrency limit and primary provider.
    pub fn add_agent(&mut self, agent: &str, limit: usize, provider: &str) {
        self.agents.insert(
            agent.to_string(),
            (
                Lane {
                    running: 0,
                    limit: limit.max(1),
                },
                Vec::new(),
                provider.to_string(),
            ),
        );
    }

    /// Registers a provider with its concurrency limit.
    pub fn add_provider(&mut self, provider: &str, limit: usize) {
        self.providers.insert(
            provider.to_string(),
            Lane {
                running: 0,
                limit: limit.max(1),
            },
        );
    }

    /// Puts a task at the back of its priority class in `agent`'s queue.
    pub fn enqueue(&mut self, agent: &str, task: &str, priority: i32) {
        self.order += 1;
        if let Some((_, queue, _)) = self.agents.get_mut(agent) {
            queue.push(Entry {
                priority,
                order: self.order,
                task: task.to_string(),
            });
            queue.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.order.cmp(&b.order)));
        }
    }

    /// Takes a queued task out of its queue (pause, cancel). Returns whether it was queued.
    pub fn remove(&mut self, task: &str) -> bool {
        for (_, queue, _) in self.agents.values_mut() {
            if let Some(i) = queue.iter().position(|e| e.task == task) {
                queue.remove(i);
                return true;
            }
        }
        false
    }

    /// Starts every task that can start now, in agent order, and returns
    /// `(agent, task)` pairs; their slots are taken until [`Scheduler::release`].
    pub fn start_ready(&mut self, ready: &dyn Fn(&str) -> bool) -> Vec<(String, String)> {
        let mut started = Vec::new();
        for (agent, (lane, queue, provider)) in self.agents.iter_mut() {
            let mut i = 0;
            while i < queue.len() && lane.free() {
                let provider_free = self.providers.get(provider).is_none_or(Lane::free);
                if !provider_free {
                    break;
                }
                if ready(&queue[i].task) {
                    let entry = queue.remove(i);
                    lane.running += 1;
                    if let Some(p) = self.providers.get_mut(provider) {
                        p.running += 1;
                    }
                    started.push((agent.clone(), entry.task));
                } else {
                    i += 1;
                }
            }
        }
        started
    }

    /// Frees the slots a running task of `agent` held.
    pub fn release(&mut self, agent: &str) {
        if let Some((lane, _, provider)) = self.agents.get_mut(agent) {
            lane.running = lane.running.saturating_sub(1);
            if let Some(p) = self.providers.get_mut(provider.as_str()) {
                p.running = p.running.saturating_sub(1);
            }
        }
    }

    /// Tasks waiting in `agent`'s queue.
    pub fn queued(&self, agent: &str) -> usize {
        self.agents.get(agent).map(|(_, q, _)| q.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_then_fifo_within_limits() {
        let mut s = Scheduler::default();
        s.add_agent("a", 1, "p");
        s.add_agent("b", 2, "p");
        s.add_provider("p", 2);
        s.enqueue("a", "a1", 0);
        s.enqueue("a", "a2", 5);
        s.enqueue("b", "b1", 0);
        s.enqueue("b", "b2", 0);
        let started = s.start_ready(&|_| true);
        // a's limit is 1 and the higher priority goes first; the provider's limit of 2 stops b2.
        assert_eq!(
            started,
            vec![("a".into(), "a2".into()), ("b".into(), "b1".into())]
        );
        assert_eq!(s.queued("a"), 1);
        s.release("a");
        let started = s.start_ready(&|_| true);
        assert_eq!(started, vec![("a".into(), "a1".into())]);
        s.release("b");
        assert_eq!(s.start_ready(&|_| true), vec![("b".into(), "b2".into())]);
    }

    #[test]
    fn tasks_wait_for_readiness_and_can_be_removed() {
        let mut s = Scheduler::default();
        s.add_agent("a", 4, "p");
        s.enqueue("a", "blocked", 9);
        s.enqueue("a", "free", 0);
        assert_eq!(
            s.start_ready(&|t| t != "blocked"),
            vec![("a".into(), "free".into())]
        );
        assert!(s.remove("blocked"));
        assert!(!s.remove("blocked"));
        assert!(s.start_ready(&|_| true).is_empty());
    }
}
