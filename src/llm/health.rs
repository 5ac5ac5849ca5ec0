//! A provider's health for the session (docs/design.md §3, fault table): a circuit
//! breaker — 5 consecutive failures within 60 s open the circuit for 30 s, and
//! while it is open the provider's calls go straight to their fallbacks; after
//! the 30 s one trial call is let through (half-open) and its outcome closes or
//! reopens the circuit — and the "unauthorised" mark a 401 or 403 leaves for the
//! rest of the session.
//!
//! Only faults that say something about the provider count: retryable ones
//! (5xx, 429, timeouts, dropped connections) and runaway replies (past the
//! reply cap or the call's total time). A 400 is the request's fault.
//! Times come from tokio's clock, so tests can run them paused.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{FaultClass, LlmError};

/// Consecutive failures that open the circuit.
pub const TRIP_FAILURES: u32 = 5;
/// The window those failures must fall in.
pub const TRIP_WINDOW: Duration = Duration::from_secs(60);
/// How long the circuit stays open.
pub const OPEN_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct State {
    streak: u32,
    streak_start: Option<Instant>,
    open_until: Option<Instant>,
    half_open: bool,
    unauthorized: Option<String>,
}

/// What the health record says now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthStatus {
    /// Calls go through.
    Ok,
    /// Some recent failures, circuit still closed: the count of the streak.
    Degraded(u32),
    /// The circuit is open.
    Open,
    /// A 401/403 was seen: the provider is skipped for the session.
    Unauthorized,
}

/// One provider's health.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<State>,
}

impl Health {
    /// A healthy provider.
    pub fn new() -> Self {
        Health::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go to the provider now; `Err` says why not.
    pub fn check(&self) -> Result<(), LlmError> {
        let mut s = self.lock();
        if let Some(reason) = &s.unauthorized {
            return Err(LlmError::Unavailable(format!(
                "unauthorised earlier in this session ({reason})"
            )));
        }
        if let Some(until) = s.open_until {
            let now = Instant::now();
            if now < until {
                let left = until - now;
                return Err(LlmError::Unavailable(format!(
                    "circuit open for {:.0} s more after {TRIP_FAILURES} consecutive failures",
                    left.as_secs_f64().ceil()
                )));
            }
            s.open_until = None;
            s.half_open = true;
        }
        Ok(())
    }

    /// A call succeeded: the circuit closes.
    pub fn success(&self) {
        let mut s = self.lock();
        s.streak = 0;
        s.streak_start = None;
        s.half_open = false;
    }

    /// A call failed with `error`. Returns `true` when this failure opened the
    /// circuit.
    pub fn failure(&self, error: &LlmError) -> bool {
        let mut s = self.lock();
        if error.is_unauthorized() {
            s.unauthorized = Some(error.to_string());
            return false;
        }
        if !matches!(error.class(), FaultClass::Retry | FaultClass::Bounded) {
            return false;
        }
        let now = Instant::now();
        if s.half_open {
            s.half_open = false;
            s.open_until = Some(now + OPEN_FOR);
            return true;
        }
        match s.streak_start {
            Some(start) if now.duration_since(start) <= TRIP_WINDOW => s.streak += 1,
            _ => {
                s.streak = 1;
                s.streak_start = Some(now);
            }
        }
        if s.streak >= TRIP_FAILURES {
            s.streak = 0;
            s.streak_start = None;
            s.open_until = Some(now + OPEN_FOR);
            return true;
        }
        false
    }

    /// The current status.
    pub fn status(&self) -> HealthStatus {
        let s = self.lock();
        if s.unauthorized.is_some() {
            HealthStatus::Unauthorized
        } else if s.open_until.is_some_and(|u| Instant::now() < u) {
            HealthStatus::Open
        } else if s.streak > 0 {
            HealthStatus::Degraded(s.streak)
        } else {
            HealthStatus::Ok
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn busy() -> LlmError {
        LlmError::Status {
            status: 503,
            message: "busy".into(),
            retry_after: None,
            should_retry: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn five_failures_in_a_minute_open_the_circuit_for_30_s() {
        let h = Health::new();
        for i in 0..4 {
            assert!(!h.failure(&busy()), "failure {i} does not trip");
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        assert_eq!(h.status(), HealthStatus::Degraded(4));
        assert!(h.failure(&busy()));
        assert_eq!(h.status(), HealthStatus::Open);
        assert!(h.check().is_err());
        tokio::time::advance(Duration::from_secs(31)).await;
        // Half-open: one trial goes through; its failure reopens at once.
        assert!(h.check().is_ok());
        assert!(h.failure(&busy()));
        assert!(h.check().is_err());
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(h.check().is_ok());
        h.success();
        assert_eq!(h.status(), HealthStatus::Ok);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_spread_over_more_than_a_minute_do_not_trip() {
        let h = Health::new();
        for _ in 0..10 {
            assert!(!h.failure(&busy()));
            tokio::time::advance(Duration::from_secs(20)).await;
        }
        assert!(h.check().is_ok());
    }

    #[test]
    fn a_401_marks_the_provider_and_a_400_does_not_count() {
        let h = Health::new();
        let bad = LlmError::Status {
            status: 400,
            message: String::new(),
            retry_after: None,
            should_retry: None,
        };
        for _ in 0..10 {
            h.failure(&bad);
        }
        assert_eq!(h.status(), HealthStatus::Ok);
        h.failure(&LlmError::Status {
            status: 401,
            message: "bad key".into(),
            retry_after: None,
            should_retry: None,
        });
        assert_eq!(h.status(), HealthStatus::Unauthorized);
        assert!(h.check().unwrap_err().to_string().contains("unauthorised"));
    }
}
