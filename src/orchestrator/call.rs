//! One model call as a child task of the orchestrator: it streams from the
//! agent's provider, retries per the policy of docs/design.md §3, walks the fallback
//! chain, and reports every step to the actor as a [`CallMsg`]. It never touches
//! the store; the actor records what it reports.
//!
//! Streamed text is forwarded at most every [`DELTA_INTERVAL`]: a provider
//! sends an event per word or two (about 140 a second at 200 tokens/s), and
//! each [`CallEvent::Delta`] wakes the actor, the committer and the TUI, and
//! costs a frame. The first text after a quiet
//! spell goes out at once; what arrives within the interval after it waits and
//! goes out as one delta, in order, when the interval is over (meanwhile the
//! stream is not read: the text waits in the connection and is read in one
//! go, all of it, however much: a server far ahead of the reader is caught
//! up with at once, a delta per interval, so the reply's end is forwarded
//! within an interval and the parsing of its last byte, issue 20). Whatever
//! ends an attempt (its end, an error, a timeout, the call's cancellation)
//! first forwards the text already received, so every report after a delta
//! follows all of its text.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
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

/// Shortest time between two [`CallEvent::Delta`]s of one call (50 ms): text
/// arriving sooner after the last delta waits and is forwarded with whatever
/// else arrives by then, as one delta, so a streaming reply is shown 20
/// times a second (about 7 words a time at 200 tokens/s). Over the TUI's
/// frame interval while streaming (`tui::STREAM_FRAME`, 33 ms), so that
/// each delta finds its frame due and is drawn as it arrives. Each delta
/// costs a frame (0.5 ms of the TUI's thread at 120x40) and the wake-ups of
/// the actor, the committer and the TUI: issue 7's budget (under 3 % of a
/// core at 200 tokens/s) was missed at 35 ms (3.3 %, 28 frames a second)
/// and is met at 50 ms (2.7 %).
pub const DELTA_INTERVAL: Duration = Duration::from_millis(50);

mod outbox;
use outbox::Outbox;

/// What an attempt has received so far.
#[derive(Debug, Default)]
struct Reply {
    text: String,
    usage: Option<Usage>,
    /// Bytes of text handed to the outbox (past [`TRANSCRIPT_REPLY_BYTES`]:
    /// that limit + 1, once the cut note went).
    shown: usize,
    /// Most bytes of text ([`CallPolicy::max_reply_bytes`]).
    cap: usize,
    /// The provider's name, for the cap's message.
    provider: String,
    /// Bytes of reasoning received: they count toward the cap, never the text.
    thought: usize,
}

impl Reply {
    /// `Ok` when `more` bytes of text still fit the cap with what came.
    fn fits(&self, more: usize) -> Result<(), LlmError> {
        if self.text.len() + self.thought + more <= self.cap {
            return Ok(());
        }
        Err(LlmError::ReplyTooLarge(format!(
            "the reply passed {} bytes (providers.{}.max_reply_bytes); the stream was cut",
            self.cap, self.provider
        )))
    }

    /// Takes one item of the stream: `Ok(true)` to go on, `Ok(false)` at its
    /// end, `Err` for the stream's error, or [`LlmError::ReplyTooLarge`] when
    /// the text would pass the cap (the piece is dropped, so the text never
    /// holds more than the cap). Text goes to `outbox` up to
    /// [`TRANSCRIPT_REPLY_BYTES`], then the cut note once.
    fn take(
        &mut self,
        item: Option<Result<Chunk, LlmError>>,
        outbox: &mut Outbox,
    ) -> Result<bool, LlmError> {
        match item {
            None => Ok(false),
            Some(Ok(Chunk::Reasoning(piece))) => {
                self.thought += piece.len();
                self.fits(0)?;
                if self.thought <= TRANSCRIPT_REPLY_BYTES {
                    outbox.reasoning.push_str(&piece);
                }
                Ok(true)
            }
            Some(Ok(Chunk::Text(piece))) => {
                self.fits(piece.len())?;
                self.text.push_str(&piece);
                let room = TRANSCRIPT_REPLY_BYTES.saturating_sub(self.shown);
                if piece.len() <= room {
                    self.shown += piece.len();
                    outbox.add(&piece);
                } else if self.shown <= TRANSCRIPT_REPLY_BYTES {
                    let mut cut = room;
                    while !piece.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    // Past the limit from now on: the note is sent once.
                    self.shown = TRANSCRIPT_REPLY_BYTES + 1;
                    outbox.add(&piece[..cut]);
                    outbox.add(TRANSCRIPT_CUT_NOTE);
                }
                Ok(true)
            }
            Some(Ok(Chunk::Usage(u))) => {
                self.usage = Some(u);
                Ok(true)
            }
            Some(Err(e)) => Err(e),
        }
    }
}

