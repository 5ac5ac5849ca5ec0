//! One model call as a child task of the orchestrator: it streams from the
//! agent's provider, retries per the policy of DESIGN.md §3, walks the fallback
//! chain, and reports every step to the actor as a [`CallMsg`]. It never touches
//! the store; the actor records what it reports.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::config::ModelRef;
use crate::llm::health::Health;
use crate::llm::{
    ChatRequest, Chunk, FaultClass, LlmError, RetryPolicy, SharedProvider, Usage, estimate_tokens,
};

/// Most bytes of one reply forwarded as [`CallEvent::Delta`] (1 MiB), and so
/// kept in the transcript and the token stream; the rest of a longer reply
/// still arrives whole in [`CallEvent::Finished`], where the path rules refuse
/// oversized files, but is not copied into the transcript.
pub const TRANSCRIPT_REPLY_BYTES: usize = 1 << 20;

/// The transcript's note where a reply over [`TRANSCRIPT_REPLY_BYTES`] is cut.
pub const TRANSCRIPT_CUT_NOTE: &str =
    "\n[… the rest of this reply (over 1 MiB) is not kept in the transcript …]\n";

/// Timeouts and retry policy of a call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CallPolicy {
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// No byte for this long after the request: as a dropped connection.
    pub first_byte_timeout: Duration,
    /// No byte for this long between chunks: as a dropped connection.
    pub idle_timeout: Duration,
}

impl CallPolicy {
    /// The policy a provider's settings give (DESIGN.md §3 defaults).
    pub fn for_provider(spec: &crate::config::ProviderSpec) -> Self {
        CallPolicy {
            retry: RetryPolicy {
                max_retries: spec.max_retries,
                base: Duration::from_millis(spec.backoff_ms),
                cap: Duration::from_secs(30),
            },
            first_byte_timeout: Duration::from_secs(spec.first_byte_timeout_s),
            idle_timeout: Duration::from_secs(spec.idle_timeout_s),
        }
    }
}

