//! The history view's state: the sessions stored for DIR (`Op::ListSessions`)
//! and one opened read-only, rebuilt by folding its stored events with the
//! same [`SessionView::apply`] (and [`Metrics::apply`]) a live session uses.

use crate::protocol::session_view::SessionView;
use crate::protocol::{LoggedEvent, RequestId, SessionId, SessionSummary};
use crate::tui::metrics::Metrics;

/// A past session, folded from its events.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The session's id.
    pub id: SessionId,
    /// The request that loads it, until its events arrive.
    pub pending: Option<RequestId>,
    /// The folded session and its metrics, or why its events could not be read.
    pub view: Option<Result<Box<(SessionView, Metrics)>, String>>,
}

/// The history view's state.
#[derive(Clone, Debug, Default)]
pub struct PastSessions {
    /// The list request in flight.
    pub pending: Option<RequestId>,
    /// The sessions, newest first, once listed (`Err`: why not).
    pub sessions: Option<Result<Vec<SessionSummary>, String>>,
    /// The selected row.
    pub sel: usize,
    /// The session opened with Enter.
    pub opened: Option<Opened>,
}

/// Folds a stored session's events into what the TUI shows.
pub fn fold(events: &[LoggedEvent]) -> (SessionView, Metrics) {
    let mut view = SessionView::default();
    let mut metrics = Metrics::default();
    for e in events {
        view.apply(e);
        metrics.apply(e);
    }
    (view, metrics)
}

impl PastSessions {
    /// The listed sessions (empty until they arrive).
    pub fn list(&self) -> &[SessionSummary] {
        match &self.sessions {
            Some(Ok(all)) => all,
            _ => &[],
        }
    }

    /// The selected session's summary.
    pub fn selected(&self) -> Option<&SessionSummary> {
        self.list().get(self.sel)
    }

    /// The answer to a list request; stale answers are dropped.
    pub fn on_list(&mut self, req: RequestId, sessions: Result<Vec<SessionSummary>, String>) {
        if self.pending != Some(req) {
            return;
        }
        self.pending = None;
        self.sessions = Some(sessions);
        self.sel = self.sel.min(self.list().len().saturating_sub(1));
    }

    /// The answer to a load request; stale answers are dropped.
    pub fn on_loaded(
        &mut self,
        req: RequestId,
        session: &SessionId,
        events: Result<Vec<LoggedEvent>, String>,
    ) {
        let Some(opened) = self
            .opened
            .as_mut()
            .filter(|o| o.pending == Some(req) && &o.id == session)
        else {
            return;
        };
        opened.pending = None;
        opened.view = Some(events.map(|events| Box::new(fold(&events))));
    }
}
