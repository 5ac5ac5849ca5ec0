//! The project files a test run's output names (compiler locations,
//! traceback frames, stack frames, bundler messages).

use std::collections::HashSet;

use super::clean_line;

/// Project paths (from `known`, project-relative like `frontend/src/api.js`)
/// that `output` names: rustc `--> src/main.rs:3:5`, Python `File
/// "/abs/scratch/backend/app/x.py", line 3`, node/vitest stack frames `at f
/// (/abs/.../frontend/src/App.jsx:10:3)`, `❯ src/components/TodoPage.jsx:2:10`,
/// vite `"getTodos" is not exported by "src/api.js"`, pytest
/// `tests/backend/test_auth.py:12: AssertionError`, go `./x.go:3:1`.
///
/// `root` is the component's root (`""` or `frontend`) in which the command
/// ran: a relative path in the output is relative to it (`src/api.js` with root
/// `frontend` → `frontend/src/api.js`; `..` is resolved); an absolute path
/// matches the longest known path it ends with (on a `/` boundary). Paths
/// with spaces are not recognised. Order: first mention first; no duplicates.
pub fn named_paths(output: &str, root: &str, known: &[String]) -> Vec<String> {
    let set: HashSet<&str> = known.iter().map(String::as_str).collect();
    let root = root.trim_matches('/');
    let mut found: Vec<String> = Vec::new();
    for line in output.lines() {
        let line = clean_line(line);
        let tokens = line.split(|c: char| !(c.is_alphanumeric() || "/._-@+~:".contains(c)));
        for token in tokens {
            let Some(path) = path_of_token(token) else {
                continue;
            };
            let hit = if path.starts_with('/') {
                path.char_indices()
                    .filter(|&(_, c)| c == '/')
                    .find_map(|(i, _)| set.get(&path[i + 1..]).copied())
                    .map(str::to_string)
            } else {
                join_relative(root, path).filter(|p| set.contains(p.as_str()))
            };
            if let Some(hit) = hit
                && !found.contains(&hit)
            {
                found.push(hit);
            }
        }
    }
    found
}

/// The file path a token of output may be, without `file://`, a `::test`
/// suffix or `:line:col`; `None` for what is no path (no `.` or `/`, a URL).
fn path_of_token(token: &str) -> Option<&str> {
    let token = token.strip_prefix("file://").unwrap_or(token);
    if token.contains("://") {
        return None;
    }
    let mut path = token.split("::").next().unwrap_or(token);
    loop {
        let trimmed = path.trim_end_matches([':', '.', ',', ';']);
        let trimmed = match trimmed.rsplit_once(':') {
            Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => {
                head
            }
            _ => trimmed,
        };
        if trimmed == path {
            break;
        }
        path = trimmed;
    }
    if path.contains(':') || !(path.contains('.') || path.contains('/')) {
        return None;
    }
    if path.chars().all(|c| c == '.' || c == '/') {
        return None;
    }
    Some(path)
}

/// `rel` joined to `root` with `.` and `..` resolved; `None` when it leaves
/// the project.
fn join_relative(root: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = root.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}
