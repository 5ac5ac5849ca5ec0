//! `quorum doctor`'s tool and project lines: the tools the stacks use, and
//! the components of the project in DIR with their setup and test commands,
//! found by a bounded walk of DIR that reads manifests and test files only.

use std::collections::HashMap;
use std::path::Path;

use super::{Check, Status};
use crate::workspace::stack::{self, Component, Tool};

/// Most files the project walk lists: a DIR with more (a home directory, say)
/// is looked at in part.
pub(super) const WALK_MAX_FILES: usize = 20_000;
/// Largest file whose content the project check reads, in bytes.
pub(super) const WALK_MAX_FILE_BYTES: u64 = 256 * 1024;
/// Directories the project walk never enters: git's and quorum's state,
/// installed packages, virtual environments, build output.
pub(super) const WALK_SKIP: [&str; 6] = [
    ".git",
    ".quorum",
    "node_modules",
    ".venv",
    "target",
    "__pycache__",
];

/// DIR's files, relative and `/`-separated, sorted: at most
/// [`WALK_MAX_FILES`], without links and the [`WALK_SKIP`] directories. A
/// missing or unreadable DIR has none.
pub(super) fn project_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if !WALK_SKIP.contains(&entry.file_name().to_string_lossy().as_ref()) {
                    stack.push(path);
                }
            } else if meta.is_file()
                && let Ok(rel) = path.strip_prefix(dir)
            {
                files.push(rel.to_string_lossy().replace('\\', "/"));
                if files.len() >= WALK_MAX_FILES {
                    files.sort();
                    return files;
                }
            }
        }
    }
    files.sort();
    files
}

/// The tools and project lines for DIR: its files are walked, the files
/// [`stack::detect`] reads are read (up to [`WALK_MAX_FILE_BYTES`] each), and
/// the components found are set against [`stack::tools`]. Blocking: it walks
/// DIR and starts the tools (and, for Python tests without a Python root, the
/// pytest probe).
pub(super) fn stack_checks(dir: &Path) -> Vec<Check> {
    let files = project_files(dir);
    let contents: HashMap<&str, String> = files
        .iter()
        .filter(|p| stack::reads_content(p))
        .filter_map(|p| {
            let path = dir.join(p);
            let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= WALK_MAX_FILE_BYTES);
            small
                .then(|| std::fs::read_to_string(&path).ok())
                .flatten()
                .map(|text| (p.as_str(), text))
        })
        .collect();
    let components = stack::detect(
        &files,
        |p| contents.get(p).map(String::as_str),
        || crate::workspace::stack::pytest_installed(dir),
    );
    stack_report(stack::tools(), files.len(), &components)
}

/// The report's tools and project lines: each tool with its version line (ok)
/// or missing (a warning when a component needs it, else a fact); each
/// component with its root and commands (a warning when it needs a missing
/// tool); a fact when `files` (DIR's file count) hold no component. Never a
/// required check: a missing tool fails the tests of a session, not doctor.
pub(super) fn stack_report(tools: &[Tool], files: usize, components: &[Component]) -> Vec<Check> {
    let missing = |name: &str| tools.iter().any(|t| t.name == name && t.version.is_none());
    let mut checks: Vec<Check> = tools
        .iter()
        .map(|tool| {
            let users: Vec<&str> = components
                .iter()
                .filter(|c| stack::tools_needed(std::slice::from_ref(*c)).contains(&tool.name))
                .map(|c| c.name.as_str())
                .collect();
            match &tool.version {
                Some(version) => Check::new("tools", tool.name, Status::Ok, false, version.clone()),
                None if users.is_empty() => Check::new(
                    "tools",
                    tool.name,
                    Status::Info,
                    false,
                    "missing (not on PATH, or it failed); no component in DIR needs it",
                ),
                None => Check::new(
                    "tools",
                    tool.name,
                    Status::Warn,
                    false,
                    format!(
                        "missing (not on PATH, or it failed); needed by {}: their setup and tests cannot run",
                        users.join(", ")
                    ),
                ),
            }
        })
        .collect();
    if components.is_empty() {
        checks.push(Check::new(
            "project",
            "components",
            Status::Info,
            false,
            if files == 0 {
                "DIR holds no files yet".to_string()
            } else {
                format!(
                    "none in DIR's {files} file(s): no Cargo.toml, go.mod, package.json, Python root or Python tests"
                )
            },
        ));
    }
    for c in components {
        let place = if c.root.is_empty() {
            "in DIR".to_string()
        } else {
            format!("in {}/", c.root)
        };
        let setup = match &c.setup {
            Some(setup) => format!("setup `{setup}`"),
            None => "no setup".to_string(),
        };
        let absent: Vec<&str> = stack::tools_needed(std::slice::from_ref(c))
            .into_iter()
            .filter(|t| missing(t))
            .collect();
        let detail = format!("{place}: {setup}; test `{}`", c.test);
        checks.push(if absent.is_empty() {
            Check::new("project", c.name.clone(), Status::Ok, false, detail)
        } else {
            Check::new(
                "project",
                c.name.clone(),
                Status::Warn,
                false,
                format!("{detail}; needs {}, missing here", absent.join(", ")),
            )
        });
    }
    checks
}
