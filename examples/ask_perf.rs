//! `quorum ask` of a 20,000-token reply from a loopback fake server (issue 7):
//! how long the process takes to exit after the server's last byte (budget:
//! under 0.1 s) and its peak resident set (budget: under 20 MB), from
//! outside, median of the runs. The server and the method are in
//! `benches/support/ask.rs`.
//!
//! Run with `cargo build --release && cargo run --release --example ask_perf
//! [-- RUNS]`; it runs `target/release/quorum` (or `QUORUM_BIN`).

// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "../benches/support/ask.rs"]
#[allow(dead_code)]
mod ask;

use std::path::{Path, PathBuf};
use std::time::Duration;

fn median<T: Ord + Copy + Default>(mut v: Vec<T>) -> T {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(7);
    let bin: PathBuf = std::env::var_os("QUORUM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/quorum"));
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build --release` first",
        bin.display()
    );
    let _ = ask::ask_once(&bin, 20_000); // warm the page cache
    let all: Vec<ask::AskFigures> = (0..runs).map(|_| ask::ask_once(&bin, 20_000)).collect();
    let first = all[0];
    println!(
        "quorum ask, {} tokens ({} KB of text, {} KB of SSE) from 127.0.0.1, {runs} runs:",
        first.tokens,
        first.stdout_bytes / 1024,
        first.sse_bytes / 1024
    );
    println!(
        "  exit after the server's last byte: median {}, worst {} (budget 100 ms)",
        ms(median(all.iter().map(|f| f.after_last_byte).collect())),
        ms(all
            .iter()
            .map(|f| f.after_last_byte)
            .max()
            .unwrap_or_default()),
    );
    println!(
        "  last byte on stdout after the server's last byte: median {}",
        ms(median(
            all.iter().map(|f| f.shown_after_last_byte).collect()
        )),
    );
    println!(
        "  peak RSS (ru_maxrss): median {:.1} MB, worst {:.1} MB (budget 20 MB)",
        median(all.iter().map(|f| f.max_rss_kb).collect()) as f64 / 1024.0,
        all.iter().map(|f| f.max_rss_kb).max().unwrap_or(0) as f64 / 1024.0,
    );
    println!(
        "  streaming (request to the server's last byte): median {}; CPU of the process: median {}",
        ms(median(all.iter().map(|f| f.streaming).collect())),
        ms(median(all.iter().map(|f| f.cpu).collect())),
    );
}
