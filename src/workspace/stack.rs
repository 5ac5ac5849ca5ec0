//! Which components a project has and how to set each one up and test it
//! ([`detect`]): a Rust crate or workspace, a Go module, a Node package, a
//! Python root, each with its setup command (run with network) and its test
//! command (run without). Also here: the tools those commands need as found on
//! this machine ([`tools`], [`tools_needed`], [`tools_line`]).
//!
//! Everything works on project-relative, `/`-separated paths and on contents
//! the caller supplies; nothing here reads DIR. Only [`tools`] starts processes.

/// One component of a project: a root with a manifest, how to install its dependencies and how to test it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Component {
    /// Name for people and events: the root's last directory name (`backend`), or `project` for the tree's root.
    pub name: String,
    /// Project-relative root directory, `""` for the tree's root, else without a trailing slash (`frontend`).
    pub root: String,
    /// Setup command, run with `sh -c` in `root` with network; `None` when nothing needs installing.
    pub setup: Option<String>,
    /// Test command, run with `sh -c` in `root` without network.
    pub test: String,
    /// Project-relative paths of the manifests and lockfiles the component was detected from (its owner gets
    /// manifest problems): `backend/requirements.txt`, `frontend/package.json`, `Cargo.toml`, `Cargo.lock`.
    pub manifests: Vec<String>,
}

/// Directories whose files are never a project's own: installed packages,
/// virtual environments, git's and quorum's state.
const VENDORED: [&str; 6] = [
    "node_modules",
    ".venv",
    "venv",
    ".git",
    ".quorum",
    "__pycache__",
];

/// npm's placeholder `scripts.test` (from `npm init`), which only fails.
const NPM_PLACEHOLDER: &str = "Error: no test specified";

/// Files that make a directory a Python root.
const PYTHON_MARKERS: [&str; 4] = [
    "requirements.txt",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
];

/// Extensions a vitest or jest config file may have.
const CONFIG_EXTENSIONS: [&str; 7] = ["js", "mjs", "cjs", "ts", "mts", "cts", "json"];