/// Timeouts and retry policy of a call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CallPolicy {
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// No byte for this long after the request: as a dropped connection.
    pub first_byte_timeout: Duration,
    /// No byte for this long between chunks: as a dropped connection.
    pub idle_timeout: Duration,
    /// Most bytes of one reply's text: past it the stream is cut and the
    /// attempt fails with [`LlmError::ReplyTooLarge`].
    pub max_reply_bytes: usize,
    /// Most time of one attempt, from its request to its last byte: past it
    /// the stream is cut and the attempt fails with [`LlmError::CallTimeout`].
    pub call_timeout: Duration,
}

impl CallPolicy {
    /// The policy a provider's settings give (docs/design.md §3 defaults).
    pub fn for_provider(spec: &crate::config::ProviderSpec) -> Self {
        CallPolicy {
            retry: RetryPolicy {
                max_retries: spec.max_retries,
                base: Duration::from_millis(spec.backoff_ms),
                cap: Duration::from_secs(30),
            },
            first_byte_timeout: Duration::from_secs(spec.first_byte_timeout_s),
            idle_timeout: Duration::from_secs(spec.idle_timeout_s),
            max_reply_bytes: usize::try_from(spec.max_reply_bytes).unwrap_or(usize::MAX),
            call_timeout: Duration::from_secs(spec.call_timeout_s),
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
            max_reply_bytes: 4 << 20,
            call_timeout: Duration::from_secs(900),
        }
    }
}

/// What a call reports.
#[derive(Clone, Debug, PartialEq)]
pub enum CallEvent {
    /// Streamed text: what arrived since the previous delta, at most one
    /// delta every [`DELTA_INTERVAL`].
    Delta(String),
    /// Streamed reasoning ([`Chunk::Reasoning`]), paced as the text and
    /// sent before it: shown, never part of the reply.
    Reasoning(String),
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
/// it has sent `Finished` or `Failed`, or when `cancel` fires, after
/// forwarding the text that arrived before it (nothing else).
pub async fn run(
    task: String,
    generation: u64,
    chain: Vec<Link>,
    request: ChatRequest,
    tx: UnboundedSender<CallMsg>,
    cancel: CancellationToken,
) {
    run_with_interval(task, generation, chain, request, tx, cancel, DELTA_INTERVAL).await;
}

/// [`run`] forwarding text at most every `interval` instead of every
/// [`DELTA_INTERVAL`]. `Duration::ZERO` forwards what each read of the
/// stream brings at once, never holding it: for a consumer to which a delta
/// costs next to nothing (`quorum ask` writes it to stdout), where the hold
/// would only delay the text, and the call's end, by up to an interval.
pub async fn run_with_interval(
    task: String,
    generation: u64,
    chain: Vec<Link>,
    request: ChatRequest,
    tx: UnboundedSender<CallMsg>,
    cancel: CancellationToken,
    interval: Duration,
) {
    let send = |event: CallEvent| {
        let _ = tx.send(CallMsg {
            task: task.clone(),
            generation,
            event,
        });
    };
    let mut outbox = Outbox {
        interval,
        ..Outbox::default()
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
                _ = cancel.cancelled() => None,
                outcome = attempt_once(&link.provider, req, &policy, &mut outbox, &send) => Some(outcome),
            };
            let Some(outcome) = outcome else {
                outbox.flush(&send);
                return;
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
                        FaultClass::Retry | FaultClass::Unauthorized | FaultClass::Bounded => {
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

/// One attempt: streams the reply, forwarding its text through `outbox`
/// (all of it before returning). On failure returns the error and whether any
/// text had been streamed.
///
/// While text waits for its delta the stream is not read: what the server
/// sends meanwhile stays in the connection's buffers (a wake-up of the
/// runtime per network packet, no task run for it). When the delta is due,
/// [`drain`] takes all of it, then the delta goes out with the text that
/// waited; when nothing waits, the next item is awaited.
async fn attempt_once(
    provider: &SharedProvider,
    request: ChatRequest,
    policy: &CallPolicy,
    outbox: &mut Outbox,
    send: &impl Fn(CallEvent),
) -> Result<(String, Usage), (LlmError, bool)> {
    let input_estimate: u64 = request
        .messages
        .iter()
        .map(|m| estimate_tokens(&m.content))
        .sum();
    let mut stream = provider.stream(request);
    let mut reply = Reply {
        cap: policy.max_reply_bytes,
        provider: provider.name().to_string(),
        ..Reply::default()
    };
    let mut first = true;
    // One timer each, moved rather than made anew per chunk.
    let idle = tokio::time::sleep(policy.first_byte_timeout);
    tokio::pin!(idle);
    let deadline = tokio::time::sleep(policy.call_timeout);
    tokio::pin!(deadline);
    let hold = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(hold);
    let late = || {
        LlmError::CallTimeout(format!(
            "the call passed {} s (providers.{}.call_timeout_s); the stream was cut",
            policy.call_timeout.as_secs(),
            provider.name()
        ))
    };
    let outcome = 'read: loop {
        match outbox.due() {
            Some(at) if at > Instant::now() => {
                if hold.deadline() != at {
                    hold.as_mut().reset(at);
                }
                hold.as_mut().await;
            }
            Some(_) => {}
            None => {
                let item = tokio::select! {
                    biased;
                    item = stream.next() => item,
                    () = &mut idle => {
                        let (what, wait) = if first {
                            ("no first byte", policy.first_byte_timeout)
                        } else {
                            ("stream idle", policy.idle_timeout)
                        };
                        break 'read Err(LlmError::Timeout(format!(
                            "{what} for {} s",
                            wait.as_secs()
                        )));
                    }
                    () = &mut deadline => break 'read Err(late()),
                };
                first = false;
                idle.as_mut().reset(Instant::now() + policy.idle_timeout);
                match reply.take(item, outbox) {
                    // The next turn forwards it at once or holds it.
                    Ok(true) => continue 'read,
                    Ok(false) => break 'read Ok(()),
                    Err(e) => break 'read Err(e),
                }
            }
        }
        // Due: what already arrived joins the text waiting, as one delta.
        let (drained, took) =
            drain(&mut stream, &mut reply, outbox, send, deadline.deadline()).await;
        if took {
            idle.as_mut().reset(Instant::now() + policy.idle_timeout);
        }
        match drained {
            // Unless a delta went out during the drain: then the text
            // read since waits for its interval.
            Drained::Empty if outbox.due().is_some_and(|at| at <= Instant::now()) => {
                outbox.flush(send);
            }
            Drained::Empty => {}
            Drained::End(result) => break 'read result,
            Drained::Late => break 'read Err(late()),
        }
    };
    outbox.flush(send);
    let Reply {
        text,
        usage,
        thought,
        ..
    } = reply;
    match outcome {
        Ok(()) => {
            let usage = usage.unwrap_or(Usage {
                input_tokens: input_estimate,
                output_tokens: estimate_tokens(&text),
                ..Usage::default()
            });
            Ok((text, usage))
        }
        Err(e) => {
            let streamed = !text.is_empty() || thought > 0;
            Err((e, streamed))
        }
    }
}

