//! What every HTTP provider shares: the reqwest client (rustls), the key held in
//! memory only, the per-provider concurrency permits and requests-per-minute
//! limit, turning an error response into an [`LlmError`] with the delay the
//! server asked for, and turning a 2xx body into a stream of SSE items.
//!
//! Delays honoured, first found wins (docs/wire-formats.md §1.5, §2.4, §3.4):
//! `retry-after-ms`; `retry-after` in seconds or as an HTTP-date; Gemini's
//! `RetryInfo.retryDelay` in the error body; on a 429, the rate-limit reset
//! headers (OpenAI `x-ratelimit-reset-*` as Go durations, Anthropic
//! `anthropic-ratelimit-*-reset` as RFC 3339 times).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::LlmError;
use super::sse::{SseError, SseItem, SseParser};
use crate::config::ProviderSpec;
pub use crate::secrets::Secret;

/// A sliding one-minute window of request starts.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: usize,
    starts: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    /// At most `per_minute` request starts in any 60 s window.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1) as usize,
            starts: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until a request may start, then records its start.
    pub async fn acquire(&self) {
        let window = Duration::from_secs(60);
        loop {
            let wait = {
                let mut starts = self.starts.lock().await;
                let now = Instant::now();
                while starts
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    starts.pop_front();
                }
                if starts.len() < self.per_minute {
                    starts.push_back(now);
                    return;
                }
                starts
                    .front()
                    .map(|t| *t + window - now)
                    .unwrap_or_default()
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One provider's connection settings and shared limits.
#[derive(Debug)]
pub struct Http {
    /// The provider's name (for messages).
    pub name: String,
    client: reqwest::Client,
    /// The key, when the provider has one.
    pub key: Option<Secret>,
    permits: Arc<Semaphore>,
    limiter: Option<RateLimiter>,
    header_timeout: Duration,
    /// Most bytes the SSE parser buffers for one event: twice the
    /// provider's `max_reply_bytes` (JSON escapes) plus 64 KiB (the event's
    /// envelope), so a line without an end is cut (docs/configuration.md).
    event_limit: usize,
}

/// Installs rustls' ring crypto provider once per process (reqwest is built
/// with `rustls-no-provider`; building a client without it panics).
fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Http {
    /// Builds the client for a provider; `key` comes from its `api_key_env`.
    pub fn new(spec: &ProviderSpec, key: Option<Secret>) -> Result<Self, String> {
        install_crypto();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(spec.connect_timeout_s))
            .user_agent(concat!("quorum/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("provider `{}`: cannot build an HTTP client: {e}", spec.name))?;
        Ok(Http {
            name: spec.name.clone(),
            client,
            key,
            permits: Arc::new(Semaphore::new(spec.max_concurrency.max(1))),
            limiter: spec.requests_per_minute.map(RateLimiter::new),
            header_timeout: Duration::from_secs(spec.timeout_s),
            event_limit: usize::try_from(spec.max_reply_bytes.saturating_mul(2) + (64 << 10))
                .unwrap_or(usize::MAX),
        })
    }

    /// `text` with the key redacted.
    pub fn redact(&self, text: &str) -> String {
        match &self.key {
            Some(k) => k.redact(text),
            None => text.to_string(),
        }
    }

    /// POSTs `body` to `url` with `headers` and returns the response body as SSE
    /// items. The concurrency permit is held until the stream is dropped;
    /// dropping it closes the connection. Errors: connection failures, a
    /// timeout before the response headers, and any non-2xx status (with the
    /// provider's message and the delay it asked for).
    pub async fn post_sse(
        &self,
        url: &str,
        headers: Vec<(&'static str, String)>,
        body: &Value,
    ) -> Result<BoxStream<'static, Result<SseItem, LlmError>>, LlmError> {
        let permit: OwnedSemaphorePermit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| {
                LlmError::Unavailable(format!("provider `{}` is shutting down", self.name))
            })?;
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .json(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = match tokio::time::timeout(self.header_timeout, request.send()).await {
            Err(_) => {
                return Err(LlmError::Timeout(format!(
                    "no response within {} s",
                    self.header_timeout.as_secs()
                )));
            }
            Ok(Err(e)) => return Err(LlmError::Connection(self.redact(&transport_message(&e)))),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let headers = response.headers().clone();
            let body = read_limited(response, 64 * 1024).await;
            return Err(error_from_response(status, &headers, &body, |t| {
                self.redact(t)
            }));
        }
        let key = self.key.clone();
        Ok(sse_stream(
            response,
            permit,
            key,
            self.event_limit,
            self.name.clone(),
        ))
    }
}

/// Turns one provider's SSE items into text and usage chunks.
pub trait Decoder: Send + 'static {
    /// One SSE item; returns the chunks it yields. `Ok` with `done = true` in
    /// [`Decoded`] ends the stream (the provider's terminal event).
    fn item(&mut self, item: SseItem) -> Result<Decoded, LlmError>;
    /// The body ended: the last chunks (usage), or an error when the stream
    /// ended before the provider's terminal event (a dropped connection).
    fn end(&mut self) -> Result<Vec<super::Chunk>, LlmError>;
}

/// What a [`Decoder`] made of one item.
#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    /// Chunks to pass on.
    pub chunks: Vec<super::Chunk>,
    /// The provider's terminal event arrived: stop reading.
    pub done: bool,
}

/// Runs `decoder` over a stream of SSE items.
pub fn decode<D: Decoder>(
    items: BoxStream<'static, Result<SseItem, LlmError>>,
    decoder: D,
) -> BoxStream<'static, Result<super::Chunk, LlmError>> {
    struct State<D> {
        items: BoxStream<'static, Result<SseItem, LlmError>>,
        decoder: D,
        ready: VecDeque<super::Chunk>,
        finished: bool,
    }
    let state = State {
        items,
        decoder,
        ready: VecDeque::new(),
        finished: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(chunk) = st.ready.pop_front() {
                return Some((Ok(chunk), st));
            }
            if st.finished {
                return None;
            }
            let step = match st.items.next().await {
                Some(Ok(item)) => st.decoder.item(item).map(|d| {
                    if d.done {
                        st.finished = true;
                        let tail = st.decoder.end().unwrap_or_default();
                        d.chunks.into_iter().chain(tail).collect::<Vec<_>>()
                    } else {
                        d.chunks
                    }
                }),
                Some(Err(e)) => Err(e),
                None => {
                    st.finished = true;
                    st.decoder.end()
                }
            };
            match step {
                Ok(chunks) => st.ready.extend(chunks),
                Err(e) => {
                    st.finished = true;
                    st.ready.clear();
                    return Some((Err(e), st));
                }
            }
        }
    })
    .boxed()
}