/// The components of a tree given its project-relative file paths and, where known, their contents.
///
/// `paths` are project-relative and `/`-separated (`frontend/package.json`);
/// files under `node_modules/`, `.venv/`, `venv/`, `.git/`, `.quorum/` and
/// `__pycache__/` are ignored. `content` gives a file's text when it is known
/// (manifests, test files and test configs are read; [`reads_content`] says
/// which); an unknown content is handled as stated below. `pytest` answers
/// whether pytest is installed on the machine; it is called at most once, and
/// only for a tree whose Python tests have no Python root (see the last rule).
///
/// The result is sorted by root path (components sharing a root: Rust, Go,
/// Node, Python). Rules:
///
/// - **Rust**: each `Cargo.toml`, except one under a directory whose own
///   `Cargo.toml` declares a `[workspace]` (a member: only the workspace root
///   counts; an ancestor `Cargo.toml` whose content is unknown is taken for a
///   workspace) → setup `cargo fetch`, test `cargo test --offline`. Manifests:
///   the `Cargo.toml`, `Cargo.lock` beside it, the members' `Cargo.toml`s.
/// - **Go**: each `go.mod` → setup `go mod download`, test `go test ./...`.
///   Manifests: `go.mod`, `go.sum` beside it.
/// - **Node**: each `package.json`, except one under a directory whose own
///   `package.json` declares `workspaces` → setup `npm ci --no-audit --no-fund`
///   when `package-lock.json` is beside it, else `npm install --no-audit
///   --no-fund`. Test: vitest as a dependency or devDependency, or a
///   `vitest.config.*` in the root → `npx vitest run`; else jest (dependency,
///   `jest.config.*` in the root, or a `jest` key) → `npx jest`; else a
///   `scripts.test` other than npm's placeholder (`echo "Error: no test
///   specified" && exit 1`) → `npm test`; else `node --test`. A
///   `package.json` that is unknown or does not parse → `npm test` unless a
///   config file in the root decides. Manifests: `package.json`,
///   `package-lock.json`, the workspace members' `package.json`s.
///
///   A `vitest.config.*` or `jest.config.*` outside every Node root (tests
///   kept elsewhere, `tests/frontend/vitest.config.mjs`) belongs to the Node
///   component whose root its content names as a path segment
///   (`../../frontend/`), else whose name is one of the config's directory
///   names (`tests/frontend` ↔ `frontend`), else the only Node component; that
///   component's test becomes `npx vitest run --config <config relative to the
///   root>` (`--config ../tests/frontend/vitest.config.mjs`), or `npx jest
///   --config …`. The first such config (in path order) wins.
/// - **Python**: each directory holding `requirements.txt`, `pyproject.toml`,
///   `setup.py` or `setup.cfg` is a root, except a directory with only a
///   `requirements.txt` and no `.py` file under it (`docs/requirements.txt`
///   beside `.rst` pages).
///   Setup: `python3 -m venv .venv`, then `.venv/bin/pip install -q -r
///   requirements.txt` when there is one, else `… -e .` for a `pyproject.toml`
///   or `setup.py`; ` pytest` is added to the install when the tests need
///   pytest and no requirements line names it. The tests are the Python test
///   files under the root (named `test*.py` or `*_test.py`, a `conftest.py`, or
///   under a `tests/` directory) plus the *outside tests*: Python test files
///   under no Python root, which go to the only Python root, or else to the
///   root whose name is one of their directory names (`tests/backend`). The
///   tests need pytest when one of them imports pytest or defines a
///   module-level test function ([`written_for_pytest`]), is a `conftest.py`, or
///   has unknown content; the runner is pytest then, or when a requirements line
///   names pytest: `.venv/bin/python -m pytest -q`, else `.venv/bin/python -m
///   unittest discover -v`.
///
///   When the root has outside tests (at least one `test*.py` / `*_test.py`),
///   they run from the tree's root with the root on `PYTHONPATH`, on the
///   directory that holds them all (`.` when that is the tree's root): `cd ..
///   && PYTHONPATH=backend backend/.venv/bin/python -m pytest -q tests/backend`
///   (one `..` per level of the root). pytest's rootdir is then the tree's
///   root, so a `tests/conftest.py` is loaded too. For unittest that part is
///   `… -m unittest discover -v -s tests/backend`. Test files inside the root
///   as well → pytest gets the root as a further argument, unittest runs
///   twice (in the root, then from the tree's root).
/// - **Python tests without a Python root** (`tests/test_*.py` and a package
///   beside them): one component `project` at `""`, no setup, no manifests;
///   test as [`crate::workspace::sandbox::detect_command_with`] picks it:
///   `python3 -m unittest discover -v` when every test file's content is known,
///   none is written for pytest and there is no `conftest.py`; else `python3 -m
///   pytest` when `pytest()` says it is installed, else unittest. Here a test
///   file is a `.py` file named `test_*` or `*_test.py` or under the tree's
///   `tests/`.
///
/// A tree with none of these gives an empty vec.
pub fn detect<'a>(
    paths: &[String],
    content: impl Fn(&str) -> Option<&'a str>,
    pytest: impl FnOnce() -> bool,
) -> Vec<Component> {
    let paths: Vec<&str> = paths
        .iter()
        .map(String::as_str)
        .filter(|p| !vendored(p))
        .collect();
    let mut found = rust(&paths, &content);
    found.extend(go(&paths));
    found.extend(node::node(&paths, &content));
    found.extend(python::python(&paths, &content, pytest));
    found.sort_by(|a, b| a.root.cmp(&b.root));
    found
}

/// Whether [`detect`] may ask for this file's content: manifests
/// (`Cargo.toml`, `package.json`, `requirements.txt`), vitest and jest config
/// files, and Python files that may hold tests. Callers that read files
/// themselves (`quorum doctor`) read these and no others.
pub fn reads_content(path: &str) -> bool {
    let file = file_name(path);
    ["Cargo.toml", "package.json", "requirements.txt"].contains(&file)
        || node::config_kind(file).is_some()
        || (file.ends_with(".py") && python::python_test_in_root(path))
}

