//! Bounded calls (issue 17, acceptance 3; docs/configuration.md,
//! `max_reply_bytes`): a provider on 127.0.0.1 whose reply never ends — (a)
//! content deltas forever, in each wire format, (b) one SSE line that never
//! ends — is cut at the cap by the real `quorum` binary, headless; the task
//! fails with an event naming the cap, the server sees the connection
//! closed long before its own bound, and the quorum process's peak RSS
//! stays under 100 MB.
//!
//! The server stops each reply by itself after 200 MB or when the client
//! has gone, and stops accepting when dropped; the quorum child is killed
//! after [`TIMEOUT`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Env, Output, PROMPT, Session, TIMEOUT, path_str, spawn, tempdir, write};

/// The server's own bound on one reply.
const SERVER_BOUND: u64 = 200 << 20;
/// The cap the tests configure (`max_reply_bytes`).
const CAP: u64 = 1 << 20;
/// Peak RSS allowed to the quorum process, in KiB (100 MB).
const PEAK_RSS_KIB: i64 = 100_000_000 / 1024;

/// What the endless server sends.
#[derive(Clone, Copy, Debug)]
enum Endless {
    /// Content deltas in a wire format, forever.
    Deltas(&'static str),
    /// `data: ` and then bytes without a line end, forever.
    OneLine,
}

/// One reply the server sent: its bytes, and whether it ended because the
/// client went away (rather than at [`SERVER_BOUND`]).
#[derive(Clone, Copy, Debug)]
struct Sent {
    bytes: u64,
    client_left: bool,
}

struct Server {
    port: u16,
    sent: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn start(what: Endless) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (log, halt) = (Arc::clone(&sent), Arc::clone(&stop));
    std::thread::spawn(move || {
        let until = Instant::now() + TIMEOUT;
        while !halt.load(Ordering::SeqCst) && Instant::now() < until {
            match listener.accept() {
                Ok((stream, _)) => {
                    let log = Arc::clone(&log);
                    std::thread::spawn(move || {
                        let s = serve(stream, what);
                        log.lock().unwrap().push(s);
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Server { port, sent, stop }
}

/// Reads one request (headers and body) and answers with an endless stream.
fn serve(stream: TcpStream, what: Endless) -> Sent {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut out = stream;
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    if out.write_all(head.as_bytes()).is_err() {
        return Sent {
            bytes: 0,
            client_left: true,
        };
    }
    let text = "x".repeat(4096);
    let piece = match what {
        Endless::Deltas("openai") => {
            format!(
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"
            )
        }
        Endless::Deltas("anthropic") => format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}}\n\n"
        ),
        Endless::Deltas(_) => format!(
            "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"{text}\"}}],\"role\":\"model\"}}}}]}}\n\n"
        ),
        Endless::OneLine => text,
    };
    let mut bytes = 0u64;
    if let Endless::OneLine = what
        && out.write_all(b"data: ").is_err()
    {
        return Sent {
            bytes,
            client_left: true,
        };
    }
    while bytes < SERVER_BOUND {
        if out.write_all(piece.as_bytes()).is_err() {
            return Sent {
                bytes,
                client_left: true,
            };
        }
        bytes += piece.len() as u64;
    }
    Sent {
        bytes,
        client_left: false,
    }
}

/// Runs `cmd` to its end (killed after [`TIMEOUT`]) and returns what it
/// printed and its peak RSS in KiB, from `wait4`'s rusage of that child.
// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: std::process::Command) -> (Output, i64) {
    let mut child = spawn(cmd);
    let pid = child.id() as libc::pid_t;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + TIMEOUT;
    let mut status = 0;
    // SAFETY: rusage is plain data, written by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on our own child, with valid pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if Instant::now() >= deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let output = Output {
        code,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, usage.ru_maxrss)
}

/// Runs a headless session with every agent on the endless server (as
/// `kind`, capped at [`CAP`]); returns the session, its peak RSS in KiB and
/// what the server sent.
fn session_against(kind: &str, what: Endless) -> (Session, i64, Vec<Sent>) {
    let server = start(what);
    let env = Env::new();
    let dir = tempdir();
    let base = match kind {
        "openai" => format!("http://127.0.0.1:{}/v1", server.port),
        _ => format!("http://127.0.0.1:{}", server.port),
    };
    let key = if kind == "openai" {
        ""
    } else {
        "api_key_env = \"QUORUM_FAKE_KEY\"\n"
    };
    let mut config = format!(
        "[providers.endless]\nkind = \"{kind}\"\nbase_url = \"{base}\"\n{key}max_reply_bytes = {CAP}\nmax_retries = 0\nbackoff_ms = 1\nfirst_byte_timeout_s = 10\nidle_timeout_s = 10\ncall_timeout_s = 60\n"
    );
    for agent in ["pm", "backend", "frontend", "qa", "security"] {
        config.push_str(&format!(
            "[agents.{agent}]\nprovider = \"endless\"\nmodel = \"m\"\n"
        ));
    }
    write(dir.path(), "quorum.toml", &config);
    let mut cmd = env.quorum(["run", PROMPT, "--dir", path_str(dir.path()), "--json"]);
    cmd.env("QUORUM_FAKE_KEY", "sk-endless-test-key-0123");
    let (out, rss) = run_measured(cmd);
    // Each reply thread records its end once the client has gone: wait for
    // every connection's record (bounded by the server's write timeout).
    let wait_until = Instant::now() + Duration::from_secs(60);
    let sent = loop {
        let sent = server.sent.lock().unwrap().clone();
        if !sent.is_empty() || Instant::now() >= wait_until {
            break sent;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (Session::from_output(out), rss, sent)
}

/// Asserts the session failed on the cap, the server saw the client leave
/// well before its bound, and the peak RSS stayed under 100 MB.
fn assert_cut(kind: &str, session: &Session, rss: i64, sent: &[Sent], names: &str) {
    assert_ne!(session.out.code, 0, "{kind}: {}", session.out);
    let failed = session.of("task_failed");
    assert!(!failed.is_empty(), "{kind}: {}", session.out);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("reply too large")
            && error.contains(names)
            && error.contains("providers.endless.max_reply_bytes"),
        "{kind}: {error}"
    );
    assert!(
        session.of("task_retrying").is_empty(),
        "{kind}: a reply past the cap is not retried"
    );
    assert!(!sent.is_empty(), "{kind}: the server got no request");
    for s in sent {
        assert!(s.client_left, "{kind}: the stream was never cut: {s:?}");
        assert!(
            s.bytes < 64 << 20,
            "{kind}: the stream was cut at {} bytes, not near the cap",
            s.bytes
        );
    }
    assert!(
        rss < PEAK_RSS_KIB,
        "{kind}: peak RSS {rss} KiB (limit {PEAK_RSS_KIB})"
    );
}

#[test]
fn an_endless_reply_is_cut_at_the_cap_in_every_wire_format() {
    for kind in ["openai", "anthropic", "gemini"] {
        let (session, rss, sent) = session_against(kind, Endless::Deltas(kind));
        assert_cut(
            kind,
            &session,
            rss,
            &sent,
            &format!("the reply passed {CAP} bytes"),
        );
    }
}

#[test]
fn an_endless_line_without_a_line_end_is_cut_at_the_cap() {
    let (session, rss, sent) = session_against("openai", Endless::OneLine);
    assert_cut(
        "one line",
        &session,
        rss,
        &sent,
        &format!(
            "one event of the stream passed {} bytes",
            2 * CAP + (64 << 10)
        ),
    );
}
