//! What the metrics view draws, folded from the session's events: per-agent
//! token rates (tokens per second, one bucket per second), cost and tokens per
//! agent, and the phase timeline with its retries. Times come from the durable
//! events' `at`, so a stored session folds to the same figures as a live one;
//! a live session adds the streamed tokens as they arrive. Pure data, no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::protocol::{EventBody, LoggedEvent};

/// Most one-second buckets kept per agent (the oldest are dropped).
pub const MAX_BUCKETS: usize = 3_600;

/// A phase on the timeline, times in seconds from the session's first event.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseSpan {
    /// The phase's name.
    pub name: String,
    /// When it started.
    pub start: f64,
    /// When it finished; `None` while it runs.
    pub end: Option<f64>,
    /// When its tasks retried or fell back to another model.
    pub retries: Vec<f64>,
}

/// One agent's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentStats {
    /// Tokens per second: `buckets[i]` holds the tokens of second `first + i`.
    pub buckets: Vec<u64>,
    /// The second of `buckets[0]`.
    pub first: u64,
    /// Output tokens of the agent's finished tasks.
    pub tokens_out: u64,
    /// Input tokens of the agent's finished tasks.
    pub tokens_in: u64,
    /// Cost of the agent's finished tasks, US dollars.
    pub cost_usd: f64,
    /// Retries and fallbacks of the agent's tasks.
    pub retries: u32,
    /// Input tokens of the agent's finished tasks read from a prompt cache.
    pub cache_read: u64,
    /// Input tokens of the agent's finished tasks written to a prompt cache.
    pub cache_write: u64,
}

impl AgentStats {
    fn add(&mut self, second: u64, tokens: u64) {
        if self.buckets.is_empty() {
            self.first = second;
        }
        if second < self.first {
            // Earlier than anything held (a task spread back in time): grow at the front.
            let grow = (self.first - second) as usize;
            let mut front = vec![0; grow];
            front.append(&mut self.buckets);
            self.buckets = front;
            self.first = second;
        }
        let i = (second - self.first) as usize;
        if i >= self.buckets.len() {
            self.buckets.resize(i + 1, 0);
        }
        self.buckets[i] += tokens;
        if self.buckets.len() > MAX_BUCKETS {
            let drop = self.buckets.len() - MAX_BUCKETS;
            self.buckets.drain(..drop);
            self.first += drop as u64;
        }
    }

    /// The buckets up to second `now` (zeros after the last token), the last `n`.
    pub fn rates(&self, now: u64, n: usize) -> Vec<u64> {
        let mut all = self.buckets.clone();
        let end = now.saturating_sub(self.first) as usize + 1;
        if end > all.len() {
            all.resize(end, 0);
        }
        let skip = all.len().saturating_sub(n);
        all.split_off(skip)
    }

    /// The share of the agent's input tokens read from a prompt cache, 0 to 1.
    pub fn cache_share(&self) -> f64 {
        share(self.cache_read, self.tokens_in)
    }

    /// The highest rate seen, tokens per second.
    pub fn peak(&self) -> u64 {
        self.buckets.iter().copied().max().unwrap_or(0)
    }
}

/// The metrics of one session.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    origin: Option<OffsetDateTime>,
    /// Phases in the order they started.
    pub phases: Vec<PhaseSpan>,
    /// Agents by name.
    pub agents: BTreeMap<String, AgentStats>,
    task_agent: HashMap<String, String>,
    task_phase: HashMap<String, String>,
    task_started: HashMap<String, f64>,
    streamed: HashSet<String>,
    /// Seconds from the first event to the latest event (or token) seen.
    pub now: f64,
    anchor: Option<(Instant, f64)>,
    /// Token events received (live sessions only).
    pub token_events: u64,
    /// Tokens estimated from the streamed text (live sessions only).
    pub streamed_tokens: u64,
}

/// `part` of `whole` as a share from 0 to 1 (0 for an empty whole).
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).min(1.0)
    }
}

/// Tokens in a streamed fragment, estimated at four characters a token (at least one).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

impl Metrics {
    /// The session's cache-hit share: input tokens read from a prompt cache
    /// over all input tokens of its finished tasks, 0 to 1.
    pub fn cache_share(&self) -> f64 {
        let (read, input) = self
            .agents
            .values()
            .fold((0, 0), |(r, i), s| (r + s.cache_read, i + s.tokens_in));
        share(read, input)
    }

