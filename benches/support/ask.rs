//! `quorum ask` of a long reply from a loopback fake server (issue 7), shared
//! by `examples/ask_perf.rs` and the integration suite's smoke test.
//!
//! The server is the smallest that speaks OpenAI's Chat Completions stream:
//! it listens on 127.0.0.1 (port chosen by the OS), answers exactly one
//! request with the reply as `chat.completion.chunk` events of about four
//! words each (written as fast as the socket takes them), the usage chunk and
//! `[DONE]`, records when it wrote the last byte, and closes. It stops by
//! itself: after that one request, or when no request came within
//! [`ACCEPT_LIMIT`].
//!
//! The child is waited for with `wait4`, which gives its exit time and its
//! peak resident set (`ru_maxrss`) without polling `/proc`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The server gives up when no request arrives within this time.
pub const ACCEPT_LIMIT: Duration = Duration::from_secs(30);

/// One `quorum ask` run.
#[derive(Clone, Copy, Debug)]
pub struct AskFigures {
    /// Tokens of the reply (four bytes each).
    pub tokens: usize,
    /// Bytes the child wrote to stdout (the reply and a final newline).
    pub stdout_bytes: usize,
    /// Bytes of SSE the server sent.
    pub sse_bytes: usize,
    /// From the request's arrival to the server's last byte.
    pub streaming: Duration,
    /// From the server's last byte to the child's exit.
    pub after_last_byte: Duration,
    /// From the server's last byte to the child's last byte on stdout.
    pub shown_after_last_byte: Duration,
    /// The child's peak resident set size, KiB (`ru_maxrss`).
    pub max_rss_kb: u64,
    /// The child's CPU time, user + system.
    pub cpu: Duration,
    /// The child's exit code.
    pub code: i32,
}

/// Varied text of about `tokens` tokens: words of a fixed list picked by a
/// small xorshift generator, lines of 8 to 20 words.
pub fn reply_text(tokens: usize) -> String {
    const WORDS: [&str; 40] = [
        "the",
        "store",
        "keeps",
        "one",
        "row",
        "per",
        "task",
        "writes",
        "are",
        "atomic",
        "handler",
        "returns",
        "short",
        "code",
        "for",
        "each",
        "long",
        "URL",
        "redirects",
        "status",
        "301",
        "when",
        "found",
        "otherwise",
        "404",
        "tests",
        "cover",
        "expiry",
        "collisions",
        "unicode",
        "paths",
        "SQLite",
        "ships",
        "with",
        "Python",
        "deployment",
        "stays",
        "simple",
        "indexes",
        "matter",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::new();
    while out.len() < tokens * 4 {
        let words = 8 + (next() % 13) as usize;
        for w in 0..words {
            if w > 0 {
                out.push(' ');
            }
            out.push_str(WORDS[(next() % WORDS.len() as u64) as usize]);
        }
        out.push('\n');
    }
    out
}

/// The SSE body for `text`: one chunk per four words, then usage and `[DONE]`.
fn sse_body(text: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut piece = String::new();
    let chunk = |out: &mut String, piece: &str| {
        let content = serde_json::to_string(piece).unwrap_or_default();
        out.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,\"model\":\"fake-1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{content}}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        ));
    };
    for (i, word) in text.split_inclusive(' ').enumerate() {
        piece.push_str(word);
        if i % 4 == 3 {
            chunk(&mut out, &piece);
            piece.clear();
        }
    }
    if !piece.is_empty() {
        chunk(&mut out, &piece);
    }
    let tokens = text.len().div_ceil(4);
    out.push_str(&format!(
        "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,\"model\":\"fake-1\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,\"model\":\"fake-1\",\"choices\":[],\"usage\":{{\"prompt_tokens\":7,\"completion_tokens\":{tokens},\"total_tokens\":{}}}}}\n\ndata: [DONE]\n\n",
        tokens + 7
    ));
    out.into_bytes()
}

/// Reads one HTTP request (headers and a `content-length` body).
fn read_request(stream: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Ok(n) = stream.read(&mut chunk) else {
            return false;
        };
        if n == 0 {
            return false;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
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

/// Starts the one-request server; returns its port and a receiver of
/// (request arrived, last byte written, bytes sent).
fn serve_once(body: Vec<u8>) -> (u16, mpsc::Receiver<(Instant, Instant, usize)>) {
    let listener =
        TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind 127.0.0.1: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = listener.set_nonblocking(true);
        let deadline = Instant::now() + ACCEPT_LIMIT;
        let mut stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return,
            }
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(ACCEPT_LIMIT));
        let _ = stream.set_nodelay(true);
        if !read_request(&mut stream) {
            return;
        }
        let arrived = Instant::now();
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
        let mut sent = 0;
        let mut ok = stream.write_all(head.as_bytes()).is_ok();
        // Network-sized writes, as a server flushing its stream would make.
        for part in body.chunks(16 * 1024) {
            ok = ok && stream.write_all(part).is_ok();
            sent += part.len();
        }
        let _ = stream.flush();
        let last = Instant::now();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        if ok {
            let _ = tx.send((arrived, last, sent));
        }
        // Drain until the client closes, so that it never sees a reset.
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    });
    (port, rx)
}

/// Runs `bin ask --provider fake --model fake-1 PROMPT` against a fresh
/// server streaming `tokens` tokens, in an empty directory with a config that
/// points the OpenAI provider at the server (no key: the server asks none).
pub fn ask_once(bin: &Path, tokens: usize) -> AskFigures {
    let text = reply_text(tokens);
    let (port, served) = serve_once(sse_body(&text));
    let dir = tempfile::Builder::new()
        .prefix("quorum-ask-")
        .tempdir()
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::write(
        dir.path().join("quorum.toml"),
        format!(
            "[providers.fake]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n{}",
            ["pm", "backend", "frontend", "qa", "security"]
                .iter()
                .map(|a| format!("[agents.{a}]\nprovider = \"fake\"\nmodel = \"fake-1\"\n"))
                .collect::<String>()
        ),
    )
    .unwrap_or_else(|e| panic!("config: {e}"));
    for sub in ["home", "config", "state"] {
        let _ = std::fs::create_dir(dir.path().join(sub));
    }
    // Reaped by `wait4` below (for its rusage), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(bin)
        .args([
            "ask",
            "--provider",
            "fake",
            "--model",
            "fake-1",
            "Say",
            "a",
            "lot",
        ])
        .arg("--dir")
        .arg(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path().join("home"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        let mut total = 0;
        let mut last = Instant::now();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
            last = Instant::now();
        }
        (total, last)
    });
    let mut stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, zeroed, filled in by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with pointers to our own locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let exited = Instant::now();
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let (stdout_bytes, last_out) = reader.join().unwrap_or((0, exited));
    let stderr = errors.join().unwrap_or_default();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    assert_eq!(code, 0, "quorum ask failed: {stderr}");
    let (arrived, last_byte, sse_bytes) = served
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("the server did not finish: {e}; {stderr}"));
    assert!(
        stdout_bytes >= text.len(),
        "the whole reply reached stdout ({stdout_bytes} of {} bytes)",
        text.len()
    );
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    AskFigures {
        tokens: text.len().div_ceil(4),
        stdout_bytes,
        sse_bytes,
        streaming: last_byte.saturating_duration_since(arrived),
        after_last_byte: exited.saturating_duration_since(last_byte),
        shown_after_last_byte: last_out.saturating_duration_since(last_byte),
        max_rss_kb: usage.ru_maxrss as u64,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        code,
    }
}