/// One model of a task's chain: the primary, then each fallback.
#[derive(Clone)]
pub struct Link {
    /// The provider.
    pub provider: SharedProvider,
    /// Which provider and model.
    pub model: ModelRef,
    /// Its timeouts and retries.
    pub policy: CallPolicy,
    /// Its circuit breaker and unauthorised mark, shared by every call.
    pub health: Arc<Health>,
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            retry: RetryPolicy::default(),
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// What a call reports.
#[derive(Clone, Debug, PartialEq)]
pub enum CallEvent {
    /// Streamed text.
    Delta(String),
    /// An attempt failed after streaming some text, which is discarded.
    Discarded {
        /// The attempt's error, as [`LlmError`]'s `Display` (e.g. `HTTP 503: …`).
        reason: String,
    },
    /// An attempt failed; retry number `attempt` follows after `delay`.
    Retrying {
        /// The retry's number for the current model, from 1 up to [`RetryPolicy::max_retries`].
        attempt: u32,
        /// The failed attempt's error, as [`LlmError`]'s `Display`.
        reason: String,
        /// The wait before the retry: [`RetryPolicy::delay`] (jittered backoff or the server's
        /// `retry-after`, capped).
        delay: Duration,
    },
    /// Moving to the next model of the fallback chain.
    Fallback {
        /// The model given up on, as `provider:model`.
        from: String,
        /// The next model of the chain, as `provider:model`.
        to: String,
        /// The last error of `from`, as `provider:model: message`.
        reason: String,
    },
    /// The reply is complete.
    Finished {
        /// The whole reply text, every delta joined.
        text: String,
        /// Token counts the provider reported, or `estimate_tokens` estimates when it sent none.
        usage: Usage,
        /// The model of the chain that answered (the primary or a fallback).
        model: ModelRef,
    },
    /// Every attempt and fallback failed (or a fatal error ended the call).
    Failed {
        /// Why, as `provider:model: message` (or `no provider configured` for an empty chain).
        error: String,
    },
}

/// A report from a call, tagged with the task and the call's generation so the
/// actor can drop reports of calls it has since abandoned.
#[derive(Clone, Debug, PartialEq)]
pub struct CallMsg {
    /// The task.
    pub task: String,
    /// The call's generation (the task's start counter).
    pub generation: u64,
    /// What happened.
    pub event: CallEvent,
}

/// A random number in `[0, 1)` for backoff jitter (std's randomly seeded hasher).
fn jitter() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs one call through `chain` (primary first, then fallbacks). Returns when
/// it has sent `Finished` or `Failed`, or silently when `cancel` fires.
pub async fn run(
    task: String,
    generation: u64,
    chain: Vec<Link>,
    request: ChatRequest,
    tx: UnboundedSender<CallMsg>,
    cancel: CancellationToken,
) {
    let send = |event: CallEvent| {
        let _ = tx.send(CallMsg {
            task: task.clone(),
            generation,
            event,
        });
    };
    let mut last_error = String::from("no provider configured");
    let mut previous: Option<String> = None;
    for link in chain {
        let model = link.model.clone();
        if let Some(from) = previous.take() {
            send(CallEvent::Fallback {
                from,
                to: model.to_string(),
                reason: last_error.clone(),
            });
        }
        let policy = link.policy;
        let mut attempt = 0u32;
        loop {
            if let Err(e) = link.health.check() {
                last_error = format!("{model}: {e}");
                previous = Some(model.to_string());
                break;
            }
            let mut req = request.clone();
            req.model = model.model.clone();
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return,
                outcome = attempt_once(&link.provider, req, &policy, &send) => outcome,
            };
            match outcome {
                Ok((text, usage)) => {
                    link.health.success();
                    send(CallEvent::Finished {
                        text,
                        usage,
                        model: model.clone(),
                    });
                    return;
                }
                Err((error, streamed)) => {
                    let opened = link.health.failure(&error);
                    let reason = error.to_string();
                    if streamed {
                        send(CallEvent::Discarded {
                            reason: reason.clone(),
                        });
                    }
                    match error.class() {
                        FaultClass::Retry if attempt < policy.retry.max_retries && !opened => {
                            attempt += 1;
                            let delay = policy.retry.delay(attempt, jitter(), error.retry_after());
                            send(CallEvent::Retrying {
                                attempt,
                                reason,
                                delay,
                            });
                            tokio::select! {
                                _ = cancel.cancelled() => return,
                                _ = tokio::time::sleep(delay) => {}
                            }
                        }
                        FaultClass::Retry | FaultClass::Unauthorized => {
                            last_error = if opened {
                                format!("{model}: {reason}; circuit opened")
                            } else {
                                format!("{model}: {reason}")
                            };
                            previous = Some(model.to_string());
                            break;
                        }
                        FaultClass::Fatal => {
                            send(CallEvent::Failed {
                                error: format!("{model}: {reason}"),
                            });
                            return;
                        }
                    }
                }
            }
        }
    }
    send(CallEvent::Failed { error: last_error });
}

