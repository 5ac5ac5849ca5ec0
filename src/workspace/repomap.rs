//! The repository map (docs/design.md §1, "Existing code"): DIR's source
//! files with their symbols ([`extract`], tree-sitter), ranked by relevance
//! to the prompt ([`rank`]), rendered as each file's path then one symbol
//! signature a line, within a token budget. A file's symbols are cached by
//! its content's git blob id ([`SymbolCache`], the store's `symbols` tree),
//! so that a later session re-parses only the files that changed.
//!
//! The walk is ripgrep's ([`ignore`]): `.gitignore` (also outside a git
//! repository), `.ignore` and git's excludes are respected; `.git/` and the
//! state directory are skipped, symlinks not followed.

pub mod extract;
pub mod rank;

use std::collections::BTreeSet;
use std::path::Path;

use extract::{EXTRACTOR_VERSION, FileSymbols, Lang};

use super::git;

/// Largest source file parsed, in bytes (a bigger one is generated or data).
pub const MAX_SOURCE_BYTES: u64 = 512 * 1024;

/// Most source files parsed for one map.
pub const MAX_SOURCE_FILES: usize = 5_000;

/// Most files the walk lists.
pub const MAX_WALK_FILES: usize = 50_000;

/// The commits whose changed files rank higher.
pub const RECENT_COMMITS: usize = 20;

/// The map's default budget in tokens (`[session] map_tokens`).
pub const DEFAULT_MAP_TOKENS: usize = 4096;

/// Tokens of `text` by the rule of `llm::prompt_tokens_upper_bound` (one per
/// three characters, rounded up): the map is counted as the context budget
/// counts it.
pub fn tokens(text: &str) -> usize {
    text.chars().count().div_ceil(3)
}

/// Where parsed symbols are kept between sessions, by key
/// (`v<extractor>/<language>/<blob id>`); the store's `symbols` tree.
pub trait SymbolCache {
    /// The value kept under `key`, if any.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Keeps `value` under `key` (a failure only costs a parse next time).
    fn put(&self, key: &str, value: &[u8]);
}

/// No cache: every file is parsed.
pub struct NoCache;

impl SymbolCache for NoCache {
    fn get(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    fn put(&self, _key: &str, _value: &[u8]) {}
}

/// A built map and what building it cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoMap {
    /// The rendered map (empty when no source file was read).
    pub text: String,
    /// Source files read (parsed or found in the cache).
    pub files: usize,
    /// Of those, the ones parsed now.
    pub parsed: usize,
    /// Of those, the ones whose symbols came from the cache.
    pub cached: usize,
    /// Symbols of all the files read.
    pub symbols: usize,
    /// Files the rendered map shows.
    pub shown: usize,
    /// The rendered map's tokens ([`tokens`]).
    pub tokens: usize,
    /// `true` when the map shows every symbol of every file read (nothing
    /// left out for the budget).
    pub complete: bool,
}

/// DIR's files (relative, `/`-separated, sorted) with their sizes in bytes:
/// what the map and the instruction files are looked for in. Skipped:
/// `.git/`, the state directory `state`, what `.gitignore` and the other
/// ignore files exclude, symlinks. At most [`MAX_WALK_FILES`].
pub fn walk(dir: &Path, state: &Path) -> Vec<(String, u64)> {
    let state = state.to_path_buf();
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| e.file_name() != ".git" && e.path() != state)
        .build();
    let mut files = Vec::new();
    for entry in walker.filter_map(Result::ok) {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(dir) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        files.push((rel, len));
        if files.len() >= MAX_WALK_FILES {
            break;
        }
    }
    files.sort();
    files
}

/// The paths (relative to DIR) that the last `n` commits of HEAD changed;
/// empty outside a repository or before the first commit.
pub fn recent_paths(dir: &Path, n: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(Some((repo, info))) = git::discover(dir) else {
        return out;
    };
    let Ok(mut walk) = repo.revwalk() else {
        return out;
    };
    if walk.push_head().is_err() {
        return out;
    }
    let prefix = if info.prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", info.prefix)
    };
    for oid in walk.take(n).filter_map(Result::ok) {
        let Ok(commit) = repo.find_commit(oid) else {
            continue;
        };
        let tree = commit.tree().ok();
        let parent = commit.parent(0).ok().and_then(|p| p.tree().ok());
        let Ok(diff) = repo.diff_tree_to_tree(parent.as_ref(), tree.as_ref(), None) else {
            continue;
        };
        for delta in diff.deltas() {
            if let Some(path) = delta.new_file().path().and_then(|p| p.to_str())
                && let Some(rel) = path.strip_prefix(&prefix)
            {
                out.insert(rel.to_string());
            }
        }
    }
    out
}

