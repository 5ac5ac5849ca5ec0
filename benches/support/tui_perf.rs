//! The TUI's figures of issue 7, measured from outside the release binary;
//! shared by `examples/tui_perf.rs` (the figures) and the integration suite's
//! smoke test (`tests/all/tui_perf.rs`, once at a small size, nothing timed).
//!
//! * **Cold start** ([`cold_start`]): `quorum` is spawned on a pseudo-terminal
//!   of our own (`openpty`, the child in its own session with the pty as its
//!   controlling terminal, so that raw mode and the window size are real),
//!   and the master is read until the first frame is complete: the
//!   cursor-hide that ends a frame, after the bottom row's text. Timed from
//!   just before `spawn`. Then, with the empty screen idle for
//!   [`IDLE_SETTLE`], the resident set (`VmRSS`, `VmHWM` of
//!   `/proc/PID/status`).
//! * **A streamed reply** ([`stream`]): `quorum` runs in a tmux pane of its
//!   own (private socket, `-f /dev/null`) with a config whose every agent uses
//!   an OpenAI-kind provider at a loopback fake server ([`Server`]). Once the
//!   empty screen shows, `pipe-pane -o` copies every byte the program writes
//!   to the pane into a file, and a prompt is typed. The server answers the
//!   first request with the reply as `chat.completion.chunk` events, one per
//!   word (about 1.4 tokens), either as fast as the socket takes them or
//!   paced at a rate in tokens per second (a token is four bytes of text);
//!   later requests get an HTTP 400 (the prose is no valid requirements
//!   JSON, so the orchestrator asks again). At the request's arrival the
//!   server samples the process's CPU time (`utime + stime` of
//!   `/proc/PID/stat`, every thread, ticks of 10 ms) and the size of the
//!   pipe-pane file. `capture-pane` is polled until the reply's last word
//!   ([`END_MARK`]) is on screen; then the CPU time again, and, after
//!   [`PIPE_SETTLE`] for tmux to write what it already read, the file's size.
//!
//! The text is varied: words drawn from a list by a seeded xorshift
//! generator, sentences with punctuation, lines of 6 to 24 words (so lines
//! wrap at some widths and not at others), now and then a blank line.
//!
//! With `TUI_PERF_DUMP=FILE` in the environment, the bytes of each run's
//! first frame (cold start) or reply (streamed) are copied to FILE, for a
//! look at what a frame costs.
//!
//! The fake server (`tui_perf_server.rs`) stops by itself: no request within
//! its `ACCEPT_LIMIT`, or `SERVE_LIMIT` after its reply, or when the
//! measurement is over. Nothing
//! here talks to any address but 127.0.0.1.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "tui_perf_server.rs"]
pub mod server;

pub use self::server::{Server, Writes, reply_text, sse_events};

/// The reply's last word: when it is on screen, the whole reply was shown.
pub const END_MARK: &str = "omega-fin";
/// How long the empty screen idles before its resident set is read.
pub const IDLE_SETTLE: Duration = Duration::from_secs(2);
/// How long tmux is given to pass on the bytes it already read.
pub const PIPE_SETTLE: Duration = Duration::from_millis(100);
/// The longest wait for a first frame.
const START_LIMIT: Duration = Duration::from_secs(20);

/// Cold start and idle memory, from one run on a pseudo-terminal.
#[derive(Clone, Copy, Debug)]
pub struct StartFigures {
    /// From just before `spawn` to the last byte of the first frame.
    pub first_frame: Duration,
    /// Bytes written up to the end of the first frame.
    pub frame_bytes: usize,
    /// Resident set after [`IDLE_SETTLE`] on the empty screen, KiB.
    pub idle_rss_kb: u64,
    /// Peak resident set by then, KiB.
    pub idle_hwm_kb: u64,
    /// The resident set of DIR's server (`quorum serve`, which the TUI
    /// started or attached to) by then, KiB; 0 when there is none.
    pub server_rss_kb: u64,
    /// The server's CPU time over [`IDLE_SETTLE`] (after the first) with
    /// the TUI attached and no session: what an idle server costs.
    pub server_idle_cpu: Duration,
}

