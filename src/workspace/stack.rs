//! Which components a project has and how to set each one up and test it
//! ([`detect`]): a Rust crate or workspace, a Go module, a Node package, a
//! Python root, each with its setup command (run with network) and its test
//! command (run without). Also here: the tools those commands need as found on
//! this machine ([`tools`], [`tools_needed`], [`tools_line`]).
//!
//! Everything works on project-relative, `/`-separated paths and on contents
//! the caller supplies; nothing here reads DIR. Only [`tools`] starts processes.

use std::sync::OnceLock;

use crate::workspace::sandbox::written_for_pytest;

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
    found.extend(node(&paths, &content));
    found.extend(python(&paths, &content, pytest));
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
        || config_kind(file).is_some()
        || (file.ends_with(".py") && python_test_in_root(path))
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

/// A JavaScript test runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Runner {
    Vitest,
    Jest,
}

/// The runner a file name is a config of: `vitest.config.mjs`, `jest.config.js`, ….
fn config_kind(file: &str) -> Option<Runner> {
    let (stem, ext) = file.rsplit_once('.')?;
    if !CONFIG_EXTENSIONS.contains(&ext) {
        return None;
    }
    match stem {
        "vitest.config" => Some(Runner::Vitest),
        "jest.config" => Some(Runner::Jest),
        _ => None,
    }
}

/// Whether `text` names `root` as a whole path segment (`../../frontend/`
/// names `frontend`, `frontend-admin` does not).
fn names_root(text: &str, root: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(root).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + root.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// Node components, with test configs kept outside every root attached.
fn node<'a>(paths: &[&str], content: &impl Fn(&str) -> Option<&'a str>) -> Vec<Component> {
    let packages = dirs_with(paths, "package.json");
    let parsed = |dir: &str| -> Option<serde_json::Value> {
        content(&join(dir, "package.json")).and_then(|c| serde_json::from_str(c).ok())
    };
    let workspaces: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|dir| parsed(dir).is_some_and(|p| p.get("workspaces").is_some()))
        .collect();
    let roots: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|dir| !workspaces.iter().any(|w| strictly_contains(w, dir)))
        .collect();
    let mut components: Vec<Component> = roots
        .iter()
        .map(|dir| {
            let has_config = |runner: Runner| {
                paths
                    .iter()
                    .any(|p| dir_of(p) == *dir && config_kind(file_name(p)) == Some(runner))
            };
            let package = parsed(dir);
            let depends = |name: &str| {
                package.as_ref().is_some_and(|p| {
                    ["dependencies", "devDependencies"]
                        .iter()
                        .any(|key| p.get(key).and_then(|d| d.get(name)).is_some())
                })
            };
            let script = package
                .as_ref()
                .and_then(|p| p.get("scripts")?.get("test")?.as_str().map(str::to_string));
            let test = if depends("vitest") || has_config(Runner::Vitest) {
                "npx vitest run"
            } else if depends("jest")
                || has_config(Runner::Jest)
                || package.as_ref().is_some_and(|p| p.get("jest").is_some())
            {
                "npx jest"
            } else if package.is_none()
                || script.is_some_and(|s| !s.contains(NPM_PLACEHOLDER) && !s.trim().is_empty())
            {
                "npm test"
            } else {
                "node --test"
            };
            let lock = join(dir, "package-lock.json");
            let locked = paths.contains(&lock.as_str());
            let mut manifests = vec![join(dir, "package.json")];
            if locked {
                manifests.push(lock);
            }
            manifests.extend(
                packages
                    .iter()
                    .filter(|m| strictly_contains(dir, m) && !roots.contains(m))
                    .map(|m| join(m, "package.json")),
            );
            manifests.sort();
            Component {
                name: name_of(dir),
                root: dir.to_string(),
                setup: Some(
                    if locked {
                        "npm ci --no-audit --no-fund"
                    } else {
                        "npm install --no-audit --no-fund"
                    }
                    .into(),
                ),
                test: test.into(),
                manifests,
            }
        })
        .collect();

    let mut configured = vec![false; components.len()];
    let mut outside: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| config_kind(file_name(p)).is_some())
        .filter(|p| !roots.iter().any(|root| is_under(p, root)))
        .collect();
    outside.sort_unstable();
    for config in outside {
        let Some(runner) = config_kind(file_name(config)) else {
            continue;
        };
        let dir = dir_of(config);
        let only = |hits: Vec<usize>| (hits.len() == 1).then(|| hits[0]);
        let by_content = content(config).and_then(|text| {
            only(
                (0..components.len())
                    .filter(|&i| names_root(text, &components[i].root))
                    .collect(),
            )
        });
        let by_name = || {
            only(
                (0..components.len())
                    .filter(|&i| dir.split('/').any(|seg| seg == components[i].name))
                    .collect(),
            )
        };
        let sole = || (components.len() == 1).then_some(0);
        let Some(i) = by_content.or_else(by_name).or_else(sole) else {
            continue;
        };
        if configured[i] {
            continue;
        }
        configured[i] = true;
        let path = format!("{}/{config}", up(&components[i].root));
        components[i].test = match runner {
            Runner::Vitest => format!("npx vitest run --config {path}"),
            Runner::Jest => format!("npx jest --config {path}"),
        };
    }
    components
}

