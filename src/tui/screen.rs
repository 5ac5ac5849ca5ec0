//! Frames to the terminal, with scroll regions. ratatui's `Terminal::draw`
//! diffs each frame against the previous one cell by cell, so when the
//! transcript pane scrolls by a row every one of its rows differs and the
//! whole pane is written again (about 4 KB at 120x40). [`Screen::draw`] does
//! what `Terminal::draw` does (resize, render, diff, cursor, flush) with one
//! difference: it keeps its own copy of what the terminal shows (the shadow)
//! and, when rows of the frame's scroll band (the transcript pane's rows,
//! reported by the view) moved, it first has the terminal scroll them
//! (DECSTBM `CSI top;bottom r`, `CSI n S` or `CSI n T`, `CSI r`, through
//! ratatui's `scroll_region_up`/`_down`): the whole band, or only its rows
//! above lines that stay (lines still streaming under the history). It
//! shifts the shadow the same way (the rows that come in are blank) and only
//! then writes the cells that still differ. The scroll is used only when it
//! leaves fewer cells to write than the plain diff. Short unchanged runs
//! between two changes on a row are written again instead of being jumped
//! over with a cursor move, an unchanged frame writes nothing, and the
//! cursor is hidden or shown only when that changes.
//!
//! Invariant: after every frame the shadow equals the frame drawn, which is
//! what the terminal shows; whenever that is unknown (a resize, a suspend, an
//! editor) the terminal is cleared and the shadow forgotten
//! ([`Screen::forget`]), so the next frame is drawn whole.

use std::ops::Range;

use ratatui::backend::{Backend, ClearType};
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Position, Rect};
use ratatui::{Frame, Terminal};

/// What a scroll costs, in cells: the three sequences are about 12 bytes,
/// two or three cells' worth with their cursor moves.
const SCROLL_COST: usize = 3;

/// The longest run of unchanged cells between two changed ones on a row
/// that is written again rather than jumped over: a cursor move (`CSI
/// row;col H`) costs 6 to 10 bytes, an ASCII cell in the same style one.
const MAX_GAP: u16 = 6;

/// The cursor as the terminal last showed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cursor {
    /// Not known (start, after the terminal was handed over).
    Unknown,
    Hidden,
    Shown(Position),
}

/// What a render reports besides its cells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The rows of a pane whose text scrolls (the transcript's), if any.
    pub scroll_band: Option<Range<u16>>,
    /// Where the terminal's cursor shows, if anywhere (ratatui keeps the
    /// `Frame`'s own cursor private, so it is reported here).
    pub cursor: Option<Position>,
}

/// What one frame did, for tests and the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drawn {
    /// Rows the scroll band was scrolled by before the diff (> 0: up, the
    /// content moved towards the top; < 0: down), 0 when not scrolled.
    pub scrolled: i32,
    /// The rows scrolled (a part of the scroll band, from its top).
    pub region: Range<u16>,
    /// Cells written after the scroll.
    pub cells: usize,
    /// The screen was cleared first (first frame, resize, forgotten).
    pub cleared: bool,
}

/// What the terminal shows, as far as the TUI knows, and the frame writer.
#[derive(Debug)]
pub struct Screen {
    shadow: Buffer,
    /// The frame being drawn, taken out of the terminal meanwhile (so that
    /// the backend can be borrowed while the diff holds its cells).
    frame: Buffer,
    cursor: Cursor,
    /// The shadow cannot be trusted: clear before the next frame.
    stale: bool,
}

impl Default for Screen {
    fn default() -> Self {
        Screen::new()
    }
}

impl Screen {
    /// A screen whose content is not known yet: the first frame clears it.
    pub fn new() -> Screen {
        Screen {
            shadow: Buffer::empty(Rect::ZERO),
            frame: Buffer::empty(Rect::ZERO),
            cursor: Cursor::Unknown,
            stale: true,
        }
    }

    /// Forgets what the terminal shows: the next frame clears it and draws
    /// everything.
    pub fn forget(&mut self) {
        self.stale = true;
        self.cursor = Cursor::Unknown;
    }

    /// What the terminal shows now (the last frame drawn).
    pub fn shadow(&self) -> &Buffer {
        &self.shadow
    }

