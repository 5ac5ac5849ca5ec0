//! The actor's current group (docs/design.md §4): the durable writes and the
//! events of one loop iteration, handed to the committer as one. Everything
//! that changes the session goes through here: events ([`Actor::emit`]),
//! per-session records ([`Actor::record`]), transcript lines
//! ([`Actor::line`], [`Actor::note`]) and the session's own state and row,
//! stored with the group when they changed ([`Actor::commit_group`]).

use serde::Serialize;
use serde_json::Value;

use super::actor::{Actor, now};
use super::log::log_event;
use crate::protocol::{Event, EventBody, LineKind, LoggedEvent, SCHEMA_VERSION, TranscriptLine};
use crate::store::{RecordKey, Write};

impl Actor {
    /// Records an event in the current group.
    pub fn emit(&mut self, body: EventBody) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.live.seq += 1;
        log_event(s.id.as_str(), s.live.seq, &body);
        let event = LoggedEvent {
            v: SCHEMA_VERSION,
            seq: s.live.seq,
            session: s.id.clone(),
            at: now(),
            body,
        };
        self.group.writes.push(Write::Event(event.clone()));
        self.group.events.push(Event::Logged(event));
    }

    /// Sends an ephemeral event (in order with the current group).
    pub fn ephemeral(&mut self, event: Event) {
        self.group.events.push(event);
    }

    /// Stores a per-session record in the current group.
    pub fn record<T: Serialize>(&mut self, kind: RecordKey, name: &str, value: &T) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.group.writes.push(Write::Record {
            session: s.id.clone(),
            kind: kind.as_str(),
            name: name.to_string(),
            value,
        });
    }

    /// Appends a transcript line.
    pub fn line(&mut self, agent: &str, task: &str, kind: LineKind, text: &str, ends_call: bool) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let agent_seq = s.live.agent_line_seq.entry(agent.to_string()).or_insert(0);
        let line = TranscriptLine {
            seq: s.live.line_seq,
            agent_seq: *agent_seq,
            agent: agent.to_string(),
            task: task.to_string(),
            kind,
            text: text.to_string(),
            ends_call,
        };
        s.live.line_seq += 1;
        *agent_seq += 1;
        self.group.writes.push(Write::Line {
            session: s.id.clone(),
            line: line.clone(),
        });
        self.group_lines.push(line);
    }

    /// A note line in an agent's transcript.
    pub fn note(&mut self, agent: &str, task: &str, text: &str) {
        self.line(agent, task, LineKind::Note, text, false);
    }

    /// Hands the current group to the committer.
    pub(crate) fn commit_group(&mut self) {
        if !self.group_lines.is_empty() {
            let lines = std::mem::take(&mut self.group_lines);
            self.group.events.push(Event::TranscriptAppended { lines });
        }
        if self.group.is_empty() {
            return;
        }
        if let Some(s) = self.session.as_mut()
            && !self.group.writes.is_empty()
        {
            s.record.updated_at = now();
            s.record.last_seq = s.live.seq;
            s.record.tokens_in = s.spend.usage.input_tokens;
            s.record.tokens_out = s.spend.usage.output_tokens;
            s.record.cost_usd = s.spend.cost_usd;
            s.record.status = s.progress.finished;
            let shown = s
                .progress
                .phase
                .min(self.workflow.phases.len().saturating_sub(1));
            if let Some(phase) = self.workflow.phases.get(shown) {
                s.record.phase = phase.name.clone();
            }
            // The session's state, when it changed since the last group.
            // A group of transcript lines alone (a reply streaming) changes
            // nothing a resume reads (a test run's start, which writes only a
            // note, is undone by resume anyway), so it is not serialised.
            let lines_only = self
                .group
                .writes
                .iter()
                .all(|w| matches!(w, Write::Line { .. }));
            self.group.writes.push(Write::Session(s.record.clone()));
            if lines_only {
                let group = std::mem::take(&mut self.group);
                let _ = self.committer.send(group);
                return;
            }
            let state = serde_json::to_value(&*s).unwrap_or(Value::Null);
            let hash = {
                use std::hash::Hasher as _;
                /// Feeds serialised JSON to a hasher without building the text.
                struct Feed(std::collections::hash_map::DefaultHasher);
                impl std::io::Write for Feed {
                    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                        self.0.write(bytes);
                        Ok(bytes.len())
                    }
                    fn flush(&mut self) -> std::io::Result<()> {
                        Ok(())
                    }
                }
                let mut feed = Feed(Default::default());
                let _ = serde_json::to_writer(&mut feed, &state);
                feed.0.finish()
            };
            if self.snapshot != Some(hash) {
                self.snapshot = Some(hash);
                self.group.writes.push(Write::Record {
                    session: s.id.clone(),
                    kind: RecordKey::State.as_str(),
                    name: "session".into(),
                    value: state,
                });
            }
        }
        let group = std::mem::take(&mut self.group);
        let _ = self.committer.send(group);
    }

    /// Flushes a task's partial reasoning line (its reasoning is over).
    pub(crate) fn flush_reasoning(&mut self, agent: &str, task: &str) {
        let rest = self
            .session
            .as_mut()
            .and_then(|s| s.live.thinking.remove(task))
            .unwrap_or_default();
        if !rest.is_empty() {
            self.line(agent, task, LineKind::Reasoning, &rest, false);
        }
    }

    /// Flushes a task's partial transcript line (the end of a call's text),
    /// after any partial reasoning line.
    pub(crate) fn flush_partial(&mut self, agent: &str, task: &str, ends_call: bool) {
        self.flush_reasoning(agent, task);
        let rest = self
            .session
            .as_mut()
            .and_then(|s| s.live.partial.remove(task))
            .unwrap_or_default();
        if !rest.is_empty() {
            self.line(agent, task, LineKind::Text, &rest, ends_call);
        }
    }

    pub(crate) fn reject(&mut self, op: &str, reason: impl Into<String>) {
        self.ephemeral(Event::Rejected {
            op: op.to_string(),
            reason: reason.into(),
        });
    }
}
