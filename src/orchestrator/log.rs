//! The log file's view of the event stream: each durable event as one
//! tracing line (the milestones at info, trouble at warn or error, the rest at
//! debug), never a prompt's or reply's text, never a key. Called by
//! [`Actor::emit`](super::actor::Actor::emit) for every event it records. The
//! match names every kind: a new one must choose its level here.

use crate::protocol::EventBody;

/// Writes an event to the log file: the milestones at info, trouble at warn or
/// error, the rest at debug. Never a prompt's or reply's text, never a key.
pub(crate) fn log_event(session: &str, seq: u64, body: &EventBody) {
    let kind = body.type_name();
    match body {
        EventBody::SessionStarted {
            dir,
            workflow,
            agents,
            ..
        } => {
            tracing::info!(
                session,
                seq,
                dir,
                workflow,
                agents = agents.len(),
                "session started"
            );
        }
        EventBody::PhaseStarted { phase, kind } | EventBody::PhaseFinished { phase, kind } => {
            tracing::info!(session, seq, phase, kind, "{}", body.type_name());
        }
        EventBody::TaskFailed { task, error, .. } => {
            tracing::warn!(session, seq, task, error, "task failed");
        }
        EventBody::TaskRetrying {
            task,
            attempt,
            reason,
            delay_ms,
        } => {
            tracing::warn!(
                session,
                seq,
                task,
                attempt,
                reason,
                delay_ms,
                "task retrying"
            );
        }
        EventBody::ProviderFallback {
            task,
            from,
            to,
            reason,
        } => {
            tracing::warn!(session, seq, task, from, to, reason, "provider fallback");
        }
        EventBody::PathRefused {
            path,
            agent,
            reason,
        } => {
            tracing::warn!(session, seq, path, agent, reason, "path refused");
        }
        EventBody::ConflictResolved {
            conflict,
            option,
            decided_by,
            ..
        } => {
            tracing::info!(
                session,
                seq,
                conflict,
                option,
                ?decided_by,
                "conflict resolved"
            );
        }
        EventBody::TestRun {
            round,
            command,
            passed,
            failed,
            status,
            ..
        } => {
            tracing::info!(
                session,
                seq,
                round,
                command,
                passed,
                failed,
                ?status,
                "test run"
            );
        }
        EventBody::CommitCreated { sha, repo, files } => {
            tracing::info!(
                session,
                seq,
                sha,
                repo,
                files = files.len(),
                "commit created"
            );
        }
        EventBody::SessionFinished {
            status,
            tokens_in,
            tokens_out,
            ..
        } => {
            tracing::info!(
                session,
                seq,
                ?status,
                tokens_in,
                tokens_out,
                "session finished"
            );
        }
        EventBody::Error { message } => tracing::error!(session, seq, message, "session error"),
        // The rest at debug, named: a new kind is placed here on purpose.
        EventBody::SessionResumed { .. }
        | EventBody::QuestionAsked { .. }
        | EventBody::QuestionAnswered { .. }
        | EventBody::TaskQueued { .. }
        | EventBody::TaskStarted { .. }
        | EventBody::TaskPaused { .. }
        | EventBody::TaskCancelled { .. }
        | EventBody::TaskFinished { .. }
        | EventBody::BudgetWarning { .. }
        | EventBody::BudgetExhausted { .. }
        | EventBody::ConflictDetected { .. }
        | EventBody::VoteCast { .. }
        | EventBody::DecisionOverridden { .. }
        | EventBody::FileStaged { .. }
        | EventBody::SetupRun { .. }
        | EventBody::RepairDeclined { .. }
        | EventBody::TaskSummary { .. }
        | EventBody::Finding { .. } => tracing::debug!(session, seq, kind, "event"),
    }
}