    fn secs(&mut self, at: &str) -> f64 {
        let Ok(at) = OffsetDateTime::parse(at, &Rfc3339) else {
            return self.now;
        };
        let origin = *self.origin.get_or_insert(at);
        ((at - origin).as_seconds_f64()).max(0.0)
    }

    /// Folds one durable event.
    #[warn(clippy::wildcard_enum_match_arm)]
    pub fn apply(&mut self, event: &LoggedEvent) {
        let t = self.secs(&event.at);
        self.now = self.now.max(t);
        match &event.body {
            EventBody::PhaseStarted { phase, .. } => {
                if let Some(open) = self.phases.last_mut().filter(|p| p.end.is_none()) {
                    open.end = Some(t);
                }
                self.phases.push(PhaseSpan {
                    name: phase.clone(),
                    start: t,
                    end: None,
                    retries: Vec::new(),
                });
            }
            EventBody::PhaseFinished { phase, .. } => {
                if let Some(p) = self.phases.iter_mut().rev().find(|p| &p.name == phase) {
                    p.end = Some(t);
                }
            }
            EventBody::TaskQueued {
                task, agent, phase, ..
            } => {
                self.task_agent.insert(task.clone(), agent.clone());
                self.task_phase.insert(task.clone(), phase.clone());
                self.agents.entry(agent.clone()).or_default();
            }
            EventBody::TaskStarted { task, agent, .. } => {
                self.task_agent.insert(task.clone(), agent.clone());
                self.task_started.insert(task.clone(), t);
            }
            EventBody::TaskRetrying { task, .. } | EventBody::ProviderFallback { task, .. } => {
                // On the task's own phase (the last run of it), else the current one.
                let phase = self.task_phase.get(task);
                let span = match phase {
                    Some(name) => self.phases.iter_mut().rev().find(|p| &p.name == name),
                    None => self.phases.last_mut(),
                };
                if let Some(p) = span {
                    p.retries.push(t);
                }
                if let Some(agent) = self.task_agent.get(task).cloned() {
                    self.agents.entry(agent).or_default().retries += 1;
                }
            }
            EventBody::TaskFinished {
                task,
                agent,
                tokens_in,
                tokens_out,
                cost_usd,
                cache_read_tokens,
                cache_write_tokens,
                ..
            } => {
                let stats = self.agents.entry(agent.clone()).or_default();
                stats.cache_read += cache_read_tokens;
                stats.cache_write += cache_write_tokens;
                self.task_finished(task, agent, (*tokens_in, *tokens_out), *cost_usd, t);
            }
            EventBody::SessionFinished { .. } => {
                if let Some(open) = self.phases.last_mut().filter(|p| p.end.is_none()) {
                    open.end = Some(t);
                }
            }
            // Named one by one, so that a new kind is a decision here too.
            EventBody::SessionStarted { .. }
            | EventBody::SessionResumed { .. }
            | EventBody::InstructionsRead { .. }
            | EventBody::RepoMap { .. }
            | EventBody::QuestionAsked { .. }
            | EventBody::QuestionAnswered { .. }
            | EventBody::TaskPaused { .. }
            | EventBody::TaskCancelled { .. }
            | EventBody::TaskFailed { .. }
            | EventBody::BudgetWarning { .. }
            | EventBody::BudgetExhausted { .. }
            | EventBody::ConflictDetected { .. }
            | EventBody::VoteCast { .. }
            | EventBody::ConflictResolved { .. }
            | EventBody::DecisionOverridden { .. }
            | EventBody::FileStaged { .. }
            | EventBody::PathRefused { .. }
            | EventBody::SetupRun { .. }
            | EventBody::TestRun { .. }
            | EventBody::RepairDeclined { .. }
            | EventBody::TaskSummary { .. }
            | EventBody::Finding { .. }
            | EventBody::CommitCreated { .. }
            | EventBody::Error { .. } => {}
        }
    }

