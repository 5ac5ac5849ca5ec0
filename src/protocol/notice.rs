//! When the session needs the person (docs/design.md §5, "Notifications"):
//! [`Watch`], a fold over the event stream that yields a [`Notice`] exactly
//! once each time the session starts waiting for the person — a question, a
//! decision at resolve, a spent budget, the delivery — and when it ends. The
//! TUI turns notices into the bell and a desktop notification
//! (`tui/bell.rs`); the process that hosts the orchestrator also runs the
//! person's `[notify] command` with them (`notify.rs`). Pure data, no I/O.
//!
//! A wait is a state of the folded session ([`Watch::waits`]), not an event:
//! a notice is given when a wait that was not there after the previous event
//! is there after this one. So a second question asked while the first still
//! waits rings nothing, and a question asked after every earlier one was
//! answered rings again. A resumed session's stored events
//! ([`Event::Resumed`]) are folded silently: what waited and ended before
//! the resume never rings; what still waits once the session resumes
//! (`session_resumed`) rings once.

use std::collections::BTreeSet;

use super::session_view::SessionView;
use super::{Event, EventBody, LoggedEvent, SessionId, SessionStatus};

/// Most characters of a [`Notice::summary`] (an ellipsis ends a longer one).
pub const SUMMARY_CHARS: usize = 120;

/// Why the session needs the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The refine phase asked a question in an interactive session, and it
    /// waits for the answer.
    Question,
    /// The resolve phase waits for the person's decisions: a tie, a conflict
    /// the chair flagged for a person, or (with `[ui] confirm_decisions`)
    /// any conflict the vote left open.
    Conflict,
    /// A budget is spent: what it covers is paused until the person raises
    /// it or stops the session.
    Budget,
    /// Everything is staged: the session waits for the commit.
    Delivery,
    /// The session ended (`session_finished`); its status is in the summary.
    Finished,
}

impl Reason {
    /// The reason's name, as in `QUORUM_REASON`: `question`, `conflict`,
    /// `budget`, `delivery` or `finished`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Question => "question",
            Reason::Conflict => "conflict",
            Reason::Budget => "budget",
            Reason::Delivery => "delivery",
            Reason::Finished => "finished",
        }
    }
}

/// One call for the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The session that needs the person.
    pub session: SessionId,
    /// Why.
    pub reason: Reason,
    /// One line of plain text, at most [`SUMMARY_CHARS`] characters: what
    /// waits, then the session's prompt. It holds model-influenced text,
    /// cleaned of every control character ([`crate::sanitize::line`]).
    pub summary: String,
}

/// One thing the session waits for; a budget's wait is its scope's (an
/// agent's name, or `session`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wait {
    /// Questions wait for answers.
    Question,
    /// The resolve phase waits for decisions.
    Conflict,
    /// The budget of a scope is spent.
    Budget(String),
    /// The session waits at deliver.
    Delivery,
    /// The session ended.
    Finished,
}

/// The fold (module doc): feed it every event a frontend receives, in order,
/// with [`Watch::take`].
#[derive(Clone, Debug)]
pub struct Watch {
    /// A person is at the keyboard (the TUI): the session waits for them. A
    /// headless session never waits: only its end is a notice.
    interactive: bool,
    /// `[ui] confirm_decisions`: at resolve, a conflict the vote decided
    /// waits for the person's confirmation too.
    confirm_decisions: bool,
    /// The session as folded.
    view: SessionView,
    /// The running phase's kind (`resolve`, `deliver`, …), between its
    /// `phase_started` and `phase_finished`.
    phase_kind: Option<String>,
    /// Scopes whose budget is spent and that no task has run under since.
    exhausted: BTreeSet<String>,
    /// The session waits at deliver (a `DeliveryReady` came, and no commit
    /// or end since).
    delivery: bool,
    /// The waits already announced (those there after the last event).
    announced: BTreeSet<Wait>,
}

impl Watch {
    /// A fold for a frontend: `interactive` for the TUI (a person answers
    /// there), `confirm_decisions` as `[ui] confirm_decisions` says.
    pub fn new(interactive: bool, confirm_decisions: bool) -> Watch {
        Watch {
            interactive,
            confirm_decisions,
            view: SessionView::default(),
            phase_kind: None,
            exhausted: BTreeSet::new(),
            delivery: false,
            announced: BTreeSet::new(),
        }
    }

