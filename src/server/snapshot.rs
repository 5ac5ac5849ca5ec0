//! What the server keeps of the session on it, so that a client attaching at
//! any moment sees it as one that watched from the start: the session's
//! durable events (folded into a [`SessionView`] too), the transcript's size,
//! the staged files' choices and a waiting delivery (docs/design.md §4,
//! "Server and clients"). Pure data, fed every event the orchestrator
//! releases, in order.

use std::collections::BTreeMap;

use crate::protocol::{DecidedBy, Event, EventBody, LoggedEvent, SessionId, SessionView};

/// The session on the server, as the events so far describe it.
#[derive(Default)]
pub struct Snapshot {
    /// Its durable events, in seq order.
    events: Vec<LoggedEvent>,
    /// Transcript lines over all agents (the next line's `seq`).
    lines: u64,
    /// Lines per agent (the next line's `agent_seq`).
    agent_lines: BTreeMap<String, u64>,
    /// The staged files' accept/reject choices, by path.
    files: BTreeMap<String, bool>,
    /// The generated commit message while the session waits at deliver.
    delivery: Option<String>,
    /// The events folded.
    view: SessionView,
}

impl Snapshot {
    /// Takes one event the orchestrator released.
    pub fn take(&mut self, event: &Event) {
        match event {
            Event::Logged(e) => self.logged(e),
            Event::Resumed {
                events,
                lines,
                agent_lines,
            } => {
                *self = Snapshot::default();
                for e in events {
                    self.logged(e);
                }
                self.lines = *lines;
                self.agent_lines = agent_lines.clone();
            }
            Event::TranscriptAppended { lines } => {
                for line in lines {
                    self.lines = self.lines.max(line.seq + 1);
                    let next = self.agent_lines.entry(line.agent.clone()).or_default();
                    *next = (*next).max(line.agent_seq + 1);
                }
            }
            Event::FileDecided { path, accepted } => {
                self.files.insert(path.clone(), *accepted);
            }
            Event::DeliveryReady { message } => self.delivery = Some(message.clone()),
            _ => {}
        }
    }

    fn logged(&mut self, e: &LoggedEvent) {
        if matches!(e.body, EventBody::SessionStarted { .. }) {
            *self = Snapshot::default();
        }
        if matches!(e.body, EventBody::SessionFinished { .. }) {
            self.delivery = None;
        }
        self.view.apply(e);
        self.events.push(e.clone());
    }

    /// The session's id; `None` before the first session.
    pub fn session(&self) -> Option<SessionId> {
        self.events.first().map(|e| e.session.clone())
    }

    /// Whether the session runs (started or resumed, not finished).
    pub fn running(&self) -> bool {
        self.view.running()
    }

    /// The folded session.
    pub fn view(&self) -> &SessionView {
        &self.view
    }

    /// What a client attaching now is sent first ([`Event::Attached`]);
    /// `None` before the first session.
    pub fn for_new_client(&self) -> Option<Event> {
        if self.events.is_empty() {
            return None;
        }
        Some(Event::Attached {
            events: self.events.clone(),
            lines: self.lines,
            agent_lines: self.agent_lines.clone(),
            files: self.files.clone(),
            delivery: self.delivery.clone(),
        })
    }

    /// How `conflict` was decided, when it was: the option and who decided.
    pub fn decision(&self, conflict: &str) -> Option<(String, DecidedBy)> {
        self.view
            .conflicts
            .iter()
            .find(|k| k.id == conflict)
            .and_then(|k| k.decision.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::{SCHEMA_VERSION, TranscriptLine};

    fn logged(seq: u64, body: EventBody) -> LoggedEvent {
        LoggedEvent {
            v: SCHEMA_VERSION,
            seq,
            at: "2026-12-07T00:00:00Z".into(),
            session: SessionId::new(),
            body,
        }
    }

    #[test]
    fn nothing_is_sent_before_the_first_session() {
        let snapshot = Snapshot::default();
        assert!(snapshot.for_new_client().is_none());
        assert!(!snapshot.running());
        assert_eq!(snapshot.session(), None);
    }

    #[test]
    fn a_new_client_gets_the_events_the_lines_the_choices_and_the_delivery() {
        let mut snapshot = Snapshot::default();
        let started = logged(
            1,
            EventBody::SessionStarted {
                prompt: "p".into(),
                dir: "/tmp/x".into(),
                workflow: "default".into(),
                agents: vec!["qa".into()],
            },
        );
        assert!(!snapshot.running());
        snapshot.take(&Event::Logged(started));
        assert!(snapshot.running());
        snapshot.take(&Event::TranscriptAppended {
            lines: vec![TranscriptLine {
                seq: 4,
                agent_seq: 2,
                agent: "qa".into(),
                task: "plan.qa".into(),
                kind: crate::protocol::LineKind::Text,
                text: "hi".into(),
                ends_call: false,
            }],
        });
        snapshot.take(&Event::FileDecided {
            path: "app.py".into(),
            accepted: false,
        });
        snapshot.take(&Event::DeliveryReady {
            message: "Add the app".into(),
        });
        let Some(Event::Attached {
            events,
            lines,
            agent_lines,
            files,
            delivery,
        }) = snapshot.for_new_client()
        else {
            panic!("no snapshot")
        };
        assert_eq!(events.len(), 1);
        assert_eq!(lines, 5);
        assert_eq!(agent_lines.get("qa"), Some(&3));
        assert_eq!(files.get("app.py"), Some(&false));
        assert_eq!(delivery.as_deref(), Some("Add the app"));
    }
}
