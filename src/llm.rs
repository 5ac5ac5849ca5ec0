//! LLM providers: the [`Provider`] trait every kind implements, the request and
//! stream types, and the fault classes the retry policy of docs/design.md §3 acts on.
//!
//! A provider turns a [`ChatRequest`] into a stream of [`Chunk`]s (reasoning
//! and text deltas, then usage). Providers know nothing of sessions, stores or the TUI; the
//! orchestrator's call runner drives them, retries, falls back and reports.
//!
//! Transport only: this module imports the vocabulary (`protocol`) and the
//! settings (`config`), never the orchestrator or the simulated team
//! (`sim`, a floor above, which implements [`Provider`] too). The
//! orchestrator's `providers.rs` builds every kind, using [`provider_key`]
//! and [`build_http`] for the HTTP ones.

/// Tokens `text` may take in a prompt, erring high: one per three
/// characters, rounded up, where [`estimate_tokens`] (for usage) counts one
/// per four bytes. Tokenizers average about four characters per token on
/// English prose and fewer on code (OpenAI's "What are tokens and how to
/// count them" help article); three keeps a prompt on the safe side of a
/// context window. The same for every provider: no provider's exact
/// tokenizer is at hand.
pub fn prompt_tokens_upper_bound(text: &str) -> usize {
    text.chars().count().div_ceil(3)
}

pub mod anthropic;
pub mod gemini;
pub mod health;
pub mod http;
pub mod openai;
pub mod probe;
pub mod sse;
pub mod think;

use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub use crate::config::reasoning::{Reasoning, ReasoningEffort};
pub use crate::protocol::documents::JsonOutput;
pub use crate::protocol::{TaskKind, Usage};

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions (the agent's role prompt).
    System,
    /// The task and its inputs.
    User,
    /// An earlier reply of the model.
    Assistant,
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

impl Message {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// Who is calling, and about what.
#[derive(Clone, Debug, PartialEq)]
pub struct CallMeta {
    /// The agent's name.
    pub agent: String,
    /// The agent's role.
    pub role: String,
    /// The phase's name.
    pub phase: String,
    /// The task's id.
    pub task: String,
    /// What the call is for.
    pub kind: TaskKind,
    /// The task's inputs, typed (the messages hold the same as JSON text);
    /// `None` for a call without any (a test's bare request).
    pub inputs: Option<crate::protocol::inputs::TaskInputs>,
}

/// One model call.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    /// The model name on the provider.
    pub model: String,
    /// System prompt, task, and any earlier exchange (a validation retry).
    pub messages: Vec<Message>,
    /// Structured output wanted, if any.
    pub json: Option<JsonOutput>,
    /// Who is calling, and about what.
    pub meta: CallMeta,
    /// The reasoning asked for (the agent's, or its phase's; resolved by the
    /// orchestrator): OpenAI `reasoning_effort`, Anthropic `thinking`, Gemini
    /// `thinkingConfig`. The default sends nothing.
    pub reasoning: Reasoning,
}

/// A piece of a streamed reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Chunk {
    /// Text to append.
    Text(String),
    /// The model's reasoning (OpenAI-compatible `reasoning_content` or
    /// `reasoning`, Anthropic `thinking`, Gemini thought parts, a leading
    /// `<think>` block): shown in the transcript, never part of the reply
    /// that is parsed.
    Reasoning(String),
    /// The call's token counts (usually last).
    Usage(Usage),
}

/// How the call runner reacts to an error (docs/design.md §3, fault table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultClass {
    /// Retry with backoff, then fall back.
    Retry,
    /// No retry; the provider is unauthorised for the session; fall back.
    Unauthorized,
    /// No retry, no fallback: the task fails with the provider's message.
    Fatal,
    /// No retry (the same model would likely run away again); the fallback
    /// is tried and the failure counts toward the circuit breaker: a reply
    /// past its byte cap or a call past its total time (docs/configuration.md,
    /// `max_reply_bytes`, `call_timeout_s`).
    Bounded,
}

