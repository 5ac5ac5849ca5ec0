//! The TUI's figures of issue 7, from outside the release binary, medians of
//! several runs: cold start to the first full frame, idle RSS, a 20,000-token
//! reply from a loopback fake server at full speed (time until it is all on
//! screen, CPU) and at 200 tokens/s (CPU share, bytes written to the
//! terminal). The method is in `benches/support/tui_perf.rs`.
//!
//! Run with `cargo build --release && cargo run --release --example tui_perf
//! [-- --runs N] [--paced-runs N] [--tokens N] [--rate T] [--size WxH]`
//! (defaults: 7 runs, 3 paced runs of 100 s each, 20,000 tokens, 200
//! tokens/s, 120x40); it runs `target/release/quorum` (or `QUORUM_BIN`).
//! Needs tmux. `TUI_PERF_DUMP=FILE` keeps the bytes of the last run.

// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "../benches/support/tui_perf.rs"]
#[allow(dead_code)]
mod tui_perf;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn options() -> Result<tui_perf::Options, String> {
    let mut o = tui_perf::Options {
        bin: std::env::var_os("QUORUM_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/quorum")),
        size: (120, 40),
        runs: 7,
        paced_runs: 3,
        tokens: 20_000,
        rate: 200.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--runs" => o.runs = value.parse().map_err(|e| bad(&e))?,
            "--paced-runs" => o.paced_runs = value.parse().map_err(|e| bad(&e))?,
            "--tokens" => o.tokens = value.parse().map_err(|e| bad(&e))?,
            "--rate" => o.rate = value.parse().map_err(|e| bad(&e))?,
            "--size" => {
                let (w, h) = value.split_once('x').ok_or(bad(&"expected WxH"))?;
                o.size = (
                    w.parse().map_err(|e| bad(&e))?,
                    h.parse().map_err(|e| bad(&e))?,
                );
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tui_perf: {e}");
            return ExitCode::from(2);
        }
    };
    if !o.bin.is_file() {
        eprintln!(
            "{} not found: run `cargo build --release` first",
            o.bin.display()
        );
        return ExitCode::FAILURE;
    }
    match tui_perf::measure(&o) {
        Ok(report) => {
            print!("{}", report.table());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tui_perf: {e}");
            ExitCode::FAILURE
        }
    }
}
