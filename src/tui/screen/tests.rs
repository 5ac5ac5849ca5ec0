//! Tests of the frame writer: every frame is replayed through a model of
//! the screen (ratatui's `TestBackend`, which scrolls regions too) and, as
//! bytes, through a tiny terminal; what the terminal shows must be the frame.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use ratatui::backend::{CrosstermBackend, TestBackend, WindowSize};
use ratatui::layout::Size;
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::*;

/// The bytes a crossterm backend wrote, shared with the test.
#[derive(Clone, Default)]
struct Sink(Rc<RefCell<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A backend that does everything twice: on a [`TestBackend`] (a model of
/// the screen, scroll regions included, styles and all) and on a
/// crossterm backend writing into a `Vec` (the bytes a terminal gets).
struct Recording {
    model: TestBackend,
    bytes: CrosstermBackend<Sink>,
    sink: Sink,
    /// Times the terminal was asked for its size.
    asked: std::cell::Cell<usize>,
}

impl Recording {
    fn new(w: u16, h: u16) -> Self {
        let sink = Sink::default();
        Recording {
            model: TestBackend::new(w, h),
            bytes: CrosstermBackend::new(sink.clone()),
            sink,
            asked: std::cell::Cell::new(0),
        }
    }

    fn take_bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.sink.0.borrow_mut())
    }
}

impl Backend for Recording {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let cells: Vec<_> = content.collect();
        self.model.draw(cells.iter().copied()).unwrap();
        self.bytes.draw(cells.into_iter())
    }
    fn hide_cursor(&mut self) -> io::Result<()> {
        self.model.hide_cursor().unwrap();
        self.bytes.hide_cursor()
    }
    fn show_cursor(&mut self) -> io::Result<()> {
        self.model.show_cursor().unwrap();
        self.bytes.show_cursor()
    }
    fn get_cursor_position(&mut self) -> io::Result<Position> {
        panic!("the TUI never asks the terminal where the cursor is")
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let p = position.into();
        self.model.set_cursor_position(p).unwrap();
        self.bytes.set_cursor_position(p)
    }
    fn clear(&mut self) -> io::Result<()> {
        self.model.clear().unwrap();
        self.bytes.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.model.clear_region(clear_type).unwrap();
        self.bytes.clear_region(clear_type)
    }
    fn size(&self) -> io::Result<Size> {
        self.asked.set(self.asked.get() + 1);
        Ok(self.model.size().unwrap())
    }
    fn window_size(&mut self) -> io::Result<WindowSize> {
        Ok(self.model.window_size().unwrap())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.bytes.flush()
    }
    fn scroll_region_up(&mut self, region: Range<u16>, n: u16) -> io::Result<()> {
        self.model.scroll_region_up(region.clone(), n).unwrap();
        self.bytes.scroll_region_up(region, n)
    }
    fn scroll_region_down(&mut self, region: Range<u16>, n: u16) -> io::Result<()> {
        self.model.scroll_region_down(region.clone(), n).unwrap();
        self.bytes.scroll_region_down(region, n)
    }
}

/// A tiny terminal: replays the bytes a backend wrote (cursor moves,
/// erase, scroll regions and scrolls, printable text; colours ignored)
/// into a grid of symbols.
struct Vt {
    rows: Vec<Vec<String>>,
    x: usize,
    y: usize,
    region: (usize, usize),
}

impl Vt {
    fn new(w: usize, h: usize) -> Vt {
        Vt {
            rows: vec![vec![" ".to_string(); w]; h],
            x: 0,
            y: 0,
            region: (0, h - 1),
        }
    }

    fn blank(&self) -> Vec<String> {
        vec![" ".to_string(); self.rows[0].len()]
    }

