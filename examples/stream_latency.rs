//! Issue 20's streaming latency, from outside the release binary: a
//! 20,000-token reply from a loopback fake server, one SSE event per token,
//! written one event per write and in 64 KiB writes; for each, the server's
//! last byte, the last word on the TUI's screen (both from Enter), their
//! difference and the CPU per token, medians of several runs. The method is
//! in `benches/support/stream_latency.rs`.
//!
//! Run with `cargo build --release && cargo run --release --example
//! stream_latency [-- --runs N] [--tokens N] [--chunk BYTES] [--size WxH]
//! [--first-byte-ms MS]` (defaults: 5 runs, 20,000 tokens, 65,536-byte
//! chunks, 120x40, the reply at once); it runs `target/release/quorum` (or
//! `QUORUM_BIN`) as a person does, in tmux.

#[path = "../benches/support/stream_latency.rs"]
#[allow(dead_code)]
mod stream_latency;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use stream_latency::Mode;

fn options() -> Result<stream_latency::Options, String> {
    let mut o = stream_latency::Options {
        bin: std::env::var_os("QUORUM_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/quorum")),
        size: (120, 40),
        runs: 5,
        tokens: 20_000,
        modes: vec![Mode::PerToken, Mode::Chunks(64 * 1024)],
        first_byte_delay: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--runs" => o.runs = value.parse().map_err(|e| bad(&e))?,
            "--tokens" => o.tokens = value.parse().map_err(|e| bad(&e))?,
            "--first-byte-ms" => {
                o.first_byte_delay = Duration::from_millis(value.parse().map_err(|e| bad(&e))?);
            }
            "--chunk" => {
                o.modes[1] = Mode::Chunks(value.parse().map_err(|e| bad(&e))?);
            }
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
            eprintln!("stream_latency: {e}");
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
    match stream_latency::measure(&o) {
        Ok(report) => {
            print!("{}", report.table());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stream_latency: {e}");
            ExitCode::FAILURE
        }
    }
}
