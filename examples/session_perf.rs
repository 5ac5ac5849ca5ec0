//! A whole headless session on the offline provider with zero latency, and
//! the disk it writes per 20,000 streamed tokens (issue 7). Prints:
//!
//! 1. `quorum run --offline PROMPT -q` as a process, from outside: wall time,
//!    median of the runs, with the default test command (`python3 -m
//!    unittest` on the generated project) and with a trivial `test.command` (`session::TRIVIAL_SUITE`)
//!    (budget: under 500 ms);
//! 2. the same session in process, split into providers (reply and file
//!    generation), test runs and orchestration, the rest (budget: under
//!    100 ms); the method is in `benches/support/session.rs`;
//! 3. the bytes written to storage (`/proc/self/io` `write_bytes`) by a
//!    session whose first task streams 20,000 more tokens, minus those of the
//!    same session without them, at full speed (N pairs of sessions) and
//!    with `--paced [M]` at 200 tokens/s (M pairs, by default 1; each takes
//!    100 s), as the median of the pairs (budget: under 1 MB).
//!
//! Run with `cargo build --release && cargo run --release --example
//! session_perf [-- --runs N] [--paced [M]]`. The process figures need the
//! release binary at `target/release/quorum` (or `QUORUM_BIN`). With
//! `--timeline` it prints, for one session, when the actor made each event
//! and when the consumer received it, and nothing else; with `--disk-only`
//! it prints the third figure alone.

// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "../benches/support/session.rs"]
#[allow(dead_code)]
mod session;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use session::{Preamble, SessionFigures};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("quorum-perf-")
        .tempdir()
        .unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn binary() -> PathBuf {
    std::env::var_os("QUORUM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/quorum"))
}

/// `quorum run --offline PROMPT -q --dir DIR` with a hermetic environment.
fn run_process(bin: &Path, config: Option<&Path>) -> Duration {
    let home = tempdir();
    let dir = tempdir();
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--offline", session::PROMPT, "-q", "--dir"])
        .arg(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for var in ["PYENV_ROOT", "PYENV_VERSION"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "quorum run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wall
}

fn in_process(settings: quorum::config::Settings, preamble: Option<Preamble>) -> SessionFigures {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempdir();
    let figures = rt.block_on(session::run_session(dir.path(), settings, preamble));
    assert_eq!(
        figures.status,
        Some(quorum::protocol::SessionStatus::Succeeded),
        "the session succeeds"
    );
    figures
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(7);
    let paced_runs: usize = match args.iter().position(|a| a == "--paced") {
        None => 0,
        Some(i) => args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(1),
    };
    if args.iter().any(|a| a == "--timeline") {
        let f = in_process(session::settings(session::TRIVIAL_SUITE), None);
        let mut last = Duration::ZERO;
        println!("received (+since the previous), made by the actor, event");
        for (at, made, kind) in &f.timeline {
            println!(
                "{:>8.1} ms (+{:>5.1}) {:>8.1} ms {kind}",
                at.as_secs_f64() * 1e3,
                at.saturating_sub(last).as_secs_f64() * 1e3,
                made.as_secs_f64() * 1e3
            );
            last = *at;
        }
        return;
    }

    let disk_only = args.iter().any(|a| a == "--disk-only");

    if !disk_only {
        // 1. From outside.
        process_figures(runs);
        // 2. In process, split.
        in_process_figures(runs);
    }

    // 3. Disk per 20,000 streamed tokens.
    disk_figures(runs, paced_runs);
}

/// `quorum run` as a process, from outside, with and without the Python tests.
fn process_figures(runs: usize) {
    let bin = binary();
    if bin.is_file() {
        let config_dir = tempdir();
        let config = config_dir.path().join("quorum.toml");
        std::fs::write(
            &config,
            format!("[test]\ncommand = \"{}\"\n", session::TRIVIAL_SUITE),
        )
        .unwrap_or_else(|e| panic!("config: {e}"));
        let _ = run_process(&bin, None); // warm the page cache
        let default: Vec<Duration> = (0..runs).map(|_| run_process(&bin, None)).collect();
        let no_tests: Vec<Duration> = (0..runs)
            .map(|_| run_process(&bin, Some(&config)))
            .collect();
        println!(
            "quorum run --offline (process, {runs} runs): median {} with python3 -m unittest, {} with a trivial test.command (budget 500 ms)",
            ms(median(default)),
            ms(median(no_tests)),
        );
    } else {
        println!(
            "{} not found: build it with `cargo build --release` for the process figures",
            bin.display()
        );
    }
}

/// The session in process, split into providers, test runs and orchestration.
fn in_process_figures(runs: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let scratch = tempdir();
    let test_cost = median(
        (0..runs)
            .map(|_| rt.block_on(session::test_run_cost(scratch.path())))
            .collect(),
    );
    let mut all: Vec<SessionFigures> = (0..runs)
        .map(|_| in_process(session::settings(session::TRIVIAL_SUITE), None))
        .collect();
    all.sort_by_key(|f| f.wall);
    let m = all[all.len() / 2].clone();
    let tests = test_cost * m.test_runs;
    let orchestration = m.wall.saturating_sub(m.providers + tests);
    println!(
        "session in process (trivial test.command, median of {runs} by wall time): wall {}, providers {} ({} calls), test runs {} ({} × {}), orchestration {} (budget 100 ms); runtime thread CPU {} of which providers {}; {} events",
        ms(m.wall),
        ms(m.providers),
        m.calls,
        ms(tests),
        m.test_runs,
        ms(test_cost),
        ms(orchestration),
        ms(m.thread_cpu),
        ms(m.providers),
        m.events,
    );
    let python = in_process(session::settings("auto"), None);
    println!(
        "the same with python3 -m unittest: wall {} ({} test runs)",
        ms(python.wall),
        python.test_runs
    );
}

/// The bytes written per 20,000 more streamed tokens: for each pace (full
/// speed; 200 tokens/s when `paced_runs` > 0), that many pairs of sessions
/// without and with them, and the median of the differences (the session
/// alone varies by ±100 KB from run to run: sled's flushes and cleaner).
fn disk_figures(full_runs: usize, paced_runs: usize) {
    for (rate, runs) in [(None, full_runs), (Some(200.0), paced_runs)] {
        if runs == 0 {
            continue;
        }
        let mut written = Vec::new();
        let mut db = Vec::new();
        let mut streamed = Vec::new();
        for _ in 0..runs {
            let base = in_process(session::settings(session::TRIVIAL_SUITE), None);
            let long = in_process(
                session::settings(session::TRIVIAL_SUITE),
                Some(Preamble {
                    task: "refine".to_string(),
                    tokens: 20_000,
                    rate,
                }),
            );
            written.push(long.write_bytes as i64 - base.write_bytes as i64);
            db.push(long.db_bytes as i64 - base.db_bytes as i64);
            streamed.push(long.wall.saturating_sub(base.wall));
        }
        let pace = match rate {
            Some(r) => format!(
                "{r:.0} tokens/s (streamed in {})",
                ms(median(streamed.clone()))
            ),
            None => "full speed".to_string(),
        };
        let kb = |v: &[i64]| {
            v.iter()
                .map(|b| format!("{}", b / 1024))
                .collect::<Vec<_>>()
                .join(", ")
        };
        written.sort_unstable();
        db.sort_unstable();
        println!(
            "20,000 more streamed tokens at {pace}, {runs} pairs of sessions: median {} KB written (each: {} KB), db median {} KB larger (budget 1 MB written)",
            written[written.len() / 2] / 1024,
            kb(&written),
            db[db.len() / 2] / 1024,
        );
    }
}