/// The map of DIR for a task described by `task` (the prompt), within
/// `budget` tokens: source files read through the path rules, their symbols
/// from `cache` or parsed (and then cached), ranked, and rendered most
/// relevant first. A file whose symbols do not all fit shows the ones that
/// do, then `…`; the files after the budget is spent are left out (the
/// project's file list names them).
pub fn build(
    dir: &Path,
    state: &Path,
    task: &str,
    budget: usize,
    cache: &dyn SymbolCache,
) -> RepoMap {
    let mut map = RepoMap::default();
    let mut read: Vec<(String, FileSymbols)> = Vec::new();
    for (path, len) in walk(dir, state) {
        let Some(lang) = Lang::of(&path) else {
            continue;
        };
        if len > MAX_SOURCE_BYTES || read.len() >= MAX_SOURCE_FILES {
            continue;
        }
        let Ok(Some(bytes)) = super::paths::read_confined(dir, &path) else {
            continue;
        };
        if bytes.contains(&0) {
            continue;
        }
        let key = format!(
            "v{EXTRACTOR_VERSION}/{}/{}",
            lang.name(),
            super::blob_id(&bytes)
        );
        let cached = cache
            .get(&key)
            .and_then(|v| serde_json::from_slice::<FileSymbols>(&v).ok());
        let symbols = match cached {
            Some(symbols) => {
                map.cached += 1;
                symbols
            }
            None => {
                let symbols = extract::extract(lang, &bytes);
                if let Ok(value) = serde_json::to_vec(&symbols) {
                    cache.put(&key, &value);
                }
                map.parsed += 1;
                symbols
            }
        };
        map.symbols += symbols.symbols.len();
        read.push((path, symbols));
    }
    map.files = read.len();
    let recent = recent_paths(dir, RECENT_COMMITS);
    let order = rank::rank(&read, task, &recent);
    let named = rank::words(task);
    let (text, shown) = render(&read, &order, &named, budget);
    let with_symbols = read.iter().filter(|(_, s)| !s.symbols.is_empty()).count();
    map.complete = shown == with_symbols && !text.contains("\n  …\n");
    map.tokens = tokens(&text);
    map.text = text;
    map.shown = shown;
    map
}

