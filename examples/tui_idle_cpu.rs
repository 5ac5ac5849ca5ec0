//! Idle CPU of the TUI (issue 5, acceptance 3) and of DIR's server (issue
//! 20): the release binary runs in a tmux pane at 120x40, once on the empty
//! screen and once with a session waiting for the person at resolve
//! (nothing streams, nothing spins); over 10 s each process's CPU time
//! (utime + stime, all threads) and its context switches (each wake-up of
//! any thread counts) are sampled from /proc: the TUI's (the pane's) and
//! its server's (`quorum serve`, which the TUI starts and which runs the
//! session; its pid is in DIR's lock file).
//!
//! Run with `cargo build --release && cargo run --release --example tui_idle_cpu`.
//! Needs tmux; the binary is looked for next to this example's directory
//! (`target/release/quorum`).

// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// How long each measurement lasts.
const SPAN: Duration = Duration::from_secs(10);

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-t", "q"]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn wait_for(&self, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.screen().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn pid(&self) -> Option<u32> {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", "q", "#{pane_pid}"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// Per thread of `pid` (by thread id): whether it is one of the store's I/O
/// pool (sled's `sled-io-*` threads), its CPU ticks and its context switches.
fn sample(pid: u32) -> HashMap<String, (bool, u64, u64)> {
    let mut out = HashMap::new();
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let mut ticks = 0;
        // Fields after the command name, which is in parentheses.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat: 12 and 13 after ')'.
            ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let store = std::fs::read_to_string(task.path().join("comm"))
            .unwrap_or_default()
            .starts_with("sled");
        let switches: u64 = status
            .lines()
            .filter_map(|l| {
                l.strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            })
            .filter_map(|v| v.trim().parse::<u64>().ok())
            .sum();
        out.insert(
            task.file_name().to_string_lossy().into_owned(),
            (store, ticks, switches),
        );
    }
    out
}

/// What changed between two samples: CPU ticks, the switches of the TUI's and
/// runtime's threads, and of the store's (threads that ended in between are
/// not counted; new ones count whole).
fn delta(
    before: &HashMap<String, (bool, u64, u64)>,
    after: &HashMap<String, (bool, u64, u64)>,
) -> (u64, u64, u64) {
    let (mut ticks, mut tui, mut store) = (0, 0, 0);
    for (tid, (is_store, t1, s1)) in after {
        let (t0, s0) = before.get(tid).map(|(_, t, s)| (*t, *s)).unwrap_or((0, 0));
        ticks += t1.saturating_sub(t0);
        if *is_store {
            store += s1.saturating_sub(s0);
        } else {
            tui += s1.saturating_sub(s0);
        }
    }
    (ticks, tui, store)
}

/// What one idle span cost a process: CPU milliseconds, the context
/// switches of its non-store threads, the store's.
type Idle = (f64, u64, u64);

/// The idle spans of the TUI and of its server.
fn measure(bin: &Path, prompt: Option<&str>, wait: &str) -> Result<(Idle, Idle), String> {
    let dir = std::env::temp_dir().join(format!(
        "quorum-idle-{}-{}",
        std::process::id(),
        prompt.is_some()
    ));
    std::fs::create_dir_all(dir.join("home")).map_err(|e| e.to_string())?;
    let tmux = Tmux {
        socket: format!("quorum-idle-{}-{}", std::process::id(), prompt.is_some()),
    };
    let quoted = prompt.map(|p| format!(" '{p}'")).unwrap_or_default();
    let command = format!(
        "HOME={home} XDG_CONFIG_HOME={home} XDG_STATE_HOME={home} exec {bin}{quoted}",
        home = dir.join("home").display(),
        bin = bin.display()
    );
    let started = tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "q",
            "-x",
            "120",
            "-y",
            "40",
            "-c",
        ])
        .arg(&dir)
        .arg(command)
        .status()
        .map_err(|e| format!("tmux: {e}"))?;
    if !started.success() {
        return Err("tmux new-session failed".into());
    }
    if !tmux.wait_for(wait) {
        return Err(format!("never saw {wait:?}:\n{}", tmux.screen()));
    }
    // Let the last toast expire and the session settle first.
    std::thread::sleep(Duration::from_secs(7));
    let pid = tmux.pid().ok_or("no pane pid")?;
    let server = std::fs::read_to_string(dir.join(".quorum/lock"))
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        .filter(|p| *p != pid)
        .ok_or("no server in DIR's lock file")?;
    let (before, server_before) = (sample(pid), sample(server));
    std::thread::sleep(SPAN);
    let (ticks, switches, store) = delta(&before, &sample(pid));
    let (s_ticks, s_switches, s_store) = delta(&server_before, &sample(server));
    drop(tmux);
    let _ = Command::new(bin)
        .arg("--dir")
        .arg(&dir)
        .args(["serve", "--stop", "--quiet"])
        .env("HOME", dir.join("home"))
        .status();
    let _ = std::fs::remove_dir_all(&dir);
    // Clock ticks are 1/100 s on Linux (sysconf(_SC_CLK_TCK) = 100).
    Ok((
        (ticks as f64 * 10.0, switches, store),
        (s_ticks as f64 * 10.0, s_switches, s_store),
    ))
}

fn main() -> ExitCode {
    let bin: PathBuf = match std::env::current_exe() {
        Ok(exe) => exe
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join("quorum"))
            .unwrap_or_default(),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if !bin.is_file() {
        eprintln!(
            "{} is missing: run `cargo build --release` first",
            bin.display()
        );
        return ExitCode::FAILURE;
    }
    for (what, prompt, wait) in [
        ("empty screen", None, "What should the team build?"),
        (
            "session waiting at resolve",
            Some("Build a CLI todo app"),
            "waiting for the person",
        ),
    ] {
        match measure(&bin, prompt, wait) {
            Ok(((ms, switches, _), (s_ms, s_switches, s_store))) => {
                println!(
                    "idle, {what}: the TUI {ms:.0} ms of CPU over {} s ({:.2} %), {switches} context switches; its server {s_ms:.0} ms ({:.2} %), {s_switches} context switches in the server's and the runtime's threads, {s_store} in the store's I/O pool",
                    SPAN.as_secs(),
                    ms / SPAN.as_millis() as f64 * 100.0,
                    s_ms / SPAN.as_millis() as f64 * 100.0
                );
            }
            Err(e) => {
                eprintln!("{what}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
