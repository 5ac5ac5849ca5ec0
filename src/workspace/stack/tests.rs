//! Tests of component detection and the tool probe.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::node::names_root;
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

/// The test command of the one component `detect` finds for `paths`.
fn test_of<'a>(
    paths: &[&str],
    content: impl Fn(&str) -> Option<&'a str>,
    pytest: impl FnOnce() -> bool,
) -> Option<String> {
    let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    let found = detect(&paths, content, pytest);
    assert!(found.len() <= 1, "{found:?}");
    found.into_iter().next().map(|c| c.test)
}

#[test]
fn the_pytest_probe_is_cached_once_it_has_run() {
    // Whether pytest is installed depends on the machine; the cache must
    // hold whatever the probe found.
    let here = std::env::temp_dir();
    let found = pytest_installed(&here);
    assert_eq!(pytest_probed(), Some(found));
    assert_eq!(pytest_installed(&here), found);
}

#[test]
fn commands_are_detected_from_the_tree() {
    let never = || -> bool { panic!("pytest probed for a non-Python tree") };
    let unknown = |_: &str| -> Option<&str> { None };
    let with = |v: &[&str], pytest: bool| test_of(v, unknown, || pytest);
    assert_eq!(
        test_of(&["Cargo.toml", "src/lib.rs"], unknown, never).as_deref(),
        Some("cargo test --offline")
    );
    assert_eq!(
        test_of(&["go.mod", "main.go"], unknown, never).as_deref(),
        Some("go test ./...")
    );
    assert_eq!(
        test_of(&["package.json", "index.js"], unknown, never).as_deref(),
        Some("npm test")
    );
    assert_eq!(
        with(&["app/x.py", "tests/test_x.py"], false).as_deref(),
        Some("python3 -m unittest discover -v")
    );
    assert_eq!(
        with(&["app/x.py", "tests/test_x.py"], true).as_deref(),
        Some("python3 -m pytest")
    );
    // A conftest.py: pytest; a Python root: its venv's pytest.
    assert_eq!(
        with(&["tests/conftest.py", "pkg/core.py"], true).as_deref(),
        Some("python3 -m pytest")
    );
    for marker in ["pyproject.toml", "setup.cfg"] {
        let test = with(&[marker, "pkg/core.py", "tests/test_core.py"], true).unwrap();
        assert!(test.contains("-m pytest"), "{marker}: {test}");
    }
    assert_eq!(
        test_of(&["README.md", "pkg/core.py"], unknown, || true),
        None
    );
}

#[test]
fn unittest_files_choose_unittest_without_probing_for_pytest() {
    let never = || -> bool { panic!("pytest probed for unittest files") };
    let unittest =
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n";
    let files = [
        ("tests/__init__.py", "\"\"\"Tests.\"\"\"\n"),
        ("tests/test_a.py", unittest),
        ("app/core.py", "def test_mode():\n    return 1\n"),
    ];
    let known = |path: &str| files.iter().find(|f| f.0 == path).map(|f| f.1);
    let tree = ["app/core.py", "tests/__init__.py", "tests/test_a.py"];
    assert_eq!(
        test_of(&tree, known, never).as_deref(),
        Some("python3 -m unittest discover -v")
    );
    // A test file written for pytest, one whose content is unknown (DIR's
    // own), or a conftest.py: pytest when it is installed.
    for (extra, content) in [
        (
            "tests/test_b.py",
            Some("import pytest\n\ndef test_b():\n    assert 1\n"),
        ),
        ("tests/test_c.py", Some("def test_c():\n    assert True\n")),
        ("tests/test_d.py", None),
        ("tests/conftest.py", Some("")),
    ] {
        let mut tree = tree.to_vec();
        tree.push(extra);
        let content = |path: &str| if path == extra { content } else { known(path) };
        assert_eq!(
            test_of(&tree, content, || true).as_deref(),
            Some("python3 -m pytest"),
            "{extra}"
        );
        assert_eq!(
            test_of(&tree, content, || false).as_deref(),
            Some("python3 -m unittest discover -v"),
            "{extra}"
        );
    }
}