/// A failed call. Messages never contain an API key.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The server answered with an HTTP error status.
    #[error("HTTP {status}: {message}")]
    Status {
        /// The HTTP status code, e.g. 429 or 503; it decides the [`FaultClass`].
        status: u16,
        /// The provider's error text, shown after `HTTP <status>: `; never holds an API key.
        message: String,
        /// Delay the server asked for (`retry-after` and friends).
        retry_after: Option<Duration>,
        /// The server's `x-should-retry` header, when it sent one (OpenAI and
        /// Anthropic SDKs obey it over the status code).
        should_retry: Option<bool>,
    },
    /// A quota or spending limit that no retry will lift (OpenAI
    /// `insufficient_quota`, Anthropic `enforced_spend_limit_reached`; see
    /// docs/wire-formats.md §6 #23): the provider is skipped for its fallback.
    #[error("quota exhausted: {0}")]
    Quota(String),
    /// The connection failed or dropped.
    #[error("connection: {0}")]
    Connection(String),
    /// No byte within the first-byte or idle timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The stream carried an error event or a malformed chunk.
    #[error("stream: {0}")]
    Stream(String),
    /// The stream carried an error event that names an HTTP-like status
    /// (Anthropic `overloaded_error` is 529, Gemini `code`): classed by it.
    #[error("stream error {status}: {message}")]
    StreamStatus {
        /// The status the error maps to (e.g. 529 for `overloaded_error`).
        status: u16,
        /// The provider's error text.
        message: String,
    },
    /// The provider cannot be used (misconfiguration, circuit open,
    /// unauthorised earlier in the session).
    #[error("{0}")]
    Unavailable(String),
    /// The reply (its text, or one event of its stream) passed the
    /// provider's `max_reply_bytes`: the stream was cut there. Class
    /// [`FaultClass::Bounded`].
    #[error("reply too large: {0}")]
    ReplyTooLarge(String),
    /// One attempt ran past the provider's `call_timeout_s` from its request
    /// to its last byte: the stream was cut there. Class [`FaultClass::Bounded`].
    #[error("call timeout: {0}")]
    CallTimeout(String),
}

fn status_class(status: u16) -> FaultClass {
    match status {
        408 | 409 | 429 | 500..=599 => FaultClass::Retry,
        401 | 403 => FaultClass::Unauthorized,
        _ => FaultClass::Fatal,
    }
}

impl LlmError {
    /// The fault class of docs/design.md §3's table. `x-should-retry: true` makes any
    /// status retryable; `false` never retries (but still falls back).
    pub fn class(&self) -> FaultClass {
        match self {
            LlmError::Status {
                status,
                should_retry,
                ..
            } => match (status_class(*status), should_retry) {
                (FaultClass::Retry, Some(false)) => FaultClass::Unauthorized,
                (FaultClass::Fatal, Some(true)) => FaultClass::Retry,
                (class, _) => class,
            },
            LlmError::StreamStatus { status, .. } => status_class(*status),
            LlmError::Connection(_) | LlmError::Timeout(_) | LlmError::Stream(_) => {
                FaultClass::Retry
            }
            LlmError::Quota(_) | LlmError::Unavailable(_) => FaultClass::Unauthorized,
            LlmError::ReplyTooLarge(_) | LlmError::CallTimeout(_) => FaultClass::Bounded,
        }
    }

    /// The delay the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::Status { retry_after, .. } => *retry_after,
            LlmError::Quota(_)
            | LlmError::Connection(_)
            | LlmError::Timeout(_)
            | LlmError::Stream(_)
            | LlmError::StreamStatus { .. }
            | LlmError::Unavailable(_)
            | LlmError::ReplyTooLarge(_)
            | LlmError::CallTimeout(_) => None,
        }
    }

    /// `true` for 401 and 403: the provider is unauthorised for the rest of the
    /// session (docs/design.md §3).
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            LlmError::Status {
                status: 401 | 403,
                ..
            }
        )
    }
}

/// A model provider.
pub trait Provider: Send + Sync {
    /// The `[providers.NAME]` name.
    fn name(&self) -> &str;
    /// How it is shown ("offline (simulated)" for the offline kind).
    fn label(&self) -> String;
    /// Starts a call. The stream ends after the last chunk; dropping it cancels
    /// the call (HTTP providers close the connection).
    fn stream(&self, request: ChatRequest) -> BoxStream<'static, Result<Chunk, LlmError>>;
}

