//! Python components: roots with a venv and pip, tests kept outside a root, and
//! the `project` component of Python tests without a root (the offline team's);
//! also which files hold tests and whether pytest is installed.

use std::path::Path;
use std::sync::OnceLock;

use super::*;

/// Whether a `.py` path, relative to a Python root, holds tests or test
/// fixtures: named `test*.py` or `*_test.py`, a `conftest.py`, or under a
/// `tests/` directory.
pub(super) fn python_test_in_root(rel: &str) -> bool {
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
pub(super) fn python<'a>(
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
            let (setup, use_pytest) = setup_of(root, &has, content, needs_pytest);
            let test = test_command(root, use_pytest, &inside, &away);
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

/// A root's setup command (a venv, then its requirements, the project itself
/// or pytest installed) and whether its tests run under pytest: when a test
/// needs it (`needs_pytest`) or the requirements declare it.
fn setup_of<'a>(
    root: &str,
    has: &impl Fn(&str) -> bool,
    content: &impl Fn(&str) -> Option<&'a str>,
    needs_pytest: bool,
) -> (String, bool) {
    let requirements = has(&join(root, "requirements.txt"));
    let declared =
        requirements && content(&join(root, "requirements.txt")).is_some_and(requires_pytest);
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
    (setup, use_pytest)
}

/// A root's test command: its own tests (`inside`) from the root, and the
/// tests kept outside it (`away`) from the top with the root on `PYTHONPATH`.
fn test_command(root: &str, use_pytest: bool, inside: &[&str], away: &[&str]) -> String {
    let here = if use_pytest {
        ".venv/bin/python -m pytest -q".to_string()
    } else {
        ".venv/bin/python -m unittest discover -v".to_string()
    };
    if away.is_empty() {
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
    }
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

/// Whether a Python test file needs pytest to run as meant: it imports
/// pytest, or defines a test function at module level (which unittest would
/// not collect). A file of `unittest.TestCase` classes, or with no tests at
/// all (`tests/__init__.py`, helpers), does not.
pub fn written_for_pytest(content: &str) -> bool {
    content.lines().any(|line| {
        line.starts_with("import pytest")
            || line.starts_with("from pytest")
            || line.starts_with("def test")
            || line.starts_with("async def test")
    })
}

/// Whether a project path (relative, `/`-separated) holds tests: under a
/// `tests/` or `test/` directory, or named like `test_x.py`, `x_test.py`,
/// `x_test.go`, `x.test.js` or `x.spec.ts`.
pub fn is_test_path(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("tests/")
        || path.starts_with("test/")
        || path.contains("/tests/")
        || (file.starts_with("test_") && file.ends_with(".py"))
        || file.ends_with("_test.py")
        || file.ends_with("_test.go")
        || [".test.", ".spec."].iter().any(|m| file.contains(m))
}

/// The answer of the pytest probe, cached for the process.
static PYTEST_PROBE: OnceLock<bool> = OnceLock::new();

/// Whether `python3 -m pytest --version` succeeds, run in `dir` (DIR: the
/// test runs are under it, so a version manager such as pyenv picks the same
/// interpreter from DIR's `.python-version`). Probed once per process,
/// blocking for one interpreter start, 50-150 ms; `false` when python3
/// itself is missing.
pub fn pytest_installed(dir: &Path) -> bool {
    *PYTEST_PROBE.get_or_init(|| {
        std::process::Command::new("python3")
            .args(["-m", "pytest", "--version"])
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The pytest probe's answer if [`pytest_installed`] has run; `None` before.
pub fn pytest_probed() -> Option<bool> {
    PYTEST_PROBE.get().copied()
}
