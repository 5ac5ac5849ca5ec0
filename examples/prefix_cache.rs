//! Issue 21's acceptance line 4: the tokens a recorded session sends, and how
//! many of them a provider with automatic prefix caching serves from its
//! cache. A recording (`tests/fixtures/recordings/`) is replayed through a
//! fake OpenAI-compatible server on 127.0.0.1 (`tests/all/replay.rs`) that
//! simulates OpenAI's prompt caching (`benches/support/prefix_cache.rs`
//! states the rules) and reports `usage.prompt_tokens_details.cached_tokens`;
//! `quorum run PROMPT --json` runs headless against it. It prints the
//! requests, the prompt tokens sent, the cached tokens and the cache-hit share.
//!
//! Run with `cargo build --release && cargo run --release --example
//! prefix_cache [-- --quorum PATH] [--recording NAME]` (defaults:
//! `target/release/quorum` or `QUORUM_BIN`, `rust-wc-cli`). To compare two
//! orderings, run it once per binary (docs/performance.md "Prompt prefix
//! caching"). The test phase runs the recorded project's tests with your
//! `CARGO_HOME` and `RUSTUP_HOME`, and without the setup step (no network):
//! both binaries take the same path.

// Measurement scaffolding, like the tests it borrows the fake servers from.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/all/fake_llm.rs"]
#[allow(dead_code)]
mod fake_llm;
#[path = "../benches/support/prefix_cache.rs"]
#[allow(dead_code)]
mod prefix_cache;
#[path = "../tests/all/replay.rs"]
#[allow(dead_code)]
mod replay;

/// What `replay.rs` needs of the test suite's `common.rs`.
mod common {
    use std::path::{Path, PathBuf};

    /// `tests/fixtures/REL`.
    pub fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel)
    }
}

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};

use prefix_cache::PrefixCache;
use replay::{Replay, replay_config};

struct Options {
    bin: PathBuf,
    recording: String,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        bin: std::env::var_os("QUORUM_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/quorum")),
        recording: "rust-wc-cli".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--quorum" => o.bin = PathBuf::from(value),
            "--recording" => o.recording = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(o)
}

/// Runs the recording's prompt headless against `replay`; quorum's exit code
/// and the last line of its event stream.
fn run_session(o: &Options, replay: &Replay) -> Result<(i32, String), String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = scratch.path().join("project");
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let config = scratch.path().join("quorum.toml");
    let extra = "[test]\nsetup = \"\"\nsetup_network = false\ntimeout_s = 120\n";
    std::fs::write(&config, replay_config(&replay.url()) + extra).map_err(|e| e.to_string())?;
    let real_home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let mut cmd = Command::new(&o.bin);
    cmd.arg("run")
        .arg(replay.recording.prompt())
        .arg("--dir")
        .arg(&dir)
        .arg("--json")
        .arg("--config")
        .arg(&config)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (name, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let value = std::env::var_os(name)
            .map(PathBuf::from)
            .unwrap_or_else(|| real_home.join(default));
        cmd.env(name, value);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", o.bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("").to_string();
    Ok((out.status.code().unwrap_or(-1), last))
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("prefix_cache: {e}");
            return ExitCode::from(2);
        }
    };
    let replay = Replay::start(&o.recording);
    // A review the recording lacks finds nothing.
    replay.reply_for("security", "review the staged files", "{\"findings\": []}");
    let cache = Arc::new(Mutex::new(PrefixCache::default()));
    let shared = Arc::clone(&cache);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&calls);
    replay.usage_with(move |body, usage| {
        let usage = shared.lock().unwrap().usage(body, usage);
        log.lock().unwrap().push(format!(
            "  {:>6} {:>6}  {:<9} {}",
            usage["prompt_tokens"],
            usage["prompt_tokens_details"]["cached_tokens"],
            replay::role_of(body).unwrap_or("?"),
            replay::title_of(body).unwrap_or_default()
        ));
        usage
    });
    let (code, last) = match run_session(&o, &replay) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("prefix_cache: {e}");
            return ExitCode::from(1);
        }
    };
    let cache = cache.lock().unwrap();
    println!("quorum: {}", o.bin.display());
    println!(
        "recording: {} (quorum exit {code}; served {}, unmatched {})",
        o.recording,
        replay.served().len(),
        replay.unmatched().len()
    );
    for (role, title) in replay.unmatched() {
        println!("  unmatched: {role}: {title}");
    }
    println!("  prompt cached  agent     task");
    for line in calls.lock().unwrap().iter() {
        println!("{line}");
    }
    println!(
        "requests {}  prompt tokens sent {}  cached {}  uncached {}  cache-hit share {:.1} %",
        cache.requests,
        cache.prompt_tokens,
        cache.cached_tokens,
        cache.prompt_tokens - cache.cached_tokens,
        100.0 * cache.hit_share()
    );
    if code != 0 && code != 1 && code != 3 {
        eprintln!("last event: {last}");
    }
    ExitCode::SUCCESS
}