/// A shared provider.
pub type SharedProvider = Arc<dyn Provider>;

/// Estimates tokens for text when a provider reports none: one token per four
/// bytes, the rule of thumb OpenAI gives for English text.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// The retry policy of docs/design.md §3: up to `max_retries` retries, exponential
/// backoff from `base` with full jitter, capped at `cap`; a server-given delay wins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff.
    pub base: Duration,
    /// Largest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `attempt` (1-based). `jitter` in `[0, 1)` scales
    /// the exponential delay ("full jitter"); a server-given `retry_after` is
    /// used as is, capped.
    pub fn delay(&self, attempt: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.cap);
        }
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.cap);
        let jitter = jitter.clamp(0.0, 1.0);
        // Keep at least half the delay so retries never hammer the server.
        exp.mul_f64(0.5 + 0.5 * jitter)
    }
}

/// The API key of provider `name`, read from the environment variable its
/// spec names (`env` looks one up); `Ok(None)` when it names none. Errors: the
/// variable is unset or empty (the message names the provider and the variable).
pub fn provider_key(
    name: &str,
    spec: &crate::config::ProviderSpec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<http::Secret>, String> {
    match &spec.api_key_env {
        Some(var) => match env(var).filter(|k| !k.is_empty()) {
            Some(key) => Ok(Some(http::Secret::new(key))),
            None => Err(format!(
                "provider `{name}` needs the environment variable {var}, which is not set"
            )),
        },
        None => Ok(None),
    }
}

/// The HTTP provider of `spec`'s kind with `key`; `Ok(None)` for the offline
/// kind, which is no transport (the simulated team, `sim::OfflineProvider`, built by
/// the orchestrator's `providers.rs`). Errors: the client cannot be built.
pub fn build_http(
    spec: &crate::config::ProviderSpec,
    key: Option<http::Secret>,
) -> Result<Option<SharedProvider>, String> {
    use crate::config::ProviderKind;
    Ok(Some(match spec.kind {
        ProviderKind::Offline => return Ok(None),
        ProviderKind::Openai => Arc::new(openai::OpenAi::new(spec, key)?),
        ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(spec, key)?),
        ProviderKind::Gemini => Arc::new(gemini::Gemini::new(spec, key)?),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_classes_follow_the_design_table() {
        let status = |s| LlmError::Status {
            status: s,
            message: String::new(),
            retry_after: None,
            should_retry: None,
        };
        for s in [408, 409, 429, 500, 503, 529] {
            assert_eq!(status(s).class(), FaultClass::Retry, "{s}");
        }
        for s in [401, 403] {
            assert_eq!(status(s).class(), FaultClass::Unauthorized, "{s}");
        }
        for s in [400, 404, 422] {
            assert_eq!(status(s).class(), FaultClass::Fatal, "{s}");
        }
        assert_eq!(
            LlmError::Connection("reset".into()).class(),
            FaultClass::Retry
        );
        let told = |s, r| LlmError::Status {
            status: s,
            message: String::new(),
            retry_after: None,
            should_retry: Some(r),
        };
        assert_eq!(told(503, false).class(), FaultClass::Unauthorized);
        assert_eq!(told(400, true).class(), FaultClass::Retry);
        assert_eq!(
            LlmError::StreamStatus {
                status: 529,
                message: "Overloaded".into()
            }
            .class(),
            FaultClass::Retry
        );
        assert_eq!(
            LlmError::Quota("none left".into()).class(),
            FaultClass::Unauthorized
        );
        assert_eq!(
            LlmError::ReplyTooLarge("cap".into()).class(),
            FaultClass::Bounded
        );
        assert_eq!(
            LlmError::CallTimeout("cap".into()).class(),
            FaultClass::Bounded
        );
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 1.0, None), Duration::from_millis(500));
        assert_eq!(p.delay(2, 1.0, None), Duration::from_secs(1));
        assert_eq!(p.delay(3, 0.0, None), Duration::from_secs(1));
        assert_eq!(p.delay(20, 1.0, None), Duration::from_secs(30));
        assert_eq!(
            p.delay(1, 0.3, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.delay(1, 0.3, Some(Duration::from_secs(700))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn token_estimates_round_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcde"), 2);
    }
}