    fn scroll(&mut self, n: usize, up: bool) {
        let (top, bottom) = self.region;
        for _ in 0..n {
            if up {
                self.rows.remove(top);
                self.rows.insert(bottom, self.blank());
            } else {
                self.rows.remove(bottom);
                self.rows.insert(top, self.blank());
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let text = std::str::from_utf8(bytes).unwrap();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\x1b' {
                self.rows[self.y][self.x] = c.to_string();
                self.x += 1;
                continue;
            }
            assert_eq!(chars.next(), Some('['), "only CSI sequences");
            let mut params = String::new();
            let end = loop {
                let c = chars.next().unwrap();
                if c.is_ascii_alphabetic() {
                    break c;
                }
                params.push(c);
            };
            let nums: Vec<usize> = params
                .trim_start_matches('?')
                .split(';')
                .filter_map(|n| n.parse().ok())
                .collect();
            let arg = |i: usize, default: usize| nums.get(i).copied().unwrap_or(default);
            match end {
                'H' => {
                    self.y = arg(0, 1) - 1;
                    self.x = arg(1, 1) - 1;
                }
                'J' if params == "2" => {
                    let h = self.rows.len();
                    self.rows = (0..h).map(|_| self.blank()).collect();
                }
                'r' => {
                    self.region = (arg(0, 1) - 1, arg(1, self.rows.len()) - 1);
                    (self.x, self.y) = (0, 0);
                }
                'S' => self.scroll(arg(0, 1), true),
                'T' => self.scroll(arg(0, 1), false),
                'm' | 'l' | 'h' => {}
                other => panic!("unexpected CSI {params}{other}"),
            }
        }
    }

    fn lines(&self) -> Vec<String> {
        self.rows.iter().map(|r| r.concat()).collect()
    }
}

fn symbols(buf: &Buffer) -> Vec<String> {
    (buf.area.top()..buf.area.bottom())
        .map(|y| row(buf, y).iter().map(|c| c.symbol()).collect())
        .collect()
}

/// A screen like the TUI's: a header row, then a bordered full-width
/// pane whose inner rows show `lines` from `first`; returns the band.
fn pane(frame: &mut Frame, lines: &[String], first: usize) -> Rendered {
    pane_over(frame, lines, first, &[])
}

/// [`pane`] with `tail` as its last rows (lines still streaming, say).
fn pane_over(frame: &mut Frame, lines: &[String], first: usize, tail: &[&str]) -> Rendered {
    let area = frame.area();
    frame.render_widget(
        Paragraph::new(format!("header {first}")).style(Style::new().bg(Color::Blue)),
        Rect::new(0, 0, area.width, 1),
    );
    let pane = Rect::new(0, 1, area.width, area.height - 1);
    let block = Block::default().borders(Borders::ALL).title("Transcript");
    let inner = block.inner(pane);
    frame.render_widget(block, pane);
    let shown: Vec<ratatui::text::Line> = lines
        .iter()
        .skip(first)
        .take(inner.height as usize - tail.len())
        .map(|l| ratatui::text::Line::styled(l.clone(), Style::new().fg(Color::Green)))
        .chain(tail.iter().map(|t| ratatui::text::Line::raw(*t)))
        .collect();
    frame.render_widget(Paragraph::new(shown), inner);
    Rendered {
        scroll_band: Some(inner.y..inner.bottom()),
        cursor: None,
    }
}

/// `n` lines of varied words (seeded), each starting with its number.
fn words(n: usize) -> Vec<String> {
    const WORDS: [&str; 12] = [
        "the", "store", "keeps", "one", "row", "per", "task", "writes", "are", "atomic", "scroll",
        "region",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as usize
    };
    (0..n)
        .map(|i| {
            let mut line = format!("line {i}:");
            for _ in 0..3 + next() % 6 {
                line.push(' ');
                line.push_str(WORDS[next() % WORDS.len()]);
            }
            line
        })
        .collect()
}

/// Draws with ratatui's own `Terminal::draw` and returns its bytes.
fn plain_bytes(w: u16, h: u16, frames: &[usize], lines: &[String]) -> Vec<usize> {
    let mut t = Terminal::new(Recording::new(w, h)).unwrap();
    frames
        .iter()
        .map(|&first| {
            t.draw(|f| {
                pane(f, lines, first);
            })
            .unwrap();
            t.backend_mut().take_bytes().len()
        })
        .collect()
}

