//! A fake LLM server for tests: HTTP/1.1 on 127.0.0.1, speaking the OpenAI Chat
//! Completions, Anthropic Messages and Gemini `streamGenerateContent?alt=sse`
//! wire formats byte for byte as docs/wire-formats.md records them, with faults to
//! inject per request. It stops by itself: when dropped, and after
//! [`IDLE_LIMIT`] without a connection.
//!
//! As a "model" it answers like the offline team: it reads the task's inputs
//! back out of the prompt (the JSON block under `# Inputs`), infers the task
//! kind from their shape, takes the agent's name from the `model` field, and
//! streams `quorum::sim::reply` in the provider's format. So a whole
//! session can run on real provider kinds against it.
//!
//! Its pieces are shared with other fake servers (`replay.rs`): the
//! [`Listener`], [`read_request`], and the response writers [`write_reply`]
//! (a whole streamed reply), [`write_status`] (an HTTP error) and the
//! lower-level [`events`], [`write_stream_head`] and [`write_events`].

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quorum::llm::{CallMeta, TaskKind};
use quorum::protocol::inputs::TaskInputs;
use serde_json::{Value, json};

/// The server ends after this long without a connection.
pub const IDLE_LIMIT: Duration = Duration::from_secs(120);

/// The wire format of a request, by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
}

/// Something to do instead of (or to) the next reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// An HTTP error with the provider's JSON error body and extra headers.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        message: String,
    },
    /// Anthropic's 529 `overloaded_error` (as an HTTP status).
    Overloaded,
    /// Some text, then the format's mid-stream error.
    MidStreamError,
    /// Some text, then the connection closes without the terminal event.
    Drop,
    /// A chunk that is not JSON.
    Malformed,
    /// Headers, then nothing for this long (then the connection closes).
    Stall(Duration),
    /// The first text, then nothing for this long (then the connection closes).
    StallMidStream(Duration),
    /// The reply streamed slowly, one event per interval, for a long time
    /// (for cancellation: the client hangs up).
    Trickle(Duration),
}

/// How normal replies are framed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Framing {
    /// Write one byte at a time, flushing each.
    pub every_byte: bool,
    /// Use `\r\n` line ends (Gemini always does).
    pub crlf: bool,
    /// Put `: keep-alive` comments between events.
    pub keepalive: bool,
    /// Anthropic: report this many prompt tokens as read from the prompt
    /// cache and this many as written to it (`cache_read_input_tokens`,
    /// `cache_creation_input_tokens`; `input_tokens` is the rest).
    pub cache: Option<(u64, u64)>,
    /// OpenAI: stream this reasoning as `delta.reasoning_content` before the
    /// reply (DeepSeek, vLLM).
    pub reasoning_content: Option<String>,
    /// Any format: start the reply's text with `<think>THIS</think>`
    /// (Ollama, DeepSeek-R1, Qwen).
    pub think: Option<String>,
}

/// `evs` (one reply's events in `format`) with `framing`'s cache usage and
/// reasoning fields put in.
fn with_extras(format: Format, framing: &Framing, mut evs: Vec<String>, input: u64) -> Vec<String> {
    if let (Format::Anthropic, Some((read, write))) = (format, framing.cache) {
        let uncached = input.saturating_sub(read + write);
        evs[0] = format!(
            "event: message_start\ndata: {}",
            json!({"type":"message_start","message":{"id":"msg_fake","type":"message","role":"assistant","content":[],"model":"fake","stop_reason":null,"usage":{"input_tokens":uncached,"cache_read_input_tokens":read,"cache_creation_input_tokens":write,"output_tokens":1}}})
        );
    }
    if let (Format::OpenAi, Some(reasoning)) = (format, &framing.reasoning_content) {
        let at = 1.min(evs.len());
        for (i, p) in pieces(reasoning).into_iter().enumerate() {
            evs.insert(
                at + i,
                format!(
                    "data: {}",
                    json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1727346168,"model":"fake","choices":[{"index":0,"delta":{"content":null,"reasoning_content":p},"logprobs":null,"finish_reason":null}]})
                ),
            );
        }
    }
    evs
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub format: Format,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Received {
    /// A header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    faults: Mutex<VecDeque<(Option<Format>, Fault)>>,
    framing: Mutex<Framing>,
    fixed_reply: Mutex<Option<String>>,
    /// Replies queued per task kind, taken in order before the offline team's.
    queued: Mutex<Vec<(TaskKind, String)>>,
    received: Mutex<Vec<Received>>,
    hung_up: AtomicUsize,
}

