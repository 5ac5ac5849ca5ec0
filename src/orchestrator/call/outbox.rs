//! The streamed text and reasoning of a call not yet forwarded, paced at
//! most one delta every [`super::DELTA_INTERVAL`] (see `call.rs`).

use std::time::Duration;

use tokio::time::Instant;

use super::CallEvent;

/// The streamed text of a call not yet forwarded, and when the last
/// [`CallEvent::Delta`] went out.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// Text waiting, forwarded as [`CallEvent::Delta`].
    pub(super) pending: String,
    /// Reasoning waiting, forwarded before the text as [`CallEvent::Reasoning`].
    pub(super) reasoning: String,
    /// When the last delta went out.
    pub(super) last_sent: Option<Instant>,
    /// The least time between two deltas ([`super::DELTA_INTERVAL`], or zero).
    pub(super) interval: Duration,
}

impl Outbox {
    /// Adds text to forward with the next delta.
    pub(super) fn add(&mut self, text: &str) {
        self.pending.push_str(text);
    }

    /// When the text waiting is due (now, when no delta went out yet), if
    /// any waits.
    pub(super) fn due(&self) -> Option<Instant> {
        if self.pending.is_empty() && self.reasoning.is_empty() {
            return None;
        }
        Some(match self.last_sent {
            Some(at) => at + self.interval,
            None => Instant::now(),
        })
    }

    /// Forwards the reasoning waiting, if any, then the text, each as one
    /// event.
    pub(super) fn flush(&mut self, send: &impl Fn(CallEvent)) {
        if !self.reasoning.is_empty() {
            send(CallEvent::Reasoning(std::mem::take(&mut self.reasoning)));
            self.last_sent = Some(Instant::now());
        }
        if !self.pending.is_empty() {
            send(CallEvent::Delta(std::mem::take(&mut self.pending)));
            self.last_sent = Some(Instant::now());
        }
    }
}
