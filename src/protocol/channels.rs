//! What a frontend (the TUI, the headless runner, later a server) holds of a
//! running orchestrator: the sender of its [`Op`]s, one subscription to its
//! [`Event`]s, and a future that resolves once it has stopped. The frontends
//! take this instead of the orchestrator's handle, so that they depend on
//! the protocol only (docs/architecture.md, the floors); the command that
//! spawns the orchestrator builds it. Also [`now`], the time stamp of event
//! lines.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::{Event, Op};

/// A future that resolves once the orchestrator has stopped (its actor and
/// its committer have ended, after [`Op::Shutdown`]).
pub type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A frontend's end of a running orchestrator.
pub struct Channels {
    /// Sends ops; a send fails (and is ignored) once the orchestrator stopped.
    pub ops: UnboundedSender<Op>,
    /// The events, from the moment of subscription; the channel closes when
    /// the orchestrator stops.
    pub events: UnboundedReceiver<Event>,
    /// Resolves once the orchestrator has stopped; awaited after
    /// [`Op::Shutdown`] was sent.
    pub stopped: Stopped,
}

impl Channels {
    /// Sends an op; ignored once the orchestrator has stopped.
    pub fn send(&self, op: Op) {
        let _ = self.ops.send(op);
    }
}

/// Now, as an RFC 3339 UTC time stamp (the `at` of every event line;
/// docs/design.md §5, "Headless event stream").
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_an_rfc3339_utc_stamp() {
        let at = now();
        let parsed =
            time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339);
        assert!(parsed.is_ok(), "{at}");
        assert!(at.ends_with('Z'), "{at}");
    }

    #[tokio::test]
    async fn send_after_the_receiver_is_gone_is_ignored() {
        let (ops, rx) = tokio::sync::mpsc::unbounded_channel();
        let (_tx, events) = tokio::sync::mpsc::unbounded_channel();
        let channels = Channels {
            ops,
            events,
            stopped: Box::pin(async {}),
        };
        drop(rx);
        channels.send(Op::Shutdown);
        channels.stopped.await;
    }
}