    /// A task finished at `t` seconds: its agent's tokens and cost; with no
    /// live tokens seen, its output spread over the task's run, per second.
    fn task_finished(
        &mut self,
        task: &str,
        agent: &str,
        tokens: (u64, u64),
        cost_usd: f64,
        t: f64,
    ) {
        let (tokens_in, tokens_out) = tokens;
        let start = self.task_started.get(task).copied().unwrap_or(t);
        let streamed = self.streamed.contains(task);
        let stats = self.agents.entry(agent.to_string()).or_default();
        stats.tokens_in += tokens_in;
        stats.tokens_out += tokens_out;
        stats.cost_usd += cost_usd;
        if !streamed {
            let (from, to) = (start.floor() as u64, t.floor() as u64);
            let n = to - from + 1;
            for (i, second) in (from..=to).enumerate() {
                let share = tokens_out / n + u64::from((i as u64) < tokens_out % n);
                if share > 0 {
                    stats.add(second, share);
                }
            }
        }
    }

    /// Ties the event clock to the wall clock: a live event just arrived at
    /// `now`, so later tokens land `now.elapsed()` seconds after it.
    pub fn anchor(&mut self, now: Instant) {
        self.anchor = Some((now, self.now));
    }

    /// Streamed text of a live task arrived at `now`.
    pub fn on_token(&mut self, agent: &str, task: &str, text: &str, now: Instant) {
        let t = match self.anchor {
            Some((at, secs)) => secs + now.saturating_duration_since(at).as_secs_f64(),
            None => self.now,
        };
        self.now = self.now.max(t);
        let tokens = estimate_tokens(text);
        self.token_events += 1;
        self.streamed_tokens += tokens;
        self.streamed.insert(task.to_string());
        self.agents
            .entry(agent.to_string())
            .or_default()
            .add(t.floor() as u64, tokens);
    }

    /// The session's length so far, seconds.
    pub fn span(&self) -> f64 {
        self.now
    }

    /// Moves the clock to the wall-clock time `now` (while something runs, so
    /// that elapsed times and the sparklines' last bucket advance between events).
    pub fn advance(&mut self, now: Instant) {
        if let Some((at, secs)) = self.anchor {
            self.now = self
                .now
                .max(secs + now.saturating_duration_since(at).as_secs_f64());
        }
    }

