//! Ranking the map's files by relevance to the task, after Aider's repository
//! map (a PageRank over the files' references, personalised towards what
//! the task names):
//!
//! - a graph with an edge from each file to every other file defining an
//!   identifier it references, weighted by √(references) / (number of
//!   files defining it), ×10 when the prompt names the identifier;
//! - PageRank with damping 0.85 over [`ITERATIONS`] rounds, whose teleport
//!   goes to every file (weight 1), more to the files the prompt names (by
//!   path or file name) or that define an identifier it names (+4), and to
//!   the files the last [`super::RECENT_COMMITS`] commits touched (+1);
//! - a file the prompt names, or that defines an identifier it names, comes
//!   before every other (the task's own files are never cut by the budget
//!   for a well-referenced neighbour).

use std::collections::{BTreeMap, BTreeSet};

use super::extract::FileSymbols;

/// PageRank rounds: enough for a graph of a few thousand files to settle.
const ITERATIONS: usize = 30;

/// PageRank's damping factor.
const DAMPING: f64 = 0.85;

/// The identifiers and path-like words in `text`: runs of letters, digits,
/// `_`, and (for paths) `/`, `.`, `-`, at least 3 characters long, with
/// trailing dots dropped; an identifier inside a path counts too.
pub fn words(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let path_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-');
    for word in text.split(|c: char| !path_char(c)) {
        let word = word.trim_end_matches('.');
        if word.len() >= 3 {
            out.insert(word.to_string());
        }
        for ident in word.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if ident.len() >= 3 {
                out.insert(ident.to_string());
            }
        }
    }
    out
}

/// The order to show `files` (path, symbols) in, most relevant first, for a
/// task described by `task` (the prompt), with `recent` the paths recent
/// commits touched. Ties keep path order.
pub fn rank(files: &[(String, FileSymbols)], task: &str, recent: &BTreeSet<String>) -> Vec<usize> {
    let named = words(task);
    let n = files.len();
    if n == 0 {
        return Vec::new();
    }
    // Identifier → the files defining it.
    let mut definers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, symbols)) in files.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for s in &symbols.symbols {
            if s.kind != "impl" && seen.insert(s.name.as_str()) {
                definers.entry(s.name.as_str()).or_default().push(i);
            }
        }
    }
    let mut focus = vec![false; n];
    let mut teleport = vec![1.0f64; n];
    for (i, (path, symbols)) in files.iter().enumerate() {
        let name = path.rsplit('/').next().unwrap_or(path);
        let by_path = named.contains(path.as_str()) || (name.contains('.') && named.contains(name));
        let by_symbol = symbols
            .symbols
            .iter()
            .any(|s| s.kind != "impl" && named.contains(&s.name));
        if by_path || by_symbol {
            focus[i] = true;
            teleport[i] += 4.0;
        }
        if recent.contains(path.as_str()) {
            teleport[i] += 1.0;
        }
    }
    let total: f64 = teleport.iter().sum();
    teleport.iter_mut().for_each(|t| *t /= total);
    // Edges: from → [(to, weight)], and each file's total out weight.
    let mut edges: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (from, (_, symbols)) in files.iter().enumerate() {
        for (ident, count) in &symbols.refs {
            let Some(to) = definers.get(ident.as_str()) else {
                continue;
            };
            let boost = if named.contains(ident) { 10.0 } else { 1.0 };
            let weight = boost * f64::from(*count).sqrt() / to.len() as f64;
            for &t in to {
                if t != from {
                    edges[from].push((t, weight));
                }
            }
        }
    }
    let out_weight: Vec<f64> = edges
        .iter()
        .map(|e| e.iter().map(|(_, w)| w).sum())
        .collect();
    let mut rank = teleport.clone();
    for _ in 0..ITERATIONS {
        let mut next: Vec<f64> = teleport.iter().map(|t| (1.0 - DAMPING) * t).collect();
        let mut dangling = 0.0;
        for from in 0..n {
            if out_weight[from] == 0.0 {
                dangling += rank[from];
                continue;
            }
            for &(to, w) in &edges[from] {
                next[to] += DAMPING * rank[from] * w / out_weight[from];
            }
        }
        for (x, t) in next.iter_mut().zip(&teleport) {
            *x += DAMPING * dangling * t;
        }
        rank = next;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        focus[b]
            .cmp(&focus[a])
            .then(rank[b].total_cmp(&rank[a]))
            .then(a.cmp(&b))
    });
    order
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::extract::Symbol;
    use super::*;

    fn file(path: &str, defs: &[&str], refs: &[(&str, u32)]) -> (String, FileSymbols) {
        (
            path.to_string(),
            FileSymbols {
                symbols: defs
                    .iter()
                    .map(|d| Symbol {
                        name: d.to_string(),
                        kind: "function".into(),
                        signature: format!("fn {d}()"),
                        line: 1,
                        depth: 0,
                    })
                    .collect(),
                refs: refs.iter().map(|(r, c)| (r.to_string(), *c)).collect(),
            },
        )
    }

    #[test]
    fn words_take_identifiers_and_paths() {
        let w = words("Make `parse_config` in src/config.rs accept tabs.");
        assert!(w.contains("parse_config"));
        assert!(w.contains("src/config.rs"));
        assert!(w.contains("config"));
        assert!(!w.contains("in"));
    }

    #[test]
    fn the_task_s_files_come_first_then_the_most_referenced() {
        let files = vec![
            file("a/leaf.py", &["leaf"], &[("util", 1)]),
            file("b/util.py", &["util"], &[]),
            file("c/other.py", &["other"], &[("util", 3)]),
            file("d/config.py", &["parse_config"], &[]),
            file("e/main.py", &["main"], &[("util", 1), ("other", 1)]),
        ];
        let order = rank(&files, "fix parse_config", &BTreeSet::new());
        assert_eq!(order[0], 3, "the file defining the named function");
        assert_eq!(order[1], 1, "util, referenced by three files: {order:?}");
        let order = rank(&files, "change d/config.py", &BTreeSet::new());
        assert_eq!(order[0], 3, "named by path");
        // Nothing named: references alone decide; recent changes tip the balance.
        let order = rank(&files, "", &BTreeSet::new());
        assert_eq!(order[0], 1);
        let recent: BTreeSet<String> = ["a/leaf.py".to_string()].into();
        let with = rank(&files, "", &recent);
        let pos = |o: &[usize], i| o.iter().position(|&x| x == i).unwrap();
        assert!(pos(&with, 0) < pos(&order, 0), "{with:?} vs {order:?}");
    }
}