/// `files` in `order` as text within `budget` tokens: each file as `path:`
/// then its symbols' signatures, two spaces in (four for a method); a file
/// without symbols is skipped. Returns the text and how many files it shows.
fn render(
    files: &[(String, FileSymbols)],
    order: &[usize],
    named: &BTreeSet<String>,
    budget: usize,
) -> (String, usize) {
    let mut out = String::new();
    let mut used = 0;
    let mut shown = 0;
    for &i in order {
        let (path, symbols) = &files[i];
        if symbols.symbols.is_empty() {
            continue;
        }
        let head = format!("{path}:\n");
        if used + tokens(&head) + 4 > budget {
            continue;
        }
        let mut block = head;
        let mut block_tokens = tokens(&block);
        let mut lines: Vec<String> = symbols
            .symbols
            .iter()
            .map(|s| format!("{}{}\n", "  ".repeat(s.depth + 1), s.signature))
            .collect();
        // The symbols the task names first when the file cannot show all.
        let all: usize = lines.iter().map(|l| tokens(l)).sum();
        if used + block_tokens + all > budget {
            let mut keyed: Vec<(bool, usize)> = symbols
                .symbols
                .iter()
                .enumerate()
                .map(|(j, s)| (!named.contains(&s.name), j))
                .collect();
            keyed.sort();
            let mut keep = BTreeSet::new();
            let mut room = budget.saturating_sub(used + block_tokens + 1);
            for (_, j) in keyed {
                let t = tokens(&lines[j]);
                if t <= room {
                    room -= t;
                    keep.insert(j);
                }
            }
            if keep.is_empty() {
                continue;
            }
            lines = lines
                .into_iter()
                .enumerate()
                .filter(|(j, _)| keep.contains(j))
                .map(|(_, l)| l)
                .collect();
            lines.push("  …\n".to_string());
        }
        for line in lines {
            block_tokens += tokens(&line);
            block.push_str(&line);
        }
        used += block_tokens;
        out.push_str(&block);
        shown += 1;
    }
    (out, shown)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct MemCache(Mutex<std::collections::BTreeMap<String, Vec<u8>>>);

    impl SymbolCache for MemCache {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.0.lock().unwrap().get(key).cloned()
        }
        fn put(&self, key: &str, value: &[u8]) {
            self.0
                .lock()
                .unwrap()
                .insert(key.to_string(), value.to_vec());
        }
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_map_names_the_task_s_symbols_first_within_the_budget_and_caches_by_blob() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for i in 0..40 {
            let body: String = (0..10)
                .map(|j| format!("def helper_{i}_{j}(value, other):\n    return value\n\n"))
                .collect();
            write(d, &format!("pkg/mod_{i:02}.py"), &body);
        }
        write(
            d,
            "src/config.rs",
            "pub fn parse_config(text: &str) -> Config {\n    Config::parse(text)\n}\n",
        );
        write(d, "gen/out.py", "def generated():\n    pass\n");
        write(d, ".gitignore", "gen/\n");
        write(d, ".quorum/x.py", "def state():\n    pass\n");
        write(d, "notes.txt", "not source\n");
        let cache = MemCache::default();
        let task = "make `parse_config` in src/config.rs accept tabs";
        let map = build(d, &d.join(".quorum"), task, 300, &cache);
        assert_eq!(
            map.files, 41,
            "ignored, state and non-source files are skipped"
        );
        assert_eq!((map.parsed, map.cached), (41, 0));
        assert_eq!(map.symbols, 401);
        assert!(
            map.text
                .starts_with("src/config.rs:\n  pub fn parse_config(text: &str) -> Config\n"),
            "{}",
            map.text
        );
        assert!(map.tokens <= 300, "{}", map.tokens);
        assert_eq!(map.tokens, tokens(&map.text));
        assert!(
            map.shown < 41 && !map.complete,
            "the budget leaves files out"
        );
        assert!(!map.text.contains("generated") && !map.text.contains("state()"));

        let again = build(d, &d.join(".quorum"), task, 300, &cache);
        assert_eq!((again.parsed, again.cached), (0, 41));
        assert_eq!(again.text, map.text);
        write(d, "pkg/mod_03.py", "def changed():\n    pass\n");
        let changed = build(d, &d.join(".quorum"), task, 300, &cache);
        assert_eq!((changed.parsed, changed.cached), (1, 40));

        let big = build(d, &d.join(".quorum"), task, 100_000, &NoCache);
        assert_eq!(big.shown, 41);
        assert!(big.complete);
        assert!(big.text.contains("  def helper_7_9(value, other)\n"));
    }

    #[test]
    fn a_file_too_big_for_the_budget_keeps_the_named_symbols() {
        let files = vec![(
            "a.py".to_string(),
            extract::extract(
                Lang::Python,
                (0..50)
                    .map(|j| format!("def f{j}(x):\n    pass\n"))
                    .collect::<String>()
                    .as_bytes(),
            ),
        )];
        let named = rank::words("change f42");
        let (text, shown) = render(&files, &[0], &named, 20);
        assert_eq!(shown, 1);
        assert!(text.contains("def f42(x)"), "{text}");
        assert!(text.ends_with("  …\n"), "{text}");
        assert!(tokens(&text) <= 20, "{text}");
    }

    #[test]
    fn recent_commits_name_their_paths() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(recent_paths(d, 5).is_empty());
        let ws = super::super::Workspace::new(d, &d.join(".quorum"));
        write(d, "a.py", "x");
        write(d, "b/c.py", "y");
        ws.commit(&[("a.py".to_string(), b"x".to_vec())], "one")
            .unwrap();
        ws.commit(&[("b/c.py".to_string(), b"y".to_vec())], "two")
            .unwrap();
        let recent = recent_paths(d, 5);
        assert_eq!(recent, ["a.py".to_string(), "b/c.py".to_string()].into());
        assert_eq!(recent_paths(d, 1), ["b/c.py".to_string()].into());
    }
}
