//! Issue 20's streaming latency figures' body (`examples/stream_latency.rs`,
//! shared through `benches/support/stream_latency.rs`), run once at a small
//! size on the debug binary as a smoke check: a short reply, one SSE event
//! per token, written a token at a time and in chunks, into the TUI in
//! tmux. Nothing here is timed; the test checks that each figure was taken
//! from the work it counts.

// The body loads `tui_perf.rs` (its tmux and server) as a module of its
// own, which `tui_perf`'s test module loads too.
#[path = "../../benches/support/stream_latency.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod body;

use std::path::PathBuf;

use body::Mode;

#[test]
fn the_stream_latency_body_measures_both_ways_of_writing_a_reply() {
    let options = body::Options {
        bin: PathBuf::from(crate::common::bin()),
        size: (80, 24),
        runs: 1,
        tokens: 600,
        modes: vec![Mode::PerToken, Mode::Chunks(4096)],
        first_byte_delay: std::time::Duration::from_millis(100),
    };
    let report = body::measure(&options).unwrap();
    assert_eq!(report.runs.len(), 2);
    for (mode, runs) in options.modes.iter().zip(&report.runs) {
        let f = runs[0];
        assert_eq!(f.mode, *mode);
        // One event per token, then the finish, usage and `[DONE]` events.
        assert_eq!(f.tokens, 600, "{f:?}");
        assert!(f.stream_bytes > 600 * 100, "{f:?}");
        // The server waited its delay; the last word was seen on screen
        // (or `measure` fails), after the server's first byte, which it
        // cannot precede; the program ran.
        assert!(f.first_byte >= options.first_byte_delay, "{f:?}");
        assert!(f.first_byte <= f.last_byte, "{f:?}");
        assert!(f.on_screen > f.first_byte, "{f:?}");
        assert!(f.cpu > std::time::Duration::ZERO, "{f:?}");
    }
    let table = report.table();
    for figure in [
        "one write per token",
        "4 KiB writes",
        "after the server's last byte",
        "CPU per token",
    ] {
        assert!(table.contains(figure), "{table}");
    }
}

#[test]
fn the_pieces_are_tokens_of_at_most_four_bytes_ending_with_the_mark() {
    let pieces = body::token_pieces(2_000, 7);
    assert_eq!(pieces.len(), 2_000);
    assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= 4));
    let text: String = pieces.concat();
    assert!(text.ends_with(&format!("That is all for now, {}\n", body::END_MARK)));
}

#[test]
fn the_tui_counts_on_the_calls_delta_interval() {
    // The TUI may not import the orchestrator (docs/architecture.md): it
    // keeps its own copy, which must agree.
    assert_eq!(
        quorum::tui::DELTA_SPACING,
        quorum::orchestrator::call::DELTA_INTERVAL
    );
}