/// Starts a POST and decodes its stream; the request is sent when the returned
/// stream is first polled.
pub fn call<D: Decoder>(
    http: Arc<Http>,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Value,
    decoder: D,
) -> BoxStream<'static, Result<super::Chunk, LlmError>> {
    futures::stream::once(async move {
        match http.post_sse(&url, headers, &body).await {
            Ok(items) => decode(items, decoder),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    })
    .flatten()
    .boxed()
}

/// A transport error's message without reqwest's URL noise where possible.
fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

async fn read_limited(response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= limit {
            body.truncate(limit);
            break;
        }
    }
    body
}

/// The body of a 2xx response as SSE items; transport errors mid-body are
/// [`LlmError::Connection`], invalid UTF-8 is [`LlmError::Stream`], an event
/// over `limit` bytes (a line without an end) is [`LlmError::ReplyTooLarge`]
/// naming `provider`'s setting; after an error nothing more is read.
fn sse_stream(
    response: reqwest::Response,
    permit: OwnedSemaphorePermit,
    key: Option<Secret>,
    limit: usize,
    provider: String,
) -> BoxStream<'static, Result<SseItem, LlmError>> {
    struct State {
        bytes: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
        parser: SseParser,
        ready: VecDeque<SseItem>,
        done: bool,
        _permit: OwnedSemaphorePermit,
        key: Option<Secret>,
        provider: String,
    }
    let state = State {
        bytes: response.bytes_stream().boxed(),
        parser: SseParser::with_limit(limit),
        ready: VecDeque::new(),
        done: false,
        _permit: permit,
        key,
        provider,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.ready.pop_front() {
                return Some((Ok(item), st));
            }
            if st.done {
                return None;
            }
            let mut out = Vec::new();
            let result = match st.bytes.next().await {
                Some(Ok(chunk)) => st.parser.feed(&chunk, &mut out),
                Some(Err(e)) => {
                    st.done = true;
                    let msg = transport_message(&e);
                    let msg = st.key.as_ref().map(|k| k.redact(&msg)).unwrap_or(msg);
                    return Some((
                        Err(LlmError::Connection(format!("stream dropped: {msg}"))),
                        st,
                    ));
                }
                None => {
                    st.done = true;
                    st.parser.finish(&mut out)
                }
            };
            if let Err(e) = result {
                st.done = true;
                let error = match e {
                    SseError::TooLong { limit } => LlmError::ReplyTooLarge(format!(
                        "one event of the stream passed {limit} bytes (twice providers.{}.max_reply_bytes plus 64 KiB); the stream was cut",
                        st.provider
                    )),
                    SseError::InvalidUtf8 { .. } => {
                        LlmError::Stream(format!("malformed chunk: {e}"))
                    }
                };
                return Some((Err(error), st));
            }
            st.ready.extend(out);
        }
    })
    .boxed()
}

