//! The vocabulary every layer shares; it imports nothing else of quorum
//! (docs/architecture.md: the lowest floor).
//!
//! Consumers send [`Op`]s (user intent) to the orchestrator actor and receive
//! [`Event`]s (what happened). [`Event::Logged`] carries a [`LoggedEvent`], the
//! durable, numbered record of the public event stream (docs/design.md §5, "Headless
//! event stream"); every other [`Event`] variant is ephemeral: answers to
//! requests (pages of a transcript, a file's content) and token deltas.
//!
//! Invariants: a [`LoggedEvent`] reaches a consumer only after the sled flush that
//! holds it has completed; within one session `seq` starts at 1 and has no gaps.
//!
//! Here: the session's options, [`SCHEMA_VERSION`] and a plan's
//! [`Position`]; `ids` the identifiers; `domain` the domain's enums (task
//! and phase kinds, severities, states, statuses) and [`Usage`];
//! `documents` the documents agents reply with and their JSON Schemas;
//! `inputs` each task kind's inputs; `file_blocks` the reply format of code;
//! `events` the durable stream, `messages` the ephemeral [`Event`]s and what
//! they carry, `ops` the [`Op`]s; `notice` when the session needs the
//! person (a fold over the events).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the event stream's schema (`v` on every JSON line).
pub const SCHEMA_VERSION: u32 = 1;

/// Options fixed when a session starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionOptions {
    /// A person is at the keyboard: the session waits at resolve until the
    /// decisions are confirmed, and at deliver until [`Op::Commit`].
    pub interactive: bool,
    /// Write the accepted files into DIR but make no commit.
    pub no_commit: bool,
    /// Run through review and write nothing into DIR.
    pub dry_run: bool,
    /// Headless: overwrite files in DIR that quorum did not write in this session.
    pub allow_overwrite: bool,
    /// Deliver files that the secret scan flags (`--allow-secrets`).
    #[serde(default)]
    pub allow_secrets: bool,
    /// Answers to the refine phase's questions, by question id (`--answers FILE`).
    pub answers: BTreeMap<String, String>,
    /// Run model-written setup and tests without the jail where this machine
    /// cannot build one (`--allow-unconfined-tests`, or the person's answer in
    /// the TUI; docs/sandbox.md). Kept with the session, so a resume keeps it.
    #[serde(default)]
    pub allow_unconfined: bool,
    /// Why the prompt asks for what the offline team's demo is not (e.g.
    /// `it asks for Rust`), when the offline team runs only because no
    /// provider is configured (not `--offline`): the session then ends
    /// [`SessionStatus::Demo`], and the commit message says so.
    #[serde(default)]
    pub unbuilt: Option<String>,
}

/// One agent's position on a conflict, quoted from its plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The agent whose plan holds the position.
    pub agent: String,
    /// The option the agent's plan chose.
    pub option: String,
    /// The agent's words, quoted from its plan.
    pub quote: String,
}

mod channels;
pub mod documents;
mod domain;
pub mod edits;
mod events;
pub mod exit;
pub mod file_blocks;
mod ids;
pub mod inputs;
mod messages;
pub mod notice;
mod ops;
pub mod session_view;
pub mod transcript;
pub mod wire;

pub use channels::{Channels, Stopped, now};
pub use domain::*;
pub use events::*;
pub use ids::*;
pub use messages::*;
pub use ops::*;
pub use session_view::SessionView;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_12_hex_and_parse_back() {
        let id = SessionId::new();
        assert_eq!(id.as_str().len(), SessionId::LEN);
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.short().len(), 4);
        assert_eq!(SessionId::parse("ABCDEF012345"), None);
        assert_eq!(SessionId::parse("abc"), None);
        assert_ne!(SessionId::new(), SessionId::new());
    }

    #[test]
    fn logged_event_serialises_flat_with_type_tag() {
        let event = LoggedEvent {
            v: SCHEMA_VERSION,
            seq: 7,
            session: SessionId::parse("0123456789ab").unwrap(),
            at: "2026-01-01T00:00:00Z".into(),
            body: EventBody::VoteCast {
                conflict: "c1".into(),
                agent: "qa".into(),
                option: None,
                rationale: "failed".into(),
            },
        };
        let json: serde_json::Value = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "vote_cast");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["v"], 1);
        assert!(json["option"].is_null());
        let back: LoggedEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.body.type_name(), "vote_cast");
    }

    #[test]
    fn exit_codes_follow_the_design() {
        assert_eq!(SessionStatus::Succeeded.exit_code(), 0);
        assert_eq!(SessionStatus::Failed.exit_code(), 1);
        assert_eq!(SessionStatus::Interrupted.exit_code(), 3);
        assert_eq!(SessionStatus::PausedBudget.exit_code(), 3);
        assert_eq!(SessionStatus::Cancelled.exit_code(), 3);
    }
}