/// A listener on 127.0.0.1 (an ephemeral port) that hands each connection to
/// a handler on its own thread. It stops by itself: when dropped, and after
/// [`IDLE_LIMIT`] without a connection.
pub struct Listener {
    pub addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Listener {
    pub fn start(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let handle = Arc::new(handle);
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !stopped.load(Ordering::SeqCst) && last.elapsed() < IDLE_LIMIT {
                match listener.accept() {
                    Ok((stream, _)) => {
                        last = Instant::now();
                        let handle = Arc::clone(&handle);
                        std::thread::spawn(move || handle(stream));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Listener { addr, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A running fake server.
pub struct FakeLlm {
    pub addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    _listener: Listener,
}

impl FakeLlm {
    /// Starts a server on an ephemeral port.
    pub fn start() -> FakeLlm {
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let listener = Listener::start(move |stream| serve(stream, &s));
        FakeLlm {
            addr: listener.addr,
            shared,
            _listener: listener,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a fault for the next request (of `format`, or any).
    pub fn fault(&self, format: Option<Format>, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap()
            .push_back((format, fault));
    }

    /// Sets how replies are framed.
    pub fn framing(&self, framing: Framing) {
        *self.shared.framing.lock().unwrap() = framing;
    }

    /// Replies with this text instead of the offline team's.
    pub fn reply_with(&self, text: &str) {
        *self.shared.fixed_reply.lock().unwrap() = Some(text.to_string());
    }

    /// Replies with these texts, in order, to the requests for tasks of
    /// `kind` (inferred from the prompt's inputs); once they are used up,
    /// such requests get the offline team's reply again.
    pub fn replies_for(&self, kind: TaskKind, texts: &[&str]) {
        let mut queued = self.shared.queued.lock().unwrap();
        queued.extend(texts.iter().map(|t| (kind, (*t).to_string())));
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Connections the client closed while a reply was still being written.
    pub fn hung_up(&self) -> usize {
        self.shared.hung_up.load(Ordering::SeqCst)
    }
}

/// A request's path, headers and body.
pub type Request = (String, Vec<(String, String)>, Vec<u8>);

/// Reads one request (bounded: a 10 s read timeout); `None` when the client
/// sent nothing usable.
pub fn read_request(stream: &mut TcpStream) -> Option<Request> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let path = request_line.split(' ').nth(1)?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut byte).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&byte[..n]);
    }
    Some((path, headers, body))
}

pub fn format_of(path: &str) -> Option<Format> {
    if path.ends_with("/chat/completions") {
        Some(Format::OpenAi)
    } else if path.ends_with("/v1/messages") {
        Some(Format::Anthropic)
    } else if path.contains(":streamGenerateContent") {
        Some(Format::Gemini)
    } else {
        None
    }
}

/// The task inputs written in the prompt: the shared context's JSON block
/// (under `# Shared inputs`) and the task's own (under `# Inputs`), merged
/// into one object (docs/design.md §2, "Prompt order"); `Null` when the
/// prompt has neither.
pub fn inputs(prompt: &str) -> Value {
    let mut merged = serde_json::Map::new();
    let mut found = false;
    for heading in ["# Shared inputs\n\n```json\n", "# Inputs\n\n```json\n"] {
        let block = prompt
            .split_once(heading)
            .and_then(|(_, rest)| rest.split_once("\n```"))
            .and_then(|(json, _)| serde_json::from_str::<Value>(json).ok());
        if let Some(Value::Object(map)) = block {
            merged.extend(map);
            found = true;
        }
    }
    if found {
        Value::Object(merged)
    } else {
        Value::Null
    }
}

/// The kind of task, from the shape of its inputs.
fn kind_of(c: &Value) -> TaskKind {
    let has = |k: &str| c.get(k).is_some_and(|v| !v.is_null());
    if has("conflict") && has("ballots") {
        TaskKind::Chair
    } else if has("conflict") {
        TaskKind::Ballot
    } else if has("plans") && has("planners") {
        TaskKind::Compare
    } else if has("plans") && has("agents") {
        TaskKind::Breakdown
    } else if has("task") {
        TaskKind::Implement
    } else if has("report") {
        TaskKind::Repair
    } else if c["files"][0] == "tests/" {
        TaskKind::Tests
    } else if c["files"].is_array() {
        TaskKind::Review
    } else if has("requirements") {
        TaskKind::Plan
    } else {
        TaskKind::Requirements
    }
}

/// The system prompt of an Anthropic (or OpenAI: none) request: the text
/// of `system` as a string, or its text blocks joined by blank lines.
pub fn system_text(body: &Value) -> String {
    match &body["system"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    }
}

/// (model, concatenated prompt text) of a request in any format.
pub fn model_and_prompt(format: Format, path: &str, body: &Value) -> (String, String) {
    let mut text = String::new();
    let model = match format {
        Format::OpenAi | Format::Anthropic => {
            for m in body["messages"].as_array().into_iter().flatten() {
                text.push_str(m["content"].as_str().unwrap_or(""));
                text.push('\n');
            }
            text.push_str(&system_text(body));
            text.push('\n');
            body["model"].as_str().unwrap_or("").to_string()
        }
        Format::Gemini => {
            let system = body["systemInstruction"]["parts"].as_array();
            let contents = body["contents"].as_array().into_iter().flatten();
            for p in system.into_iter().flatten() {
                text.push_str(p["text"].as_str().unwrap_or(""));
                text.push('\n');
            }
            for c in contents {
                for p in c["parts"].as_array().into_iter().flatten() {
                    text.push_str(p["text"].as_str().unwrap_or(""));
                    text.push('\n');
                }
            }
            path.split("/models/")
                .nth(1)
                .and_then(|m| m.split(':').next())
                .unwrap_or("")
                .to_string()
        }
    };
    (model, text)
}

/// The reply text: fixed, or the offline team's for the task in the prompt.
fn reply_text(shared: &Shared, model: &str, prompt: &str) -> String {
    if let Some(text) = shared.fixed_reply.lock().unwrap().clone() {
        return text;
    }
    let context = inputs(prompt);
    let kind = kind_of(&context);
    {
        let mut queued = shared.queued.lock().unwrap();
        if let Some(i) = queued.iter().position(|(k, _)| *k == kind) {
            return queued.remove(i).1;
        }
    }
    quorum::sim::reply(&CallMeta {
        agent: model.to_string(),
        role: model.to_string(),
        phase: String::new(),
        task: String::new(),
        kind,
        inputs: TaskInputs::from_value(kind, context).ok(),
    })
}

/// Splits text into pieces of about three words.
pub fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut words = 0;
    for w in text.split_inclusive(' ') {
        cur.push_str(w);
        words += 1;
        if words == 3 {
            out.push(std::mem::take(&mut cur));
            words = 0;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The SSE events (each a complete `event:`/`data:` block without its blank
/// line) of a normal reply of `text`, its content streamed as `pieces` (which
/// concatenate to `text`).
pub fn events(
    format: Format,
    text: &str,
    pieces: &[String],
    input_tokens: u64,
    include_usage: bool,
) -> Vec<String> {
    let output_tokens = (text.len() as u64).div_ceil(4);
    let mut ev = Vec::new();
    match format {
        Format::OpenAi => {
            ev.push(format!(
                "data: {}",
                json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1727346168,"model":"fake","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]})
            ));
            for p in pieces {
                ev.push(format!(
                    "data: {}",
                    json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1727346168,"model":"fake","choices":[{"index":0,"delta":{"content":p},"logprobs":null,"finish_reason":null}]})
                ));
            }
            ev.push(format!(
                "data: {}",
                json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1727346168,"model":"fake","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})
            ));
            if include_usage {
                ev.push(format!(
                    "data: {}",
                    json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1727346168,"model":"fake","choices":[],"usage":{"prompt_tokens":input_tokens,"completion_tokens":output_tokens,"total_tokens":input_tokens+output_tokens}})
                ));
            }
            ev.push("data: [DONE]".to_string());
        }
        Format::Anthropic => {
            // The recorded padding inside the JSON (docs/wire-formats.md §2.3).
            ev.push(format!(
                "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_fake\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"fake\",\"stop_reason\":null,\"usage\":{{\"input_tokens\":{input_tokens},\"output_tokens\":1}}}}   }}"
            ));
            ev.push("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}     }".to_string());
            ev.push("event: ping\ndata: {\"type\": \"ping\"}".to_string());
            for p in pieces {
                ev.push(format!(
                    "event: content_block_delta\ndata: {}",
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":p}})
                ));
            }
            ev.push("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0        }".to_string());
            ev.push(format!(
                "event: message_delta\ndata: {}",
                json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":output_tokens}})
            ));
            ev.push(
                "event: message_stop\ndata: {\"type\":\"message_stop\"              }".to_string(),
            );
        }
        Format::Gemini => {
            let n = pieces.len();
            for (i, p) in pieces.iter().enumerate() {
                let mut chunk = json!({"candidates":[{"content":{"parts":[{"text":p}],"role":"model"}}],
                    "usageMetadata":{"promptTokenCount":input_tokens,"totalTokenCount":input_tokens},"modelVersion":"fake"});
                if i + 1 == n {
                    chunk["candidates"][0]["finishReason"] = json!("STOP");
                    chunk["usageMetadata"] = json!({"promptTokenCount":input_tokens,"candidatesTokenCount":output_tokens,"totalTokenCount":input_tokens+output_tokens});
                }
                ev.push(format!("data: {chunk}"));
            }
            if n == 0 {
                ev.push(format!(
                    "data: {}",
                    json!({"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":input_tokens,"candidatesTokenCount":0}})
                ));
            }
        }
    }
    ev
}

/// A provider's JSON error body.
pub fn error_body(format: Format, status: u16, message: &str) -> String {
    match format {
        Format::OpenAi => json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}}).to_string(),
        Format::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}).to_string()
        }
        Format::Gemini => json!({"error": {"code": status, "message": message, "status": "UNAVAILABLE"}}).to_string(),
    }
}