/// How a [`drain`] ended.
#[derive(Debug, PartialEq)]
enum Drained {
    /// Nothing more had arrived: the stream would wait for the network.
    Empty,
    /// The stream ended (`Ok`) or failed, or the reply passed its cap.
    End(Result<(), LlmError>),
    /// The attempt's deadline passed while the stream was being read.
    Late,
}

/// How long a [`drain`] that is being handed a backlog waits for the next
/// item once none is ready (1 ms, the timer's grain): the task that reads
/// the connection, on another worker thread perhaps, may still be reading
/// the socket. A stream that in fact waits for the network costs its delta
/// this much delay, and a timer.
const HANDOVER: Duration = Duration::from_millis(1);

/// Takes every item of `stream` that already arrived into `reply` (and its
/// text into `outbox`); returns how it ended and whether it took any item.
/// When no item is ready it yields once, so that the task that reads the
/// connection for the stream (an HTTP body is read from the socket by the
/// connection's task when asked for) can hand over what sits in the
/// socket; when there is still none it ends, unless items came after an
/// earlier yield (the connection is handing over a backlog): then it waits
/// up to [`HANDOVER`] for the next. A backlog longer than an interval (a
/// server far ahead of the reader) is read on: its text goes out a delta
/// per interval as it is read, with a yield after each, and the drain ends
/// only once the backlog is taken, so the stream's end is forwarded when
/// its last byte is read, never an interval later.
async fn drain(
    stream: &mut futures::stream::BoxStream<'static, Result<Chunk, LlmError>>,
    reply: &mut Reply,
    outbox: &mut Outbox,
    send: &impl Fn(CallEvent),
    deadline: Instant,
) -> (Drained, bool) {
    use futures::FutureExt;
    // Without an interval the text goes out after each drain anyway, and
    // the next item is awaited: nothing to yield or wait for.
    let paced = !outbox.interval.is_zero();
    let (mut took, mut yielded, mut handed) = (false, !paced, false);
    let mut flush_at = Instant::now() + outbox.interval;
    loop {
        let next = match stream.next().now_or_never() {
            Some(item) => Some(item),
            None if !yielded => {
                yielded = true;
                tokio::task::yield_now().await;
                continue;
            }
            None if handed => tokio::time::timeout(HANDOVER, stream.next()).await.ok(),
            None => None,
        };
        let Some(item) = next else {
            return (Drained::Empty, took);
        };
        handed |= paced && yielded;
        (took, yielded) = (true, !paced);
        match reply.take(item, outbox) {
            Ok(true) => {}
            Ok(false) => return (Drained::End(Ok(())), took),
            Err(e) => return (Drained::End(Err(e)), took),
        }
        if paced && Instant::now() >= flush_at {
            outbox.flush(send);
            flush_at = Instant::now() + outbox.interval;
            if Instant::now() >= deadline {
                return (Drained::Late, took);
            }
            // The actor, and a cancellation, get their turn.
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::{CallMeta, TaskKind};
    use crate::sim::OfflineProvider;
    use crate::sim::script::Script;

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
                inputs: Some(crate::protocol::inputs::TaskInputs::Plan(
                    crate::protocol::inputs::PlanInput {
                        shared: crate::protocol::inputs::Shared {
                            prompt: "Build a todo app".into(),
                            ..Default::default()
                        },
                    },
                )),
            },
            reasoning: Default::default(),
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
    async fn a_reply_past_its_cap_is_cut_not_retried_and_falls_back() {
        let huge =
            scripted("[[reply]]\ntext = \"@F@\"\nfill = { marker = \"@F@\", bytes = 3000000 }\n");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let capped = CallPolicy {
            max_reply_bytes: 512 << 10,
            ..fast()
        };
        let chain = vec![
            Link {
                provider: huge,
                model: model("a"),
                policy: capped,
                health: Arc::new(Health::new()),
            },
            Link {
                provider: scripted(""),
                model: model("b"),
                policy: capped,
                health: Arc::new(Health::new()),
            },
        ];
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
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, CallEvent::Retrying { .. })),
            "{events:?}"
        );
        // What the first model streamed, before the fallback.
        let forwarded: usize = events
            .iter()
            .take_while(|e| !matches!(e, CallEvent::Fallback { .. }))
            .map(|e| match e {
                CallEvent::Delta(t) => t.len(),
                _ => 0,
            })
            .sum();
        assert!(forwarded <= 512 << 10, "{forwarded}");
        assert!(events.iter().any(|e| matches!(e, CallEvent::Fallback { reason, .. }
            if reason.contains("reply too large") && reason.contains("providers.sim.max_reply_bytes"))));
        assert!(
            matches!(events.last(), Some(CallEvent::Finished { model, .. }) if model.provider == "b")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_total_time_is_cut() {
        // Text every 500 ms for 100 s: never idle, never finished.
        let script: Sends = (0..200).map(|i| text(i * 500, "x")).collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let link = Link {
            provider: Arc::new(Timed(std::sync::Mutex::new(Some(script)))),
            model: model("timed"),
            policy: CallPolicy {
                call_timeout: Duration::from_secs(3),
                ..fast()
            },
            health: Arc::new(Health::new()),
        };
        let start = Instant::now();
        run(
            "t".into(),
            1,
            vec![link],
            request(),
            tx,
            CancellationToken::new(),
        )
        .await;
        assert!(start.elapsed() < Duration::from_secs(4));
        let mut events = Vec::new();
        while let Ok(m) = rx.try_recv() {
            events.push(m.event);
        }
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, CallEvent::Retrying { .. }))
        );
        assert!(
            matches!(events.last(), Some(CallEvent::Failed { error })
                if error.contains("call timeout") && error.contains("providers.timed.call_timeout_s")),
            "{events:?}"
        );
    }

    #[tokio::test]
    async fn unauthorised_skips_retries() {
        let p = scripted("[[reply]]\nerror = { status = 401, message = \"no\" }\n");
        let events = collect(vec![(p, model("a"))]).await;
        assert_eq!(events.len(), 1);
        assert!(matches!(&events[0], CallEvent::Failed { error } if error.contains("401")));
    }

    /// A provider whose one reply is sent by a "server" task at set times
    /// (milliseconds from the call's start) into a channel, as a socket
    /// would hold it: what was sent is ready to read at once.
    struct Timed(std::sync::Mutex<Option<Sends>>);

    /// Items of a reply, each with the milliseconds from the call's start
    /// at which it is sent.
    type Sends = Vec<(u64, Result<Chunk, LlmError>)>;

    impl crate::llm::Provider for Timed {
        fn name(&self) -> &str {
            "timed"
        }

        fn label(&self) -> String {
            "timed".into()
        }

        fn stream(
            &self,
            _request: ChatRequest,
        ) -> futures::stream::BoxStream<'static, Result<Chunk, LlmError>> {
            let script = self.0.lock().unwrap().take().unwrap_or_default();
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let start = Instant::now();
            tokio::spawn(async move {
                for (at, item) in script {
                    tokio::time::sleep_until(start + Duration::from_millis(at)).await;
                    let _ = tx.send(item);
                }
            });
            futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .boxed()
        }
    }

    /// A provider whose reply waits, whole, behind a task that hands it
    /// over an item at a time when asked (a channel of one place), as an
    /// HTTP body waits in the socket for the connection's task: the first
    /// item at once, the rest from `rest_at` ms on.
    struct Behind(std::sync::Mutex<Option<(Vec<String>, u64)>>);

    impl crate::llm::Provider for Behind {
        fn name(&self) -> &str {
            "behind"
        }

        fn label(&self) -> String {
            "behind".into()
        }

        fn stream(
            &self,
            _request: ChatRequest,
        ) -> futures::stream::BoxStream<'static, Result<Chunk, LlmError>> {
            let (pieces, rest_at) = self.0.lock().unwrap().take().unwrap_or_default();
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            let start = Instant::now();
            tokio::spawn(async move {
                for (i, piece) in pieces.into_iter().enumerate() {
                    if i == 1 {
                        tokio::time::sleep_until(start + Duration::from_millis(rest_at)).await;
                    }
                    if tx.send(Ok(Chunk::Text(piece))).await.is_err() {
                        return;
                    }
                }
            });
            futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .boxed()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_delta_takes_everything_that_arrived_even_behind_another_task() {
        let pieces: Vec<String> = (0..1000).map(|i| format!("{i} ")).collect();
        let whole: String = pieces.concat();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let link = Link {
            provider: Arc::new(Behind(std::sync::Mutex::new(Some((pieces, 5))))),
            model: model("behind"),
            policy: fast(),
            health: Arc::new(Health::new()),
        };
        let start = Instant::now();
        tokio::spawn(run(
            "t".into(),
            1,
            vec![link],
            request(),
            tx,
            CancellationToken::new(),
        ));
        let mut events = Vec::new();
        while let Some(m) = rx.recv().await {
            events.push((start.elapsed().as_millis() as u64, m.event));
        }
        // The first piece at once; the 999 that arrived by 5 ms all in the
        // delta due an interval later (not a piece per interval).
        let i = interval();
        assert_eq!(events[0], delta(0, "0 "));
        assert_eq!(events[1], delta(i, &whole[2..]));
        assert!(
            matches!(&events[2], (t, CallEvent::Finished { text, .. }) if *t == i && *text == whole),
            "{:?}",
            &events[2..]
        );
    }

    /// A reply `items` long whose every item is already there, then a
    /// stream that never ends nor yields another item; it counts its polls.
    fn ready_then_pending(
        items: usize,
        polls: Arc<std::sync::atomic::AtomicUsize>,
    ) -> futures::stream::BoxStream<'static, Result<Chunk, LlmError>> {
        futures::stream::iter((0..items).map(|i| Ok(Chunk::Text(format!("{i} ")))))
            .chain(futures::stream::pending())
            .boxed()
            .counted(polls)
    }

    /// Counts the polls of a stream.
    trait Counted {
        fn counted(
            self,
            polls: Arc<std::sync::atomic::AtomicUsize>,
        ) -> futures::stream::BoxStream<'static, Result<Chunk, LlmError>>;
    }

    impl Counted for futures::stream::BoxStream<'static, Result<Chunk, LlmError>> {
        fn counted(
            mut self,
            polls: Arc<std::sync::atomic::AtomicUsize>,
        ) -> futures::stream::BoxStream<'static, Result<Chunk, LlmError>> {
            futures::stream::poll_fn(move |cx| {
                polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.poll_next_unpin(cx)
            })
            .boxed()
        }
    }

    fn outbox() -> Outbox {
        Outbox {
            interval: DELTA_INTERVAL,
            ..Outbox::default()
        }
    }

    fn reply() -> Reply {
        Reply {
            cap: usize::MAX,
            ..Reply::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_takes_every_item_already_there_in_one_read() {
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut stream = ready_then_pending(5000, Arc::clone(&polls));
        let whole: String = (0..5000).map(|i| format!("{i} ")).collect();
        let (mut reply, mut outbox) = (reply(), outbox());
        let sent = std::sync::Mutex::new(Vec::new());
        let send = |e: CallEvent| sent.lock().unwrap().push(e);
        let far = Instant::now() + Duration::from_secs(60);
        let (drained, took) = drain(&mut stream, &mut reply, &mut outbox, &send, far).await;
        assert_eq!((drained, took), (Drained::Empty, true));
        // All of it, still waiting for its delta (the caller sends it), and
        // the stream polled once per item and twice when it had none left
        // (before and after one yield): no busy polling.
        assert_eq!(outbox.pending, whole);
        assert_eq!(reply.text, whole);
        assert!(sent.lock().unwrap().is_empty());
        assert_eq!(polls.load(std::sync::atomic::Ordering::SeqCst), 5002);
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_waits_for_a_backlog_handed_over_slower_than_one_yield() {
        // 300 items: the first there at once, the second after one empty
        // poll (a yield hands it over), every later one only after two (as
        // from a connection task on another worker thread), then the end.
        // One drain takes them all, where ending at the first empty poll
        // after a yield would have taken two.
        let (mut sent, mut pending) = (0u32, 0u32);
        let mut stream: futures::stream::BoxStream<'static, Result<Chunk, LlmError>> =
            futures::stream::poll_fn(move |cx| {
                if sent == 300 {
                    return std::task::Poll::Ready(None);
                }
                if pending < sent.min(2) {
                    pending += 1;
                    cx.waker().wake_by_ref();
                    return std::task::Poll::Pending;
                }
                (sent, pending) = (sent + 1, 0);
                std::task::Poll::Ready(Some(Ok(Chunk::Text("x".into()))))
            })
            .boxed();
        let (mut reply, mut outbox) = (reply(), outbox());
        let send = |_: CallEvent| {};
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        let (drained, took) = drain(&mut stream, &mut reply, &mut outbox, &send, far).await;
        assert_eq!((drained, took), (Drained::End(Ok(())), true));
        assert_eq!(reply.text.len(), 300);
        // No timer ran out on the way.
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pending_stream_yields_to_the_runtime_and_is_not_polled_in_a_loop() {
        // One item, then nothing for ten seconds, then the end. Paused time
        // moves on only while every task waits: the ten seconds pass only
        // if the call's task waits too. Polled in a loop instead, the
        // stream fails the call after 100 polls rather than hang the test.
        struct Quiet(Arc<std::sync::atomic::AtomicUsize>);
        impl crate::llm::Provider for Quiet {
            fn name(&self) -> &str {
                "quiet"
            }
            fn label(&self) -> String {
                "quiet".into()
            }
            fn stream(
                &self,
                _request: ChatRequest,
            ) -> futures::stream::BoxStream<'static, Result<Chunk, LlmError>> {
                let late = futures::stream::once(async {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    Ok(Chunk::Text("b".into()))
                });
                let polls = Arc::clone(&self.0);
                let mut inner = futures::stream::iter([Ok(Chunk::Text("a".into()))])
                    .chain(late)
                    .boxed();
                futures::stream::poll_fn(move |cx| {
                    if polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 100 {
                        return std::task::Poll::Ready(Some(Err(LlmError::Stream(
                            "polled in a loop".into(),
                        ))));
                    }
                    inner.poll_next_unpin(cx)
                })
                .boxed()
            }
        }
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let link = Link {
            provider: Arc::new(Quiet(Arc::clone(&polls))),
            model: model("quiet"),
            policy: CallPolicy {
                retry: RetryPolicy {
                    max_retries: 0,
                    ..fast().retry
                },
                ..CallPolicy::default()
            },
            health: Arc::new(Health::new()),
        };
        let start = Instant::now();
        tokio::spawn(run(
            "t".into(),
            1,
            vec![link],
            request(),
            tx,
            CancellationToken::new(),
        ));
        let mut events = Vec::new();
        while let Some(m) = rx.recv().await {
            events.push((start.elapsed().as_millis() as u64, m.event));
        }
        assert_eq!(
            events[..2],
            [delta(0, "a"), delta(10_000, "b")],
            "{events:?}"
        );
        assert!(matches!(&events[2], (10_000, CallEvent::Finished { .. })));
        // A handful of polls in all, however long the wait.
        let polls = polls.load(std::sync::atomic::Ordering::SeqCst);
        assert!(polls <= 8, "{polls} polls");
    }

    /// A provider whose reply is all there from the start but takes
    /// `cost_ms` of (paused) time to read per item, as a reader far behind
    /// its server parses a backlog.
    struct Backlog(std::sync::Mutex<Option<(Vec<String>, u64)>>);

    impl crate::llm::Provider for Backlog {
        fn name(&self) -> &str {
            "backlog"
        }

        fn label(&self) -> String {
            "backlog".into()
        }

        fn stream(
            &self,
            _request: ChatRequest,
        ) -> futures::stream::BoxStream<'static, Result<Chunk, LlmError>> {
            let (pieces, cost_ms) = self.0.lock().unwrap().take().unwrap_or_default();
            futures::stream::iter(pieces)
                .then(move |piece| async move {
                    tokio::time::advance(Duration::from_millis(cost_ms)).await;
                    Ok(Chunk::Text(piece))
                })
                .boxed()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_backlog_is_read_on_a_delta_per_interval_and_its_end_goes_at_once() {
        // 400 pieces at 1 ms each: 400 ms of reading, never a pause.
        let pieces: Vec<String> = (0..400).map(|i| format!("{i} ")).collect();
        let whole: String = pieces.concat();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let link = Link {
            provider: Arc::new(Backlog(std::sync::Mutex::new(Some((pieces, 1))))),
            model: model("backlog"),
            policy: fast(),
            health: Arc::new(Health::new()),
        };
        let start = Instant::now();
        tokio::spawn(run(
            "t".into(),
            1,
            vec![link],
            request(),
            tx,
            CancellationToken::new(),
        ));
        let mut events = Vec::new();
        while let Some(m) = rx.recv().await {
            events.push((start.elapsed().as_millis() as u64, m.event));
        }
        let (finished, deltas) = events.split_last().unwrap();
        // The end is forwarded when the last piece is read (400 ms), not
        // after another interval's hold.
        assert!(
            matches!(finished, (400, CallEvent::Finished { text, .. }) if *text == whole),
            "{finished:?}"
        );
        assert_eq!(deltas.last().map(|(t, _)| *t), Some(400));
        // Text went out while the backlog was read, at most a delta per
        // interval (but the last, which ends the call), all of it in order.
        let i = interval();
        assert!(deltas.len() >= 400 / i as usize, "{deltas:?}");
        for pair in deltas[..deltas.len() - 1].windows(2) {
            assert!(pair[1].0 - pair[0].0 >= i, "{pair:?}");
        }
        let forwarded: String = deltas
            .iter()
            .map(|(_, e)| match e {
                CallEvent::Delta(t) => t.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(forwarded, whole);
    }

    fn text(at: u64, t: &str) -> (u64, Result<Chunk, LlmError>) {
        (at, Ok(Chunk::Text(t.into())))
    }

    /// Runs a call of `script` (no retries), cancelled after `cancel_at` ms
    /// if given; returns each report with its time in ms from the start.
    async fn timed(script: Sends, cancel_at: Option<u64>) -> Vec<(u64, CallEvent)> {
        timed_with(script, cancel_at, DELTA_INTERVAL).await
    }

    /// [`timed`] with deltas at most every `interval`.
    async fn timed_with(
        script: Sends,
        cancel_at: Option<u64>,
        interval: Duration,
    ) -> Vec<(u64, CallEvent)> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let link = Link {
            provider: Arc::new(Timed(std::sync::Mutex::new(Some(script)))),
            model: model("timed"),
            policy: CallPolicy {
                retry: RetryPolicy {
                    max_retries: 0,
                    ..fast().retry
                },
                ..CallPolicy::default()
            },
            health: Arc::new(Health::new()),
        };
        let cancel = CancellationToken::new();
        let start = Instant::now();
        if let Some(at) = cancel_at {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(start + Duration::from_millis(at)).await;
                cancel.cancel();
            });
        }
        tokio::spawn(run_with_interval(
            "t".into(),
            1,
            vec![link],
            request(),
            tx,
            cancel,
            interval,
        ));
        let mut events = Vec::new();
        while let Some(m) = rx.recv().await {
            events.push((start.elapsed().as_millis() as u64, m.event));
        }
        events
    }

    /// [`DELTA_INTERVAL`] in ms.
    fn interval() -> u64 {
        DELTA_INTERVAL.as_millis() as u64
    }

    fn delta(at: u64, t: &str) -> (u64, CallEvent) {
        (at, CallEvent::Delta(t.into()))
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_interval_text_is_forwarded_as_it_arrives() {
        let script = vec![text(0, "a"), text(10, "b"), text(20, "c")];
        let events = timed_with(script, None, Duration::ZERO).await;
        assert_eq!(events[..3], [delta(0, "a"), delta(10, "b"), delta(20, "c")]);
        assert!(
            matches!(&events[3], (20, CallEvent::Finished { text, .. }) if text == "abc"),
            "the call ends with its last text, not an interval later: {:?}",
            &events[3..]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn text_arriving_within_the_interval_is_forwarded_as_one_delta() {
        let i = interval();
        let events = timed(
            vec![
                text(0, "a"),
                text(5, "b"),
                text(10, "c"),
                text(20, "d"),
                text(2 * i, "e"),
                text(2 * i + 10, "f"),
            ],
            None,
        )
        .await;
        // The first text goes at once; what follows within the interval
        // waits for its end; text after a quiet interval goes at once again.
        assert_eq!(
            events[..4],
            [
                delta(0, "a"),
                delta(i, "bcd"),
                delta(2 * i, "e"),
                delta(3 * i, "f")
            ]
        );
        assert!(
            matches!(&events[4], (t, CallEvent::Finished { text, .. }) if *t == 3 * i && text == "abcdef"),
            "{events:?}"
        );
        assert_eq!(events.len(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_a_call_forwards_the_text_waiting_before_it_finishes() {
        let i = interval();
        let events = timed(vec![text(0, "one "), text(5, "two")], None).await;
        assert_eq!(events[..2], [delta(0, "one "), delta(i, "two")]);
        assert!(
            matches!(&events[2], (t, CallEvent::Finished { text, .. }) if *t == i && text == "one two"),
            "{events:?}"
        );
        assert_eq!(events.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_attempt_forwards_the_text_waiting_before_it_is_discarded() {
        let events = timed(
            vec![
                text(0, "a"),
                text(5, "b"),
                (10, Err(LlmError::Connection("reset".into()))),
            ],
            None,
        )
        .await;
        let kinds: Vec<_> = events.iter().map(|(_, e)| e.clone()).collect();
        assert_eq!(kinds[..2], [delta(0, "a").1, delta(0, "b").1]);
        assert!(matches!(&kinds[2], CallEvent::Discarded { reason } if reason.contains("reset")));
        assert!(matches!(&kinds[3], CallEvent::Failed { .. }));
        assert_eq!(kinds.len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_call_forwards_the_text_it_received_and_nothing_else() {
        let events = timed(vec![text(0, "a"), text(5, "b"), text(30, "c")], Some(20)).await;
        assert_eq!(events, [delta(0, "a"), delta(20, "b")]);
    }

    #[tokio::test(start_paused = true)]
    async fn no_text_is_lost_or_reordered_and_deltas_keep_their_interval() {
        // 2,000 pieces at seeded random times, often several per millisecond.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut at = 0;
        let mut script = Vec::new();
        let mut whole = String::new();
        for i in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            at += state % 12;
            let piece = format!("{i} ");
            whole.push_str(&piece);
            script.push(text(at, &piece));
        }
        let events = timed(script, None).await;
        let (finished, deltas) = events.split_last().unwrap();
        assert!(matches!(&finished.1, CallEvent::Finished { text, .. } if *text == whole));
        let forwarded: String = deltas
            .iter()
            .map(|(_, e)| match e {
                CallEvent::Delta(t) => t.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(forwarded, whole);
        assert!(deltas.len() < 2000 / 3, "{} deltas", deltas.len());
        for pair in deltas.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= interval(), "{pair:?}");
        }
    }

    /// A provider whose every call streams `chunks`.
    struct Canned(Vec<Chunk>);

    impl crate::llm::Provider for Canned {
        fn name(&self) -> &str {
            "canned"
        }
        fn label(&self) -> String {
            "canned".into()
        }
        fn stream(
            &self,
            _: ChatRequest,
        ) -> futures::stream::BoxStream<'static, Result<Chunk, LlmError>> {
            futures::stream::iter(self.0.clone().into_iter().map(Ok)).boxed()
        }
    }

    #[tokio::test]
    async fn reasoning_is_forwarded_before_the_text_and_is_never_the_reply() {
        let p: SharedProvider = Arc::new(Canned(vec![
            Chunk::Reasoning("The user wants ".into()),
            Chunk::Reasoning("a plan.\n".into()),
            Chunk::Text("{\"summary\": \"ok\"}".into()),
            Chunk::Usage(Usage::default()),
        ]));
        let events = collect(vec![(p, model("a"))]).await;
        let reasoning: String = events
            .iter()
            .filter_map(|e| match e {
                CallEvent::Reasoning(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(reasoning, "The user wants a plan.\n");
        let first_reasoning = events
            .iter()
            .position(|e| matches!(e, CallEvent::Reasoning(_)));
        let first_delta = events.iter().position(|e| matches!(e, CallEvent::Delta(_)));
        assert!(first_reasoning < first_delta, "{events:?}");
        assert!(
            matches!(events.last(), Some(CallEvent::Finished { text, .. }) if text == "{\"summary\": \"ok\"}"),
            "{events:?}"
        );
    }

    #[tokio::test]
    async fn reasoning_counts_toward_the_reply_cap() {
        let p: SharedProvider = Arc::new(Canned(vec![
            Chunk::Reasoning("x".repeat(64)),
            Chunk::Text("{}".into()),
        ]));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let link = Link {
            provider: p,
            model: model("a"),
            policy: CallPolicy {
                max_reply_bytes: 32,
                ..fast()
            },
            health: Arc::new(Health::new()),
        };
        run(
            "t".into(),
            1,
            vec![link],
            request(),
            tx,
            CancellationToken::new(),
        )
        .await;
        let mut last = None;
        while let Ok(m) = rx.try_recv() {
            last = Some(m.event);
        }
        assert!(
            matches!(&last, Some(CallEvent::Failed { error }) if error.contains("max_reply_bytes")),
            "{last:?}"
        );
    }
}