    /// Takes one event; returns the notices it gives (none for most events;
    /// at most one per new wait).
    #[warn(clippy::wildcard_enum_match_arm)]
    pub fn take(&mut self, event: &Event) -> Vec<Notice> {
        match event {
            Event::Logged(e) => {
                let resumed = matches!(e.body, EventBody::SessionResumed { .. });
                self.fold(e);
                if resumed {
                    // What still waits once the session goes on is said anew.
                    self.announced.clear();
                }
            }
            Event::DeliveryReady { .. } => self.delivery = self.view.running(),
            Event::Resumed { events, .. } => {
                for e in events {
                    self.fold(e);
                }
                self.announced = self.waits();
                return Vec::new();
            }
            // A client attaching to a server's session: what waits now was
            // announced to whoever watched; the person sees it on screen.
            Event::Attached {
                events, delivery, ..
            } => {
                for e in events {
                    self.fold(e);
                }
                self.delivery = delivery.is_some() && self.view.running();
                self.announced = self.waits();
                return Vec::new();
            }
            Event::Token { .. }
            | Event::TranscriptAppended { .. }
            | Event::TranscriptPage { .. }
            | Event::FileLoaded { .. }
            | Event::FileDecided { .. }
            | Event::Memory { .. }
            | Event::Rejected { .. }
            | Event::Fatal { .. }
            | Event::Closed
            | Event::SearchResults { .. }
            | Event::SessionsListed { .. }
            | Event::SessionLoaded { .. }
            | Event::Clients { .. }
            | Event::FileEdited { .. } => return Vec::new(),
        }
        let now = self.waits();
        let new: Vec<Wait> = now.difference(&self.announced).cloned().collect();
        self.announced = now;
        new.iter().filter_map(|w| self.notice(w)).collect()
    }

    /// Folds one durable event into the session.
    #[warn(clippy::wildcard_enum_match_arm)]
    fn fold(&mut self, e: &LoggedEvent) {
        match &e.body {
            EventBody::SessionStarted { .. } => {
                *self = Watch::new(self.interactive, self.confirm_decisions);
            }
            EventBody::SessionResumed { .. } => {
                // A resume checks the budgets again and says again those
                // still spent (`budget_exhausted`); the delivery is offered
                // again (`DeliveryReady`).
                self.exhausted.clear();
                self.delivery = false;
            }
            EventBody::PhaseStarted { kind, .. } => self.phase_kind = Some(kind.clone()),
            EventBody::PhaseFinished { .. } => self.phase_kind = None,
            EventBody::BudgetExhausted { scope, .. } => {
                self.exhausted.insert(scope.clone());
            }
            EventBody::TaskStarted { agent, .. } => {
                // A task starts only when neither its agent's budget nor the
                // session's holds it.
                self.exhausted.remove(agent);
                self.exhausted.remove("session");
            }
            EventBody::CommitCreated { .. } | EventBody::SessionFinished { .. } => {
                self.delivery = false;
                self.exhausted.clear();
            }
            EventBody::QuestionAsked { .. }
            | EventBody::QuestionAnswered { .. }
            | EventBody::TaskQueued { .. }
            | EventBody::TaskPaused { .. }
            | EventBody::TaskCancelled { .. }
            | EventBody::TaskFinished { .. }
            | EventBody::TaskFailed { .. }
            | EventBody::TaskRetrying { .. }
            | EventBody::ProviderFallback { .. }
            | EventBody::InstructionsRead { .. }
            | EventBody::RepoMap { .. }
            | EventBody::BudgetWarning { .. }
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
            | EventBody::Error { .. } => {}
        }
        self.view.apply(e);
    }

    /// What the session waits for now. An ended session waits for nothing
    /// but is [`Wait::Finished`]; a headless one waits for nothing else.
    pub fn waits(&self) -> BTreeSet<Wait> {
        let mut waits = BTreeSet::new();
        if self.view.id.is_empty() {
            return waits;
        }
        if self.view.status.is_some() {
            waits.insert(Wait::Finished);
            return waits;
        }
        if !self.interactive {
            return waits;
        }
        if self.open_questions() > 0 {
            waits.insert(Wait::Question);
        }
        if self.phase_kind.as_deref() == Some("resolve") && self.for_the_person() > 0 {
            waits.insert(Wait::Conflict);
        }
        waits.extend(self.exhausted.iter().cloned().map(Wait::Budget));
        if self.delivery {
            waits.insert(Wait::Delivery);
        }
        waits
    }

