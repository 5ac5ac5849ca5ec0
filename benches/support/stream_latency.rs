//! Issue 20's streaming latency, measured from outside the release binary;
//! shared by `examples/stream_latency.rs` (the figures) and the integration
//! suite's smoke test (`tests/all/stream_latency.rs`, once at a small size,
//! nothing timed).
//!
//! `quorum` runs in a tmux pane of its own at the size asked (private
//! socket, `-f /dev/null`), driven as a person drives it: a prompt typed,
//! then Enter. Its config points every agent at an OpenAI-kind provider on
//! a loopback fake server (`tui_perf_server.rs`), which answers the first
//! request with a reply of N tokens, one `chat.completion.chunk` event per
//! token (the text cut into pieces of at most four bytes, a token's usual
//! size), written either
//!
//! * **per token**: each event its own `write` on a `TCP_NODELAY` socket,
//!   so each leaves as its own segment, as a server flushing per event
//!   sends it; or
//! * **in chunks**: the events joined and written 64 KiB at a time.
//!
//! Later requests get an HTTP 400 (the prose is no valid requirements JSON).
//! The reply starts at once, unless a first-byte delay is asked for (a
//! model's time to its first token): a session's start runs the stack's
//! tool probes (`python3 --version`, `npm --version`, …), whose CPU an
//! instant reply shares.
//!
//! **When the last word is on screen.** `pipe-pane -o` copies every byte
//! the program writes to the pane into a FIFO, which a thread reads. After
//! each batch of reads the screen is captured (`capture-pane`; tmux parses
//! a pane's bytes before it copies them to the pipe); the first capture that
//! shows the reply's last word ([`END_MARK`]) dates it to its own return.
//! The time is an upper bound, late by about one capture (a few ms on an
//! idle machine); no capture runs while the screen does not change.
//!
//! **Times** are from just before Enter is sent: the server's first and
//! last byte of the reply (its last `write` returned) and the last word on
//! screen; their difference is the figure of issue 20 ("the last word is on
//! screen within 0.2 s of the server's last byte").
//!
//! **CPU** is that of every process running the binary for this run (the
//! TUI, and a server it talks to once there is one): each process whose
//! `/proc/PID/exe` is the binary and whose command line or environment
//! names the run's directory, summed over its threads' run time
//! (`/proc/PID/task/TID/schedstat`, nanoseconds), from just before Enter to
//! the last word on screen; per token, divided by the reply's tokens.
//!
//! The fake server stops by itself (see `tui_perf_server.rs`); nothing
//! here talks to any address but 127.0.0.1.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "tui_perf.rs"]
#[allow(dead_code)]
mod tui_perf;

pub use self::tui_perf::{END_MARK, Sandbox, Server, Tmux, Writes, median, reply_text};

/// The longest wait for the empty screen, and for the reply's last word.
const LIMIT: Duration = Duration::from_secs(60);

/// How the server writes the reply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// One write per event (per token).
    PerToken,
    /// The events joined, this many bytes per write.
    Chunks(usize),
}

impl Mode {
    /// The mode's name in the table.
    pub fn label(&self) -> String {
        match self {
            Mode::PerToken => "one write per token".to_string(),
            Mode::Chunks(size) => format!("{} KiB writes", size / 1024),
        }
    }

    fn writes(self) -> Writes {
        match self {
            Mode::PerToken => Writes::PerEvent,
            Mode::Chunks(size) => Writes::Chunks(size),
        }
    }
}

/// One reply streamed into the TUI.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// How the server wrote it.
    pub mode: Mode,
    /// Its tokens: one SSE event each.
    pub tokens: usize,
    /// Bytes of the SSE stream (events, then the finish, usage and `[DONE]`).
    pub stream_bytes: usize,
    /// From Enter to the server's first byte of the reply.
    pub first_byte: Duration,
    /// From Enter to the server's last byte (its last write returned).
    pub last_byte: Duration,
    /// From Enter to the last word on screen.
    pub on_screen: Duration,
    /// CPU of the binary's processes from Enter to the last word on screen.
    pub cpu: Duration,
}

impl Figures {
    /// The last word on screen after the server's last byte, ms (negative
    /// only if the server's thread, between its last write and its reading
    /// of the clock, waited for a CPU longer than the reply took to show).
    pub fn lag_ms(&self) -> f64 {
        ms(self.on_screen) - ms(self.last_byte)
    }

    /// CPU per token, µs.
    pub fn cpu_per_token_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.tokens.max(1) as f64
    }
}

/// The reply's text cut into `tokens` pieces of at most four bytes each
/// (words cut at character boundaries, a space or line end with the piece
/// before it), from `reply_text`'s varied words, ending with
/// "That is all for now, " and [`END_MARK`].
pub fn token_pieces(tokens: usize, seed: u64) -> Vec<String> {
    let ending = format!("That is all for now, {END_MARK}\n");
    let tail = cut(&ending);
    let text = reply_text(tokens, seed);
    let body = text.strip_suffix(&ending).unwrap_or(&text);
    let mut pieces = cut(body);
    pieces.truncate(tokens.saturating_sub(tail.len()));
    pieces.extend(tail);
    pieces
}

