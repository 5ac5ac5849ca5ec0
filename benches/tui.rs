//! The TUI's frame cost (issue 5, acceptance 3), with divan:
//!
//! * one frame of the main screen at 200x60 with a 1,000,000-line transcript
//!   and with a 100-line one (the cost must not depend on the length: < 2 ms,
//!   within 2x);
//! * the same, scrolled back to the middle of the 1,000,000 lines;
//! * ten agents streaming: ten token events, then one frame;
//! * the bytes a real terminal backend writes per streamed token, through the
//!   TUI's own frame writer (`quorum::tui::screen`, which scrolls the
//!   transcript's rows in the terminal), printed once.
//!
//! Run with `cargo bench --bench tui`.

// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "support/fixture.rs"]
mod fixture;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use divan::Bencher;
use quorum::protocol::Event;
use quorum::tui::frame as view;
use quorum::tui::screen::{Rendered, Screen};
use ratatui::Terminal;
use ratatui::backend::{CrosstermBackend, TestBackend};

fn main() {
    bytes_per_token();
    divan::main();
}

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(200, 60)).unwrap_or_else(|e| panic!("terminal: {e}"))
}

/// One frame of the main screen at 200x60, following the live end.
#[divan::bench(args = [100, 1_000_000], sample_count = 200)]
fn main_frame_200x60(bencher: Bencher, lines: u64) {
    let mut app = fixture::app(5);
    fixture::fill(&mut app, lines, 5);
    let mut t = terminal();
    bencher.bench_local(|| {
        t.draw(|f| view::draw(&mut app, f))
            .unwrap_or_else(|e| panic!("draw: {e}"));
    });
}

/// The same frame, scrolled back to line 500,000 of 1,000,000 (the window
/// paged in around it, as the store would answer).
#[divan::bench(sample_count = 200)]
fn main_frame_200x60_scrolled_to_the_middle(bencher: Bencher) {
    let mut app = fixture::app(5);
    fixture::fill(&mut app, 1_000_000, 5);
    let mut t = terminal();
    t.draw(|f| view::draw(&mut app, f))
        .unwrap_or_else(|e| panic!("draw: {e}"));
    let rows = u64::from(app.frame.transcript_rows);
    if let Some(page) = app.transcripts.jump_to(500_000, rows, true) {
        app.transcripts.mark_pending(&page.agent, 1);
        app.on_event(Event::TranscriptPage {
            req: 1,
            agent: None,
            lines: (page.from..page.from + page.len)
                .map(|s| fixture::line(s, 5))
                .collect(),
            total: 1_000_000,
        });
    }
    bencher.bench_local(|| {
        t.draw(|f| view::draw(&mut app, f))
            .unwrap_or_else(|e| panic!("draw: {e}"));
    });
}

fn token(agent: &str, i: u64) -> Event {
    let text = match i % 5 {
        0 => "def add(store, title):".to_string(),
        1 => " the store keeps".to_string(),
        2 => " 日本語 ".to_string(),
        3 => format!(" step {i},"),
        _ => "\n".to_string(),
    };
    Event::Token {
        agent: agent.to_string(),
        task: format!("implement.{agent}"),
        text,
    }
}

/// Ten agents streaming: one token each, then one frame (200x60).
#[divan::bench(sample_count = 200)]
fn ten_agents_streaming_200x60(bencher: Bencher) {
    let mut app = fixture::app(10);
    fixture::fill(&mut app, 10_000, 10);
    let mut t = terminal();
    let mut i = 0u64;
    bencher.bench_local(|| {
        for agent in &fixture::AGENTS {
            app.on_event(token(agent, i));
        }
        i += 1;
        t.draw(|f| view::draw(&mut app, f))
            .unwrap_or_else(|e| panic!("draw: {e}"));
    });
}

/// Counts the bytes written through it.
struct Counting(Arc<AtomicU64>);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes a crossterm backend writes per streamed token, at 80x24 (five
/// agents) and 200x60 (ten), with one frame per token written as the TUI
/// writes frames ([`Screen::draw`]); the worst case: the run loop coalesces a
/// stream's frames to one per 33 ms. The stream is realistic:
/// words of a few characters, twelve to a line, and each finished line
/// arrives as a durable transcript line, as the orchestrator sends it.
fn bytes_per_token() {
    const WORDS: [&str; 12] = [
        " the",
        " store",
        " keeps",
        " one",
        " row",
        " per",
        " task;",
        " 日本語",
        " writes",
        " are",
        " atomic",
        " (WAL)",
    ];
    for (w, h, agents) in [(80u16, 24u16, 5usize), (200, 60, 10)] {
        let count = Arc::new(AtomicU64::new(0));
        let mut t = Terminal::with_options(
            CrosstermBackend::new(Counting(Arc::clone(&count))),
            ratatui::TerminalOptions {
                viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, w, h)),
            },
        )
        .unwrap_or_else(|e| panic!("terminal: {e}"));
        let mut app = fixture::app(agents);
        fixture::fill(&mut app, 2_000, agents);
        let mut screen = Screen::new();
        let mut draw = |t: &mut Terminal<_>, app: &mut quorum::tui::app::App| {
            screen
                .draw(t, |f| {
                    view::draw(app, f);
                    Rendered {
                        scroll_band: app.frame.scroll_band.clone(),
                        cursor: None,
                    }
                })
                .unwrap_or_else(|e| panic!("draw: {e}"));
        };
        draw(&mut t, &mut app);
        let before = count.load(Ordering::Relaxed);
        let mut text_bytes = 0;
        let mut seq = 2_000u64;
        let mut agent_seq = vec![2_000u64; agents];
        let mut building = vec![String::new(); agents];
        let tokens = 3_900u64;
        let mut line_frames = 0u64;
        for i in 0..tokens {
            let frame_start = count.load(Ordering::Relaxed);
            let a = (i as usize / 3) % agents;
            let agent = fixture::AGENTS[a];
            let word = WORDS[(i as usize / agents / 3) % WORDS.len()];
            let ends = (i as usize / agents / 3) % WORDS.len() == WORDS.len() - 1 && i % 3 == 2;
            let text = if ends {
                format!("{word}\n")
            } else {
                word.to_string()
            };
            text_bytes += text.len();
            building[a].push_str(&text);
            app.on_event(Event::Token {
                agent: agent.to_string(),
                task: format!("implement.{agent}"),
                text,
            });
            if ends {
                let line = std::mem::take(&mut building[a]).trim_end().to_string();
                app.on_event(Event::TranscriptAppended {
                    lines: vec![quorum::protocol::TranscriptLine {
                        seq,
                        agent_seq: agent_seq[a],
                        agent: agent.to_string(),
                        task: format!("implement.{agent}"),
                        kind: quorum::protocol::LineKind::Text,
                        text: line,
                        ends_call: false,
                    }],
                });
                seq += 1;
                agent_seq[a] += 1;
            }
            draw(&mut t, &mut app);
            if ends {
                line_frames += count.load(Ordering::Relaxed) - frame_start;
            }
        }
        let bytes = count.load(Ordering::Relaxed) - before;
        let lines = seq - 2_000;
        println!(
            "bytes to the terminal per streamed token at {w}x{h} ({agents} agents, one frame per token): {:.1} overall; {:.1} for a token within a line; {:.0} for a token that completes a line (the pane scrolls: {lines} lines); the tokens' own text: {:.1} bytes each",
            bytes as f64 / tokens as f64,
            (bytes - line_frames) as f64 / (tokens - lines) as f64,
            line_frames as f64 / lines as f64,
            text_bytes as f64 / tokens as f64,
        );
    }
}