    /// Questions without an answer.
    fn open_questions(&self) -> usize {
        self.view
            .questions
            .iter()
            .filter(|q| q.answer.is_none())
            .count()
    }

    /// Open conflicts the resolve phase leaves to the person (as
    /// `orchestrator/phases/resolve.rs` settles them, interactive): a tie,
    /// one flagged for a person, or any open one when decisions are
    /// confirmed.
    fn for_the_person(&self) -> usize {
        self.view
            .conflicts
            .iter()
            .filter(|c| c.decision.is_none())
            .filter(|c| self.confirm_decisions || c.needs_human || c.majority().is_none())
            .count()
    }

    /// The notice of a wait that just began.
    fn notice(&self, wait: &Wait) -> Option<Notice> {
        let session = SessionId::parse(&self.view.id)?;
        let plural = |n: usize, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        let (reason, what) = match wait {
            Wait::Question => (
                Reason::Question,
                format!(
                    "{} {} for your answer",
                    plural(self.open_questions(), "question"),
                    if self.open_questions() == 1 {
                        "waits"
                    } else {
                        "wait"
                    }
                ),
            ),
            Wait::Conflict => (
                Reason::Conflict,
                format!(
                    "{} {} for your decision",
                    plural(self.for_the_person(), "conflict"),
                    if self.for_the_person() == 1 {
                        "waits"
                    } else {
                        "wait"
                    }
                ),
            ),
            Wait::Budget(scope) if scope == "session" => (
                Reason::Budget,
                "the session's budget is spent: work is paused".to_string(),
            ),
            Wait::Budget(scope) => (
                Reason::Budget,
                format!("the budget of agent {scope} is spent: its work is paused"),
            ),
            Wait::Delivery => (
                Reason::Delivery,
                "ready to deliver: the files wait for your commit".to_string(),
            ),
            Wait::Finished => (
                Reason::Finished,
                format!(
                    "session {}",
                    self.view.status.map_or("ended", SessionStatus::as_str)
                ),
            ),
        };
        Some(Notice {
            session,
            reason,
            summary: summary(&what, &self.view.prompt),
        })
    }
}