    /// Draws one frame like `Terminal::draw`: `render` draws into the frame
    /// and reports its scroll band and cursor. Unlike `Terminal::draw` it
    /// asks the terminal for its size only when what it shows is not known
    /// (the first frame, after [`Screen::forget`]): the question costs three
    /// system calls (crossterm opens `/dev/tty` for it, about 7 % of a
    /// frame), and the run loop resizes the terminal itself on each resize
    /// event (`Terminal::autoresize`). A frame of another size than the last
    /// clears the screen.
    pub fn draw<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        render: impl FnOnce(&mut Frame) -> Rendered,
    ) -> Result<Drawn, B::Error> {
        if self.stale {
            terminal.autoresize()?;
        }
        let Rendered {
            scroll_band: band,
            cursor,
        } = render(&mut terminal.get_frame());
        let mut drawn = Drawn::default();
        let area = terminal.current_buffer_mut().area;
        if self.stale || self.shadow.area != area {
            self.shadow = Buffer::empty(area);
            self.cursor = Cursor::Unknown;
            drawn.cleared = true;
            terminal.backend_mut().clear_region(ClearType::All)?;
            self.stale = false;
        }
        let band = band
            .map(|b| b.start.max(area.top())..b.end.min(area.bottom()))
            .filter(|b| b.end.saturating_sub(b.start) >= 2)
            .filter(|_| !drawn.cleared);
        // The frame is ours while it is written (the diff holds its cells
        // while the backend writes); the terminal holds a spare meanwhile.
        std::mem::swap(terminal.current_buffer_mut(), &mut self.frame);
        let wrote = self.write(terminal.backend_mut(), band, &mut drawn);
        // The frame is now what the terminal shows; the old shadow (of the
        // same area) goes back to the terminal, which resets it before it is
        // drawn into again.
        std::mem::swap(&mut self.shadow, &mut self.frame);
        std::mem::swap(terminal.current_buffer_mut(), &mut self.frame);
        if let Err(e) = wrote {
            // Part of the frame may be on screen: draw it whole next time.
            self.forget();
            return Err(e);
        }
        let moved = drawn.cells > 0 || drawn.scrolled != 0 || drawn.cleared;
        match cursor {
            None => {
                if self.cursor != Cursor::Hidden {
                    terminal.hide_cursor()?;
                    self.cursor = Cursor::Hidden;
                }
            }
            Some(at) => {
                if moved || self.cursor != Cursor::Shown(at) {
                    terminal.set_cursor_position(at)?;
                }
                if !matches!(self.cursor, Cursor::Shown(_)) {
                    terminal.show_cursor()?;
                }
                self.cursor = Cursor::Shown(at);
            }
        }
        terminal.swap_buffers();
        terminal.backend_mut().flush().map(|()| drawn)
    }

    /// Writes `self.frame` over `self.shadow`: the scroll of `band` when it
    /// pays, then the cells that differ. Leaves the shadow as it was before
    /// the cells were written (scrolled, if it scrolled).
    fn write<B: Backend>(
        &mut self,
        backend: &mut B,
        band: Option<Range<u16>>,
        drawn: &mut Drawn,
    ) -> Result<(), B::Error> {
        if let Some(band) = band
            && let Some((region, by)) = best_scroll(&self.shadow, &self.frame, band)
        {
            drawn.scrolled = by;
            drawn.region = region.clone();
            shift(&mut self.shadow, region.clone(), by);
            let rows = by.unsigned_abs() as u16;
            if by > 0 {
                backend.scroll_region_up(region, rows)?;
            } else {
                backend.scroll_region_down(region, rows)?;
            }
        }
        let updates = self.shadow.diff(&self.frame);
        drawn.cells = updates.len();
        if updates.is_empty() {
            return Ok(());
        }
        backend.draw(fill_gaps(updates, &self.frame).into_iter())
    }
}

/// `updates` (a diff, in row order) with the short runs of unchanged cells
/// between two changes on a row added, when they are plain ASCII in the style
/// of the change before them: the backend then writes them (a byte each)
/// instead of moving the cursor over them. Rewriting an unchanged cell
/// changes nothing on screen.
fn fill_gaps<'a>(
    updates: Vec<(u16, u16, &'a Cell)>,
    frame: &'a Buffer,
) -> Vec<(u16, u16, &'a Cell)> {
    use unicode_width::UnicodeWidthStr;
    let plain = |c: &Cell| {
        let s = c.symbol();
        s.len() == 1 && s.is_ascii() && c.diff_option == ratatui::buffer::CellDiffOption::None
    };
    let mut out = Vec::with_capacity(updates.len() * 2);
    let mut last: Option<(u16, u16, &Cell)> = None;
    for (x, y, cell) in updates {
        if let Some((lx, ly, lc)) = last
            && ly == y
        {
            let end = lx.saturating_add(lc.symbol().width().max(1) as u16);
            if x > end && x - end <= MAX_GAP {
                let style = lc.style();
                let gap = (end..x).map(|gx| (gx, y, &frame[(gx, y)]));
                if gap.clone().all(|(_, _, g)| plain(g) && g.style() == style) {
                    out.extend(gap);
                }
            }
        }
        out.push((x, y, cell));
        last = Some((x, y, cell));
    }
    out
}

/// A quick hash of a row's symbols (the multiply-rotate of rustc's
/// FxHasher over each cell's first eight bytes): rows are only compared by it
/// to pick a scroll, which the cells themselves then confirm, styles
/// included.
fn row_hash(buf: &Buffer, y: u16) -> u64 {
    row(buf, y).iter().fold(0u64, |h, cell| {
        let bytes = cell.symbol().as_bytes();
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
    })
}

/// One row of a buffer (the buffer's own coordinates).
fn row(buf: &Buffer, y: u16) -> &[Cell] {
    let w = buf.area.width as usize;
    let i = (y - buf.area.y) as usize * w;
    &buf.content[i..i + w]
}