#[test]
fn a_pane_that_scrolls_by_a_row_is_scrolled_by_the_terminal_not_rewritten() {
    let (w, h) = (60, 12);
    let lines = words(40);
    let mut t = Terminal::new(Recording::new(w, h)).unwrap();
    let mut screen = Screen::new();
    let mut vt = Vt::new(w as usize, h as usize);
    let first = screen.draw(&mut t, |f| pane(f, &lines, 0)).unwrap();
    assert!(first.cleared);
    vt.feed(&t.backend_mut().take_bytes());

    let drawn = screen.draw(&mut t, |f| pane(f, &lines, 1)).unwrap();
    let bytes = t.backend_mut().take_bytes();
    assert_eq!(drawn.scrolled, 1);
    let text = String::from_utf8_lossy(&bytes);
    // The band is rows 2..=10 (1-based): the pane's inner rows.
    assert!(text.starts_with("\x1b[3;11r\x1b[1S\x1b[r"), "{text:?}");
    // The row that came in, and the header's changed figure.
    assert!(text.contains(&lines[9]), "{text:?}");
    assert!(
        !text.contains(&lines[5]),
        "a row that only moved is not rewritten: {text:?}"
    );
    let plain = plain_bytes(w, h, &[0, 1], &lines);
    assert!(
        bytes.len() * 4 < plain[1],
        "{} bytes with the scroll, {} without",
        bytes.len(),
        plain[1]
    );
    // What the terminal shows is the frame: in the model of the screen
    // (styles included) and in the replayed bytes.
    vt.feed(&bytes);
    assert_eq!(t.backend().model.buffer(), screen.shadow());
    assert_eq!(vt.lines(), symbols(screen.shadow()));
    assert!(vt.lines()[2].contains("line 1:"), "{:?}", vt.lines());

    // Back by a row (the person scrolls up): the terminal scrolls down.
    let drawn = screen.draw(&mut t, |f| pane(f, &lines, 0)).unwrap();
    assert_eq!(drawn.scrolled, -1);
    let bytes = t.backend_mut().take_bytes();
    assert!(String::from_utf8_lossy(&bytes).starts_with("\x1b[3;11r\x1b[1T\x1b[r"));
    vt.feed(&bytes);
    assert_eq!(t.backend().model.buffer(), screen.shadow());
    assert_eq!(vt.lines(), symbols(screen.shadow()));
}

#[test]
fn short_unchanged_runs_between_changes_are_written_not_jumped() {
    let mut t = Terminal::new(Recording::new(40, 3)).unwrap();
    let mut screen = Screen::new();
    let row = |f: &mut Frame, text: &str| {
        f.buffer_mut().set_string(0, 1, text, Style::new());
        Rendered::default()
    };
    screen
        .draw(&mut t, |f| row(f, "the store keeps one row"))
        .unwrap();
    t.backend_mut().take_bytes();
    // Three words change; the spaces between them did not.
    screen
        .draw(&mut t, |f| row(f, "the tasks shall one col"))
        .unwrap();
    let bytes = String::from_utf8(t.backend_mut().take_bytes()).unwrap();
    // One cursor move; "one " is written again (4 bytes, no move).
    assert!(
        bytes.starts_with("\x1b[2;5Htasks shall one col"),
        "{bytes:?}"
    );
    assert_eq!(bytes.matches('H').count(), 1, "{bytes:?}");
    assert_eq!(t.backend().model.buffer(), screen.shadow());
    // A longer unchanged run is jumped over.
    screen
        .draw(&mut t, |f| row(f, "The tasks shall one coL"))
        .unwrap();
    let bytes = String::from_utf8(t.backend_mut().take_bytes()).unwrap();
    assert!(bytes.contains("\x1b[2;1HT\x1b[2;23HL"), "{bytes:?}");
    // A run in another style is jumped over, not rewritten.
    screen
        .draw(&mut t, |f| {
            row(f, "The tasks shall one coL");
            f.buffer_mut()
                .set_string(3, 1, " ", Style::new().bg(Color::Red));
            f.buffer_mut().set_string(0, 1, "x", Style::new());
            f.buffer_mut().set_string(5, 1, "y", Style::new());
            Rendered::default()
        })
        .unwrap();
    let bytes = String::from_utf8(t.backend_mut().take_bytes()).unwrap();
    // "he" (in the style of the "x" before it) is written; the "t" after
    // the red cell is jumped over.
    assert!(bytes.contains("xhe"), "{bytes:?}");
    assert!(bytes.contains("\x1b[2;6H"), "{bytes:?}");
    assert_eq!(t.backend().model.buffer(), screen.shadow(), "{bytes:?}");
}