/// Whether a `.py` path, relative to a Python root, holds tests or test
/// fixtures: named `test*.py` or `*_test.py`, a `conftest.py`, or under a
/// `tests/` directory.
fn python_test_in_root(rel: &str) -> bool {
    let file = file_name(rel);
    rel.ends_with(".py")
        && (collected(file)
            || file == "conftest.py"
            || rel.starts_with("tests/")
            || rel.contains("/tests/"))
}

/// Whether a test runner collects a file of this name: `test*.py` (unittest's
/// pattern, which holds pytest's `test_*.py`) or `*_test.py`.
fn collected(file: &str) -> bool {
    file.ends_with(".py") && (file.starts_with("test") || file.ends_with("_test.py"))
}

/// Whether a requirements file has a line naming pytest.
fn requires_pytest(requirements: &str) -> bool {
    requirements.lines().any(|line| {
        let name: String = line
            .trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        name.eq_ignore_ascii_case("pytest")
    })
}

/// The deepest directory holding all of `files` (`""` for the tree's root).
fn common_dir(files: &[&str]) -> String {
    let mut common: Option<Vec<&str>> = None;
    for file in files {
        let dir: Vec<&str> = dir_of(file).split('/').filter(|s| !s.is_empty()).collect();
        common = Some(match common {
            None => dir,
            Some(c) => c
                .iter()
                .zip(&dir)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect(),
        });
    }
    common.unwrap_or_default().join("/")
}