    /// Seconds since the task last started, on the event clock.
    pub fn task_elapsed(&self, task: &str) -> Option<f64> {
        self.task_started
            .get(task)
            .map(|start| (self.now - start).max(0.0))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::SessionId;
    use std::time::Duration;

    fn ev(at: &str, body: EventBody) -> LoggedEvent {
        LoggedEvent {
            v: 1,
            seq: 1,
            session: SessionId::parse("0123456789ab").unwrap(),
            at: at.into(),
            body,
        }
    }

    fn phase(name: &str, start: bool) -> EventBody {
        if start {
            EventBody::PhaseStarted {
                phase: name.into(),
                kind: "single".into(),
            }
        } else {
            EventBody::PhaseFinished {
                phase: name.into(),
                kind: "single".into(),
            }
        }
    }

    #[test]
    fn phases_get_times_and_retries_from_the_events() {
        let mut m = Metrics::default();
        m.apply(&ev("2026-01-01T00:00:00Z", phase("refine", true)));
        m.apply(&ev(
            "2026-01-01T00:00:01Z",
            EventBody::TaskStarted {
                task: "refine".into(),
                agent: "pm".into(),
                phase: "refine".into(),
            },
        ));
        m.apply(&ev(
            "2026-01-01T00:00:02.5Z",
            EventBody::TaskRetrying {
                task: "refine".into(),
                attempt: 1,
                reason: "HTTP 429".into(),
                delay_ms: 500,
            },
        ));
        m.apply(&ev(
            "2026-01-01T00:00:04Z",
            EventBody::TaskFinished {
                task: "refine".into(),
                agent: "pm".into(),
                phase: "refine".into(),
                tokens_in: 100,
                tokens_out: 40,
                cost_usd: 0.25,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            },
        ));
        m.apply(&ev("2026-01-01T00:00:05Z", phase("refine", false)));
        m.apply(&ev("2026-01-01T00:00:05Z", phase("plan", true)));
        assert_eq!(m.phases.len(), 2);
        assert_eq!(m.phases[0].start, 0.0);
        assert_eq!(m.phases[0].end, Some(5.0));
        assert_eq!(m.phases[0].retries, vec![2.5]);
        assert_eq!(m.phases[1].end, None);
        let pm = &m.agents["pm"];
        assert_eq!(pm.retries, 1);
        assert_eq!((pm.tokens_in, pm.tokens_out), (100, 40));
        assert!((pm.cost_usd - 0.25).abs() < 1e-9);
        // 40 tokens over seconds 1..=4: 10 a second.
        assert_eq!(pm.first, 1);
        assert_eq!(pm.buckets, vec![10, 10, 10, 10]);
        assert_eq!(pm.rates(6, 8), vec![10, 10, 10, 10, 0, 0]);
        assert_eq!(pm.peak(), 10);
        assert_eq!(m.span(), 5.0);
    }

    #[test]
    fn live_tokens_land_in_their_second_and_are_not_counted_twice() {
        let mut m = Metrics::default();
        m.apply(&ev("2026-01-01T00:00:10Z", phase("plan", true)));
        m.apply(&ev(
            "2026-01-01T00:00:10Z",
            EventBody::TaskStarted {
                task: "plan.qa".into(),
                agent: "qa".into(),
                phase: "plan".into(),
            },
        ));
        let t0 = Instant::now();
        m.anchor(t0);
        m.on_token("qa", "plan.qa", "abcdefgh", t0);
        m.on_token("qa", "plan.qa", "abc", t0 + Duration::from_millis(1500));
        assert_eq!(m.agents["qa"].buckets, vec![2, 1]);
        assert_eq!((m.token_events, m.streamed_tokens), (2, 3));
        m.apply(&ev(
            "2026-01-01T00:00:12Z",
            EventBody::TaskFinished {
                task: "plan.qa".into(),
                agent: "qa".into(),
                phase: "plan".into(),
                tokens_in: 9,
                tokens_out: 999,
                cost_usd: 0.0,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            },
        ));
        assert_eq!(
            m.agents["qa"].buckets,
            vec![2, 1],
            "streamed tasks are not spread"
        );
        assert_eq!(m.agents["qa"].tokens_out, 999);
    }

    #[test]
    fn the_clock_advances_between_events_for_elapsed_times() {
        let mut m = Metrics::default();
        m.apply(&ev(
            "2026-01-01T00:00:00Z",
            EventBody::TaskStarted {
                task: "t".into(),
                agent: "pm".into(),
                phase: "refine".into(),
            },
        ));
        assert_eq!(m.task_elapsed("t"), Some(0.0));
        let t0 = Instant::now();
        m.advance(t0);
        assert_eq!(
            m.task_elapsed("t"),
            Some(0.0),
            "no anchor yet: no wall clock"
        );
        m.anchor(t0);
        m.advance(t0 + Duration::from_secs(3));
        assert_eq!(m.task_elapsed("t"), Some(3.0));
        assert_eq!(m.task_elapsed("other"), None);
    }

    #[test]
    fn buckets_are_bounded() {
        let mut s = AgentStats::default();
        for second in 0..(MAX_BUCKETS as u64 + 10) {
            s.add(second, 1);
        }
        assert_eq!(s.buckets.len(), MAX_BUCKETS);
        assert_eq!(s.first, 10);
        assert_eq!(estimate_tokens(""), 1);
        assert_eq!(estimate_tokens("日本語のテ"), 2);
    }

    #[test]
    fn cache_reads_and_writes_are_summed_per_agent_with_the_session_share() {
        let mut m = Metrics::default();
        let finished = |task: &str, agent: &str, input, read, write| EventBody::TaskFinished {
            task: task.into(),
            agent: agent.into(),
            phase: "plan".into(),
            tokens_in: input,
            tokens_out: 10,
            cost_usd: 0.0,
            cache_read_tokens: read,
            cache_write_tokens: write,
        };
        m.apply(&ev(
            "2026-01-01T00:00:01Z",
            finished("a", "pm", 1000, 0, 800),
        ));
        m.apply(&ev(
            "2026-01-01T00:00:02Z",
            finished("b", "pm", 1000, 800, 0),
        ));
        m.apply(&ev(
            "2026-01-01T00:00:03Z",
            finished("c", "qa", 2000, 1600, 0),
        ));
        let pm = &m.agents["pm"];
        assert_eq!((pm.cache_read, pm.cache_write), (800, 800));
        assert!((pm.cache_share() - 0.4).abs() < 1e-9);
        // 2,400 of 4,000 input tokens read from the cache.
        assert!((m.cache_share() - 0.6).abs() < 1e-9);
        assert_eq!(Metrics::default().cache_share(), 0.0);
    }
}