/// The provider's message in an error body: `error.message` (string, or an
/// object as JSON: Mistral), `error` as a string (Ollama), a top-level
/// `message` (old vLLM), else the body's text; redacted by `redact` and of
/// the process's registered keys ([`crate::secrets::redact::clip`]) *before* it is cut
/// to at most 500 characters, so that no part of a key survives the cut.
pub fn error_message(body: &[u8], redact: impl Fn(&str) -> String) -> String {
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_slice::<Value>(body) {
        Ok(v) => match (&v["error"]["message"], &v["error"], &v["message"]) {
            (Value::String(m), _, _) => m.clone(),
            (m @ Value::Object(_), _, _) => m.to_string(),
            (_, Value::String(m), _) => m.clone(),
            (_, _, Value::String(m)) => m.clone(),
            _ => text.trim().to_string(),
        },
        Err(_) => text.trim().to_string(),
    };
    let mut short = crate::secrets::redact::clip(&redact(&message), 501);
    if short.is_empty() {
        short = "(empty body)".to_string();
    }
    short
}

/// Parses a Go-style duration (`12ms`, `1s`, `6m0s`, `1h2m3.5s`).
pub fn go_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let value: f64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            'u' | 'µ' if chars.peek() == Some(&'s') => {
                chars.next();
                0.000_001
            }
            'n' if chars.peek() == Some(&'s') => {
                chars.next();
                0.000_000_001
            }
            _ => return None,
        };
        total += value * unit;
        any = true;
    }
    if !num.is_empty() {
        return None;
    }
    any.then(|| Duration::from_secs_f64(total))
}

/// Parses an HTTP-date (IMF-fixdate, RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(|t| t.assume_utc())
}

/// The delay a response asks for, if any (see the module doc for the order).
pub fn retry_delay(status: u16, headers: &HeaderMap, body: &Value) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let now = time::OffsetDateTime::now_utc();
    let until = |t: time::OffsetDateTime| {
        let d = t - now;
        Duration::try_from(d).ok().or(Some(Duration::ZERO))
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    if let Some(v) = header("retry-after") {
        if let Ok(secs) = v.parse::<f64>()
            && secs >= 0.0
        {
            return Some(Duration::from_secs_f64(secs));
        }
        if let Some(date) = http_date(v) {
            return until(date);
        }
    }
    if let Some(details) = body["error"]["details"].as_array() {
        for d in details {
            if d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
                && let Some(delay) = d["retryDelay"].as_str()
                && let Some(secs) = delay.strip_suffix('s').and_then(|s| s.parse::<f64>().ok())
            {
                return Some(Duration::from_secs_f64(secs.max(0.0)));
            }
        }
    }
    if status != 429 {
        return None;
    }
    let mut resets: Vec<Duration> = Vec::new();
    for which in ["requests", "tokens"] {
        let exhausted = header(&format!("x-ratelimit-remaining-{which}")) == Some("0");
        if let Some(d) = header(&format!("x-ratelimit-reset-{which}")).and_then(go_duration)
            && exhausted
        {
            resets.push(d);
        }
    }
    for which in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let exhausted = header(&format!("anthropic-ratelimit-{which}-remaining")) == Some("0");
        if let Some(t) = header(&format!("anthropic-ratelimit-{which}-reset")).and_then(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()
        }) && exhausted
        {
            resets.extend(until(t));
        }
    }
    resets.into_iter().max()
}

/// Quota errors that no retry lifts.
fn is_quota(body: &Value) -> bool {
    let code = |v: &Value| v.as_str().unwrap_or("").to_string();
    let marks = [
        code(&body["error"]["code"]),
        code(&body["error"]["type"]),
        code(&body["error"]["details"]["error_code"]),
    ];
    marks.iter().any(|m| {
        matches!(
            m.as_str(),
            "insufficient_quota" | "credit_balance_exhausted" | "enforced_spend_limit_reached"
        )
    })
}