/// Python components: roots with their venvs, or one `project` for tests
/// without a root.
fn python<'a>(
    paths: &[&str],
    content: &impl Fn(&str) -> Option<&'a str>,
    pytest: impl FnOnce() -> bool,
) -> Vec<Component> {
    let has = |path: &str| paths.contains(&path);
    let mut candidates: Vec<&str> = PYTHON_MARKERS
        .iter()
        .flat_map(|marker| dirs_with(paths, marker))
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    let roots: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|dir| {
            let packaged = PYTHON_MARKERS[1..]
                .iter()
                .any(|marker| has(&join(dir, marker)));
            packaged || paths.iter().any(|p| p.ends_with(".py") && is_under(p, dir))
        })
        .collect();
    if roots.is_empty() {
        return project_python(paths, content, pytest).into_iter().collect();
    }

    let own_root = |path: &str| {
        roots
            .iter()
            .copied()
            .filter(|root| is_under(path, root))
            .max_by_key(|root| root.len())
    };
    // Python test files under no Python root, each with the root it belongs to.
    let outside: Vec<(&str, &str)> = paths
        .iter()
        .copied()
        .filter(|p| python_test_in_root(p) && own_root(p).is_none())
        .filter_map(|p| {
            let owner = if roots.len() == 1 {
                Some(roots[0])
            } else {
                let named: Vec<&str> = roots
                    .iter()
                    .copied()
                    .filter(|root| dir_of(p).split('/').any(|seg| seg == name_of(root)))
                    .collect();
                (named.len() == 1).then(|| named[0])
            };
            owner.map(|root| (p, root))
        })
        .collect();

    roots
        .iter()
        .map(|root| {
            let inside: Vec<&str> = paths
                .iter()
                .copied()
                .filter(|p| own_root(p) == Some(*root) && python_test_in_root(relative(p, root)))
                .collect();
            let mut away: Vec<&str> = outside
                .iter()
                .filter(|(_, owner)| owner == root)
                .map(|(p, _)| *p)
                .collect();
            if !away.iter().any(|p| collected(file_name(p))) {
                away.clear();
            }
            let needs_pytest = inside.iter().chain(&away).any(|p| {
                file_name(p) == "conftest.py" || content(p).is_none_or(written_for_pytest)
            });
            let requirements = has(&join(root, "requirements.txt"));
            let declared = requirements
                && content(&join(root, "requirements.txt")).is_some_and(requires_pytest);
            let use_pytest = needs_pytest || declared;

            let mut install = Vec::new();
            if requirements {
                install.push("-r requirements.txt");
            } else if has(&join(root, "pyproject.toml")) || has(&join(root, "setup.py")) {
                install.push("-e .");
            }
            if needs_pytest && !declared {
                install.push("pytest");
            }
            let mut setup = "python3 -m venv .venv".to_string();
            if !install.is_empty() {
                setup.push_str(" && .venv/bin/pip install -q ");
                setup.push_str(&install.join(" "));
            }

            let here = if use_pytest {
                ".venv/bin/python -m pytest -q".to_string()
            } else {
                ".venv/bin/python -m unittest discover -v".to_string()
            };
            let test = if away.is_empty() {
                here
            } else {
                let named: Vec<&str> = away
                    .iter()
                    .copied()
                    .filter(|p| collected(file_name(p)))
                    .collect();
                let dir = common_dir(&named);
                let dir = if dir.is_empty() { ".".into() } else { dir };
                let from_top = format!(
                    "cd {} && PYTHONPATH={root} {root}/.venv/bin/python",
                    up(root)
                );
                let own = inside.iter().any(|p| collected(file_name(p)));
                match (use_pytest, own) {
                    (true, false) => format!("{from_top} -m pytest -q {dir}"),
                    (true, true) => format!("{from_top} -m pytest -q {root} {dir}"),
                    (false, false) => format!("{from_top} -m unittest discover -v -s {dir}"),
                    (false, true) => {
                        format!("{here} && {from_top} -m unittest discover -v -s {dir}")
                    }
                }
            };
            let mut manifests: Vec<String> = PYTHON_MARKERS
                .iter()
                .map(|marker| join(root, marker))
                .filter(|m| has(m))
                .collect();
            manifests.sort();
            Component {
                name: name_of(root),
                root: root.to_string(),
                setup: Some(setup),
                test,
                manifests,
            }
        })
        .collect()
}

