//! The TUI's performance figures' body (`examples/tui_perf.rs`, shared
//! through `benches/support/tui_perf.rs`), run once at a small size on the
//! debug binary as a smoke check: a cold start on a pseudo-terminal, a short
//! reply at full speed and one paced, in tmux, from a loopback fake server.
//! Nothing here is timed; the test checks that each figure was taken from
//! the work it counts.

#[path = "../../benches/support/tui_perf.rs"]
#[allow(dead_code)]
mod body;

use std::path::PathBuf;

#[test]
fn the_tui_perf_body_measures_a_start_and_a_streamed_reply() {
    let options = body::Options {
        bin: PathBuf::from(crate::common::bin()),
        size: (80, 24),
        runs: 1,
        paced_runs: 1,
        tokens: 600,
        rate: 3_000.0,
    };
    let report = body::measure(&options).unwrap();
    let start = report.starts[0];
    assert!(start.frame_bytes > 1_000, "a whole frame: {start:?}");
    assert!(start.idle_rss_kb > 0 && start.idle_hwm_kb >= start.idle_rss_kb);
    // The TUI started DIR's server, and attached to one already running.
    assert!(
        start.server_rss_kb > 0,
        "the server was measured: {start:?}"
    );
    let attach = report.attaches[0];
    assert!(attach.frame_bytes > 1_000, "a whole frame: {attach:?}");
    assert!(attach.server_rss_kb > 0, "{attach:?}");
    for reply in report.fast.iter().chain(&report.paced) {
        // The reply's last word was seen on screen (or `measure` fails).
        assert!(reply.tokens >= 600 && reply.chunks > 100, "{reply:?}");
        assert!(reply.terminal_bytes > 500, "{reply:?}");
        assert!(reply.wall >= reply.visible, "{reply:?}");
        assert!(reply.rss_kb > 0, "{reply:?}");
        // The session ran in the server, which did the provider's work.
        assert!(!reply.server_cpu.is_zero(), "{reply:?}");
    }
    // At 3,000 tokens/s the 600 tokens take a fifth of a second to send.
    assert!(
        report.paced[0].streaming.as_millis() >= 150,
        "{:?}",
        report.paced[0]
    );
    let table = report.table();
    for figure in [
        "cold start",
        "attach (server running)",
        "the server's CPU",
        "idle RSS",
        "bytes to the terminal",
        "% of a core",
    ] {
        assert!(table.contains(figure), "{table}");
    }
}
