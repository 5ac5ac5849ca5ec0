//! The TUI's questions to the store — transcript search and pages, the list
//! of DIR's sessions, a past session's events, a staged file with its diff —
//! and the person's decisions on staged files (accept, reject, edit).
//!
//! Reads run on the blocking pool (`spawn_blocking`), never on the actor's task;
//! their answers go through the committer as groups without writes, so they
//! reach the consumer after every event released before them (the same path as
//! `load_transcript`). Every answer carries the request id it was asked with.

use super::actor::Actor;
use super::committer::Group;
use crate::config::workflow::PhaseKind;
use crate::protocol::{Event, RequestId, SEARCH_LIMIT, SessionId, SessionSummary};
use crate::store::{RecordKey, SessionRecord, Store};

impl SessionSummary {
    fn of(record: SessionRecord) -> SessionSummary {
        SessionSummary {
            id: record.id,
            prompt: record.prompt,
            status: record.status,
            phase: record.phase,
            created_at: record.created_at,
            updated_at: record.updated_at,
            tokens: (record.tokens_in, record.tokens_out),
            cost_usd: record.cost_usd,
            commit: record.commit,
            last_seq: record.last_seq,
            dir: record.dir,
            workflow: record.workflow,
            offline: record.offline,
        }
    }
}

impl Actor {
    /// Runs `read` on the blocking pool and sends its event through the
    /// committer; `op` names the request in a [`Event::Rejected`] if the read
    /// task itself fails.
    fn answer_later<F>(&self, op: &'static str, read: F)
    where
        F: FnOnce(Store) -> Event + Send + 'static,
    {
        let store = self.store.clone();
        let committer = self.committer.clone();
        tokio::spawn(async move {
            let event = match tokio::task::spawn_blocking(move || read(store)).await {
                Ok(event) => event,
                Err(e) => Event::Rejected {
                    op: op.to_string(),
                    reason: format!("the store task failed: {e}"),
                },
            };
            let _ = committer.send(Group {
                writes: Vec::new(),
                events: vec![event],
            });
        });
    }

    /// [`crate::protocol::Op::SearchTranscript`].
    pub(super) fn search_transcript(
        &mut self,
        agent: Option<String>,
        query: String,
        req: RequestId,
    ) {
        let Some(session) = self.session.as_ref().map(|s| s.id.clone()) else {
            return self.reject_query("search", "no session");
        };
        self.answer_later("search", move |store| {
            match store.search_transcript(&session, agent.as_deref(), &query, SEARCH_LIMIT) {
                Ok((positions, truncated)) => Event::SearchResults {
                    req,
                    agent,
                    query,
                    positions,
                    truncated,
                },
                Err(e) => Event::Rejected {
                    op: "search".into(),
                    reason: e.to_string(),
                },
            }
        });
    }

    /// [`crate::protocol::Op::ListSessions`].
    pub(super) fn list_sessions(&mut self, req: RequestId) {
        // This process holds DIR's lock: a session stored without an end
        // other than the one it runs now was left so by an owner that died,
        // and is interrupted, not running (as `sessions list` shows it).
        let running = self
            .session
            .as_ref()
            .filter(|s| s.progress.finished.is_none())
            .map(|s| s.id.clone());
        self.answer_later("list sessions", move |store| Event::SessionsListed {
            req,
            sessions: store
                .sessions()
                .map(|all| {
                    all.into_iter()
                        .map(|mut r| {
                            if r.status.is_none() && running.as_ref() != Some(&r.id) {
                                r.status = Some(crate::protocol::SessionStatus::Interrupted);
                            }
                            SessionSummary::of(r)
                        })
                        .collect()
                })
                .map_err(|e| e.to_string()),
        });
    }

    /// [`crate::protocol::Op::LoadSession`].
    pub(super) fn load_session(&mut self, session: SessionId, req: RequestId) {
        self.answer_later("load session", move |store| {
            let events = store.events(&session).map_err(|e| e.to_string());
            Event::SessionLoaded {
                req,
                session,
                events,
            }
        });
    }

    /// [`crate::protocol::Op::AcceptEdited`]: only while the session waits at
    /// deliver (after the tests and the review, which the edit does not re-run).
    pub(super) fn accept_edited(&mut self, path: &str, content: String) {
        let at_deliver = self.session.as_ref().is_some_and(|s| {
            self.workflow.phases.get(s.progress.phase).map(|p| p.kind) == Some(PhaseKind::Deliver)
        });
        let Some(s) = self.session.as_mut() else {
            return self.reject_query("edit", "no session");
        };
        if s.progress.delivered || s.progress.finished.is_some() {
            return self.reject_query("edit", "the session has ended");
        }
        if !at_deliver {
            return self.reject_query(
                "edit",
                "files can be edited once the session waits at deliver (after the tests and the review)",
            );
        }
        let Some(file) = s.work.files.get_mut(path) else {
            return self.reject_query("edit", format!("no staged file `{path}`"));
        };
        file.content = content;
        file.accepted = true;
        file.base = self.workspace.content_id(path).ok();
        let file = file.clone();
        let bytes = file.content.len() as u64;
        tracing::info!(path, bytes, "the person edited a staged file");
        self.record(RecordKey::File, path, &file);
        self.ephemeral(Event::FileEdited {
            path: path.to_string(),
            bytes,
        });
        self.ephemeral(Event::FileDecided {
            path: path.to_string(),
            accepted: true,
        });
        self.refresh_delivery_message();
    }

    fn reject_query(&mut self, op: &str, reason: impl Into<String>) {
        self.ephemeral(Event::Rejected {
            op: op.to_string(),
            reason: reason.into(),
        });
    }

    pub(super) fn set_file_accepted(&mut self, path: &str, accepted: bool) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("accept", "no session");
        };
        if s.progress.delivered {
            return self.reject("accept", "the files were already delivered");
        }
        let Some(file) = s.work.files.get_mut(path) else {
            return self.reject("accept", format!("no staged file `{path}`"));
        };
        file.accepted = accepted;
        if accepted {
            // The person accepted the diff against what DIR holds now.
            file.base = self.workspace.content_id(path).ok();
        }
        let file = file.clone();
        self.record(RecordKey::File, path, &file);
        self.ephemeral(Event::FileDecided {
            path: path.to_string(),
            accepted,
        });
        self.refresh_delivery_message();
    }

    pub(super) fn load_transcript(&mut self, agent: Option<String>, from: u64, len: u64, req: u64) {
        let Some(s) = self.session.as_ref() else {
            return self.reject("load transcript", "no session");
        };
        let store = self.store.clone();
        let session = s.id.clone();
        let committer = self.committer.clone();
        let len = len.min(5_000);
        tokio::spawn(async move {
            let page = tokio::task::spawn_blocking(move || {
                let page = store.transcript_page(&session, agent.as_deref(), from, len);
                (agent, page)
            })
            .await;
            let event = match page {
                Ok((agent, Ok((lines, total)))) => Event::TranscriptPage {
                    req,
                    agent,
                    lines,
                    total,
                },
                Ok((_, Err(e))) => Event::Rejected {
                    op: "load transcript".into(),
                    reason: e.to_string(),
                },
                Err(e) => Event::Rejected {
                    op: "load transcript".into(),
                    reason: e.to_string(),
                },
            };
            let _ = committer.send(Group {
                writes: Vec::new(),
                events: vec![event],
            });
        });
    }

    pub(super) async fn load_file(&mut self, path: &str, req: u64) {
        let Some(file) = self
            .session
            .as_ref()
            .and_then(|s| s.work.files.get(path).cloned())
        else {
            self.ephemeral(Event::FileLoaded {
                req,
                file: Err(format!("no staged file `{path}`")),
            });
            return;
        };
        let workspace = self.workspace.clone();
        let p = path.to_string();
        let existing = tokio::task::spawn_blocking(move || workspace.read(&p))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let diff = existing.map(|old| {
            crate::workspace::unified_diff(path, &String::from_utf8_lossy(&old), &file.content)
        });
        self.ephemeral(Event::FileLoaded {
            req,
            file: Ok(crate::protocol::FileView {
                path: path.to_string(),
                content: file.content,
                diff,
            }),
        });
    }
}