/// The `project` component for Python tests without a Python root, chosen as
/// `sandbox::detect_command_with` chooses.
fn project_python<'a>(
    paths: &[&str],
    content: &impl Fn(&str) -> Option<&'a str>,
    pytest: impl FnOnce() -> bool,
) -> Option<Component> {
    let is_python_test = |p: &str| {
        let file = file_name(p);
        p.ends_with(".py")
            && (file.starts_with("test_") || file.ends_with("_test.py") || p.starts_with("tests/"))
    };
    if !paths.iter().any(|p| is_python_test(p)) {
        return None;
    }
    let unittest = "python3 -m unittest discover -v";
    let conftest = paths
        .iter()
        .any(|p| *p == "conftest.py" || p.ends_with("/conftest.py"));
    let unittest_only = !conftest
        && paths
            .iter()
            .filter(|p| is_python_test(p))
            .all(|p| content(p).is_some_and(|c| !written_for_pytest(c)));
    let test = if unittest_only || !pytest() {
        unittest
    } else {
        "python3 -m pytest"
    };
    Some(Component {
        name: name_of(""),
        root: String::new(),
        setup: None,
        test: test.into(),
        manifests: Vec::new(),
    })
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// `detect` on `(path, content)` pairs; `None` content is unknown.
    fn detect_files(files: &[(&str, Option<&str>)], pytest: bool) -> Vec<Component> {
        let paths: Vec<String> = files.iter().map(|(p, _)| p.to_string()).collect();
        detect(
            &paths,
            |path| files.iter().find(|(p, _)| *p == path).and_then(|(_, c)| *c),
            || pytest,
        )
    }

    /// `detect` on paths whose contents are all unknown, with no pytest probe expected.
    fn detect_paths(paths: &[&str]) -> Vec<Component> {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        detect(&paths, |_| None, || panic!("pytest probed"))
    }

    fn component(
        name: &str,
        root: &str,
        setup: Option<&str>,
        test: &str,
        manifests: &[&str],
    ) -> Component {
        Component {
            name: name.into(),
            root: root.into(),
            setup: setup.map(str::to_string),
            test: test.into(),
            manifests: manifests.iter().map(|m| m.to_string()).collect(),
        }
    }

    const REQUIREMENTS: &str =
        "Flask>=3.0,<4\nFlask-SQLAlchemy>=3.1,<4\nFlask-JWT-Extended>=4.6,<5\npytest>=8,<9\n";
    const TODO_PACKAGE: &str = r#"{
  "name": "todo-frontend",
  "private": true,
  "type": "module",
  "scripts": {"dev": "vite", "build": "vite build", "preview": "vite preview", "test": "vitest run"},
  "dependencies": {"react": "^18.3.1", "react-dom": "^18.3.1"},
  "devDependencies": {
    "@testing-library/react": "^16.1.0",
    "@testing-library/jest-dom": "^6.6.3",
    "jsdom": "^25.0.1",
    "vite": "^5.4.11",
    "vitest": "^2.1.8"
  }
}"#;
    const VITEST_CONFIG: &str = "import { fileURLToPath } from 'node:url';\n\
        const frontendRoot = fileURLToPath(new URL('../../frontend/', import.meta.url));\n\
        export default { root: frontendRoot, test: { environment: 'jsdom' } };\n";
    const ROOT_CONFTEST: &str = "import sys\nfrom pathlib import Path\n\n\
        BACKEND_DIR = Path(__file__).resolve().parent.parent / \"backend\"\n\
        if str(BACKEND_DIR) not in sys.path:\n    sys.path.insert(0, str(BACKEND_DIR))\n";
    const BACKEND_CONFTEST: &str = "import pytest\n\nfrom app import create_app\n\n@pytest.fixture\ndef app():\n    return create_app()\n";
    const PYTEST_TEST: &str = "def test_register(client):\n    assert client\n";
    const UNITTEST_TEST: &str =
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n";

    fn todo_layout() -> Vec<(&'static str, Option<&'static str>)> {
        vec![
            (".gitignore", Some("node_modules/\n.venv/\n")),
            ("README.md", Some("# Todo\n")),
            (
                "backend/app/__init__.py",
                Some("def create_app(config=None):\n    pass\n"),
            ),
            ("backend/app/models.py", Some("class Todo:\n    pass\n")),
            ("backend/requirements.txt", Some(REQUIREMENTS)),
            ("backend/wsgi.py", Some("from app import create_app\n")),
            ("frontend/package.json", Some(TODO_PACKAGE)),
            (
                "frontend/src/api.js",
                Some("export async function listTodos() {}\n"),
            ),
            (
                "frontend/src/components/TodoPage.jsx",
                Some("export default function TodoPage() {}\n"),
            ),
            ("frontend/vite.config.js", Some("export default {};\n")),
            ("tests/backend/conftest.py", Some(BACKEND_CONFTEST)),
            ("tests/backend/test_auth.py", Some(PYTEST_TEST)),
            ("tests/conftest.py", Some(ROOT_CONFTEST)),
            (
                "tests/frontend/api.test.js",
                Some("import { test } from 'vitest';\n"),
            ),
            ("tests/frontend/vitest.config.mjs", Some(VITEST_CONFIG)),
        ]
    }

    #[test]
    fn the_todo_layout_has_a_backend_and_a_frontend_tested_from_outside() {
        assert_eq!(
            detect_files(&todo_layout(), false),
            vec![
                component(
                    "backend",
                    "backend",
                    Some("python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt"),
                    "cd .. && PYTHONPATH=backend backend/.venv/bin/python -m pytest -q tests/backend",
                    &["backend/requirements.txt"],
                ),
                component(
                    "frontend",
                    "frontend",
                    Some("npm install --no-audit --no-fund"),
                    "npx vitest run --config ../tests/frontend/vitest.config.mjs",
                    &["frontend/package.json"],
                ),
            ]
        );
    }

    #[test]
    fn outside_configs_follow_their_content_then_their_directory_name() {
        let package = Some(r#"{"devDependencies": {"vitest": "^2"}}"#);
        // The content names `web`; the directory name would say `admin`.
        let files = [
            ("admin/package.json", package),
            ("web/package.json", package),
            (
                "tests/admin/vitest.config.ts",
                Some("export default { root: '../../web' };"),
            ),
        ];
        let found = detect_files(&files, false);
        assert_eq!(found[0].test, "npx vitest run");
        assert_eq!(
            found[1].test,
            "npx vitest run --config ../tests/admin/vitest.config.ts"
        );
        // Unknown content: the directory name decides; a nested root climbs further.
        let found = detect_paths(&[
            "apps/admin/package.json",
            "apps/web/package.json",
            "e2e/web/jest.config.js",
        ]);
        assert_eq!(found[0].test, "npm test");
        assert_eq!(found[1].name, "web");
        assert_eq!(
            found[1].test,
            "npx jest --config ../../e2e/web/jest.config.js"
        );
        // Neither: the only Node component.
        let found = detect_paths(&["client/package.json", "spec/vitest.config.js"]);
        assert_eq!(
            found[0].test,
            "npx vitest run --config ../spec/vitest.config.js"
        );
        // `frontend-admin` does not name `frontend`.
        assert!(!names_root("'../frontend-admin/'", "frontend"));
        assert!(names_root("new URL('../../frontend/', x)", "frontend"));
    }

    #[test]
    fn a_rust_crate_is_one_project_component() {
        assert_eq!(
            detect_paths(&["Cargo.toml", "src/lib.rs", "src/main.rs", "tests/cli.rs"]),
            vec![component(
                "project",
                "",
                Some("cargo fetch"),
                "cargo test --offline",
                &["Cargo.toml"],
            )]
        );
    }

    #[test]
    fn a_cargo_workspace_counts_once_at_its_root() {
        let workspace = "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n";
        let member = "[package]\nname = \"core\"\nversion = \"0.1.0\"\n";
        let files = [
            ("Cargo.lock", None),
            ("Cargo.toml", Some(workspace)),
            ("crates/cli/Cargo.toml", Some(member)),
            ("crates/cli/src/main.rs", None),
            ("crates/core/Cargo.toml", Some(member)),
            ("crates/core/src/lib.rs", None),
        ];
        assert_eq!(
            detect_files(&files, false),
            vec![component(
                "project",
                "",
                Some("cargo fetch"),
                "cargo test --offline",
                &[
                    "Cargo.lock",
                    "Cargo.toml",
                    "crates/cli/Cargo.toml",
                    "crates/core/Cargo.toml"
                ],
            )]
        );
        // Side-by-side crates under a plain directory are two components.
        let files = [
            ("server/Cargo.toml", Some(member)),
            ("tools/gen/Cargo.toml", Some(member)),
        ];
        let found = detect_files(&files, false);
        assert_eq!(
            found
                .iter()
                .map(|c| (c.name.as_str(), c.root.as_str()))
                .collect::<Vec<_>>(),
            [("server", "server"), ("gen", "tools/gen")]
        );
        // A package that is not a workspace keeps a nested crate separate.
        let files = [
            ("Cargo.toml", Some(member)),
            ("fuzz/Cargo.toml", Some(member)),
        ];
        assert_eq!(detect_files(&files, false).len(), 2);
    }

    #[test]
    fn a_go_module() {
        assert_eq!(
            detect_paths(&["go.mod", "go.sum", "main.go", "main_test.go"]),
            vec![component(
                "project",
                "",
                Some("go mod download"),
                "go test ./...",
                &["go.mod", "go.sum"],
            )]
        );
    }

    #[test]
    fn node_test_commands_follow_the_package() {
        let test_of = |package: &str, extra: &[&str]| {
            let mut files = vec![("package.json", Some(package))];
            files.extend(extra.iter().map(|p| (*p, None)));
            let found = detect_files(&files, false);
            assert_eq!(found.len(), 1, "{found:?}");
            found[0].test.clone()
        };
        let placeholder =
            r#"{"name": "x", "scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}"#;
        assert_eq!(
            test_of(placeholder, &["index.js", "index.test.js"]),
            "node --test"
        );
        assert_eq!(test_of(r#"{"name": "x"}"#, &[]), "node --test");
        assert_eq!(
            test_of(placeholder, &["vitest.config.ts"]),
            "npx vitest run"
        );
        assert_eq!(
            test_of(
                r#"{"devDependencies": {"jest": "^29"}, "scripts": {"test": "jest"}}"#,
                &[]
            ),
            "npx jest"
        );
        assert_eq!(
            test_of(r#"{"dependencies": {"jest": "^29"}}"#, &[]),
            "npx jest"
        );
        assert_eq!(
            test_of(r#"{"jest": {"testEnvironment": "node"}}"#, &[]),
            "npx jest"
        );
        assert_eq!(test_of(placeholder, &["jest.config.js"]), "npx jest");
        assert_eq!(
            test_of(
                r#"{"devDependencies": {"vitest": "^2", "jest": "^29"}}"#,
                &[]
            ),
            "npx vitest run"
        );
        assert_eq!(
            test_of(r#"{"scripts": {"test": "mocha"}}"#, &[]),
            "npm test"
        );
        assert_eq!(test_of("{ not json", &[]), "npm test");
    }

    #[test]
    fn a_lockfile_means_npm_ci_and_node_modules_are_skipped() {
        let found = detect_paths(&[
            "package-lock.json",
            "package.json",
            "node_modules/left-pad/package.json",
            "node_modules/vitest/vitest.config.js",
        ]);
        assert_eq!(
            found,
            vec![component(
                "project",
                "",
                Some("npm ci --no-audit --no-fund"),
                "npm test",
                &["package-lock.json", "package.json"],
            )]
        );
        let found = detect_paths(&["web/package.json"]);
        assert_eq!(
            found[0].setup.as_deref(),
            Some("npm install --no-audit --no-fund")
        );
    }

    #[test]
    fn npm_workspace_members_fold_into_the_workspace() {
        let files = [
            (
                "package.json",
                Some(r#"{"workspaces": ["packages/*"], "scripts": {"test": "npm test -ws"}}"#),
            ),
            ("packages/a/package.json", Some(r#"{"name": "a"}"#)),
        ];
        assert_eq!(
            detect_files(&files, false),
            vec![component(
                "project",
                "",
                Some("npm install --no-audit --no-fund"),
                "npm test",
                &["package.json", "packages/a/package.json"],
            )]
        );
    }

    #[test]
    fn an_offline_team_python_project_keeps_unittest_without_setup() {
        let files = [
            ("README.md", Some("# todo\n")),
            ("todo/__init__.py", Some("")),
            ("todo/store.py", Some("def test_mode():\n    return 1\n")),
            ("tests/__init__.py", Some("\"\"\"Tests.\"\"\"\n")),
            ("tests/test_store.py", Some(UNITTEST_TEST)),
        ];
        let paths: Vec<String> = files.iter().map(|(p, _)| p.to_string()).collect();
        let found = detect(
            &paths,
            |path| files.iter().find(|(p, _)| *p == path).and_then(|(_, c)| *c),
            || panic!("pytest probed for unittest files"),
        );
        assert_eq!(
            found,
            vec![component(
                "project",
                "",
                None,
                "python3 -m unittest discover -v",
                &[]
            )]
        );
    }

    #[test]
    fn root_tests_written_for_pytest_use_it_when_installed() {
        for (extra, content) in [
            (
                "tests/test_b.py",
                Some("import pytest\n\ndef test_b():\n    assert 1\n"),
            ),
            ("tests/test_c.py", Some(PYTEST_TEST)),
            ("tests/test_d.py", None),
            ("tests/conftest.py", Some("")),
        ] {
            let files = [
                ("app/core.py", Some("X = 1\n")),
                ("tests/test_a.py", Some(UNITTEST_TEST)),
                (extra, content),
            ];
            let test = |pytest: bool| detect_files(&files, pytest)[0].test.clone();
            assert_eq!(test(true), "python3 -m pytest", "{extra}");
            assert_eq!(test(false), "python3 -m unittest discover -v", "{extra}");
        }
        assert_eq!(detect_paths(&["README.md", "pkg/core.py"]), vec![]);
    }

    #[test]
    fn python_roots_get_a_venv_and_pytest_when_their_tests_need_it() {
        // pyproject, tests inside the root written for pytest: installed beside the package.
        let found = detect_files(
            &[
                ("pyproject.toml", Some("[project]\nname = \"calc\"\n")),
                ("src/calc/__init__.py", Some("")),
                ("tests/test_calc.py", Some(PYTEST_TEST)),
            ],
            false,
        );
        assert_eq!(
            found,
            vec![component(
                "project",
                "",
                Some("python3 -m venv .venv && .venv/bin/pip install -q -e . pytest"),
                ".venv/bin/python -m pytest -q",
                &["pyproject.toml"],
            )]
        );
        // requirements with unittest tests: no pytest added, unittest in the venv.
        let found = detect_files(
            &[
                ("api/requirements.txt", Some("flask\n")),
                ("api/setup.py", Some("")),
                ("api/tests/test_api.py", Some(UNITTEST_TEST)),
            ],
            false,
        );
        assert_eq!(
            found,
            vec![component(
                "api",
                "api",
                Some("python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt"),
                ".venv/bin/python -m unittest discover -v",
                &["api/requirements.txt", "api/setup.py"],
            )]
        );
        // A requirements line naming pytest: pytest, nothing appended.
        let found = detect_files(
            &[
                ("requirements.txt", Some("pytest==8.3.1\nrequests\n")),
                ("test_x.py", Some(UNITTEST_TEST)),
            ],
            false,
        );
        assert_eq!(
            found[0].setup.as_deref(),
            Some("python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt")
        );
        assert_eq!(found[0].test, ".venv/bin/python -m pytest -q");
        // setup.cfg alone: a bare venv; docs/requirements.txt without Python
        // code is no root.
        let found = detect_files(
            &[
                ("docs/index.rst", None),
                ("docs/requirements.txt", Some("sphinx\n")),
                ("setup.cfg", Some("[metadata]\nname = x\n")),
                ("tests/test_x.py", Some(PYTEST_TEST)),
            ],
            false,
        );
        assert_eq!(
            found,
            vec![component(
                "project",
                "",
                Some("python3 -m venv .venv && .venv/bin/pip install -q pytest"),
                ".venv/bin/python -m pytest -q",
                &["setup.cfg"],
            )]
        );
    }

    #[test]
    fn outside_python_tests_go_to_the_root_they_name() {
        let files = [
            ("services/api/requirements.txt", Some("flask\n")),
            ("services/api/app.py", None),
            ("worker/pyproject.toml", Some("[project]\nname = \"w\"\n")),
            ("worker/tests/test_w.py", Some(UNITTEST_TEST)),
            ("tests/api/test_api.py", Some(UNITTEST_TEST)),
            ("tests/worker/test_more.py", Some(UNITTEST_TEST)),
            ("tests/helpers.py", Some("")),
        ];
        let found = detect_files(&files, false);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].name, "api");
        assert_eq!(
            found[0].test,
            "cd ../.. && PYTHONPATH=services/api services/api/.venv/bin/python -m unittest discover -v -s tests/api"
        );
        assert_eq!(found[1].name, "worker");
        assert_eq!(
            found[1].test,
            ".venv/bin/python -m unittest discover -v && cd .. && PYTHONPATH=worker worker/.venv/bin/python -m unittest discover -v -s tests/worker"
        );
        // Outside fixtures without a test file leave the tests in the root.
        let found = detect_files(
            &[
                ("backend/requirements.txt", Some("flask\n")),
                ("backend/tests/test_app.py", Some(UNITTEST_TEST)),
                ("tests/conftest.py", Some(ROOT_CONFTEST)),
            ],
            false,
        );
        assert_eq!(found[0].test, ".venv/bin/python -m unittest discover -v");
        // Tests at the tree's root for a nested Python root, with tests inside too.
        let found = detect_files(
            &[
                ("backend/requirements.txt", Some("pytest\n")),
                ("backend/test_inside.py", Some(PYTEST_TEST)),
                ("test_outside.py", Some(PYTEST_TEST)),
            ],
            false,
        );
        assert_eq!(
            found[0].test,
            "cd .. && PYTHONPATH=backend backend/.venv/bin/python -m pytest -q backend ."
        );
    }

    #[test]
    fn an_empty_tree_has_no_components() {
        assert_eq!(detect_paths(&[]), vec![]);
        assert_eq!(detect_paths(&["README.md", "docs/index.md"]), vec![]);
    }

    #[test]
    fn components_sort_by_root() {
        let found = detect_paths(&["web/package.json", "Cargo.toml", "api/go.mod"]);
        assert_eq!(
            found.iter().map(|c| c.root.as_str()).collect::<Vec<_>>(),
            ["", "api", "web"]
        );
    }

    #[test]
    fn content_is_read_for_manifests_configs_and_python_tests() {
        for path in [
            "Cargo.toml",
            "frontend/package.json",
            "backend/requirements.txt",
            "tests/frontend/vitest.config.mjs",
            "jest.config.js",
            "tests/conftest.py",
            "backend/tests/helpers.py",
            "test_x.py",
        ] {
            assert!(reads_content(path), "{path}");
        }
        for path in [
            "src/main.rs",
            "backend/app/models.py",
            "frontend/src/api.js",
            "vite.config.js",
        ] {
            assert!(!reads_content(path), "{path}");
        }
    }

    fn tool(name: &'static str, version: Option<&str>) -> Tool {
        Tool {
            name,
            version: version.map(str::to_string),
        }
    }

    #[test]
    fn the_tools_line_gives_version_numbers_then_the_missing() {
        let tools = [
            tool("python3", Some("Python 3.11.7")),
            tool(
                "pip",
                Some("pip 23.2.1 from /usr/lib/python3/site-packages/pip (python 3.11)"),
            ),
            tool("node", Some("v20.20.2")),
            tool("npm", Some("11.19.1")),
            tool("cargo", Some("cargo 1.95.0 (f2d3ce0bd 2026-03-21)")),
            tool("go", None),
        ];
        assert_eq!(
            tools_line(&tools),
            "python3 3.11.7, pip 23.2.1, node v20.20.2, npm 11.19.1, cargo 1.95.0; missing: go"
        );
        assert_eq!(
            tools_line(&[tool("go", Some("go version go1.22.1 linux/amd64"))]),
            "go 1.22.1"
        );
        assert_eq!(
            tools_line(&[tool("go", None), tool("npm", None)]),
            "missing: go, npm"
        );
        assert_eq!(tools_line(&[tool("x", Some("weird"))]), "x weird");
        assert_eq!(tools_line(&[]), "");
    }

    #[test]
    fn tools_needed_follow_the_commands() {
        let todo = detect_files(&todo_layout(), false);
        assert_eq!(tools_needed(&todo), ["python3", "pip", "node", "npm"]);
        assert_eq!(
            tools_needed(&detect_paths(&["go.mod", "Cargo.toml"])),
            ["cargo", "go"]
        );
        let project = component("project", "", None, "python3 -m unittest discover -v", &[]);
        assert_eq!(tools_needed(&[project]), ["python3"]);
        assert_eq!(tools_needed(&[]), Vec::<&str>::new());
    }

    #[test]
    fn tools_are_probed_once_and_name_all_six() {
        let first = tools();
        assert_eq!(
            first.iter().map(|t| t.name).collect::<Vec<_>>(),
            ["python3", "pip", "node", "npm", "cargo", "go"]
        );
        // cargo runs this test.
        assert!(
            first[4]
                .version
                .as_deref()
                .is_some_and(|v| v.starts_with("cargo ")),
            "{first:?}"
        );
        assert!(std::ptr::eq(first, tools()));
    }
}