/// Whether a path lies in a directory that is never the project's own.
fn vendored(path: &str) -> bool {
    path.split('/').any(|seg| VENDORED.contains(&seg))
}

/// The file name: the last segment of a path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The directory of a path, `""` for a file at the tree's root.
fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Whether `path` is `root` itself or lies under it (`""` holds everything).
fn is_under(path: &str, root: &str) -> bool {
    root.is_empty()
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether directory `ancestor` strictly contains directory `dir`.
fn strictly_contains(ancestor: &str, dir: &str) -> bool {
    ancestor != dir && is_under(dir, ancestor)
}

/// `path` relative to `root` (which holds it).
fn relative<'p>(path: &'p str, root: &str) -> &'p str {
    if root.is_empty() {
        path
    } else {
        path.strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(path)
    }
}

/// `root/file`, or `file` at the tree's root.
fn join(root: &str, file: &str) -> String {
    if root.is_empty() {
        file.to_string()
    } else {
        format!("{root}/{file}")
    }
}

/// The way from `root` up to the tree's root: `..` per level (`../..`).
fn up(root: &str) -> String {
    root.split('/').map(|_| "..").collect::<Vec<_>>().join("/")
}

/// A component's name for its root: its last directory name, or `project`.
fn name_of(root: &str) -> String {
    if root.is_empty() {
        "project".into()
    } else {
        file_name(root).to_string()
    }
}

/// The directories holding a file named `name`, in path order.
fn dirs_with<'p>(paths: &[&'p str], name: &str) -> Vec<&'p str> {
    let mut dirs: Vec<&str> = paths
        .iter()
        .filter(|p| file_name(p) == name)
        .map(|p| dir_of(p))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    dirs
}

/// Rust components: crates and workspace roots (members fold into their workspace).
fn rust<'a>(paths: &[&str], content: &impl Fn(&str) -> Option<&'a str>) -> Vec<Component> {
    let crates = dirs_with(paths, "Cargo.toml");
    let is_workspace = |dir: &str| {
        content(&join(dir, "Cargo.toml")).is_none_or(|c| {
            c.lines().any(|line| {
                line.trim()
                    .strip_prefix("[workspace")
                    .is_some_and(|rest| rest.starts_with(']') || rest.starts_with('.'))
            })
        })
    };
    let member = |dir: &str| {
        crates
            .iter()
            .any(|other| strictly_contains(other, dir) && is_workspace(other))
    };
    crates
        .iter()
        .filter(|dir| !member(dir))
        .map(|dir| {
            let mut manifests = vec![join(dir, "Cargo.toml")];
            if paths.contains(&join(dir, "Cargo.lock").as_str()) {
                manifests.push(join(dir, "Cargo.lock"));
            }
            manifests.extend(
                crates
                    .iter()
                    .filter(|m| strictly_contains(dir, m))
                    .map(|m| join(m, "Cargo.toml")),
            );
            manifests.sort();
            Component {
                name: name_of(dir),
                root: dir.to_string(),
                setup: Some("cargo fetch".into()),
                test: "cargo test --offline".into(),
                manifests,
            }
        })
        .collect()
}

/// Go components: one per module.
fn go(paths: &[&str]) -> Vec<Component> {
    dirs_with(paths, "go.mod")
        .into_iter()
        .map(|dir| {
            let mut manifests = vec![join(dir, "go.mod")];
            if paths.contains(&join(dir, "go.sum").as_str()) {
                manifests.push(join(dir, "go.sum"));
            }
            Component {
                name: name_of(dir),
                root: dir.to_string(),
                setup: Some("go mod download".into()),
                test: "go test ./...".into(),
                manifests,
            }
        })
        .collect()
}

mod node;
mod python;
mod tools;

pub use python::{is_test_path, pytest_installed, pytest_probed, written_for_pytest};
pub use tools::{Tool, tools, tools_line, tools_needed};

#[cfg(test)]
mod tests;
