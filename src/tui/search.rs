//! Transcript search (`/`, `n`, `N`): the query goes to the store
//! (`Op::SearchTranscript`), which answers with the positions of the matching
//! lines (`Event::SearchResults`); `n`/`N` move between them, paging the
//! transcript window to each; the view highlights every occurrence of the query
//! in the visible rows with `ui.search.match`.

use crate::protocol::RequestId;

/// A search and its results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    /// The text searched for.
    pub query: String,
    /// The transcript view it was run on (`None`: all agents).
    pub agent: Option<String>,
    /// The request in flight, until its answer arrives.
    pub pending: Option<RequestId>,
    /// Matching positions, ascending.
    pub positions: Vec<u64>,
    /// More lines matched than `positions` holds.
    pub truncated: bool,
    /// The index in `positions` of the match shown.
    pub current: Option<usize>,
}

impl Search {
    /// A search just asked for.
    pub fn new(query: String, agent: Option<String>, req: RequestId) -> Search {
        Search {
            query,
            agent,
            pending: Some(req),
            positions: Vec::new(),
            truncated: false,
            current: None,
        }
    }

    /// The first match to show: the last one at or before `bottom` (the
    /// bottom visible line), else the first.
    pub fn first_from(&self, bottom: u64) -> Option<usize> {
        if self.positions.is_empty() {
            return None;
        }
        let after = self.positions.partition_point(|p| *p <= bottom);
        Some(after.saturating_sub(1))
    }

    /// Moves to the next (`forward`) or previous match, wrapping around.
    pub fn step(&mut self, forward: bool) -> Option<u64> {
        let n = self.positions.len();
        if n == 0 {
            return None;
        }
        let i = match (self.current, forward) {
            (None, _) => 0,
            (Some(i), true) => (i + 1) % n,
            (Some(i), false) => (i + n - 1) % n,
        };
        self.current = Some(i);
        self.positions.get(i).copied()
    }

    /// "match 3/17" for the status bar.
    pub fn status(&self) -> String {
        if self.pending.is_some() {
            return format!("searching “{}”…", self.query);
        }
        match self.current {
            None => format!("“{}”: no match", self.query),
            Some(i) => format!(
                "“{}”: match {}/{}{}",
                self.query,
                i + 1,
                self.positions.len(),
                if self.truncated { "+" } else { "" }
            ),
        }
    }
}

/// Byte ranges of the occurrences of `needle` in `hay`, ignoring case
/// (character by character, so the ranges always fall on char boundaries).
pub fn find_ci(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    let needle: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() {
        return Vec::new();
    }
    let chars: Vec<(usize, char)> = hay.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    'outer: while i < chars.len() {
        let mut j = 0;
        let mut k = i;
        while j < needle.len() {
            let Some((_, c)) = chars.get(k) else {
                break 'outer;
            };
            let lower: Vec<char> = c.to_lowercase().collect();
            if needle.get(j..j + lower.len()) != Some(lower.as_slice()) {
                i += 1;
                continue 'outer;
            }
            j += lower.len();
            k += 1;
        }
        let start = chars[i].0;
        let end = chars.get(k).map(|(b, _)| *b).unwrap_or(hay.len());
        out.push((start, end));
        i = k.max(i + 1);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_are_found_ignoring_case_on_char_boundaries() {
        assert_eq!(
            find_ci("SQLite or sqlite", "sqlite"),
            vec![(0, 6), (10, 16)]
        );
        assert_eq!(find_ci("aaa", "aa"), vec![(0, 2)]);
        assert_eq!(find_ci("x", ""), vec![]);
        let hay = "Ünïcode “ÜNÏ”";
        for (s, e) in find_ci(hay, "ünï") {
            assert_eq!(hay[s..e].to_lowercase(), "ünï");
        }
        assert_eq!(find_ci(hay, "ünï").len(), 2);
        assert_eq!(find_ci("日本語のテキスト", "テキ"), vec![(12, 18)]);
    }

    #[test]
    fn matches_step_and_wrap() {
        let mut s = Search::new("x".into(), None, 1);
        s.pending = None;
        s.positions = vec![3, 10, 20];
        assert_eq!(s.first_from(15), Some(1));
        assert_eq!(s.first_from(2), Some(0));
        assert_eq!(s.first_from(99), Some(2));
        s.current = Some(2);
        assert_eq!(s.step(true), Some(3));
        assert_eq!(s.step(false), Some(20));
        assert_eq!(s.status(), "“x”: match 3/3");
        s.positions.clear();
        assert_eq!(s.step(true), None);
    }
}
