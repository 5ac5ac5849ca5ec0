//! Transcript windows (docs/design.md §4): the TUI holds at most [`WINDOW_LINES`]
//! lines per view ("all", or one agent) and pages older or newer lines in with
//! `Op::LoadTranscript`, answered by `Event::TranscriptPage`; stale pages are
//! dropped by request id. Streaming text that has not yet ended a line is held as
//! a partial line per task, from `Event::Token`s.
//!
//! Rendering walks back from the bottom visible line and wraps only what fits,
//! so a frame's cost depends on the screen size, not the transcript length.

use std::collections::{BTreeMap, HashMap, VecDeque};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::protocol::transcript::complete_lines;
use crate::protocol::{LineKind, RequestId, TranscriptLine};

/// Most lines held per view.
pub const WINDOW_LINES: usize = 5_000;
/// Lines asked for per page.
pub const PAGE: u64 = 500;

/// A line with what rendering needs to know about it.
#[derive(Clone, Debug, PartialEq)]
pub struct WinLine {
    /// The stored line.
    pub line: TranscriptLine,
    /// Inside a fenced code block.
    pub code: bool,
}

/// A request for a page: (agent or all, from, len).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// `None` for all agents.
    pub agent: Option<String>,
    /// First position wanted.
    pub from: u64,
    /// Lines wanted.
    pub len: u64,
}

/// One view's window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// The lines held, in order.
    pub lines: VecDeque<WinLine>,
    /// Position (in the view) of `lines[0]`.
    pub start: u64,
    /// Lines in the whole view.
    pub total: u64,
    /// Stick to the end as lines arrive.
    pub following: bool,
    /// Position of the bottom visible line when not following.
    pub bottom: u64,
    /// The page request in flight.
    pub pending: Option<RequestId>,
}

impl Window {
    fn new() -> Self {
        Window {
            following: true,
            ..Window::default()
        }
    }

    /// Position after the last line held.
    pub fn end(&self) -> u64 {
        self.start + self.lines.len() as u64
    }

    /// `true` when the window holds the view's last line.
    pub fn at_live_end(&self) -> bool {
        self.end() >= self.total
    }

    /// The bottom visible position.
    pub fn bottom_pos(&self) -> u64 {
        if self.following {
            self.end().saturating_sub(1)
        } else {
            self.bottom
                .clamp(self.start, self.end().saturating_sub(1).max(self.start))
        }
    }

    fn push(&mut self, line: WinLine) {
        if !self.at_live_end() {
            self.total += 1;
            return;
        }
        self.lines.push_back(line);
        self.total += 1;
        if self.lines.len() > WINDOW_LINES {
            self.lines.pop_front();
            self.start += 1;
        }
    }

    /// The line at a view position, when held.
    pub fn get(&self, pos: u64) -> Option<&WinLine> {
        pos.checked_sub(self.start)
            .and_then(|i| self.lines.get(i as usize))
    }
}

/// A task's streamed text that is not durable yet ([`Transcripts::partials`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partial<'a> {
    /// The agent streaming it.
    pub agent: &'a str,
    /// Complete lines, each with whether it is code (inside a fence).
    pub lines: Vec<(&'a str, bool)>,
    /// The unfinished line (may be empty).
    pub tail: &'a str,
    /// Whether the unfinished line is code (in a fence, or opening or
    /// closing one), as it will be once complete.
    pub tail_code: bool,
}

/// Every view's window, the partial lines, and the active tab.
#[derive(Clone, Debug, PartialEq)]
pub struct Transcripts {
    /// Agent names, in tab order (tab 0 is "all").
    pub agents: Vec<String>,
    /// Active tab: 0 = all, i = agents[i - 1].
    pub active: usize,
    windows: HashMap<Option<String>, Window>,
    /// task → (agent, text streamed since the task's last durable line:
    /// complete lines not yet durable, each ending in `\n`, then the
    /// unfinished line).
    partials: BTreeMap<String, (String, String)>,
    fences: HashMap<String, bool>,
}

