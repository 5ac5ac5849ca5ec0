//! The messages of `quorum serve`'s socket (docs/design.md §4, "Server and
//! clients"): a client's [`ClientMsg`]s and the server's [`ServerMsg`]s, each
//! one frame of tokio-util's length-delimited codec (a 4-byte big-endian
//! length, then that many bytes) holding one JSON document. The first frame
//! each way is the handshake: [`Hello`] and [`Welcome`], or
//! [`ServerMsg::Refused`] naming why (another protocol version, another
//! user). After it the client sends ops and the server events, the same
//! [`Op`] and [`Event`] types the in-process frontends use.
//!
//! [`PROTOCOL_VERSION`] changes whenever a message's shape changes; a client
//! and a server of different versions refuse each other with a message
//! naming both (and both quorum versions).

use serde::{Deserialize, Serialize};
use tokio_util::codec::LengthDelimitedCodec;

use super::{Event, Op, SessionId};

/// The version of this file's messages (and of [`Op`] and [`Event`] as
/// serialised here). 1: the first.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame either side accepts, in bytes: a stored session's events
/// or a staged file's content fit; a longer length prefix is an error, never
/// an allocation.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// The codec of every frame on the socket: length-delimited, at most
/// [`MAX_FRAME_BYTES`].
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec()
}

/// A client's first frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// The client's [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The client's quorum version (`CARGO_PKG_VERSION`), named in a refusal.
    pub quorum: String,
    /// `true` to receive the session's snapshot and live events
    /// ([`Event::Attached`], then every event); `false` for a client that
    /// only sends a request and reads its answer (`serve --stop`, `run
    /// --detach`, `sessions list`).
    pub attach: bool,
    /// Who the client is, for the other clients' messages: e.g.
    /// `alice on /dev/pts/3` (plain text, at most 80 characters kept).
    pub label: String,
}

impl Hello {
    /// The hello of this build: [`PROTOCOL_VERSION`] and this quorum's version.
    pub fn new(attach: bool, label: String) -> Hello {
        Hello {
            protocol: PROTOCOL_VERSION,
            quorum: env!("CARGO_PKG_VERSION").to_string(),
            attach,
            label,
        }
    }
}

/// The server's answer to an accepted [`Hello`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's [`PROTOCOL_VERSION`] (equal to the client's).
    pub protocol: u32,
    /// The server's quorum version.
    pub quorum: String,
    /// The server's process id.
    pub pid: u32,
    /// The session on the server (running, or the last one that ran),
    /// `None` before the first.
    pub session: Option<SessionId>,
    /// Whether that session is running (not yet `session_finished`).
    pub running: bool,
}

/// What a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// The handshake, first and once.
    Hello(Hello),
    /// An op for the orchestrator; applied once, in the order the server
    /// receives ops from all its clients.
    Op(Op),
    /// The person quit this client (not a detach): the running session ends
    /// as [`Op::Quit`] says; the server answers with the session's last
    /// events and [`Event::Closed`], then closes this connection.
    Quit,
    /// `quorum serve --stop`: the server stops its orchestrator (the session
    /// ends as at [`Op::Shutdown`], after the group being written is
    /// flushed), sends every client [`Event::Closed`] and exits.
    Stop,
}

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMsg {
    /// The handshake's answer: the client is accepted.
    Welcome(Welcome),
    /// The handshake's answer: the client is refused; the server closes the
    /// connection. `reason` names both versions, or the uid.
    Refused {
        /// Why, in one sentence for people.
        reason: String,
    },
    /// An event, as the in-process frontends receive it.
    Event(Event),
}

/// Why a frame could not be read as a message.
#[derive(Debug, thiserror::Error)]
#[error("a frame on quorum's socket is not a message of protocol {PROTOCOL_VERSION}: {0}")]
pub struct WireError(#[from] serde_json::Error);

/// One message as a frame's bytes (JSON).
pub fn encode<T: Serialize>(message: &T) -> bytes::Bytes {
    // The messages hold strings, numbers, maps with string keys and enums:
    // serde_json cannot fail on them.
    bytes::Bytes::from(serde_json::to_vec(message).unwrap_or_default())
}

/// A frame's bytes as a message.
///
/// Errors: [`WireError`] when the bytes are not this protocol's JSON.
pub fn decode<'a, T: Deserialize<'a>>(frame: &'a [u8]) -> Result<T, WireError> {
    Ok(serde_json::from_slice(frame)?)
}

/// The refusal a server of this build sends a client whose [`Hello`] names
/// another protocol version: both versions, and what to do.
pub fn version_mismatch(client: &Hello) -> String {
    format!(
        "this quorum server speaks protocol {PROTOCOL_VERSION} (quorum {}), the client protocol {} (quorum {}): stop the server with `quorum serve --stop` (the session stays resumable), then run the client again",
        env!("CARGO_PKG_VERSION"),
        client.protocol,
        crate::sanitize::line(&client.quorum),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::{LoggedEvent, SessionOptions};

    #[test]
    fn ops_and_events_round_trip_through_a_frame() {
        let ops = [
            ClientMsg::Hello(Hello::new(true, "alice on /dev/pts/3".into())),
            ClientMsg::Op(Op::Start {
                prompt: "a link shortener".into(),
                options: SessionOptions::default(),
            }),
            ClientMsg::Op(Op::Pick {
                conflict: "c1".into(),
                option: "sqlite".into(),
            }),
            ClientMsg::Quit,
            ClientMsg::Stop,
        ];
        for op in ops {
            let back: ClientMsg = decode(&encode(&op)).unwrap();
            assert_eq!(back, op);
        }
        let events = [
            ServerMsg::Event(Event::Token {
                agent: "backend".into(),
                task: "plan.backend".into(),
                text: "ünïcode \u{1b}[31m".into(),
            }),
            ServerMsg::Event(Event::FileLoaded {
                req: 7,
                file: Err("no staged file `x`".into()),
            }),
            ServerMsg::Event(Event::Attached {
                events: Vec::<LoggedEvent>::new(),
                lines: 3,
                agent_lines: [("qa".to_string(), 3)].into(),
                files: [("app.py".to_string(), false)].into(),
                delivery: Some("Add the app".into()),
            }),
            ServerMsg::Event(Event::Clients { attached: 2 }),
            ServerMsg::Refused {
                reason: "no".into(),
            },
        ];
        for event in events {
            let back: ServerMsg = decode(&encode(&event)).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn a_frame_of_something_else_is_an_error_naming_the_protocol() {
        let err = decode::<ClientMsg>(b"{\"Launch\":{}}").unwrap_err();
        assert!(err.to_string().contains("protocol 1"), "{err}");
    }

    #[test]
    fn the_version_refusal_names_both_versions() {
        let mut hello = Hello::new(true, "bob".into());
        hello.protocol = 99;
        hello.quorum = "9.9.9\u{7}".into();
        let reason = version_mismatch(&hello);
        assert!(reason.contains("protocol 1 (quorum "), "{reason}");
        assert!(reason.contains("protocol 99 (quorum 9.9.9"), "{reason}");
        assert!(!reason.contains('\u{7}'), "{reason}");
    }
}