/// One reply streamed into the TUI.
#[derive(Clone, Copy, Debug)]
pub struct StreamFigures {
    /// Tokens of the reply (four bytes of text each).
    pub tokens: usize,
    /// Bytes of the reply's text.
    pub text_bytes: usize,
    /// SSE events (one per word) of the reply.
    pub chunks: usize,
    /// From the server's first byte of the reply to its last.
    pub streaming: Duration,
    /// From the server's first byte to the last word on screen.
    pub visible: Duration,
    /// The process's CPU time (all threads) from the request's arrival to
    /// the last word on screen.
    pub cpu: Duration,
    /// The part of [`StreamFigures::cpu`] spent by the main thread, which
    /// runs the TUI's loop.
    pub tui_cpu: Duration,
    /// Wall time over which [`StreamFigures::cpu`] was taken.
    pub wall: Duration,
    /// Bytes the program wrote to the terminal over the same span.
    pub terminal_bytes: u64,
    /// Resident set once the reply shows, KiB.
    pub rss_kb: u64,
    /// Peak resident set by then, KiB.
    pub hwm_kb: u64,
    /// The CPU time of DIR's server (which runs the session; the TUI is its
    /// client) from the prompt's Enter to the last word on screen; zero
    /// when the TUI ran the session itself.
    pub server_cpu: Duration,
}

impl StreamFigures {
    /// CPU time as a share of one core over the span, in percent.
    pub fn core_percent(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9) * 100.0
    }
}

/// The process's CPU time, user + system, every thread (ticks of
/// `/proc/PID/stat`, converted with the clock-tick rate).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

/// The CPU time of the process's main thread alone, which runs the TUI's
/// loop (the orchestrator and the provider calls run on the runtime's
/// worker threads, the store on its own).
pub fn main_thread_cpu_time(pid: u32) -> Option<Duration> {
    stat_cpu(&format!("/proc/{pid}/task/{pid}/stat"))
}