fn toggles_fence(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

impl Transcripts {
    /// Windows for "all" and each agent.
    pub fn new(agents: Vec<String>) -> Self {
        let mut windows = HashMap::new();
        windows.insert(None, Window::new());
        for a in &agents {
            windows.insert(Some(a.clone()), Window::new());
        }
        Transcripts {
            agents,
            active: 0,
            windows,
            partials: BTreeMap::new(),
            fences: HashMap::new(),
        }
    }

    /// The active tab's key: `None` for all.
    pub fn active_key(&self) -> Option<String> {
        self.active
            .checked_sub(1)
            .and_then(|i| self.agents.get(i).cloned())
    }

    /// The active tab's window.
    pub fn window(&self) -> &Window {
        let key = self.active_key();
        self.windows
            .get(&key)
            .or_else(|| self.windows.get(&None))
            .unwrap_or(&EMPTY)
    }

    fn window_mut(&mut self) -> Option<&mut Window> {
        let key = self.active_key();
        self.windows.get_mut(&key)
    }

    /// Moves to the next (`+1`) or previous (`-1`) tab.
    pub fn cycle(&mut self, delta: isize) {
        let n = self.agents.len() as isize + 1;
        self.active = ((self.active as isize + delta).rem_euclid(n)) as usize;
    }

    /// Durable lines arrived.
    pub fn on_lines(&mut self, lines: &[TranscriptLine]) {
        for line in lines {
            let fence = self.fences.entry(line.task.clone()).or_insert(false);
            let toggles = toggles_fence(&line.text);
            let code = *fence || toggles;
            if toggles {
                *fence = !*fence;
            }
            if line.ends_call {
                self.partials.remove(&line.task);
                self.fences.remove(&line.task);
            } else if line.kind == LineKind::Text
                && let Some((_, text)) = self.partials.get_mut(&line.task)
                && let Some(cut) = text.find('\n')
            {
                // The durable copy of the partial's first complete line
                // (the k-th durable text line of a call is its k-th streamed
                // line): it now shows from the window.
                text.drain(..=cut);
            }
            let win = WinLine {
                line: shown(line),
                code,
            };
            if let Some(w) = self.windows.get_mut(&None) {
                w.push(win.clone());
            }
            if let Some(w) = self.windows.get_mut(&Some(line.agent.clone())) {
                w.push(win);
            }
        }
    }

    /// Whether `lines` only make durable text that tokens already showed,
    /// unchanged: each is a model's text line (not the line that ends a
    /// call) whose text is, in order, the next complete line streamed for
    /// its task. [`Transcripts::on_lines`] then moves that text from the
    /// partial to the window, where the view draws it exactly as it drew it
    /// streaming (`view::draw_transcript`), so the screen does not change.
    pub fn settles_streamed(&self, lines: &[TranscriptLine]) -> bool {
        let mut taken: HashMap<&str, usize> = HashMap::new();
        lines.iter().all(|line| {
            if line.kind != LineKind::Text || line.ends_call {
                return false;
            }
            let Some((_, text)) = self.partials.get(&line.task) else {
                return false;
            };
            let k = taken.entry(line.task.as_str()).or_insert(0);
            // The k-th complete line of the partial (each ends in `\n`).
            let streamed = text
                .split_inclusive('\n')
                .nth(*k)
                .and_then(|l| l.strip_suffix('\n'))
                .map(|l| l.strip_suffix('\r').unwrap_or(l));
            *k += 1;
            streamed == Some(expand_tabs(&line.text).as_ref())
        })
    }

    /// A token arrived: it extends the task's partial text. Lines it
    /// completes stay in it until their durable copies arrive
    /// ([`Transcripts::on_lines`]), which the committer may send up to a
    /// quarter of a second after the tokens.
    pub fn on_token(&mut self, agent: &str, task: &str, text: &str) {
        let entry = self
            .partials
            .entry(task.to_string())
            .or_insert_with(|| (agent.to_string(), String::new()));
        entry.1.push_str(&expand_tabs(text));
    }

    /// The text streamed under the active view and not yet durable, per
    /// task: its agent, its complete lines and its unfinished line, each with
    /// whether it is code (inside a fence), as its durable copy will be.
    pub fn partials(&self) -> Vec<Partial<'_>> {
        let key = self.active_key();
        self.partials
            .iter()
            .filter(|(_, (a, t))| !t.is_empty() && key.as_deref().is_none_or(|k| k == a))
            .map(|(task, (agent, text))| {
                let (done, tail) = complete_lines(text);
                let mut fence = self.fences.get(task).copied().unwrap_or(false);
                let lines = done
                    .into_iter()
                    .map(|line| {
                        let toggles = toggles_fence(line);
                        let code = fence || toggles;
                        fence ^= toggles;
                        (line, code)
                    })
                    .collect();
                Partial {
                    agent: agent.as_str(),
                    lines,
                    tail,
                    tail_code: fence || toggles_fence(tail),
                }
            })
            .collect()
    }

    /// Scrolls the active view up by `n` lines; returns a page to load when the
    /// window's top is reached and older lines exist.
    pub fn scroll_up(&mut self, n: u64, rows: u64) -> Option<PageRequest> {
        let key = self.active_key();
        let w = self.window_mut()?;
        let bottom = w.bottom_pos();
        w.following = false;
        w.bottom = bottom.saturating_sub(n).max(w.start);
        let near_top = w.bottom < w.start + rows + n;
        (near_top && w.start > 0 && w.pending.is_none()).then(|| {
            let from = w.start.saturating_sub(PAGE);
            PageRequest {
                agent: key,
                from,
                len: w.start - from,
            }
        })
    }

    /// Scrolls the active view down; following resumes at the end. Returns a
    /// page to load when newer lines exist beyond the window.
    pub fn scroll_down(&mut self, n: u64, rows: u64) -> Option<PageRequest> {
        let key = self.active_key();
        let w = self.window_mut()?;
        if w.following {
            return None;
        }
        w.bottom = (w.bottom_pos() + n).min(w.end().saturating_sub(1));
        if w.at_live_end() && w.bottom + 1 >= w.end() {
            w.following = true;
            return None;
        }
        let near_end = w.bottom + rows + n >= w.end();
        (near_end && !w.at_live_end() && w.pending.is_none()).then(|| PageRequest {
            agent: key,
            from: w.end(),
            len: PAGE,
        })
    }

    /// A resumed session: every view continues after its stored lines (`all`
    /// over all agents, `per_agent` for each agent; absent agents have none)
    /// and follows; returns, per view with stored lines, the request for its
    /// last page, which [`Transcripts::on_page`] puts in front of any live
    /// line that arrives first.
    pub fn resume_at(&mut self, all: u64, per_agent: &BTreeMap<String, u64>) -> Vec<PageRequest> {
        self.partials.clear();
        self.fences.clear();
        let mut pages = Vec::new();
        for (key, w) in self.windows.iter_mut() {
            let total = match key {
                None => all,
                Some(agent) => per_agent.get(agent).copied().unwrap_or(0),
            };
            *w = Window::new();
            w.start = total;
            w.total = total;
            if total > 0 {
                let from = total.saturating_sub(PAGE);
                pages.push(PageRequest {
                    agent: key.clone(),
                    from,
                    len: total - from,
                });
            }
        }
        pages.sort_by(|a, b| a.agent.cmp(&b.agent));
        pages
    }

    /// Jumps to the end and follows again.
    pub fn follow(&mut self) -> Option<PageRequest> {
        let key = self.active_key();
        let w = self.window_mut()?;
        w.following = true;
        if w.at_live_end() {
            return None;
        }
        // The window is behind: reload its tail.
        w.lines.clear();
        w.start = w.total.saturating_sub(PAGE);
        Some(PageRequest {
            agent: key,
            from: w.total.saturating_sub(PAGE),
            len: PAGE,
        })
    }

    /// Shows position `pos` of the active view: as the bottom row's neighbour
    /// when `center` (half a screen below it), else at the top of the screen.
    /// Returns a page to load when the window does not hold that part; the
    /// window is then emptied and refilled around it.
    pub fn jump_to(&mut self, pos: u64, rows: u64, center: bool) -> Option<PageRequest> {
        let key = self.active_key();
        let w = self.window_mut()?;
        if w.total == 0 {
            return None;
        }
        let last = w.total - 1;
        let pos = pos.min(last);
        let below = if center {
            rows / 2
        } else {
            rows.saturating_sub(1)
        };
        let bottom = (pos + below).min(last);
        w.following = false;
        w.bottom = bottom;
        // Rows above the bottom line are built from the lines before it.
        let need_from = bottom.saturating_sub(rows);
        if need_from >= w.start && bottom < w.end() {
            return None;
        }
        let from = bottom.saturating_sub(PAGE / 2);
        w.lines.clear();
        w.start = from;
        Some(PageRequest {
            agent: key,
            from,
            len: PAGE,
        })
    }

    /// Remembers the request id of a page asked for the view `agent`.
    pub fn mark_pending(&mut self, agent: &Option<String>, req: RequestId) {
        if let Some(w) = self.windows.get_mut(agent) {
            w.pending = Some(req);
        }
    }

    /// A page arrived; pages for requests no longer pending are dropped.
    pub fn on_page(
        &mut self,
        req: RequestId,
        agent: &Option<String>,
        lines: &[TranscriptLine],
        total: u64,
    ) {
        let Some(w) = self.windows.get_mut(agent) else {
            return;
        };
        if w.pending != Some(req) {
            return;
        }
        w.pending = None;
        w.total = w.total.max(total);
        let pos = |l: &TranscriptLine| if agent.is_some() { l.agent_seq } else { l.seq };
        let mut fence = false;
        let page: Vec<WinLine> = lines
            .iter()
            .map(|l| {
                let toggles = toggles_fence(&l.text);
                let code = fence || toggles;
                if toggles {
                    fence = !fence;
                }
                WinLine {
                    line: shown(l),
                    code,
                }
            })
            .collect();
        let Some(first) = page.first().map(|l| pos(&l.line)) else {
            return;
        };
        if w.lines.is_empty() {
            w.start = first;
            w.lines.extend(page);
        } else if first < w.start {
            let start = w.start;
            for l in page.into_iter().rev().filter(|l| pos(&l.line) < start) {
                w.lines.push_front(l);
                w.start -= 1;
            }
            while w.lines.len() > WINDOW_LINES {
                w.lines.pop_back();
            }
        } else {
            let end = w.end();
            for l in page.into_iter().filter(|l| pos(&l.line) >= end) {
                w.lines.push_back(l);
            }
            while w.lines.len() > WINDOW_LINES {
                w.lines.pop_front();
                w.start += 1;
            }
        }
    }
}