/// Writes bytes, one at a time when asked; `false` when the client hung up.
fn write(stream: &mut TcpStream, bytes: &[u8], every_byte: bool) -> bool {
    if every_byte {
        for b in bytes {
            if stream
                .write_all(std::slice::from_ref(b))
                .and_then(|()| stream.flush())
                .is_err()
            {
                return false;
            }
        }
        true
    } else {
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .is_ok()
    }
}

/// Writes an HTTP error with the provider's JSON error body and extra headers,
/// then closes.
pub fn write_status(
    stream: &mut TcpStream,
    format: Format,
    status: u16,
    headers: &[(String, String)],
    message: &str,
) {
    let body = error_body(format, status, message);
    let mut head = format!(
        "HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
}

/// Writes the `200 OK` head of an event stream; `false` when the client hung up.
pub fn write_stream_head(stream: &mut TcpStream, format: Format) -> bool {
    let content_type = if format == Format::Gemini {
        "text/event-stream"
    } else {
        "text/event-stream; charset=utf-8"
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
    );
    write(stream, head.as_bytes(), false)
}

/// Writes SSE events as `framing` says, pausing `interval` after each;
/// `false` when the client hung up.
pub fn write_events(
    stream: &mut TcpStream,
    format: Format,
    evs: &[String],
    framing: &Framing,
    interval: Option<Duration>,
) -> bool {
    let crlf = framing.crlf || format == Format::Gemini;
    let eol = if crlf { "\r\n" } else { "\n" };
    for e in evs {
        let mut block = e.replace('\n', eol);
        block.push_str(eol);
        block.push_str(eol);
        if framing.keepalive {
            block.push_str(&format!(": keep-alive{eol}{eol}"));
        }
        if !write(stream, block.as_bytes(), framing.every_byte) {
            return false;
        }
        if let Some(d) = interval {
            std::thread::sleep(d);
        }
    }
    true
}

/// The response writer: a whole normal reply (head, then `text` as `pieces`,
/// usage when asked, the end) in `format`; `false` when the client hung up.
pub fn write_reply(
    stream: &mut TcpStream,
    format: Format,
    text: &str,
    pieces: &[String],
    input_tokens: u64,
    include_usage: bool,
    framing: &Framing,
) -> bool {
    write_stream_head(stream, format)
        && write_events(
            stream,
            format,
            &events(format, text, pieces, input_tokens, include_usage),
            framing,
            None,
        )
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let Some((path, headers, body)) = read_request(&mut stream) else {
        return;
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(format) = format_of(&path) else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
    };
    shared.received.lock().unwrap().push(Received {
        format,
        path: path.clone(),
        headers,
        body: body.clone(),
    });
    let fault = next_fault(shared, format);
    let framing = shared.framing.lock().unwrap().clone();

    if answered_by_fault(&mut stream, format, fault.as_ref()) {
        return;
    }
    if !write_stream_head(&mut stream, format) {
        return;
    }
    if let Some(Fault::Stall(d)) = fault {
        std::thread::sleep(d);
        return;
    }
    let (model, prompt) = model_and_prompt(format, &path, &body);
    let mut text = reply_text(shared, &model, &prompt);
    if let Some(think) = &framing.think {
        text = format!("<think>{think}</think>\n\n{text}");
    }
    let input_tokens = (prompt.len() as u64).div_ceil(4);
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let text_pieces = pieces(&text);
    let evs = events(format, &text, &text_pieces, input_tokens, include_usage);
    let mut evs = with_extras(format, &framing, evs, input_tokens);
    // The events up to and including the first one that carries text.
    let first_text = {
        let first = text_pieces.first().cloned().unwrap_or_default();
        evs.iter()
            .position(|e| e.contains(first.trim()))
            .map(|i| i + 1)
            .unwrap_or(1)
    };
    cut_at_fault(&mut evs, fault.as_ref(), format, first_text);
    let trickle = match fault {
        Some(Fault::Trickle(d)) => Some(d),
        _ => None,
    };
    if trickle.is_some() {
        // The events up to the first one carrying text, then that one over and
        // over: a reply that never ends (bounded: 10,000 events).
        let at = first_text - 1;
        let text_event = evs[at].clone();
        evs.truncate(at);
        evs.extend(std::iter::repeat_n(text_event, 10_000));
    }
    let stall_after = match fault {
        Some(Fault::StallMidStream(d)) => Some(d),
        _ => None,
    };
    if !write_events(&mut stream, format, &evs, &framing, trickle) {
        shared.hung_up.fetch_add(1, Ordering::SeqCst);
        return;
    }
    if let Some(d) = stall_after {
        std::thread::sleep(d);
    }
}

/// Step: the first queued fault for `format` (or for any format), taken off the queue.
fn next_fault(shared: &Shared, format: Format) -> Option<Fault> {
    let mut faults = shared.faults.lock().unwrap();
    let i = faults
        .iter()
        .position(|(f, _)| f.is_none_or(|f| f == format));
    i.and_then(|i| faults.remove(i)).map(|(_, f)| f)
}

/// Step: a status or overload fault answers the request whole; `true` when it did.
fn answered_by_fault(stream: &mut TcpStream, format: Format, fault: Option<&Fault>) -> bool {
    match fault {
        Some(Fault::Status {
            status,
            headers,
            message,
        }) => {
            write_status(stream, format, *status, headers, message);
            true
        }
        Some(Fault::Overloaded) => {
            let body = error_body(Format::Anthropic, 529, "Overloaded");
            let _ = stream.write_all(
                format!("HTTP/1.1 529 Overloaded\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes(),
            );
            true
        }
        _ => false,
    }
}

/// Step: the reply's events cut (and, for a malformed chunk or an error, extended)
/// where a mid-stream fault strikes, after the first event that carries text.
fn cut_at_fault(evs: &mut Vec<String>, fault: Option<&Fault>, format: Format, first_text: usize) {
    match fault {
        Some(Fault::MidStreamError) => {
            evs.truncate(first_text);
            evs.push(match format {
                Format::OpenAi => format!("data: {}", json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null}})),
                Format::Anthropic => "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}".to_string(),
                Format::Gemini => "{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"The model is overloaded. Please try again later.\",\n    \"status\": \"UNAVAILABLE\"\n  }\n}".to_string(),
            });
        }
        Some(Fault::Drop) => evs.truncate(first_text),
        Some(Fault::StallMidStream(_)) => evs.truncate(first_text),
        Some(Fault::Malformed) => {
            evs.truncate(first_text);
            let again = evs[first_text - 1].clone();
            evs.push("data: {\"choices\": [{\"delta\": {\"content\": \"x".to_string());
            evs.push(again);
        }
        _ => {}
    }
}