/// One attempt: streams the reply, forwarding deltas. On failure returns the
/// error and whether any text had been streamed.
async fn attempt_once(
    provider: &SharedProvider,
    request: ChatRequest,
    policy: &CallPolicy,
    send: &impl Fn(CallEvent),
) -> Result<(String, Usage), (LlmError, bool)> {
    let input_estimate: u64 = request
        .messages
        .iter()
        .map(|m| estimate_tokens(&m.content))
        .sum();
    let mut stream = provider.stream(request);
    let mut text = String::new();
    let mut usage: Option<Usage> = None;
    let mut first = true;
    let mut shown = 0usize;
    loop {
        let wait = if first {
            policy.first_byte_timeout
        } else {
            policy.idle_timeout
        };
        let next = match tokio::time::timeout(wait, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                let what = if first {
                    "no first byte"
                } else {
                    "stream idle"
                };
                return Err((
                    LlmError::Timeout(format!("{what} for {} s", wait.as_secs())),
                    !text.is_empty(),
                ));
            }
        };
        first = false;
        match next {
            None => break,
            Some(Ok(Chunk::Text(piece))) => {
                text.push_str(&piece);
                let room = TRANSCRIPT_REPLY_BYTES.saturating_sub(shown);
                if piece.len() <= room {
                    shown += piece.len();
                    send(CallEvent::Delta(piece));
                } else if shown <= TRANSCRIPT_REPLY_BYTES {
                    let mut cut = room;
                    while !piece.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    // Past the limit from now on: the note is sent once.
                    shown = TRANSCRIPT_REPLY_BYTES + 1;
                    send(CallEvent::Delta(format!(
                        "{}{TRANSCRIPT_CUT_NOTE}",
                        &piece[..cut]
                    )));
                }
            }
            Some(Ok(Chunk::Usage(u))) => usage = Some(u),
            Some(Err(e)) => return Err((e, !text.is_empty())),
        }
    }
    let usage = usage.unwrap_or(Usage {
        input_tokens: input_estimate,
        output_tokens: estimate_tokens(&text),
    });
    Ok((text, usage))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::offline::OfflineProvider;
    use crate::llm::offline::script::Script;
    use crate::llm::{CallMeta, TaskKind};

    fn request() -> ChatRequest {
        ChatRequest {
            model: String::new(),
            messages: vec![],
            json: None,
            meta: CallMeta {
                agent: "backend".into(),
                role: "backend".into(),
                phase: "plan".into(),
                task: "plan.backend".into(),
                kind: TaskKind::Plan,
                context: serde_json::json!({"prompt": "Build a todo app"}),
            },
        }
    }

    fn fast() -> CallPolicy {
        CallPolicy {
            retry: RetryPolicy {
                max_retries: 2,
                base: Duration::from_millis(1),
                cap: Duration::from_millis(5),
            },
            ..CallPolicy::default()
        }
    }

    async fn collect(chain: Vec<(SharedProvider, ModelRef)>) -> Vec<CallEvent> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let chain = chain
            .into_iter()
            .map(|(provider, model)| Link {
                provider,
                model,
                policy: fast(),
                health: Arc::new(Health::new()),
            })
            .collect();
        run(
            "t".into(),
            1,
            chain,
            request(),
            tx,
            CancellationToken::new(),
        )
        .await;
        let mut events = Vec::new();
        while let Ok(m) = rx.try_recv() {
            events.push(m.event);
        }
        events
    }

    fn scripted(text: &str) -> SharedProvider {
        Arc::new(OfflineProvider::new(
            "sim",
            Some(Script::parse(text, std::path::Path::new("s.toml")).unwrap()),
        ))
    }

    fn model(p: &str) -> ModelRef {
        ModelRef {
            provider: p.into(),
            model: "m".into(),
        }
    }

    #[tokio::test]
    async fn retries_then_succeeds() {
        let p = scripted("[[reply]]\nerror = { status = 503, message = \"busy\" }\n");
        let events = collect(vec![(p, model("sim"))]).await;
        assert!(matches!(events[0], CallEvent::Retrying { attempt: 1, .. }));
        assert!(matches!(events.last(), Some(CallEvent::Finished { .. })));
    }

    #[tokio::test]
    async fn exhausted_retries_fall_back_and_fatal_errors_do_not() {
        let bad = scripted("[[reply]]\nerror = { status = 500 }\ntimes = 0\n");
        let good = scripted("");
        let events = collect(vec![(bad, model("a")), (good, model("b"))]).await;
        let retries = events
            .iter()
            .filter(|e| matches!(e, CallEvent::Retrying { .. }))
            .count();
        assert_eq!(retries, 2);
        assert!(events.iter().any(
            |e| matches!(e, CallEvent::Fallback { from, to, .. } if from == "a:m" && to == "b:m")
        ));
        assert!(
            matches!(events.last(), Some(CallEvent::Finished { model, .. }) if model.provider == "b")
        );

        let fatal = scripted("[[reply]]\nerror = { status = 400, message = \"bad request\" }\n");
        let events = collect(vec![(fatal, model("a")), (scripted(""), model("b"))]).await;
        assert_eq!(events.len(), 1);
        assert!(matches!(&events[0], CallEvent::Failed { error } if error.contains("bad request")));
    }

    #[tokio::test]
    async fn a_huge_reply_is_finished_whole_but_forwarded_only_in_part() {
        let p =
            scripted("[[reply]]\ntext = \"@F@\"\nfill = { marker = \"@F@\", bytes = 3000000 }\n");
        let events = collect(vec![(p, model("a"))]).await;
        let forwarded: usize = events
            .iter()
            .map(|e| match e {
                CallEvent::Delta(t) => t.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(
            forwarded,
            TRANSCRIPT_REPLY_BYTES + TRANSCRIPT_CUT_NOTE.len()
        );
        assert!(
            matches!(events.last(), Some(CallEvent::Finished { text, .. }) if text.len() == 3_000_000)
        );
    }

    #[tokio::test]
    async fn unauthorised_skips_retries() {
        let p = scripted("[[reply]]\nerror = { status = 401, message = \"no\" }\n");
        let events = collect(vec![(p, model("a"))]).await;
        assert_eq!(events.len(), 1);
        assert!(matches!(&events[0], CallEvent::Failed { error } if error.contains("401")));
    }
}
