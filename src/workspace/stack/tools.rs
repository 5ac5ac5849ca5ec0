//! The tools the stacks' commands need, as found on this machine.

use std::sync::OnceLock;

use super::*;

/// A tool a stack needs, as found on this machine.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tool {
    /// `python3`, `pip`, `node`, `npm`, `cargo` or `go`.
    pub name: &'static str,
    /// The first non-empty line the tool printed for its version (`Python 3.11.7`,
    /// `go version go1.22.1 linux/amd64`); `None` when it is missing or failed.
    pub version: Option<String>,
}

/// Each tool with the command that prints its version.
const TOOLS: [(&str, &str, &[&str]); 6] = [
    ("python3", "python3", &["--version"]),
    ("pip", "python3", &["-m", "pip", "--version"]),
    ("node", "node", &["--version"]),
    ("npm", "npm", &["--version"]),
    ("cargo", "cargo", &["--version"]),
    ("go", "go", &["version"]),
];

/// The tools found, once per process.
static FOUND: OnceLock<Vec<Tool>> = OnceLock::new();

/// The first non-empty line a version command prints (stdout, else stderr),
/// `None` when it cannot start or fails.
fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    [&out.stdout, &out.stderr].iter().find_map(|bytes| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    })
}

/// The tools quorum's stacks use: python3, pip (as `python3 -m pip --version`), node, npm, cargo, go. Runs each
/// `--version` once per process (cached in a OnceLock; blocking, call it off async threads). A tool that is not on
/// PATH or fails is `version: None`.
///
/// The six commands run concurrently (go as `go version`, which has no
/// `--version`), in the process's working directory; the first call takes as
/// long as the slowest, typically 100-500 ms (npm).
pub fn tools() -> &'static [Tool] {
    FOUND.get_or_init(|| {
        std::thread::scope(|scope| {
            let runs: Vec<_> = TOOLS
                .iter()
                .map(|(name, program, args)| {
                    (*name, scope.spawn(move || version_of(program, args)))
                })
                .collect();
            runs.into_iter()
                .map(|(name, run)| Tool {
                    name,
                    version: run.join().ok().flatten(),
                })
                .collect()
        })
    })
}

/// The tools `components` need (by their commands: python3 and pip for Python roots, node and npm for Node, cargo, go).
///
/// In the order of [`tools`], each once. A Python component without setup
/// (tests without a Python root) needs python3 alone.
pub fn tools_needed(components: &[Component]) -> Vec<&'static str> {
    let mut needed = Vec::new();
    for c in components {
        let commands = format!("{} && {}", c.setup.as_deref().unwrap_or(""), c.test);
        let words: Vec<&str> = commands.split_whitespace().collect();
        let word = |w: &str| words.contains(&w);
        let python = word("python3") || words.iter().any(|w| w.ends_with(".venv/bin/python"));
        if python {
            needed.push("python3");
        }
        if python && c.setup.as_deref().is_some_and(|s| s.contains(".venv")) {
            needed.push("pip");
        }
        if word("npm") || word("npx") || word("node") {
            needed.extend(["node", "npm"]);
        }
        if word("cargo") {
            needed.push("cargo");
        }
        if word("go") {
            needed.push("go");
        }
    }
    TOOLS
        .iter()
        .map(|(name, _, _)| *name)
        .filter(|name| needed.contains(name))
        .collect()
}

/// The version number in a version line: `Python 3.11.7` → `3.11.7`, `pip
/// 23.2.1 from …` → `23.2.1`, `go version go1.22.1 linux/amd64` → `1.22.1`,
/// `v20.20.2` stays; the whole line when no word looks like one.
fn short_version(line: &str) -> &str {
    line.split_whitespace()
        .find_map(|word| {
            let digit = |s: &str| s.starts_with(|c: char| c.is_ascii_digit());
            if digit(word) || (word.starts_with('v') && digit(&word[1..])) {
                Some(word)
            } else {
                word.strip_prefix("go").filter(|rest| digit(rest))
            }
        })
        .unwrap_or(line)
}

/// One line for prompts: `python3 3.11.7, pip 23.2.1, node v20.20.2, npm 11.19.1, cargo 1.95.0; missing: go`.
///
/// The found tools with their version numbers, then the missing ones after
/// `missing: ` (the part is left out when none is missing; the line is just
/// `missing: …` when none is found).
pub fn tools_line(tools: &[Tool]) -> String {
    let found: Vec<String> = tools
        .iter()
        .filter_map(|t| {
            t.version
                .as_deref()
                .map(|v| format!("{} {}", t.name, short_version(v)))
        })
        .collect();
    let missing: Vec<&str> = tools
        .iter()
        .filter(|t| t.version.is_none())
        .map(|t| t.name)
        .collect();
    match (found.is_empty(), missing.is_empty()) {
        (_, true) => found.join(", "),
        (true, false) => format!("missing: {}", missing.join(", ")),
        (false, false) => format!("{}; missing: {}", found.join(", "), missing.join(", ")),
    }
}