/// `what — prompt` on one line: the prompt's runs of whitespace (newlines
/// included) become one space, every control character is shown visibly
/// ([`crate::sanitize::line`]), and the whole is cut to [`SUMMARY_CHARS`]
/// characters, the last an ellipsis when cut.
pub fn summary(what: &str, prompt: &str) -> String {
    let prompt = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    let joined = if prompt.is_empty() {
        what.to_string()
    } else {
        format!("{what} — {prompt}")
    };
    let clean = crate::sanitize::line(&joined);
    if clean.chars().count() <= SUMMARY_CHARS {
        return clean.into_owned();
    }
    let mut cut: String = clean.chars().take(SUMMARY_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::protocol::DecidedBy;

    const ID: &str = "0123456789ab";

    /// A feed of durable events with consecutive seqs.
    struct Feed {
        seq: u64,
    }

    impl Feed {
        fn new() -> Feed {
            Feed { seq: 0 }
        }

        fn logged(&mut self, body: EventBody) -> LoggedEvent {
            self.seq += 1;
            LoggedEvent {
                v: 1,
                seq: self.seq,
                session: SessionId::parse(ID).unwrap(),
                at: String::new(),
                body,
            }
        }

        fn ev(&mut self, body: EventBody) -> Event {
            Event::Logged(self.logged(body))
        }
    }

    fn started(prompt: &str) -> EventBody {
        EventBody::SessionStarted {
            prompt: prompt.into(),
            dir: "/tmp/x".into(),
            workflow: "default".into(),
            agents: vec!["pm".into(), "backend".into()],
        }
    }

    fn phase(kind: &str, start: bool) -> EventBody {
        let (phase, kind) = (kind.to_string(), kind.to_string());
        if start {
            EventBody::PhaseStarted { phase, kind }
        } else {
            EventBody::PhaseFinished { phase, kind }
        }
    }

    fn asked(id: &str) -> EventBody {
        EventBody::QuestionAsked {
            id: id.into(),
            text: format!("question {id}?"),
            default: "yes".into(),
        }
    }

    fn answered(id: &str) -> EventBody {
        EventBody::QuestionAnswered {
            id: id.into(),
            answer: "yes".into(),
            by: "person".into(),
        }
    }

    fn conflict(id: &str, needs_human: bool) -> EventBody {
        EventBody::ConflictDetected {
            conflict: id.into(),
            topic: id.into(),
            options: vec!["a".into(), "b".into()],
            blocking: true,
            needs_human,
            positions: vec![],
        }
    }

    fn vote(id: &str, agent: &str, option: &str) -> EventBody {
        EventBody::VoteCast {
            conflict: id.into(),
            agent: agent.into(),
            option: Some(option.into()),
            rationale: String::new(),
        }
    }

    fn resolved(id: &str, by: DecidedBy) -> EventBody {
        EventBody::ConflictResolved {
            conflict: id.into(),
            option: "a".into(),
            decided_by: by,
            tally: BTreeMap::new(),
        }
    }

    fn exhausted(scope: &str) -> EventBody {
        EventBody::BudgetExhausted {
            scope: scope.into(),
            spent_usd: 1.0,
            budget_usd: Some(1.0),
            spent_tokens: 10,
            budget_tokens: None,
        }
    }

    fn task_started(agent: &str) -> EventBody {
        EventBody::TaskStarted {
            task: format!("implement.{agent}"),
            agent: agent.into(),
            phase: "implement".into(),
        }
    }

    fn finished(status: SessionStatus) -> EventBody {
        EventBody::SessionFinished {
            status,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
        }
    }

    /// The reasons of the notices `events` give, one list per event.
    fn reasons(watch: &mut Watch, events: &[Event]) -> Vec<Vec<Reason>> {
        events
            .iter()
            .map(|e| watch.take(e).into_iter().map(|n| n.reason).collect())
            .collect()
    }

    /// Two conflicts through the vote: `tie` 2–2, `major` 3–1.
    fn through_the_vote(f: &mut Feed) -> Vec<Event> {
        let mut events = vec![
            f.ev(started("Build a CLI todo app")),
            f.ev(conflict("tie", false)),
            f.ev(conflict("major", false)),
            f.ev(phase("vote", true)),
        ];
        for (agent, tie, major) in [
            ("backend", "a", "a"),
            ("frontend", "b", "a"),
            ("qa", "a", "a"),
            ("security", "b", "b"),
        ] {
            events.push(f.ev(vote("tie", agent, tie)));
            events.push(f.ev(vote("major", agent, major)));
        }
        events.push(f.ev(phase("vote", false)));
        events
    }

    #[test]
    fn a_question_rings_once_per_wait_and_again_after_the_answers() {
        let mut f = Feed::new();
        let mut w = Watch::new(true, true);
        let events = [
            f.ev(started("Build it")),
            f.ev(phase("refine", true)),
            f.ev(asked("q1")),
            f.ev(asked("q2")),
            f.ev(answered("q1")),
            f.ev(answered("q2")),
            f.ev(asked("q3")),
        ];
        let got = reasons(&mut w, &events);
        assert_eq!(
            got,
            vec![
                vec![],
                vec![],
                vec![Reason::Question],
                vec![],
                vec![],
                vec![],
                vec![Reason::Question],
            ]
        );
        let n = w.take(&f.ev(asked("q4")));
        assert!(n.is_empty(), "q3 still waits: {n:?}");
    }

    #[test]
    fn a_headless_session_rings_only_at_its_end() {
        let mut f = Feed::new();
        let mut w = Watch::new(false, true);
        let mut events = through_the_vote(&mut f);
        events.extend([
            f.ev(phase("refine", true)),
            f.ev(asked("q1")),
            f.ev(answered("q1")),
            f.ev(phase("resolve", true)),
            f.ev(exhausted("session")),
            Event::DeliveryReady {
                message: "m".into(),
            },
        ]);
        assert!(reasons(&mut w, &events).iter().all(Vec::is_empty));
        let n = w.take(&f.ev(finished(SessionStatus::PausedBudget)));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].reason, Reason::Finished);
        assert_eq!(n[0].session.as_str(), ID);
        assert_eq!(n[0].summary, "session paused_budget — Build a CLI todo app");
    }

    #[test]
    fn resolve_rings_for_a_tie_not_for_majorities_it_settles() {
        // Without confirmation, the majority is decided by the vote at once;
        // the tie waits for the person.
        let mut f = Feed::new();
        let mut w = Watch::new(true, false);
        for e in through_the_vote(&mut f) {
            assert!(w.take(&e).is_empty());
        }
        let n = w.take(&f.ev(phase("resolve", true)));
        assert_eq!(n.len(), 1, "{n:?}");
        assert_eq!(n[0].reason, Reason::Conflict);
        assert_eq!(
            n[0].summary,
            "1 conflict waits for your decision — Build a CLI todo app"
        );
        assert!(w.take(&f.ev(resolved("major", DecidedBy::Vote))).is_empty());
        assert!(w.waits().contains(&Wait::Conflict));
        assert!(w.take(&f.ev(resolved("tie", DecidedBy::Human))).is_empty());
        assert!(w.waits().is_empty());
        assert!(w.take(&f.ev(phase("resolve", false))).is_empty());

        // Only majorities: nothing waits.
        let mut f = Feed::new();
        let mut w = Watch::new(true, false);
        let events = [
            f.ev(started("p")),
            f.ev(conflict("major", false)),
            f.ev(vote("major", "backend", "a")),
            f.ev(phase("resolve", true)),
            f.ev(resolved("major", DecidedBy::Vote)),
        ];
        assert!(reasons(&mut w, &events).iter().all(Vec::is_empty));

        // A majority the chair flagged for a person waits.
        let mut f = Feed::new();
        let mut w = Watch::new(true, false);
        let events = [
            f.ev(started("p")),
            f.ev(conflict("flagged", true)),
            f.ev(vote("flagged", "backend", "a")),
            f.ev(phase("resolve", true)),
        ];
        assert_eq!(reasons(&mut w, &events).concat(), vec![Reason::Conflict]);
    }

    #[test]
    fn with_confirmation_every_open_conflict_waits_once() {
        let mut f = Feed::new();
        let mut w = Watch::new(true, true);
        for e in through_the_vote(&mut f) {
            assert!(w.take(&e).is_empty());
        }
        let n = w.take(&f.ev(phase("resolve", true)));
        assert_eq!(n.len(), 1);
        assert!(
            n[0].summary
                .starts_with("2 conflicts wait for your decision")
        );
        assert!(w.take(&f.ev(resolved("tie", DecidedBy::Human))).is_empty());
        assert!(w.take(&f.ev(resolved("major", DecidedBy::Vote))).is_empty());
        assert!(w.waits().is_empty());
    }

    #[test]
    fn a_spent_budget_rings_per_scope_until_work_goes_on() {
        let mut f = Feed::new();
        let mut w = Watch::new(true, true);
        let events = [
            f.ev(started("p")),
            f.ev(phase("implement", true)),
            f.ev(exhausted("backend")),
            f.ev(exhausted("session")),
            f.ev(task_started("frontend")),
            f.ev(exhausted("session")),
        ];
        let got = reasons(&mut w, &events);
        assert_eq!(
            got,
            vec![
                vec![],
                vec![],
                vec![Reason::Budget],
                vec![Reason::Budget],
                vec![],
                vec![Reason::Budget],
            ]
        );
        // backend's budget still holds its work: its wait goes on.
        assert!(w.waits().contains(&Wait::Budget("backend".into())));
        assert!(w.take(&f.ev(task_started("backend"))).is_empty());
        assert!(w.waits().is_empty());
        let n = w.take(&f.ev(exhausted("backend")));
        assert_eq!(
            n[0].summary,
            "the budget of agent backend is spent: its work is paused — p"
        );
    }

    #[test]
    fn the_delivery_rings_once_then_the_end() {
        let mut f = Feed::new();
        let mut w = Watch::new(true, true);
        let ready = Event::DeliveryReady {
            message: "m".into(),
        };
        assert!(w.take(&f.ev(started("Build it"))).is_empty());
        assert!(w.take(&f.ev(phase("deliver", true))).is_empty());
        let n = w.take(&ready);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].reason, Reason::Delivery);
        // A new commit message (the person rejected a file) is the same wait.
        assert!(w.take(&ready).is_empty());
        let commit = EventBody::CommitCreated {
            sha: "0".repeat(40),
            files: vec![],
            repo: "/tmp/x".into(),
        };
        assert!(w.take(&f.ev(commit)).is_empty());
        let n = w.take(&f.ev(finished(SessionStatus::Succeeded)));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].reason, Reason::Finished);
        assert_eq!(n[0].summary, "session succeeded — Build it");
        // Events after the end (a late page, a rejected op) ring nothing.
        assert!(w.take(&Event::Closed).is_empty());
        // A new session starts afresh.
        assert!(w.take(&f.ev(started("again"))).is_empty());
        assert!(w.waits().is_empty());
    }

    #[test]
    fn a_resumed_sessions_stored_waits_that_are_over_never_ring() {
        let mut f = Feed::new();
        let mut stored: Vec<LoggedEvent> = Vec::new();
        for e in through_the_vote(&mut f) {
            if let Event::Logged(e) = e {
                stored.push(e);
            }
        }
        for body in [
            phase("refine", true),
            asked("q1"),
            answered("q1"),
            phase("refine", false),
            phase("resolve", true),
            resolved("tie", DecidedBy::Human),
            resolved("major", DecidedBy::Vote),
            phase("resolve", false),
            phase("implement", true),
            exhausted("backend"),
            task_started("backend"),
            finished(SessionStatus::Interrupted),
        ] {
            stored.push(f.logged(body));
        }
        let mut w = Watch::new(true, true);
        let resumed = Event::Resumed {
            events: stored,
            lines: 0,
            agent_lines: BTreeMap::new(),
        };
        assert!(w.take(&resumed).is_empty());
        assert!(
            w.take(&f.ev(EventBody::SessionResumed {
                from_seq: f.seq + 1
            }))
            .is_empty()
        );
        assert!(w.waits().is_empty());
        // What waits after the resume rings.
        let n = w.take(&f.ev(exhausted("backend")));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].reason, Reason::Budget);
    }

    #[test]
    fn a_session_resumed_while_it_waits_rings_once_when_it_goes_on() {
        let mut f = Feed::new();
        let mut stored: Vec<LoggedEvent> = Vec::new();
        for e in through_the_vote(&mut f) {
            if let Event::Logged(e) = e {
                stored.push(e);
            }
        }
        stored.push(f.logged(phase("resolve", true)));
        stored.push(f.logged(finished(SessionStatus::Interrupted)));
        let mut w = Watch::new(true, true);
        let resumed = Event::Resumed {
            events: stored,
            lines: 0,
            agent_lines: BTreeMap::new(),
        };
        // The replay rings nothing, not even the stored end.
        assert!(w.take(&resumed).is_empty());
        let n = w.take(&f.ev(EventBody::SessionResumed {
            from_seq: f.seq + 1,
        }));
        assert_eq!(
            n.iter().map(|n| n.reason).collect::<Vec<_>>(),
            vec![Reason::Conflict]
        );
        assert!(w.take(&f.ev(resolved("tie", DecidedBy::Human))).is_empty());
    }

    #[test]
    fn the_summary_is_one_clean_line_of_at_most_120_characters() {
        let hostile = "Build\n\tit\x1b]52;c;aGk=\x07\x1b[2J\u{9b}31m now\u{202e}x";
        let s = summary("session failed", hostile);
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert!(!s.contains('\u{202e}'), "{s:?}");
        assert!(
            s.starts_with("session failed — Build it^[]52;c;aGk=^G"),
            "{s:?}"
        );
        let long = "word ".repeat(100);
        let s = summary("1 question waits for your answer", &long);
        assert_eq!(s.chars().count(), SUMMARY_CHARS);
        assert!(s.ends_with('…'));
        assert_eq!(summary("session succeeded", "  "), "session succeeded");
    }

    #[test]
    fn reasons_are_named_as_in_the_environment() {
        let names: Vec<&str> = [
            Reason::Question,
            Reason::Conflict,
            Reason::Budget,
            Reason::Delivery,
            Reason::Finished,
        ]
        .iter()
        .map(|r| r.as_str())
        .collect();
        assert_eq!(
            names,
            ["question", "conflict", "budget", "delivery", "finished"]
        );
    }
}