/// The scroll that leaves the fewest cells of `old` to rewrite into `new`:
/// a region of `band`'s rows from its top (rows below it, such as lines
/// still streaming under the ones that scroll, stay where they are) and the
/// rows it moves by (> 0 up), when it leaves fewer cells than no scroll at
/// all, counting [`SCROLL_COST`] for the scroll itself. Both buffers have
/// the same area; `band` lies within it.
pub fn best_scroll(old: &Buffer, new: &Buffer, band: Range<u16>) -> Option<(Range<u16>, i32)> {
    if old.area != new.area || band.is_empty() {
        return None;
    }
    let n = band.len();
    let before: Vec<u64> = band.clone().map(|y| row_hash(old, y)).collect();
    let after: Vec<u64> = band.clone().map(|y| row_hash(new, y)).collect();
    let same = (0..n).filter(|&i| before[i] == after[i]).count();
    // With at most one row changed no scroll can win (scrolling by k keeps
    // at most n - k rows).
    if same + 1 >= n {
        return None;
    }
    // unmoved[e]: rows from e down that match without a scroll.
    let mut unmoved = vec![0; n + 1];
    for i in (0..n).rev() {
        unmoved[i] = unmoved[i + 1] + usize::from(before[i] == after[i]);
    }
    // For each scroll by k of the region [0, e): the rows inside that match
    // (new row i shows old row i + k) plus the unmoved ones below it.
    // Ties go to the smaller scroll, then to the larger region: rows that
    // changed a little (a streaming line that grew) align best when more of
    // them move together.
    let mut best: Option<(usize, usize, i32)> = None;
    for k in (1..n as i64).flat_map(|k| [k, -k]) {
        let mut inside = 0;
        for (e, &below) in unmoved.iter().enumerate().skip(1) {
            // The row that the region's growth to e rows makes valid.
            let (i, from) = if k > 0 {
                (e as i64 - 1 - k, e as i64 - 1)
            } else {
                (e as i64 - 1, e as i64 - 1 + k)
            };
            if i >= 0 && from >= 0 && after[i as usize] == before[from as usize] {
                inside += 1;
            }
            if e as i64 <= k.abs() {
                continue;
            }
            let score = inside + below;
            let better = best.is_none_or(|(b, be, bk)| {
                (score, std::cmp::Reverse(k.unsigned_abs()), e)
                    > (b, std::cmp::Reverse(bk.unsigned_abs() as u64), be)
            });
            if better {
                best = Some((score, e, k as i32));
            }
        }
    }
    let (score, e, k) = best?;
    if score <= same {
        return None;
    }
    // Verify with the cells themselves: the rows hashed alike may still
    // differ in a few cells (styles), rows that differ a little count as
    // wholly different above, and the rows that come in blank cost their
    // content. The whole band scrolled by as much is tried too.
    let plain = changed_cells(old, new, band.clone(), band.start..band.start, 0);
    [band.start..band.start + e as u16, band.clone()]
        .into_iter()
        .map(|region| {
            let cost = changed_cells(old, new, band.clone(), region.clone(), k) + SCROLL_COST;
            (cost, region)
        })
        .filter(|(cost, _)| *cost < plain)
        .min_by_key(|(cost, region)| (*cost, std::cmp::Reverse(region.len())))
        .map(|(_, region)| (region, k))
}

/// Cells of `band` that differ between `new` and `old` with `region`
/// scrolled by `k` (a row scrolled in is blank).
fn changed_cells(
    old: &Buffer,
    new: &Buffer,
    band: Range<u16>,
    region: Range<u16>,
    k: i32,
) -> usize {
    let blank = Cell::default();
    band.map(|y| {
        let new_row = row(new, y);
        if !region.contains(&y) {
            return new_row
                .iter()
                .zip(row(old, y))
                .filter(|(a, b)| a != b)
                .count();
        }
        let from = y as i64 + k as i64;
        if from >= region.start as i64 && from < region.end as i64 {
            let old_row = row(old, from as u16);
            new_row.iter().zip(old_row).filter(|(a, b)| a != b).count()
        } else {
            new_row.iter().filter(|c| **c != blank).count()
        }
    })
    .sum()
}

/// Scrolls `band` of `buf` by `k` rows (> 0 up) as a terminal does: the
/// rows that come in are blank.
fn shift(buf: &mut Buffer, band: Range<u16>, k: i32) {
    let w = buf.area.width as usize;
    let top = (band.start - buf.area.y) as usize * w;
    let end = (band.end - buf.area.y) as usize * w;
    let cells = &mut buf.content[top..end];
    let by = (k.unsigned_abs() as usize * w).min(cells.len());
    if k > 0 {
        cells.rotate_left(by);
        let len = cells.len();
        cells[len - by..].fill(Cell::default());
    } else {
        cells.rotate_right(by);
        cells[..by].fill(Cell::default());
    }
}

#[cfg(test)]
mod tests;