#[test]
fn rows_above_lines_that_stay_scroll_alone() {
    let (w, h) = (60, 12);
    let lines = words(40);
    let tail = ["backend  ▸ still streaming", "qa       ▸ this one too"];
    let mut t = Terminal::new(Recording::new(w, h)).unwrap();
    let mut screen = Screen::new();
    screen
        .draw(&mut t, |f| pane_over(f, &lines, 0, &tail))
        .unwrap();
    t.backend_mut().take_bytes();
    // A line completes above the two streaming ones.
    let drawn = screen
        .draw(&mut t, |f| pane_over(f, &lines, 1, &tail))
        .unwrap();
    // Rows 2..=8 (1-based 3..=9) scroll; the streaming rows stay.
    assert_eq!((drawn.scrolled, drawn.region), (1, 2..9));
    let bytes = String::from_utf8(t.backend_mut().take_bytes()).unwrap();
    assert!(bytes.starts_with("\x1b[3;9r\x1b[1S\x1b[r"), "{bytes:?}");
    assert!(!bytes.contains("streaming"), "{bytes:?}");
    assert_eq!(t.backend().model.buffer(), screen.shadow());
}

#[test]
fn a_frame_that_does_not_gain_from_a_scroll_is_a_plain_diff() {
    let (w, h) = (40, 10);
    let lines = words(100);
    let mut t = Terminal::new(Recording::new(w, h)).unwrap();
    let mut screen = Screen::new();
    screen.draw(&mut t, |f| pane(f, &lines, 0)).unwrap();
    // Nothing in common with the rows before: no scroll.
    let drawn = screen.draw(&mut t, |f| pane(f, &lines, 50)).unwrap();
    assert_eq!(drawn.scrolled, 0);
    let bytes = t.backend_mut().take_bytes();
    assert!(!String::from_utf8_lossy(&bytes).contains("\x1b[r"));
    assert_eq!(t.backend().model.buffer(), screen.shadow());
    // An unchanged frame writes nothing at all (the cursor stays hidden).
    let drawn = screen.draw(&mut t, |f| pane(f, &lines, 50)).unwrap();
    assert_eq!(drawn, Drawn::default());
    assert!(t.backend_mut().take_bytes().is_empty());
}

#[test]
fn any_sequence_of_frames_leaves_the_terminal_showing_the_last_one() {
    // Seeded: scrolls both ways by 1 to 12 rows, of the whole pane or of
    // the rows above lines that stay, edits of single rows, jumps,
    // overlays, a resize; after every frame the screen model and the
    // replayed bytes equal the frame drawn.
    let lines = words(300);
    let (mut w, mut h) = (50u16, 16u16);
    let mut t = Terminal::new(Recording::new(w, h)).unwrap();
    let mut screen = Screen::new();
    let mut vt = Vt::new(w as usize, h as usize);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut first = 0usize;
    let (mut scrolls, mut plain) = (0, 0);
    for step in 0..400 {
        let roll = next() % 10;
        match roll {
            0..=4 => first = (first + 1 + (next() % 3) as usize).min(280),
            5 => first = first.saturating_sub(1 + (next() % 12) as usize),
            6 => first = (next() % 280) as usize,
            _ => {}
        }
        if step == 200 {
            (w, h) = (44, 13);
            t.backend_mut().model.resize(w, h);
            // As the run loop does on a resize event.
            t.autoresize().unwrap();
            vt = Vt::new(w as usize, h as usize);
        }
        let overlay = roll == 7;
        let edit = roll == 8;
        let drawn = screen
            .draw(&mut t, |f| {
                // Now and then rows that stay under the ones that scroll.
                let tail: &[&str] = match (step / 40) % 3 {
                    0 => &[],
                    1 => &["streaming one"],
                    _ => &["streaming one", "streaming two"],
                };
                let band = pane_over(f, &lines, first, tail);
                if overlay {
                    let popup = Rect::new(5, 4, 20, 5);
                    f.render_widget(ratatui::widgets::Clear, popup);
                    f.render_widget(Block::bordered().title("help"), popup);
                }
                if edit {
                    f.buffer_mut()
                        .set_string(2, 5, "edited", Style::new().bg(Color::Red));
                }
                band
            })
            .unwrap();
        if drawn.scrolled != 0 {
            scrolls += 1;
        } else {
            plain += 1;
        }
        vt.feed(&t.backend_mut().take_bytes());
        assert_eq!(t.backend().model.buffer(), screen.shadow(), "step {step}");
        assert_eq!(vt.lines(), symbols(screen.shadow()), "step {step}");
    }
    assert!(
        scrolls > 100 && plain > 50,
        "{scrolls} scrolled, {plain} not"
    );
}