/// `text` in pieces of at most four bytes, never across a space or a line
/// end (a word's last piece keeps the space after it).
fn cut(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split_inclusive([' ', '\n']) {
        let mut rest = word;
        while !rest.is_empty() {
            let mut end = rest.len().min(4);
            while !rest.is_char_boundary(end) {
                end += 1;
            }
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// The run time of every thread of every process running `bin` for the run
/// in `dir` (see the module's comment).
pub fn quorum_cpu(bin: &Path, dir: &Path) -> Duration {
    let bin = std::fs::canonicalize(bin).unwrap_or_else(|_| bin.to_path_buf());
    let dir = dir.display().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    let mut total = Duration::ZERO;
    for entry in procs.flatten() {
        let path = entry.path();
        let Ok(exe) = std::fs::read_link(path.join("exe")) else {
            continue;
        };
        if exe != bin {
            continue;
        }
        let names_dir = ["cmdline", "environ"].iter().any(|f| {
            std::fs::read(path.join(f))
                .is_ok_and(|b| String::from_utf8_lossy(&b).contains(dir.as_str()))
        });
        if names_dir {
            total += threads_cpu(&path);
        }
    }
    total
}

/// The summed run time of a process's threads (`task/*/schedstat`).
fn threads_cpu(proc_dir: &Path) -> Duration {
    let Ok(tasks) = std::fs::read_dir(proc_dir.join("task")) else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// The pane's output through a FIFO, each read signalled by a thread.
struct Watch {
    fifo: PathBuf,
    reads: mpsc::Receiver<()>,
}

impl Watch {
    /// Makes the FIFO and has tmux copy the pane's output into it.
    fn start(tmux: &Tmux, fifo: PathBuf) -> Result<Watch, String> {
        let c = std::ffi::CString::new(fifo.display().to_string()).map_err(|e| e.to_string())?;
        // SAFETY: mkfifo reads a NUL-terminated path we own.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return Err(format!("mkfifo: {}", std::io::Error::last_os_error()));
        }
        let (tx, reads) = mpsc::channel();
        let path = fifo.clone();
        // Opening blocks until tmux's `cat` opens the other end; the reads
        // end at EOF, when tmux is gone (or `Drop` opened and closed it).
        std::thread::spawn(move || {
            let Ok(mut f) = std::fs::File::open(&path) else {
                return;
            };
            let mut buf = [0u8; 65536];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 || tx.send(()).is_err() {
                    break;
                }
            }
        });
        tmux.run(&[
            "pipe-pane",
            "-o",
            "-t",
            "q",
            &format!("cat > '{}'", fifo.display()),
        ])?;
        Ok(Watch { fifo, reads })
    }

    /// Waits until the screen shows `text`, capturing it after each batch
    /// of the program's output; the time the first capture showing it
    /// returned.
    fn until(&self, tmux: &Tmux, text: &str, limit: Duration) -> Result<Instant, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            self.reads
                .recv_timeout(left)
                .map_err(|_| format!("never saw {text:?}; the screen:\n{}", tmux.screen()))?;
            while self.reads.try_recv().is_ok() {}
            let screen = tmux.screen();
            let at = Instant::now();
            if screen.contains(text) {
                return Ok(at);
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        // A reader still waiting in `open` (the pipe never started) is let
        // go; without a reader, the open fails at once instead of waiting.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.fifo);
    }
}

/// Streams one reply of `tokens` tokens, written as `mode` says, into
/// `bin`'s TUI in a `w`x`h` tmux pane.
pub fn stream(o: &Options, mode: Mode, seed: u64) -> Result<Figures, String> {
    let (bin, (w, h), tokens) = (o.bin.as_path(), o.size, o.tokens);
    let server = Server::bind()?.with_first_byte_delay(o.first_byte_delay);
    let sandbox = Sandbox::new(server.port)?;
    let pieces = token_pieces(tokens, seed);
    let events = tui_perf::server::sse_events_of(pieces.iter().map(String::as_str));
    let stream_bytes = events.iter().map(|(b, _)| b.len()).sum();
    let (tmux, pid) = tui_perf::open_tui(bin, &sandbox, (w, h), LIMIT)?;
    let fifo = sandbox.dir().join("pane.fifo");
    let watch = Watch::start(&tmux, fifo.clone())?;
    let (stop, served) = server.serve(pid, fifo, events, mode.writes());
    tmux.run(&["send-keys", "-t", "q", "-l", "Write the design notes"])?;
    // The prompt's echo is drawn before Enter is timed.
    tmux.wait_for("design notes", Duration::from_millis(5), LIMIT)?;
    let cpu_before = quorum_cpu(bin, sandbox.dir());
    let enter = Instant::now();
    tmux.run(&["send-keys", "-t", "q", "Enter"])?;
    let seen = watch.until(&tmux, END_MARK, LIMIT);
    let cpu = quorum_cpu(bin, sandbox.dir()).saturating_sub(cpu_before);
    stop.store(true, Ordering::SeqCst);
    let seen = seen?;
    let s = served
        .recv_timeout(Duration::from_secs(10))
        .map_err(|e| format!("the server did not finish its reply: {e}"))?;
    tui_perf::close_tui(bin, &sandbox, tmux);
    drop(watch);
    Ok(Figures {
        mode,
        tokens: pieces.len(),
        stream_bytes,
        first_byte: s.first_byte.saturating_duration_since(enter),
        last_byte: s.last_byte.saturating_duration_since(enter),
        on_screen: seen.saturating_duration_since(enter),
        cpu,
    })
}

/// What [`measure`] runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `quorum` binary.
    pub bin: PathBuf,
    /// The terminal's size (columns, rows).
    pub size: (u16, u16),
    /// Replies per mode.
    pub runs: usize,
    /// Tokens of each reply.
    pub tokens: usize,
    /// The modes, in order.
    pub modes: Vec<Mode>,
    /// How long the server waits before the reply's first byte.
    pub first_byte_delay: Duration,
}

/// Every run's figures.
#[derive(Clone, Debug)]
pub struct Report {
    /// The options measured with.
    pub options: Options,
    /// Each mode's runs, in the options' order.
    pub runs: Vec<Vec<Figures>>,
    /// The load average (1, 5, 15 min) before and after.
    pub load: (String, String),
}

/// Runs every mode `runs` times, the modes taking turns, each run with a
/// fresh directory, HOME and server; one run first, not counted, to warm
/// the page cache.
pub fn measure(o: &Options) -> Result<Report, String> {
    let before = tui_perf::load();
    if let Some(&mode) = o.modes.first() {
        stream(o, mode, 99)?;
    }
    let mut runs = vec![Vec::new(); o.modes.len()];
    for i in 0..o.runs {
        for (m, &mode) in o.modes.iter().enumerate() {
            runs[m].push(stream(o, mode, i as u64 + 1)?);
        }
    }
    Ok(Report {
        options: o.clone(),
        runs,
        load: (before, tui_perf::load()),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Report {
    /// The figures as a Markdown table: for each mode, the median, range
    /// and runs of each figure, and issue 20's bound where it has one (✗
    /// where the median misses it).
    pub fn table(&self) -> String {
        let o = &self.options;
        let mut out = format!(
            "quorum TUI at {}x{}, {}; reply: {} tokens, one SSE event each, first byte {} ms after the request\nload average before: {}, after: {}\n\n| figure | median (range) | runs | bound |\n|---|---|---|---|\n",
            o.size.0,
            o.size.1,
            o.bin.display(),
            o.tokens,
            o.first_byte_delay.as_millis(),
            self.load.0,
            self.load.1
        );
        for (mode, runs) in o.modes.iter().zip(&self.runs) {
            let m = mode.label();
            let of = |f: fn(&Figures) -> f64| runs.iter().map(f).collect::<Vec<_>>();
            let kb = runs.first().map_or(0, |f| f.stream_bytes / 1024);
            row(
                &mut out,
                &format!("{m}: the server's last byte after Enter ({kb} KB)"),
                of(|f| ms(f.last_byte)),
                "ms",
                None,
            );
            row(
                &mut out,
                &format!("{m}: the last word on screen after Enter"),
                of(|f| ms(f.on_screen)),
                "ms",
                None,
            );
            row(
                &mut out,
                &format!("{m}: the last word on screen after the server's last byte"),
                of(Figures::lag_ms),
                "ms",
                Some(200.0),
            );
            row(
                &mut out,
                &format!("{m}: CPU, Enter to the last word"),
                of(|f| ms(f.cpu)),
                "ms",
                None,
            );
            row(
                &mut out,
                &format!("{m}: CPU per token"),
                of(Figures::cpu_per_token_us),
                "µs",
                None,
            );
        }
        out
    }
}

/// Appends the row of `what`: the median of `v` in `unit`, its range, the
/// number of runs and `bound`, ✗ where the median misses it.
fn row(out: &mut String, what: &str, v: Vec<f64>, unit: &str, bound: Option<f64>) {
    let m = median(v.clone());
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let missed = bound.is_some_and(|b| m.partial_cmp(&b) != Some(std::cmp::Ordering::Less));
    out.push_str(&format!(
        "| {what} | {}{m:.1} {unit} ({lo:.1}–{hi:.1}) | {} | {} |\n",
        if missed { "✗ " } else { "" },
        v.len(),
        bound.map_or("—".into(), |b| format!("< {b} {unit}")),
    ));
}
