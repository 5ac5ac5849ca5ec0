//! The loopback fake server of `tui_perf` and `stream_latency` and the
//! reply it streams (see `tui_perf`'s comment): OpenAI Chat Completions SSE,
//! one event per word (or per piece the caller chose), written as
//! [`Writes`] says, on 127.0.0.1 only; it stops by itself.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{END_MARK, cpu_time, find, main_thread_cpu_time};

/// The server gives up when no request arrives within this time.
pub const ACCEPT_LIMIT: Duration = Duration::from_secs(60);
/// The server stops answering this long after its reply.
pub const SERVE_LIMIT: Duration = Duration::from_secs(20);

/// Varied text of about `tokens` tokens (four bytes each), seeded, ending
/// with [`END_MARK`] and a newline.
pub fn reply_text(tokens: usize, seed: u64) -> String {
    const WORDS: &str = "the store keeps one row per task writes are atomic handler returns a short code \
         for each long URL redirect status 301 when found otherwise 404 tests cover \
         expiry collisions unicode paths SQLite ships with Python deployment stays simple \
         indexes matter we should measure latency before choosing cache layer in front of \
         database requests queue behind worker pool retries back off exponentially and \
         log every failure schema migration runs once at startup config file lists \
         providers keys never leave machine tokens stream into transcript pane scrolls \
         region terminal bytes cost money over SSH links is it";
    let vocabulary: Vec<&str> = WORDS.split_whitespace().collect();
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::new();
    while out.len() + 40 < tokens * 4 {
        let words = 6 + (next() % 19) as usize;
        let mut sentence_start = true;
        for w in 0..words {
            if w > 0 {
                out.push(' ');
            }
            let word = vocabulary[(next() % vocabulary.len() as u64) as usize];
            if sentence_start {
                let mut c = word.chars();
                if let Some(first) = c.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(c.as_str());
                }
            } else {
                out.push_str(word);
            }
            sentence_start = false;
            if w + 1 < words && next() % 9 == 0 {
                out.push(if next() % 3 == 0 { ',' } else { '.' });
                sentence_start = out.ends_with('.');
            }
        }
        out.push('.');
        out.push('\n');
        if next() % 11 == 0 {
            out.push('\n');
        }
    }
    out.push_str("That is all for now, ");
    out.push_str(END_MARK);
    out.push('\n');
    out
}

/// One `chat.completion.chunk` event carrying `piece` as its content.
pub fn chunk_event(piece: &str) -> Vec<u8> {
    let content = serde_json::to_string(piece).unwrap_or_default();
    format!(
        "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,\"model\":\"fake-1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{content}}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
    )
    .into_bytes()
}

/// The SSE events of `text`: one per word (with its trailing space or
/// newline), each with the tokens it carries (bytes / 4), then the finish,
/// usage and `[DONE]` events (0 tokens).
pub fn sse_events(text: &str) -> Vec<(Vec<u8>, f64)> {
    sse_events_of(text.split_inclusive([' ', '\n']))
}

/// The SSE events of a reply cut into `pieces`: one per piece, each with
/// the tokens it carries (bytes / 4), then the finish, usage and `[DONE]`
/// events (0 tokens).
pub fn sse_events_of<'a>(pieces: impl IntoIterator<Item = &'a str>) -> Vec<(Vec<u8>, f64)> {
    let mut bytes = 0;
    let mut out: Vec<(Vec<u8>, f64)> = pieces
        .into_iter()
        .map(|piece| {
            bytes += piece.len();
            (chunk_event(piece), piece.len() as f64 / 4.0)
        })
        .collect();
    let tokens = bytes.div_ceil(4);
    let tail = format!(
        "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,\"model\":\"fake-1\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,\"model\":\"fake-1\",\"choices\":[],\"usage\":{{\"prompt_tokens\":7,\"completion_tokens\":{tokens},\"total_tokens\":{}}}}}\n\ndata: [DONE]\n\n",
        tokens + 7
    );
    out.push((tail.into_bytes(), 0.0));
    out
}

/// What the server saw of its one reply.
#[derive(Clone, Copy, Debug)]
pub struct Served {
    /// The process's CPU time when the request arrived.
    pub cpu: Duration,
    /// Its main thread's.
    pub tui_cpu: Duration,
    /// The pipe-pane file's size then.
    pub piped: u64,
    /// When the request had been read.
    pub arrived: Instant,
    /// Just before the reply's first byte was written.
    pub first_byte: Instant,
    /// After its last byte was written.
    pub last_byte: Instant,
}