#[test]
fn the_size_is_asked_for_only_when_the_screen_is_not_known() {
    let lines = words(100);
    let mut t = Terminal::new(Recording::new(40, 12)).unwrap();
    let asked = |t: &Terminal<Recording>| t.backend().asked.get();
    let before = asked(&t);
    let mut screen = Screen::new();
    // The first frame asks; the frames after it do not.
    screen.draw(&mut t, |f| pane(f, &lines, 0)).unwrap();
    assert_eq!(asked(&t), before + 1);
    for first in 1..5 {
        screen.draw(&mut t, |f| pane(f, &lines, first)).unwrap();
    }
    assert_eq!(asked(&t), before + 1);
    // Once the screen is forgotten (a suspend, an editor) it asks again,
    // and a new size is drawn whole.
    t.backend_mut().model.resize(30, 10);
    screen.forget();
    let drawn = screen.draw(&mut t, |f| pane(f, &lines, 5)).unwrap();
    assert_eq!(asked(&t), before + 2);
    assert!(drawn.cleared);
    assert_eq!(screen.shadow().area, Rect::new(0, 0, 30, 10));
}

#[test]
fn the_cursor_is_shown_where_the_frame_puts_it_and_hidden_once() {
    let mut t = Terminal::new(Recording::new(20, 5)).unwrap();
    let mut screen = Screen::new();
    screen.draw(&mut t, |_| Rendered::default()).unwrap();
    let bytes = String::from_utf8(t.backend_mut().take_bytes()).unwrap();
    assert!(bytes.ends_with("\x1b[?25l"), "{bytes:?}");
    screen
        .draw(&mut t, |_| Rendered {
            scroll_band: None,
            cursor: Some(Position::new(3, 2)),
        })
        .unwrap();
    let bytes = String::from_utf8(t.backend_mut().take_bytes()).unwrap();
    assert_eq!(bytes, "\x1b[3;4H\x1b[?25h");
    assert_eq!(t.backend().model.cursor_position(), Position::new(3, 2));
    // The same cursor again: nothing to write.
    screen
        .draw(&mut t, |_| Rendered {
            scroll_band: None,
            cursor: Some(Position::new(3, 2)),
        })
        .unwrap();
    assert!(t.backend_mut().take_bytes().is_empty());
    // Forgotten (after an editor): cleared, drawn whole, cursor hidden again.
    screen.forget();
    let drawn = screen
        .draw(&mut t, |f| {
            f.buffer_mut().set_string(0, 0, "x", Style::new());
            Rendered::default()
        })
        .unwrap();
    assert!(drawn.cleared);
    let bytes = String::from_utf8(t.backend_mut().take_bytes()).unwrap();
    assert!(
        bytes.starts_with("\x1b[2J") && bytes.ends_with("\x1b[?25l"),
        "{bytes:?}"
    );
}