static EMPTY: Window = Window {
    lines: VecDeque::new(),
    start: 0,
    total: 0,
    following: true,
    bottom: 0,
    pending: None,
};

/// Tabs as four spaces: the terminal would drop them (ratatui skips control
/// characters), and code indented with tabs would lose its shape.
pub fn expand_tabs(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\t') {
        std::borrow::Cow::Owned(text.replace('\t', "    "))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A stored line as the window holds it (tabs expanded).
fn shown(line: &TranscriptLine) -> TranscriptLine {
    let mut line = line.clone();
    if let std::borrow::Cow::Owned(text) = expand_tabs(&line.text) {
        line.text = text;
    }
    line
}

/// Splits `text` into rows of at most `width` columns, at spaces where
/// possible (hard breaks for long words and for code, whose `code` flag asks for
/// character wrapping). Wide characters count double.
pub fn wrap(text: &str, width: usize, code: bool) -> Vec<String> {
    let width = width.max(1);
    if UnicodeWidthStr::width(text) <= width {
        return vec![text.to_string()];
    }
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut row_w = 0;
    let mut last_space: Option<(usize, usize)> = None; // (byte index in row, width up to it)
    for c in text.chars() {
        let cw = UnicodeWidthChar::width(c).unwrap_or(0);
        if c == ' ' && !code && row_w + cw > width {
            // A space that would overflow ends the row and is dropped.
            rows.push(std::mem::take(&mut row));
            row_w = 0;
            last_space = None;
            continue;
        }
        if row_w + cw > width {
            match last_space {
                Some((idx, w)) if !code && idx > 0 => {
                    let rest = row.split_off(idx + 1);
                    rows.push(row.trim_end().to_string());
                    row = rest;
                    row_w -= w + 1;
                }
                _ => {
                    rows.push(std::mem::take(&mut row));
                    row_w = 0;
                }
            }
            last_space = None;
        }
        if c == ' ' {
            last_space = Some((row.len(), row_w));
        }
        row.push(c);
        row_w += cw;
    }
    if !row.is_empty() {
        rows.push(row);
    }
    rows
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::LineKind;

    fn line(seq: u64, agent: &str, agent_seq: u64, text: &str) -> TranscriptLine {
        TranscriptLine {
            seq,
            agent_seq,
            agent: agent.into(),
            task: "t".into(),
            kind: LineKind::Text,
            text: text.into(),
            ends_call: false,
        }
    }

    #[test]
    fn wrapping_prefers_spaces_and_respects_width() {
        assert_eq!(
            wrap("hello world again", 11, false),
            vec!["hello world", "again"]
        );
        assert_eq!(wrap("abcdefghij", 4, false), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a b c", 80, false), vec!["a b c"]);
        for row in wrap("日本語のテキストです", 5, false) {
            assert!(UnicodeWidthStr::width(row.as_str()) <= 5, "{row}");
        }
        assert_eq!(wrap("let x = 1;", 4, true), vec!["let ", "x = ", "1;"]);
    }

    #[test]
    fn windows_are_bounded_and_track_views() {
        let mut t = Transcripts::new(vec!["pm".into(), "qa".into()]);
        let lines: Vec<_> = (0..(WINDOW_LINES as u64 + 10))
            .map(|i| line(i, if i % 2 == 0 { "pm" } else { "qa" }, i / 2, "x"))
            .collect();
        t.on_lines(&lines);
        let all = t.window();
        assert_eq!(all.lines.len(), WINDOW_LINES);
        assert_eq!(all.start, 10);
        assert_eq!(all.total, WINDOW_LINES as u64 + 10);
        t.cycle(1);
        assert_eq!(t.active_key().as_deref(), Some("pm"));
        assert_eq!(t.window().total, (WINDOW_LINES as u64 + 10) / 2);
        t.cycle(-2);
        assert_eq!(t.active_key().as_deref(), Some("qa"));
    }

    #[test]
    fn scrolling_to_the_top_pages_older_lines_in_and_drops_stale_pages() {
        let mut t = Transcripts::new(vec!["pm".into()]);
        let lines: Vec<_> = (0..(WINDOW_LINES as u64 + 600))
            .map(|i| line(i, "pm", i, "x"))
            .collect();
        t.on_lines(&lines);
        assert_eq!(t.window().start, 600);
        assert!(t.scroll_up(10, 20).is_none());
        assert!(!t.window().following);
        let req = t.scroll_up(WINDOW_LINES as u64, 20).expect("a page");
        assert_eq!((req.from, req.len), (100, 500));
        t.mark_pending(&None, 7);
        t.on_page(6, &None, &lines[100..600], WINDOW_LINES as u64 + 600);
        assert_eq!(t.window().start, 600, "a stale page is dropped");
        t.on_page(7, &None, &lines[100..600], WINDOW_LINES as u64 + 600);
        assert_eq!(t.window().start, 100);
        assert_eq!(t.window().lines.len(), WINDOW_LINES);
        assert!(!t.window().at_live_end());
        // Live lines while scrolled back only bump the total.
        t.on_lines(&[line(
            WINDOW_LINES as u64 + 600,
            "pm",
            WINDOW_LINES as u64 + 600,
            "new",
        )]);
        assert_eq!(t.window().lines.len(), WINDOW_LINES);
        let req = t.follow().expect("reload the tail");
        assert_eq!(req.from + req.len, WINDOW_LINES as u64 + 601);
    }

    #[test]
    fn jumps_reload_the_window_around_far_positions() {
        let mut t = Transcripts::new(vec!["pm".into()]);
        let lines: Vec<_> = (0..(WINDOW_LINES as u64 * 2))
            .map(|i| line(i, "pm", i, "x"))
            .collect();
        t.on_lines(&lines);
        assert_eq!(t.window().start, WINDOW_LINES as u64);
        // Near the end: held, no page.
        assert!(t.jump_to(WINDOW_LINES as u64 * 2 - 50, 20, true).is_none());
        assert_eq!(t.window().bottom_pos(), WINDOW_LINES as u64 * 2 - 40);
        // The top: the window is emptied and reloaded from 0.
        let req = t.jump_to(0, 20, false).expect("a page");
        assert_eq!((req.from, req.len), (0, PAGE));
        assert!(t.window().lines.is_empty());
        t.mark_pending(&None, 3);
        t.on_page(3, &None, &lines[..PAGE as usize], WINDOW_LINES as u64 * 2);
        assert_eq!(t.window().start, 0);
        assert_eq!(t.window().bottom_pos(), 19);
        assert!(!t.window().following);
        // A live line while away only counts.
        t.on_lines(&[line(
            WINDOW_LINES as u64 * 2,
            "pm",
            WINDOW_LINES as u64 * 2,
            "new",
        )]);
        assert_eq!(t.window().lines.len(), PAGE as usize);
        assert_eq!(t.window().total, WINDOW_LINES as u64 * 2 + 1);
    }

    #[test]
    fn tokens_build_partial_lines_until_the_call_ends() {
        let mut t = Transcripts::new(vec!["pm".into()]);
        t.on_token("pm", "t", "hel");
        t.on_token("pm", "t", "lo\nwor");
        // "hello" is complete but not durable yet: it still shows, as a line.
        let p = t.partials();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].agent, p[0].lines.clone(), p[0].tail),
            ("pm", vec![("hello", false)], "wor")
        );
        t.on_lines(&[line(0, "pm", 0, "hello")]);
        let p = t.partials();
        assert_eq!((p[0].lines.clone(), p[0].tail), (vec![], "wor"));
        assert_eq!(t.window().lines.back().unwrap().line.text, "hello");
        let mut end = line(1, "pm", 1, "world");
        end.ends_call = true;
        t.on_lines(&[end]);
        assert!(t.partials().is_empty());
    }

    #[test]
    fn tabs_become_spaces_in_lines_pages_and_partials() {
        let mut t = Transcripts::new(vec!["pm".into()]);
        t.on_lines(&[
            line(0, "pm", 0, "def f():\n"),
            line(1, "pm", 1, "\treturn 1"),
        ]);
        assert_eq!(t.window().lines[1].line.text, "    return 1");
        t.on_token("pm", "t2", "\tx");
        assert_eq!(t.partials()[0].tail, "    x");
        assert_eq!(expand_tabs("a\tb"), "a    b");
    }

    #[test]
    fn a_partial_line_in_a_code_block_is_code_as_it_will_be_once_complete() {
        let mut t = Transcripts::new(vec!["pm".into()]);
        let shape = |t: &Transcripts| {
            let p = t.partials();
            let owned: Vec<(String, bool)> = p[0]
                .lines
                .iter()
                .map(|(l, c)| (l.to_string(), *c))
                .collect();
            (owned, p[0].tail.to_string(), p[0].tail_code)
        };
        t.on_token("pm", "t", "```py\nx = ");
        // The fence's line is complete but not durable yet: it already
        // opens the block for the line after it.
        assert_eq!(
            shape(&t),
            (vec![("```py".into(), true)], "x = ".into(), true)
        );
        t.on_lines(&[line(0, "pm", 0, "```py")]);
        assert_eq!(shape(&t), (vec![], "x = ".into(), true));
        t.on_token("pm", "t", "1\n```");
        assert_eq!(
            shape(&t),
            (vec![("x = 1".into(), true)], "```".into(), true)
        );
        // Outside any fence a line is text.
        let mut plain = Transcripts::new(vec!["pm".into()]);
        plain.on_token("pm", "t", "x = ");
        assert_eq!(shape(&plain), (vec![], "x = ".into(), false));
    }

    #[test]
    fn code_fences_mark_lines() {
        let mut t = Transcripts::new(vec!["pm".into()]);
        t.on_lines(&[
            line(0, "pm", 0, "text"),
            line(1, "pm", 1, "```py"),
            line(2, "pm", 2, "x = 1"),
            line(3, "pm", 3, "```"),
            line(4, "pm", 4, "after"),
        ]);
        let codes: Vec<bool> = t.window().lines.iter().map(|l| l.code).collect();
        assert_eq!(codes, vec![false, true, true, true, false]);
    }
}