/// How the server writes its reply's events to the socket (`TCP_NODELAY`
/// is set, so each write leaves as its own segment).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Writes {
    /// One write per event, paced at this many tokens per second.
    Paced(f64),
    /// One write per event, as fast as the socket takes them.
    PerEvent,
    /// The events joined and written this many bytes at a time, as fast
    /// as the socket takes them.
    Chunks(usize),
}

/// A loopback fake server for one reply (see the module's comment).
pub struct Server {
    listener: TcpListener,
    /// Its port on 127.0.0.1.
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// How long the reply's head waits after the request, as a model's
    /// time to its first token.
    first_byte_delay: Duration,
}

impl Server {
    /// Binds 127.0.0.1 on a port the system picks.
    pub fn bind() -> Result<Server, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(Server {
            listener,
            port,
            stop: Arc::new(AtomicBool::new(false)),
            first_byte_delay: Duration::ZERO,
        })
    }

    /// The server, answering only `delay` after the request has arrived.
    pub fn with_first_byte_delay(self, delay: Duration) -> Server {
        Server {
            first_byte_delay: delay,
            ..self
        }
    }

    /// Serves in a thread: the first request gets `events`, written as
    /// `writes` says, later ones a 400. Samples `pid`'s CPU time and
    /// `piped`'s size at the arrival.
    pub fn serve(
        self,
        pid: u32,
        piped: PathBuf,
        events: Vec<(Vec<u8>, f64)>,
        writes: Writes,
    ) -> (Arc<AtomicBool>, mpsc::Receiver<Served>) {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::clone(&self.stop);
        std::thread::spawn(move || {
            let Some(mut stream) = self.accept(Instant::now() + ACCEPT_LIMIT) else {
                return;
            };
            if !read_request(&mut stream) {
                return;
            }
            let arrived = Instant::now();
            let cpu = cpu_time(pid).unwrap_or_default();
            let tui_cpu = main_thread_cpu_time(pid).unwrap_or_default();
            let piped = std::fs::metadata(&piped).map(|m| m.len()).unwrap_or(0);
            std::thread::sleep(self.first_byte_delay);
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
            let mut ok = stream.write_all(head.as_bytes()).is_ok();
            let first_byte = Instant::now();
            match writes {
                Writes::Paced(rate) => {
                    let mut tokens = 0.0;
                    for (bytes, t) in &events {
                        let due = first_byte + Duration::from_secs_f64(tokens / rate);
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        ok = ok && stream.write_all(bytes).is_ok();
                        tokens += t;
                        if !ok || self.stop.load(Ordering::SeqCst) {
                            break;
                        }
                    }
                }
                Writes::PerEvent => {
                    for (bytes, _) in &events {
                        ok = ok && stream.write_all(bytes).is_ok();
                    }
                }
                Writes::Chunks(size) => {
                    let all: Vec<u8> = events.iter().flat_map(|(b, _)| b.clone()).collect();
                    for part in all.chunks(size.max(1)) {
                        ok = ok && stream.write_all(part).is_ok();
                    }
                }
            }
            let last_byte = Instant::now();
            let _ = stream.shutdown(std::net::Shutdown::Write);
            if ok {
                let _ = tx.send(Served {
                    cpu,
                    tui_cpu,
                    piped,
                    arrived,
                    first_byte,
                    last_byte,
                });
            }
            drain(stream);
            // Later calls (the orchestrator asks again for valid JSON): a
            // request the provider rejects, so nothing is retried.
            let until = Instant::now() + SERVE_LIMIT;
            while let Some(mut s) = self.accept(until) {
                if read_request(&mut s) {
                    let body = r#"{"error":{"message":"tui_perf: one reply only","type":"invalid_request_error"}}"#;
                    let _ = write!(
                        s,
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                drain(s);
            }
        });
        (stop, rx)
    }

    fn accept(&self, deadline: Instant) -> Option<TcpStream> {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let _ = stream.set_nodelay(true);
                    return Some(stream);
                }
                Err(_) if Instant::now() < deadline && !self.stop.load(Ordering::SeqCst) => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return None,
            }
        }
    }
}

/// Reads until the client closes (or 5 s of silence), so that it never sees
/// a reset.
fn drain(mut stream: TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// Reads one HTTP request (headers and a `content-length` body).
fn read_request(stream: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            return true;
        }
    }
}
