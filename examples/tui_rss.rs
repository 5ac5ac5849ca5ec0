//! Memory with a 1,000,000-line transcript (issue 5, acceptance 4): the lines
//! are written to a real sled store, streamed into the TUI's state as a live
//! session would stream them, and then read back page by page as a person
//! scrolls (Home, hundreds of PgDn, a search jump to the middle, End) with a
//! frame drawn at 200x60 after every step. The TUI holds a bounded window;
//! the rest stays in sled. Prints the peak resident set size (VmHWM) and
//! fails (exit 1) above 150 MB.
//!
//! Run with `cargo run --release --example tui_rss [LINES]`.

// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "../benches/support/fixture.rs"]
mod fixture;

use std::process::ExitCode;
use std::time::Instant;

use quorum::protocol::{Event, Op, SEARCH_LIMIT, SessionId};
use quorum::store::{Store, Write};
use quorum::tui::app::App;
use quorum::tui::frame as view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The limit of the acceptance criterion, in MiB.
const LIMIT_MB: f64 = 150.0;

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Answers the app's page and search requests from the store, as the
/// orchestrator does (there on the blocking pool, here inline).
fn serve(app: &mut App, store: &Store, session: &SessionId) {
    while !app.outbox.is_empty() {
        for op in std::mem::take(&mut app.outbox) {
            let event = match op {
                Op::LoadTranscript {
                    agent,
                    from_seq,
                    len,
                    req,
                } => {
                    let (lines, total) = store
                        .transcript_page(session, agent.as_deref(), from_seq, len.min(5_000))
                        .unwrap_or_else(|e| panic!("page: {e}"));
                    Event::TranscriptPage {
                        req,
                        agent,
                        lines,
                        total,
                    }
                }
                Op::SearchTranscript { agent, query, req } => {
                    let (positions, truncated) = store
                        .search_transcript(session, agent.as_deref(), &query, SEARCH_LIMIT)
                        .unwrap_or_else(|e| panic!("search: {e}"));
                    Event::SearchResults {
                        req,
                        agent,
                        query,
                        positions,
                        truncated,
                    }
                }
                _ => continue,
            };
            app.on_event(event);
        }
    }
}

fn key(app: &mut App, code: crossterm::event::KeyCode) {
    app.on_key(crossterm::event::KeyEvent::new(
        code,
        crossterm::event::KeyModifiers::NONE,
    ));
}

fn main() -> ExitCode {
    let lines: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("quorum-rss-{}", std::process::id()));
    let store = Store::open(&dir.join("db")).unwrap_or_else(|e| panic!("store: {e}"));
    let session = SessionId::parse("3f2a00c0ffee").unwrap_or_default();
    let mut app = fixture::app(5);
    let mut terminal =
        Terminal::new(TestBackend::new(200, 60)).unwrap_or_else(|e| panic!("terminal: {e}"));
    let mut draw = |app: &mut App| {
        terminal
            .draw(|f| view::draw(app, f))
            .unwrap_or_else(|e| panic!("draw: {e}"));
    };
    let started = Instant::now();
    // Stream: write each group to sled, then hand it to the TUI.
    let mut from = 0;
    while from < lines {
        let to = (from + 10_000).min(lines);
        let group: Vec<_> = (from..to).map(|s| fixture::line(s, 5)).collect();
        let writes: Vec<Write> = group
            .iter()
            .map(|l| Write::Line {
                session: session.clone(),
                line: l.clone(),
            })
            .collect();
        store
            .apply(&writes)
            .unwrap_or_else(|e| panic!("apply: {e}"));
        store.flush().unwrap_or_else(|e| panic!("flush: {e}"));
        app.on_event(Event::TranscriptAppended { lines: group });
        draw(&mut app);
        from = to;
    }
    let streamed = started.elapsed();
    let after_stream = status_kb("VmRSS:");
    let held = app.transcripts.window().lines.len();
    // Scroll as a person would: the top, 300 pages down, a search, the end.
    let t = Instant::now();
    key(&mut app, crossterm::event::KeyCode::Home);
    serve(&mut app, &store, &session);
    draw(&mut app);
    let home = t.elapsed();
    for _ in 0..300 {
        key(&mut app, crossterm::event::KeyCode::PageDown);
        serve(&mut app, &store, &session);
        draw(&mut app);
    }
    let at_page = app.transcripts.window().bottom_pos();
    key(&mut app, crossterm::event::KeyCode::Char('/'));
    for c in format!("#{}", lines / 2).chars() {
        key(&mut app, crossterm::event::KeyCode::Char(c));
    }
    let t = Instant::now();
    key(&mut app, crossterm::event::KeyCode::Enter);
    serve(&mut app, &store, &session);
    draw(&mut app);
    let search = t.elapsed();
    let at_match = app.transcripts.window().bottom_pos();
    key(&mut app, crossterm::event::KeyCode::End);
    serve(&mut app, &store, &session);
    draw(&mut app);
    let peak = status_kb("VmHWM:");
    let now = status_kb("VmRSS:");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{lines} transcript lines streamed into sled and the TUI in {:.1} s; the TUI holds {held} lines",
        streamed.as_secs_f64()
    );
    println!(
        "scrolled: Home ({:.1} ms to page line 0 in and draw), 300 x PgDn (bottom line {at_page}), a search through every line in the store and the jump to its match ({:.0} ms, bottom line {at_match}), End",
        home.as_secs_f64() * 1000.0,
        search.as_secs_f64() * 1000.0
    );
    println!(
        "RSS after streaming {:.1} MB, at the end {:.1} MB, peak {:.1} MB (limit {LIMIT_MB} MB)",
        mb(after_stream),
        mb(now),
        mb(peak)
    );
    if mb(peak) > LIMIT_MB {
        eprintln!("peak RSS above {LIMIT_MB} MB");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