/// The [`LlmError`] for a non-2xx response; `redact` removes the key from text.
pub fn error_from_response(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    redact: impl Fn(&str) -> String,
) -> LlmError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = error_message(body, redact);
    if status == 429 && is_quota(&json) {
        return LlmError::Quota(message);
    }
    let should_retry = headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| match v.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
    LlmError::Status {
        status,
        message,
        retry_after: retry_delay(status, headers, &json),
        should_retry,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn error_messages_from_every_family() {
        assert_eq!(
            error_message(
                br#"{"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}"#,
                str::to_string
            ),
            "Incorrect API key"
        );
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                str::to_string
            ),
            "Overloaded"
        );
        assert_eq!(
            error_message(br#"{"error": "the model failed"}"#, str::to_string),
            "the model failed"
        );
        assert_eq!(
            error_message(
                br#"{"object":"error","message":"bad","code":400}"#,
                str::to_string
            ),
            "bad"
        );
        assert!(
            error_message(br#"{"error":{"message":{"detail":[1]}}}"#, str::to_string)
                .contains("detail")
        );
        assert_eq!(
            error_message(b"  <html>502</html> ", str::to_string),
            "<html>502</html>"
        );
        assert_eq!(error_message(b"", str::to_string), "(empty body)");
    }

    #[test]
    fn delays_come_from_headers_bodies_and_reset_headers() {
        let none = Value::Null;
        assert_eq!(
            retry_delay(429, &headers(&[("retry-after-ms", "250")]), &none),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_delay(503, &headers(&[("retry-after", "2")]), &none),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_delay(503, &headers(&[("retry-after", "0.5")]), &none),
            Some(Duration::from_millis(500))
        );
        let past = retry_delay(
            503,
            &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            &none,
        );
        assert_eq!(past, Some(Duration::ZERO));
        let future = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let date = future
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .unwrap();
        let d = retry_delay(503, &headers(&[("retry-after", &date)]), &none).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        let gemini: Value = serde_json::json!({"error": {"code": 429, "details": [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "45.25s"}]}});
        assert_eq!(
            retry_delay(429, &HeaderMap::new(), &gemini),
            Some(Duration::from_millis(45_250))
        );
        let openai = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "1m2s"),
            ("x-ratelimit-remaining-tokens", "100"),
            ("x-ratelimit-reset-tokens", "12ms"),
        ]);
        assert_eq!(
            retry_delay(429, &openai, &none),
            Some(Duration::from_secs(62))
        );
        assert_eq!(retry_delay(500, &openai, &none), None);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(go_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(
            go_duration("1h2m3.5s"),
            Some(Duration::from_secs_f64(3723.5))
        );
        assert_eq!(go_duration("abc"), None);
        assert_eq!(go_duration("12"), None);
    }

    #[test]
    fn quota_429s_are_not_retried_and_should_retry_is_read() {
        let e = error_from_response(
            429,
            &HeaderMap::new(),
            br#"{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}"#,
            |t| t.to_string(),
        );
        assert!(matches!(e, LlmError::Quota(_)));
        let e = error_from_response(503, &headers(&[("x-should-retry", "false")]), b"{}", |t| {
            t.to_string()
        });
        assert!(matches!(
            e,
            LlmError::Status {
                should_retry: Some(false),
                ..
            }
        ));
    }

    #[test]
    fn a_key_cut_by_the_message_limit_is_redacted_before_the_cut() {
        let key = Secret::new("sk-test-CUTINTHEMIDDLE0123456789".into());
        // The key straddles the 500-character limit.
        let body = serde_json::json!({
            "error": { "message": format!("{}{} {}", "x".repeat(480), key.expose(), "tail".repeat(10)) }
        })
        .to_string();
        let e = error_from_response(400, &HeaderMap::new(), body.as_bytes(), |t| key.redact(t));
        let LlmError::Status { message, .. } = e else {
            panic!("{e:?}");
        };
        assert!(message.ends_with('…'), "{message}");
        assert!(!message.contains("sk-test-CUT"), "{message}");
        assert!(message.contains("x***"), "{message}");
        // Its base64 copy too.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("KEY={}", key.expose()));
        assert_eq!(
            key.redact(&b64).matches("***").count(),
            1,
            "{}",
            key.redact(&b64)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limiter_spaces_requests_over_a_minute() {
        let limiter = RateLimiter::new(2);
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert!(start.elapsed() < Duration::from_secs(1));
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(60));
    }
}
