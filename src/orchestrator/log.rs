//! The log file's view of the event stream: each durable event as one
//! tracing line (the milestones at info, trouble at warn or error, the rest at
//! debug), never a prompt's or reply's text, never a key. Called by
//! [`Actor::emit`](super::actor::Actor::emit) for every event it records. The
//! match names every kind, with no catch-all: a new kind must choose its
//! level here.

use crate::protocol::EventBody as E;

/// Writes an event to the log file: the milestones at info, trouble at warn or
/// error, the rest at debug. Never a prompt's or reply's text, never a key.
// One line per kind reads as the table it is; rustfmt would spread each
// pattern over five lines.
#[rustfmt::skip]
#[warn(clippy::wildcard_enum_match_arm)]
pub(crate) fn log_event(session: &str, seq: u64, body: &E) {
    let kind = body.type_name();
    match body {
        E::SessionStarted { dir, workflow, agents, .. } => {
            tracing::info!(session, seq, dir, workflow, agents = agents.len(), "session started");
        }
        E::PhaseStarted { phase, kind } | E::PhaseFinished { phase, kind } => {
            tracing::info!(session, seq, phase, kind, "{}", body.type_name());
        }
        E::TaskFailed { task, error, .. } => {
            tracing::warn!(session, seq, task, error, "task failed");
        }
        E::TaskRetrying { task, attempt, reason, delay_ms } => {
            tracing::warn!(session, seq, task, attempt, reason, delay_ms, "task retrying");
        }
        E::ProviderFallback { task, from, to, reason } => {
            tracing::warn!(session, seq, task, from, to, reason, "provider fallback");
        }
        E::PathRefused { path, agent, reason } => {
            tracing::warn!(session, seq, path, agent, reason, "path refused");
        }
        E::ConflictResolved { conflict, option, decided_by, .. } => {
            tracing::info!(session, seq, conflict, option, ?decided_by, "conflict resolved");
        }
        E::TestRun { round, command, passed, failed, status, .. } => {
            tracing::info!(session, seq, round, command, passed, failed, ?status, "test run");
        }
        E::CommitCreated { sha, repo, files } => {
            tracing::info!(session, seq, sha, repo, files = files.len(), "commit created");
        }
        E::SessionFinished { status, tokens_in, tokens_out, .. } => {
            tracing::info!(session, seq, ?status, tokens_in, tokens_out, "session finished");
        }
        E::Error { message } => tracing::error!(session, seq, message, "session error"),
        E::InstructionsRead { files, cut } => {
            tracing::info!(session, seq, ?files, ?cut, "instructions read");
        }
        E::RepoMap { files, parsed, cached, symbols, shown, tokens } => {
            tracing::info!(session, seq, files, parsed, cached, symbols, shown, tokens, "repository map");
        }
        E::SessionResumed { .. } | E::QuestionAsked { .. } | E::QuestionAnswered { .. }
        | E::TaskQueued { .. } | E::TaskStarted { .. } | E::TaskPaused { .. }
        | E::TaskCancelled { .. } | E::TaskFinished { .. } | E::BudgetWarning { .. }
        | E::BudgetExhausted { .. } | E::ConflictDetected { .. } | E::VoteCast { .. }
        | E::DecisionOverridden { .. } | E::FileStaged { .. } | E::SetupRun { .. }
        | E::RepairDeclined { .. } | E::TaskSummary { .. } | E::Finding { .. } => {
            tracing::debug!(session, seq, kind, "event");
        }
    }
}