fn stat_cpu(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15: 12 and 13 after the ')'.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// `VmRSS` and `VmHWM` of `/proc/PID/status`, KiB.
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A fresh directory with a HOME, XDG dirs and a `quorum.toml` whose every
/// agent uses the OpenAI-kind provider `fake` at `127.0.0.1:port`.
pub struct Sandbox {
    /// The temporary root; DIR is the root itself.
    pub root: tempfile::TempDir,
}

impl Sandbox {
    /// Creates it; `port` 0 writes no config (the offline team).
    pub fn new(port: u16) -> Result<Sandbox, String> {
        let root = tempfile::Builder::new()
            .prefix("quorum-tui-perf-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        for sub in ["home", "config", "state"] {
            std::fs::create_dir(root.path().join(sub)).map_err(|e| e.to_string())?;
        }
        if port != 0 {
            let agents: String = ["pm", "backend", "frontend", "qa", "security"]
                .iter()
                .map(|a| format!("[agents.{a}]\nprovider = \"fake\"\nmodel = \"fake-1\"\n"))
                .collect();
            std::fs::write(
                root.path().join("quorum.toml"),
                format!(
                    "[providers.fake]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n{agents}"
                ),
            )
            .map_err(|e| format!("config: {e}"))?;
        }
        Ok(Sandbox { root })
    }

    /// DIR.
    pub fn dir(&self) -> &Path {
        self.root.path()
    }

    /// The environment a child gets: nothing of ours but PATH and the locale.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("HOME".to_string(), path(&self.dir().join("home"))),
            (
                "XDG_CONFIG_HOME".to_string(),
                path(&self.dir().join("config")),
            ),
            (
                "XDG_STATE_HOME".to_string(),
                path(&self.dir().join("state")),
            ),
        ];
        for keep in ["PATH", "LANG", "LC_ALL", "TZ"] {
            if let Ok(v) = std::env::var(keep) {
                env.push((keep.to_string(), v));
            }
        }
        if !env.iter().any(|(k, _)| k == "LANG" || k == "LC_ALL") {
            env.push(("LANG".to_string(), "C.UTF-8".to_string()));
        }
        env
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Spawns `bin --dir DIR` on a new pseudo-terminal of `w`x`h` and returns the
/// cold start to its first full frame, and the idle resident set.
pub fn cold_start(bin: &Path, w: u16, h: u16) -> Result<StartFigures, String> {
    let sandbox = Sandbox::new(0)?;
    start_in(bin, &sandbox, w, h)
}

/// The TUI's start when DIR's server already runs (`quorum serve` first):
/// attaching, to the first full frame; the server is stopped after.
pub fn attach_start(bin: &Path, w: u16, h: u16) -> Result<StartFigures, String> {
    let sandbox = Sandbox::new(0)?;
    let serve = |args: &[&str]| {
        Command::new(bin)
            .arg("--dir")
            .arg(sandbox.dir())
            .args(args)
            .env_clear()
            .envs(sandbox.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", bin.display()))
    };
    serve(&["serve"])?;
    let figures = start_in(bin, &sandbox, w, h);
    serve(&["serve", "--stop"])?;
    figures
}

/// The pid of DIR's server, from DIR's lock file (its holder).
pub fn server_pid(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join(".quorum/lock")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// The TUI started on a pseudo-terminal in `sandbox`'s DIR, to its first
/// full frame, then idle.
fn start_in(bin: &Path, sandbox: &Sandbox, w: u16, h: u16) -> Result<StartFigures, String> {
    let (mut master, slave) = open_pty(w, h)?;
    let fd = |f: &OwnedFd| f.try_clone().map(Stdio::from).map_err(|e| e.to_string());
    let mut cmd = Command::new(bin);
    cmd.arg("--dir")
        .arg(sandbox.dir())
        .current_dir(sandbox.dir())
        .env_clear()
        .envs(sandbox.env())
        .env("TERM", "xterm-256color")
        .stdin(fd(&slave)?)
        .stdout(fd(&slave)?)
        .stderr(fd(&slave)?);
    // SAFETY: only async-signal-safe calls between fork and exec: setsid and
    // ioctl on the inherited stdin (the pty's slave).
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    // The command holds copies of the slave: the master reads EOF (EIO) only
    // once every copy outside the child is closed.
    drop(cmd);
    drop(slave);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        // Ends with EIO once the child (the slave's last holder) is gone.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    let pid = child.id();
    let mut out: Vec<u8> = Vec::new();
    let mut frame_end = None;
    let deadline = Instant::now() + START_LIMIT;
    while frame_end.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((at, bytes)) = rx.recv_timeout(left) else {
            break;
        };
        let from = out.len().saturating_sub(8);
        out.extend_from_slice(&bytes);
        // The frame ends with the cursor hidden (or shown, with an editor's
        // cursor), after its last row.
        let text = String::from_utf8_lossy(&out);
        if text.contains("Transcript") && text.contains("╰") {
            let tail = &out[from..];
            if find(tail, b"\x1b[?25l").is_some() || find(tail, b"\x1b[?25h").is_some() {
                frame_end = Some((at, out.len()));
            }
        }
    }
    if let Some(dump) = std::env::var_os("TUI_PERF_DUMP") {
        let _ = std::fs::write(dump, &out);
    }
    let result = match frame_end {
        Some((at, bytes)) => {
            std::thread::sleep(IDLE_SETTLE);
            let (idle_rss_kb, idle_hwm_kb) = memory(pid);
            // The TUI draws while it reaches the server: by now the server
            // it started listens, and it is measured idle over a second
            // span.
            let server = server_pid(sandbox.dir()).filter(|p| *p != pid);
            let server_cpu = || server.and_then(cpu_time).unwrap_or_default();
            let idle_from = server_cpu();
            if server.is_some() {
                std::thread::sleep(IDLE_SETTLE);
            }
            Ok(StartFigures {
                first_frame: at.saturating_duration_since(started),
                frame_bytes: bytes,
                idle_rss_kb,
                idle_hwm_kb,
                server_rss_kb: server.map(|p| memory(p).0).unwrap_or(0),
                server_idle_cpu: server_cpu().saturating_sub(idle_from),
            })
        }
        None => Err(format!(
            "no first frame within {START_LIMIT:?}; output: {:?}",
            String::from_utf8_lossy(&out)
        )),
    };
    stop(&mut child);
    drop(rx);
    let _ = reader.join();
    result
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn open_pty(w: u16, h: u16) -> Result<(std::fs::File, OwnedFd), String> {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: h,
        ws_col: w,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills the two descriptors; the name and termios
    // pointers may be null; the winsize is ours.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if rc != 0 {
        return Err(format!("openpty: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // The master must not leak into the child.
    // SAFETY: fcntl on our own open descriptor.
    unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok((std::fs::File::from(master), slave))
}

/// SIGTERM (the TUI stops its session and restores the terminal), then
/// SIGKILL if it is still there after 5 s; reaps it.
fn stop(child: &mut std::process::Child) {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A tmux server of our own with one session `q`; killed when dropped.
pub struct Tmux {
    socket: String,
    env: Vec<(String, String)>,
}

impl Tmux {
    /// Starts `command` (run by tmux's shell) in a detached `w`x`h` session.
    pub fn start(
        env: Vec<(String, String)>,
        dir: &Path,
        w: u16,
        h: u16,
        command: &str,
    ) -> Result<Tmux, String> {
        let tmux = Tmux {
            socket: format!(
                "quorum-tui-perf-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ),
            env,
        };
        let out = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "q",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                "-c",
            ])
            .arg(dir)
            .arg(command)
            .output()
            .map_err(|e| format!("tmux: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tmux new-session: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(tmux)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("TERM", "xterm-256color")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .stdin(Stdio::null());
        c
    }

    /// Runs a tmux command; its stdout.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .cmd()
            .args(args)
            .output()
            .map_err(|e| format!("tmux: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tmux {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The visible screen as text.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "q"])
            .unwrap_or_default()
    }

    /// Polls the screen every `every` until it contains `text`; the time it
    /// was first seen.
    pub fn wait_for(
        &self,
        text: &str,
        every: Duration,
        limit: Duration,
    ) -> Result<Instant, String> {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                return Err(format!("never saw {text:?}; the screen:\n{screen}"));
            }
            std::thread::sleep(every);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// Streams a reply of `tokens` tokens into `bin`'s TUI in a `w`x`h` tmux
/// pane, at `rate` tokens per second or at full speed (`None`).
pub fn stream(
    bin: &Path,
    w: u16,
    h: u16,
    tokens: usize,
    rate: Option<f64>,
    seed: u64,
) -> Result<StreamFigures, String> {
    let server = Server::bind()?;
    let sandbox = Sandbox::new(server.port)?;
    let text = reply_text(tokens, seed);
    let events = sse_events(&text);
    let chunks = events.len() - 1;
    let piped = sandbox.dir().join("piped.bytes");
    let (tmux, pid) = open_tui(bin, &sandbox, (w, h), START_LIMIT)?;
    tmux.run(&[
        "pipe-pane",
        "-o",
        "-t",
        "q",
        &format!("cat > '{}'", piped.display()),
    ])?;
    // Network-sized writes at full speed, as a server flushing its stream
    // would make.
    let writes = rate.map_or(Writes::Chunks(16 * 1024), Writes::Paced);
    let (stop, served) = server.serve(pid, piped.clone(), events, writes);
    // The session runs in DIR's server, which the TUI started (it draws
    // while the server starts: wait until it listens).
    let until = Instant::now() + START_LIMIT;
    let socket = sandbox.dir().join(".quorum/serve.sock");
    while !socket.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    let server = server_pid(sandbox.dir()).filter(|p| *p != pid);
    let server_cpu = || server.and_then(cpu_time).unwrap_or_default();
    let server_from = server_cpu();
    tmux.run(&["send-keys", "-t", "q", "-l", "Write the design notes"])?;
    tmux.run(&["send-keys", "-t", "q", "Enter"])?;
    let every = if rate.is_some() {
        Duration::from_millis(50)
    } else {
        Duration::from_millis(10)
    };
    let expected = rate
        .map(|r| Duration::from_secs_f64(tokens as f64 / r))
        .unwrap_or_default();
    let seen = tmux.wait_for(END_MARK, every, expected + Duration::from_secs(60));
    let cpu_end = cpu_time(pid).unwrap_or_default();
    let server_end = server_cpu();
    let tui_cpu_end = main_thread_cpu_time(pid).unwrap_or_default();
    let (rss_kb, hwm_kb) = memory(pid);
    std::thread::sleep(PIPE_SETTLE);
    let piped_end = std::fs::metadata(&piped).map(|m| m.len()).unwrap_or(0);
    stop.store(true, Ordering::SeqCst);
    if let Some(dump) = std::env::var_os("TUI_PERF_DUMP") {
        let _ = std::fs::copy(&piped, dump);
    }
    let seen = seen?;
    let s = served
        .recv_timeout(Duration::from_secs(10))
        .map_err(|e| format!("the server did not finish its reply: {e}"))?;
    close_tui(bin, &sandbox, tmux);
    Ok(StreamFigures {
        tokens: text.len().div_ceil(4),
        text_bytes: text.len(),
        chunks,
        streaming: s.last_byte.saturating_duration_since(s.first_byte),
        visible: seen.saturating_duration_since(s.first_byte),
        cpu: cpu_end.saturating_sub(s.cpu),
        tui_cpu: tui_cpu_end.saturating_sub(s.tui_cpu),
        wall: seen.saturating_duration_since(s.arrived),
        terminal_bytes: piped_end.saturating_sub(s.piped),
        rss_kb,
        hwm_kb,
        server_cpu: server_end.saturating_sub(server_from),
    })
}

/// The TUI of `bin` in a tmux pane of `w`x`h` in `sandbox`'s DIR, once it
/// shows its empty prompt (within `limit`); the tmux and the pane's pid.
pub fn open_tui(
    bin: &Path,
    sandbox: &Sandbox,
    (w, h): (u16, u16),
    limit: Duration,
) -> Result<(Tmux, u32), String> {
    let command = format!(
        "exec '{}' --dir '{}'",
        bin.display(),
        sandbox.dir().display()
    );
    let tmux = Tmux::start(sandbox.env(), sandbox.dir(), w, h, &command)?;
    tmux.wait_for(
        "What should the team build",
        Duration::from_millis(20),
        limit,
    )?;
    let pid: u32 = tmux
        .run(&["display-message", "-p", "-t", "q", "#{pane_pid}"])?
        .trim()
        .parse()
        .map_err(|e| format!("pane pid: {e}"))?;
    Ok((tmux, pid))
}

/// Ends the TUI opened by [`open_tui`]: tmux is killed (the TUI detaches
/// at the hangup) and DIR's server, which would wait for a person, stopped.
pub fn close_tui(bin: &Path, sandbox: &Sandbox, tmux: Tmux) {
    drop(tmux);
    let _ = Command::new(bin)
        .arg("--dir")
        .arg(sandbox.dir())
        .args(["serve", "--stop"])
        .env_clear()
        .envs(sandbox.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// What [`measure`] runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `quorum` binary.
    pub bin: PathBuf,
    /// The terminal's size (columns, rows).
    pub size: (u16, u16),
    /// Cold starts, and replies at full speed.
    pub runs: usize,
    /// Replies at [`Options::rate`].
    pub paced_runs: usize,
    /// Tokens of each reply.
    pub tokens: usize,
    /// Tokens per second of the paced replies.
    pub rate: f64,
}

/// Every run's figures.
#[derive(Clone, Debug)]
pub struct Report {
    /// The options measured with.
    pub options: Options,
    /// The cold starts (the TUI starts DIR's server).
    pub starts: Vec<StartFigures>,
    /// The starts with DIR's server already running (attach).
    pub attaches: Vec<StartFigures>,
    /// The replies at full speed.
    pub fast: Vec<StreamFigures>,
    /// The replies at the rate.
    pub paced: Vec<StreamFigures>,
    /// The load average (1, 5, 15 min) before and after.
    pub load: (String, String),
}

/// The load average of `/proc/loadavg`.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Runs everything: a first start to warm the page cache (not counted),
/// then the cold starts, the replies at full speed and the paced ones,
/// each with a fresh directory, HOME and server.
pub fn measure(o: &Options) -> Result<Report, String> {
    let before = load();
    let (w, h) = o.size;
    cold_start(&o.bin, w, h)?;
    let starts = (0..o.runs)
        .map(|_| cold_start(&o.bin, w, h))
        .collect::<Result<_, _>>()?;
    let attaches = (0..o.runs)
        .map(|_| attach_start(&o.bin, w, h))
        .collect::<Result<_, _>>()?;
    let fast = (0..o.runs)
        .map(|i| stream(&o.bin, w, h, o.tokens, None, i as u64 + 1))
        .collect::<Result<_, _>>()?;
    let paced = (0..o.paced_runs)
        .map(|i| stream(&o.bin, w, h, o.tokens, Some(o.rate), i as u64 + 1))
        .collect::<Result<_, _>>()?;
    Ok(Report {
        options: o.clone(),
        starts,
        attaches,
        fast,
        paced,
        load: (before, load()),
    })
}

/// The median (the upper one of an even count); NaN when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Report {
    /// The figures as a Markdown table: median, range and runs of each,
    /// its budget, ✗ where the median misses it.
    pub fn table(&self) -> String {
        let mut out = String::new();
        self.start_rows(&mut out);
        self.server_rows(&mut out);
        self.full_speed_rows(&mut out);
        self.paced_rows(&mut out);
        let head = self.head();
        format!("{head}| figure | median (range) | runs | budget |\n|---|---|---|---|\n{out}")
    }

    /// The rows of the cold starts: first frame, idle and peak RSS.
    fn start_rows(&self, out: &mut String) {
        let starts = &self.starts;
        row(
            out,
            "cold start to the first full frame",
            starts.iter().map(|s| ms(s.first_frame)).collect(),
            "ms",
            Some(30.0),
        );
        row(
            out,
            "idle RSS, empty screen (VmRSS)",
            starts
                .iter()
                .map(|s| s.idle_rss_kb as f64 / 1024.0)
                .collect(),
            "MB",
            Some(25.0),
        );
        row(
            out,
            "peak RSS by then (VmHWM)",
            starts
                .iter()
                .map(|s| s.idle_hwm_kb as f64 / 1024.0)
                .collect(),
            "MB",
            None,
        );
    }

    /// The rows of DIR's server: attaching to a running one, its idle
    /// memory and CPU, and its CPU for the replies.
    fn server_rows(&self, out: &mut String) {
        let attaches = &self.attaches;
        row(
            out,
            "attach (server running) to the first full frame",
            attaches.iter().map(|s| ms(s.first_frame)).collect(),
            "ms",
            Some(30.0),
        );
        row(
            out,
            "server: idle RSS, a client attached, no session",
            self.starts
                .iter()
                .map(|s| s.server_rss_kb as f64 / 1024.0)
                .collect(),
            "MB",
            None,
        );
        row(
            out,
            &format!("server: CPU over {IDLE_SETTLE:?} idle"),
            self.starts.iter().map(|s| ms(s.server_idle_cpu)).collect(),
            "ms",
            None,
        );
        row(
            out,
            "full speed: the server's CPU (Enter to the last word)",
            self.fast.iter().map(|s| ms(s.server_cpu)).collect(),
            "ms",
            None,
        );
        let rate = self.options.rate;
        row(
            out,
            &format!("{rate} tokens/s: the server's CPU, % of a core"),
            self.paced
                .iter()
                .map(|s| s.server_cpu.as_secs_f64() / s.wall.as_secs_f64().max(1e-9) * 100.0)
                .collect(),
            "%",
            None,
        );
    }

    /// The rows of the full-speed replies: latency, CPU and terminal bytes.
    fn full_speed_rows(&self, out: &mut String) {
        let fast = &self.fast;
        row(
            out,
            "full speed: the reply on screen after its first byte",
            fast.iter().map(|s| ms(s.visible)).collect(),
            "ms",
            Some(500.0),
        );
        row(
            out,
            "full speed: CPU until then (all threads)",
            fast.iter().map(|s| ms(s.cpu)).collect(),
            "ms",
            Some(500.0),
        );
        row(
            out,
            "full speed: of which the TUI's thread",
            fast.iter().map(|s| ms(s.tui_cpu)).collect(),
            "ms",
            None,
        );
        row(
            out,
            "full speed: bytes to the terminal",
            fast.iter()
                .map(|s| s.terminal_bytes as f64 / 1024.0)
                .collect(),
            "KB",
            None,
        );
    }

    /// The rows of the paced replies: CPU share, terminal bytes and peak RSS.
    fn paced_rows(&self, out: &mut String) {
        let o = &self.options;
        let share = |s: &StreamFigures, cpu: Duration| {
            cpu.as_secs_f64() / s.wall.as_secs_f64().max(1e-9) * 100.0
        };
        let paced = &self.paced;
        let rate = o.rate;
        row(
            out,
            &format!("{rate} tokens/s: CPU, % of a core (all threads)"),
            paced.iter().map(|s| share(s, s.cpu)).collect(),
            "%",
            Some(3.0),
        );
        row(
            out,
            &format!("{rate} tokens/s: of which the TUI's thread"),
            paced.iter().map(|s| share(s, s.tui_cpu)).collect(),
            "%",
            None,
        );
        row(
            out,
            &format!("{rate} tokens/s: bytes to the terminal"),
            paced
                .iter()
                .map(|s| s.terminal_bytes as f64 / 1024.0)
                .collect(),
            "KB",
            Some(400.0),
        );
        row(
            out,
            &format!("{rate} tokens/s: peak RSS (VmHWM)"),
            paced.iter().map(|s| s.hwm_kb as f64 / 1024.0).collect(),
            "MB",
            None,
        );
    }

    /// The table's head: the size, binary, reply and load average.
    fn head(&self) -> String {
        let o = &self.options;
        let fast = &self.fast;
        let paced = &self.paced;
        match fast.first().or(paced.first()) {
            Some(f) => format!(
                "quorum TUI at {}x{}, {}; reply: {} tokens, {} KB of text, {} SSE events (full speed: sent in {:.1} ms)\nload average before: {}, after: {}\n\n",
                o.size.0,
                o.size.1,
                o.bin.display(),
                f.tokens,
                f.text_bytes / 1024,
                f.chunks,
                median(fast.iter().map(|s| ms(s.streaming)).collect()),
                self.load.0,
                self.load.1
            ),
            None => String::new(),
        }
    }
}

/// Appends the row of `what` to `out`: the median of `v` in `unit`, its range,
/// the number of runs and `budget`, ✗ where the median misses it.
fn row(out: &mut String, what: &str, v: Vec<f64>, unit: &str, budget: Option<f64>) {
    let m = median(v.clone());
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // NaN (no run) misses too.
    let missed = budget.is_some_and(|b| m.partial_cmp(&b) != Some(std::cmp::Ordering::Less));
    out.push_str(&format!(
        "| {what} | {}{m:.1} {unit} ({lo:.1}–{hi:.1}) | {} | {} |\n",
        if missed { "✗ " } else { "" },
        v.len(),
        budget
            .map(|b| format!("< {b} {unit}"))
            .unwrap_or("—".into()),
    ));
}
