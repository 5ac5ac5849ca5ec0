//! Reading test runners' output and classifying a finished test run.
//!
//! This file owns everything quorum reads out of a test command's output:
//! which runner a command starts ([`Runner::from_command`]), the counts and
//! failing names a runner printed ([`parse`]), the class of a run and the few
//! lines that decide it ([`classify`], [`setup_lines`]), the project files the
//! output names ([`named_paths`]), and making an output line safe to show in a
//! terminal ([`clean_line`]).
//!
//! Runners read: unittest, pytest, cargo test (and nextest's summary), go
//! test, vitest, jest, node's test runner (TAP and spec reporters), and the
//! plain line `N passed, N failed`. Everything here is pure string work on
//! hostile input: nothing panics, counts saturate, and every line handed out
//! has been through [`clean_line`].

use std::collections::HashSet;

use crate::protocol::TestStatus;

/// Most failing test names kept in a [`Report`].
const MAX_FAILURES: usize = 50;
/// Most decisive lines in a [`Verdict`] or from [`setup_lines`].
const MAX_LINES: usize = 12;
/// Longest decisive line or failing test name, in characters.
const MAX_LINE_CHARS: usize = 300;
/// The line a NoTests verdict carries when no runner summary was found.
const NO_SUMMARY: &str = "no test runner summary found in the output";

/// A test runner whose report quorum reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runner {
    /// `pytest`, `python -m pytest`.
    Pytest,
    /// `python -m unittest`.
    Unittest,
    /// `cargo test` or `cargo nextest`.
    Cargo,
    /// `go test`.
    Go,
    /// `vitest` (usually through `npx`).
    Vitest,
    /// `jest` (usually through `npx`).
    Jest,
    /// `node --test`.
    NodeTest,
    /// Anything else (`npm test`, `make test`): the runner is not known from
    /// the command line; [`parse`] still reads whatever it prints.
    Other,
}

impl Runner {
    /// The runner a command line starts: `python3 -m pytest -q`,
    /// `.venv/bin/python -m pytest tests`, `pytest` → [`Runner::Pytest`];
    /// `python3 -m unittest discover -v` → [`Runner::Unittest`];
    /// `cargo test --offline` → [`Runner::Cargo`]; `go test ./...` →
    /// [`Runner::Go`]; `npx vitest run --config x` → [`Runner::Vitest`];
    /// `npx jest` → [`Runner::Jest`]; `node --test` → [`Runner::NodeTest`];
    /// anything else (`npm test`, `make test`) → [`Runner::Other`].
    ///
    /// Looks at the words of the last `&&`/`;` segment (`cd web && npx vitest`
    /// → vitest), of its part before `||` and before a pipe, after leading
    /// `VAR=value` assignments and `env`/`exec`/`time`/`timeout N` wrappers.
    pub fn from_command(command: &str) -> Runner {
        let segments: Vec<&str> = command
            .split("&&")
            .flat_map(|s| s.split(';'))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let segment = segments.last().copied().unwrap_or("");
        let segment = segment.split("||").next().unwrap_or(segment);
        let segment = segment.split('|').next().unwrap_or(segment);
        let all: Vec<&str> = segment.split_whitespace().collect();
        let mut words: &[&str] = &all;
        while let Some((first, rest)) = words.split_first() {
            if is_assignment(first) || matches!(*first, "env" | "exec" | "time" | "command") {
                words = rest;
            } else if *first == "timeout" {
                words = rest.get(1..).unwrap_or(&[]);
            } else {
                break;
            }
        }
        let base = |w: &str| -> String {
            let name = w.rsplit('/').next().unwrap_or(w);
            // `vitest@1.6.0` as npx spells a version.
            let name = name.split('@').next().unwrap_or(name);
            name.to_string()
        };
        let first = words.first().map(|w| base(w)).unwrap_or_default();
        let has = |word: &str| words.contains(&word);
        if first == "cargo" && (has("test") || has("nextest")) {
            return Runner::Cargo;
        }
        if first == "go" && words.get(1) == Some(&"test") {
            return Runner::Go;
        }
        if (first == "node" || first == "nodejs") && has("--test") {
            return Runner::NodeTest;
        }
        if let Some(at) = words.iter().position(|w| *w == "-m") {
            match words.get(at + 1).copied() {
                Some("pytest" | "py.test") => return Runner::Pytest,
                Some("unittest") => return Runner::Unittest,
                _ => {}
            }
        }
        for word in words {
            match base(word).as_str() {
                "pytest" | "py.test" => return Runner::Pytest,
                "vitest" => return Runner::Vitest,
                "jest" => return Runner::Jest,
                _ => {}
            }
        }
        Runner::Other
    }

    /// Lowercase name for messages: `pytest`, `unittest`, `cargo test`,
    /// `go test`, `vitest`, `jest`, `node --test`, or `test command` for
    /// [`Runner::Other`].
    pub fn name(self) -> &'static str {
        match self {
            Runner::Pytest => "pytest",
            Runner::Unittest => "unittest",
            Runner::Cargo => "cargo test",
            Runner::Go => "go test",
            Runner::Vitest => "vitest",
            Runner::Jest => "jest",
            Runner::NodeTest => "node --test",
            Runner::Other => "test command",
        }
    }
}

/// Whether `word` is a shell assignment `NAME=value`.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// What a runner reported.
///
/// Counts are tests (never test files or suites) summed over every summary
/// line found, e.g. over every `test result:` line of a cargo workspace.
/// Errors (pytest `error`, unittest `errors=`, node `cancelled`) count as
/// failed; ignored, skipped, todo and expected failures as skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Tests that passed.
    pub passed: u32,
    /// Tests that failed or errored.
    pub failed: u32,
    /// Tests skipped, ignored, todo or expected to fail.
    pub skipped: u32,
    /// Failing test names as the runner printed them (deduplicated, at most 50,
    /// each cleaned and at most 300 characters), e.g.
    /// `tests/test_x.py::test_y`, `tests::adds`, `TestSub`,
    /// `tests/a.test.js > suite > name`; a test file that failed to load is
    /// named by its path.
    pub failures: Vec<String>,
    /// Whether any runner summary line was found at all (so
    /// `passed+failed+skipped == 0` with `summary == true` means "the runner
    /// said it ran nothing").
    pub summary: bool,
}

/// Reads every known runner's summary lines from `output` (the runner need not
/// be known: `npm test` may run vitest). ANSI colour codes and other escape
/// sequences are stripped first.
///
/// Formats read:
/// - unittest: `Ran N tests in …`, then `OK`, `OK (skipped=1)`,
///   `FAILED (failures=1, errors=2)`, `NO TESTS RAN`; names from
///   `FAIL: name (module.Class.name)` / `ERROR: …`.
/// - pytest: `==== 3 failed, 10 passed, 1 skipped in 0.12s ====` and the `-q`
///   form without `=`, `no tests ran in 0.01s`; names from
///   `FAILED tests/x.py::test_y - …`, `ERROR tests/x.py`.
/// - cargo test: every `test result: ok. 5 passed; 0 failed; 1 ignored; …`
///   line summed; names from `---- name stdout ----` and `test name ... FAILED`.
///   nextest's `Summary [ 1.2s] 5 tests run: 4 passed, 1 failed, 1 skipped`.
/// - go test: `--- PASS/FAIL/SKIP: Name`, `ok  pkg 0.01s`, `FAIL pkg 0.01s`,
///   `? pkg [no test files]`. Without `-v` go prints no line for a passing
///   test: when no `--- PASS:` line was found, each `ok` package counts as one
///   passed test.
/// - vitest: `Tests  2 failed | 24 passed (26)`, `Tests  no tests`,
///   `No test files found, exiting with code 1` (`Test Files  1 failed | 2
///   passed (3)` is a summary line but is not counted); names from
///   ` FAIL  tests/x.test.jsx > suite > name`, ` FAIL  tests/x.test.jsx [ … ]`
///   (a file that failed to load) and `× name` when no `FAIL` line named it.
/// - jest: `Tests:       1 failed, 1 skipped, 12 passed, 14 total`,
///   `No tests found`; names from `● suite › name` (or the `FAIL file` above
///   `● Test suite failed to run`).
/// - node --test: TAP `# pass 5`, `# fail 1`, `# skipped 0`, `# todo 0`,
///   `# cancelled 0` (and the spec reporter's `ℹ pass 5`); names from
///   `not ok 3 - name` (suites left out) and `✖ name (1.2ms)`.
/// - the plain line `N passed, N failed` (optionally `, N skipped`, optionally
///   preceded by one word and a colon), alone on its line.
pub fn parse(output: &str) -> Report {
    Scan::read(output).report
}

/// A run's class and the lines that decide it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The run's class.
    pub status: TestStatus,
    /// At most 12 decisive lines, each cleaned with [`clean_line`], trimmed and
    /// at most 300 characters.
    pub lines: Vec<String>,
}

/// Classifies a finished test run.
///
/// `output` is the run's combined output, `exit` its exit code (`None` when it
/// was killed at the timeout), `report` what [`parse`] read from `output`, and
/// `known_paths` the project's files (project-relative), used to tell a
/// missing third-party module from a missing project module.
///
/// Rules, in order:
/// 1. `exit == None` → [`TestStatus::Timeout`]; lines: the last 3 non-empty
///    lines.
/// 2. Only when the tests could not judge the code — no test executed
///    (`passed + failed == 0`), or the runner said a test file failed to load
///    (pytest `ERROR collecting`, unittest `_FailedTest`, vitest
///    `Failed Suites` / ` FAIL  file [ file ]`, jest `Test suite failed to
///    run`, go `[build failed]`/`[setup failed]`, a node --test failure named
///    by a file path):
///    - dependency problems → [`TestStatus::SetupFailed`] (cargo ``failed to get
///      `X` as a dependency``, `Could not resolve host`, `no matching package
///      named`, `failed to download`, `--offline was specified`; pip `No
///      matching distribution found`, `Could not find a version that
///      satisfies`; python `No module named 'x'` for an undotted name that is
///      no project path; node/jest/vite `Cannot find module/package 'x'` and
///      `Failed to resolve import "x"` for a bare specifier; npm `404` and
///      network error codes; go `cannot find module providing package`, `no
///      required module provides package`, `missing go.sum entry`);
///    - compile or import errors → [`TestStatus::BuildFailed`] (rustc
///      `error[E…]:`, `error: could not compile`; python `SyntaxError`,
///      `IndentationError`, `ImportError: cannot import name`, a dotted or
///      project `No module named`; vite/rolldown `is not exported by`,
///      `[PARSE_ERROR]`, `Transform failed`; node `does not provide an export
///      named`; `Cannot find module` of a relative path; go `# pkg` followed by
///      `file.go:12:3: …`; tsc `error TS…`); and a test file that failed to
///      load is itself an import failure: BuildFailed even when no compiler
///      message was recognised.
///
///    A compiler or import message inside a test that ran and failed is that
///    test's failure: the run is [`TestStatus::Failed`]. So with vitest 4, which
///    transforms modules itself and does not check named imports, a component
///    importing an export its module lacks (`import { getTodos } from
///    '../api.js'` where `api.js` exports only `listTodos`) gets `undefined`:
///    calling it inside a test prints `TypeError: getTodos is not a function`
///    in that test → Failed; calling it at module scope fails the test file's
///    load (`Failed Suites 1`) → BuildFailed.
/// 3. `failed > 0` → [`TestStatus::Failed`] (even with exit 0).
/// 4. No test executed (`passed + failed == 0`: the summary said 0, only
///    skipped tests, or no summary line at all), whatever the exit code →
///    [`TestStatus::NoTests`].
/// 5. Exit 0 → [`TestStatus::Passed`]; any other exit → [`TestStatus::Failed`].
///
/// Lines: SetupFailed, the lines naming the package and the network or
/// registry error; BuildFailed, the compiler error line with its location
/// (rustc `--> file:line:col`, the last Python traceback frame, vitest `❯
/// file:line:col`, rolldown `╭─[ file:line:col ]`), or the failed file's
/// header and error; Failed, each failing test's header with its first
/// assertion line where easily found, then the runner's summary line;
/// NoTests, the runner's line that said so (`Ran 0 tests in 0.000s`, `no tests
/// ran in 0.01s`, `No test files found…`) or `no test runner summary found in
/// the output`; Passed, the summary line.
pub fn classify(
    output: &str,
    exit: Option<i32>,
    report: &Report,
    known_paths: &[String],
) -> Verdict {
    let scan = Scan::read(output);
    let Some(code) = exit else {
        return Verdict {
            status: TestStatus::Timeout,
            lines: last_lines(&scan.lines, 3),
        };
    };
    let executed = report.passed.saturating_add(report.failed);
    if executed == 0 || !scan.load_at.is_empty() {
        let setup = setup_evidence(&scan.lines, known_paths);
        if !setup.is_empty() {
            return Verdict {
                status: TestStatus::SetupFailed,
                lines: setup,
            };
        }
        let build = build_evidence(&scan, known_paths);
        if !build.is_empty() {
            return Verdict {
                status: TestStatus::BuildFailed,
                lines: build,
            };
        }
    }
    if report.failed > 0 || (executed > 0 && code != 0) {
        return Verdict {
            status: TestStatus::Failed,
            lines: failed_lines(&scan, report),
        };
    }
    if executed == 0 {
        let mut lines = Lines::default();
        for &i in &scan.zero_at {
            lines.push(&scan.lines[i]);
        }
        if lines.0.is_empty() {
            match scan.summary_at.last() {
                Some(&i) => lines.push(&scan.lines[i]),
                None => lines.push(NO_SUMMARY),
            }
        }
        return Verdict {
            status: TestStatus::NoTests,
            lines: lines.0,
        };
    }
    let mut lines = Lines::default();
    let counted = scan
        .summary_at
        .iter()
        .rev()
        .find(|i| !scan.zero_at.contains(i));
    if let Some(&i) = counted.or(scan.summary_at.last()) {
        lines.push(&scan.lines[i]);
    }
    Verdict {
        status: TestStatus::Passed,
        lines: lines.0,
    }
}

/// Decisive lines of a failed setup step's output (pip/npm/cargo/go errors: the
/// package that cannot be resolved, the network error), cleaned, trimmed, at
/// most 12 of at most 300 characters; the last 5 non-empty lines when none
/// matches.
pub fn setup_lines(output: &str) -> Vec<String> {
    let lines: Vec<String> = output
        .lines()
        .map(|l| clean_line(l).trim().to_string())
        .collect();
    let found = setup_evidence(&lines, &[]);
    if found.is_empty() {
        last_lines(&lines, 5)
    } else {
        found
    }
}

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

/// `text` without ANSI/VT escape sequences (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL|ESC \`, DCS/SOS/PM/APC strings, other `ESC x`, and their
/// 8-bit C1 forms), C0 controls except tab (tab → space; so also CR and LF),
/// DEL, C1 controls (U+0080–U+009F) and the bidi controls U+202A–U+202E,
/// U+2066–U+2069; trailing whitespace trimmed. Model and test output is
/// hostile input: this is what makes a line safe for a terminal. An escape
/// sequence left open at the end swallows the rest of `text`.
pub fn clean_line(text: &str) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Text,
        Esc,
        Csi,
        Nf,
        Str,
        StrEsc,
    }
    let mut out = String::with_capacity(text.len());
    let mut state = State::Text;
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        let mut consumed = true;
        state = match state {
            State::Text => match c {
                '\x1b' => State::Esc,
                '\u{9b}' => State::Csi,
                '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => State::Str,
                '\t' => {
                    out.push(' ');
                    State::Text
                }
                c if c < ' ' || ('\x7f'..='\u{9f}').contains(&c) => State::Text,
                '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => State::Text,
                c => {
                    out.push(c);
                    State::Text
                }
            },
            State::Esc => match c {
                '[' => State::Csi,
                ']' | 'P' | 'X' | '^' | '_' => State::Str,
                '\x1b' => State::Esc,
                ' '..='/' => State::Nf,
                '0'..='~' => State::Text,
                _ => {
                    consumed = false;
                    State::Text
                }
            },
            State::Csi => match c {
                ' '..='?' => State::Csi,
                '@'..='~' => State::Text,
                _ => {
                    consumed = false;
                    State::Text
                }
            },
            State::Nf => match c {
                ' '..='/' => State::Nf,
                '0'..='~' => State::Text,
                _ => {
                    consumed = false;
                    State::Text
                }
            },
            State::Str => match c {
                '\x07' | '\u{9c}' => State::Text,
                '\x1b' => State::StrEsc,
                _ => State::Str,
            },
            State::StrEsc => match c {
                '\\' => State::Text,
                _ => {
                    consumed = false;
                    State::Esc
                }
            },
        };
        if consumed {
            chars.next();
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// A line cut to [`MAX_LINE_CHARS`] characters.
fn cut(line: &str) -> String {
    line.chars().take(MAX_LINE_CHARS).collect()
}

/// Decisive lines being gathered: trimmed, cut, deduplicated, at most
/// [`MAX_LINES`].
#[derive(Default)]
struct Lines(Vec<String>);

impl Lines {
    /// Adds `line` (already cleaned) unless it is empty, already there, or the
    /// list is full.
    fn push(&mut self, line: &str) {
        let line = cut(line.trim());
        if !line.is_empty() && self.0.len() < MAX_LINES && !self.0.contains(&line) {
            self.0.push(line);
        }
    }

    /// Whether `n` more lines fit.
    fn room(&self, n: usize) -> bool {
        self.0.len() + n <= MAX_LINES
    }
}

/// The last `n` non-empty lines, cut.
fn last_lines(lines: &[String], n: usize) -> Vec<String> {
    let mut last: Vec<String> = lines
        .iter()
        .rev()
        .filter(|l| !l.is_empty())
        .take(n)
        .map(|l| cut(l))
        .collect();
    last.reverse();
    last
}

/// Everything read from one output: the report, and where its parts were.
#[derive(Default)]
struct Scan {
    /// What the runners reported.
    report: Report,
    /// The output's lines, cleaned and trimmed.
    lines: Vec<String>,
    /// Every line a failing name was read from (a name may appear on several).
    name_at: Vec<(String, usize)>,
    /// Summary lines (counts), in order.
    summary_at: Vec<usize>,
    /// Lines saying that nothing ran (`Ran 0 tests`, `no tests ran`, …).
    zero_at: Vec<usize>,
    /// Lines saying that a test file failed to load.
    load_at: Vec<usize>,
}

/// Counts read from one summary line.
#[derive(Default)]
struct Counts {
    passed: u32,
    failed: u32,
    skipped: u32,
}

impl Counts {
    fn total(&self) -> u32 {
        self.passed
            .saturating_add(self.failed)
            .saturating_add(self.skipped)
    }
}

/// Parser state carried across lines.
#[derive(Default)]
struct State {
    /// unittest: tests run (`Ran N tests`), if a `Ran` line was seen.
    unittest_ran: Option<u32>,
    unittest_failed: u32,
    unittest_skipped: u32,
    /// go: `--- PASS:` lines seen, and `ok` packages.
    go_pass_lines: u32,
    go_ok_packages: u32,
    /// vitest `×` / jest `✕` names, used when no header line named them.
    marked: Vec<(String, usize)>,
    /// node TAP: the last `not ok` name, and names that turned out to be suites.
    last_not_ok: Option<String>,
    node_suites: Vec<String>,
    /// jest: the file of the last `FAIL file` line.
    jest_file: Option<String>,
}

impl Scan {
    fn read(output: &str) -> Scan {
        let mut scan = Scan::default();
        let mut state = State::default();
        for (i, raw) in output.lines().enumerate() {
            let line = clean_line(raw).trim().to_string();
            scan.read_line(&mut state, i, &line);
            scan.lines.push(line);
        }
        scan.finish(state);
        scan
    }

    fn add(&mut self, counts: &Counts) {
        let r = &mut self.report;
        r.passed = r.passed.saturating_add(counts.passed);
        r.failed = r.failed.saturating_add(counts.failed);
        r.skipped = r.skipped.saturating_add(counts.skipped);
    }

    /// Records a summary line with its counts.
    fn summary(&mut self, i: usize, counts: &Counts) {
        self.add(counts);
        self.report.summary = true;
        self.summary_at.push(i);
        if counts.total() == 0 {
            self.zero_at.push(i);
        }
    }

    fn name(&mut self, name: &str, i: usize) {
        let name = cut(name.trim());
        if name.is_empty() {
            return;
        }
        if !self.report.failures.contains(&name) && self.report.failures.len() < MAX_FAILURES {
            self.report.failures.push(name.clone());
        }
        self.name_at.push((name, i));
    }

    fn read_line(&mut self, st: &mut State, i: usize, l: &str) {
        if l.is_empty() {
            return;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let first = words.first().copied().unwrap_or("");

        // cargo test
        if let Some(rest) = l.strip_prefix("test result: ") {
            let rest = rest.split("; finished in").next().unwrap_or(rest);
            let rest = rest
                .strip_prefix("ok.")
                .or_else(|| rest.strip_prefix("FAILED."))
                .unwrap_or(rest);
            let counts = counts_of(rest, ";", |w| match w {
                "passed" => Some(0),
                "failed" => Some(1),
                "ignored" => Some(2),
                _ => None,
            });
            self.summary(i, &counts.unwrap_or_default());
            return;
        }
        if let Some(name) = l
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            self.name(name, i);
            return;
        }
        if first == "test"
            && let Some(name) = l
                .strip_prefix("test ")
                .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            self.name(name, i);
            return;
        }
        if l == "running 0 tests" {
            self.zero_at.push(i);
            return;
        }
        // cargo nextest
        if l.starts_with("Summary [")
            && let Some((_, rest)) = l.split_once("tests run:")
        {
            let rest = rest.split(" (").next().unwrap_or(rest);
            if let Some(counts) = counts_of(rest, ",", |w| match w {
                "passed" => Some(0),
                "failed" | "timed out" => Some(1),
                "skipped" => Some(2),
                _ => None,
            }) {
                self.summary(i, &counts);
                return;
            }
        }
        if first == "FAIL"
            && words.get(1).is_some_and(|w| w.starts_with('['))
            && let Some((_, name)) = l.split_once("] ")
        {
            self.name(name, i);
            return;
        }

        // pytest
        if let Some(counts) = pytest_summary(l) {
            self.summary(i, &counts);
            return;
        }
        if first == "FAILED" || first == "ERROR" {
            let rest = l[first.len()..].trim_start();
            let name = rest.split(" - ").next().unwrap_or(rest).trim();
            if name.contains("::") || (first == "ERROR" && name.ends_with(".py")) {
                self.name(name, i);
                return;
            }
        }
        if words.len() >= 2 && words[0].contains("::") && matches!(words[1], "FAILED" | "ERROR") {
            self.name(words[0], i);
            return;
        }
        let bare = l.trim_matches(|c| c == '_' || c == '!' || c == '=' || c == ' ');
        if bare.starts_with("ERROR collecting ")
            || bare.contains("error during collection")
            || bare.contains("errors during collection")
        {
            self.load_at.push(i);
            return;
        }

        // unittest
        if let Some(rest) = l.strip_prefix("Ran ") {
            let w: Vec<&str> = rest.split_whitespace().collect();
            if let (Some(n), Some(&("test" | "tests"))) =
                (w.first().and_then(|n| n.parse::<u32>().ok()), w.get(1))
            {
                st.unittest_ran = Some(st.unittest_ran.unwrap_or(0).saturating_add(n));
                self.report.summary = true;
                self.summary_at.push(i);
                if n == 0 {
                    self.zero_at.push(i);
                }
                return;
            }
        }
        if st.unittest_ran.is_some()
            && (l == "OK"
                || l == "NO TESTS RAN"
                || l.starts_with("OK (")
                || l.starts_with("FAILED (")
                || l.starts_with("NO TESTS RAN ("))
        {
            if l.starts_with("NO TESTS RAN") {
                self.zero_at.push(i);
            }
            let inside = l.split_once('(').map(|(_, r)| r.trim_end_matches(')'));
            for part in inside.unwrap_or("").split(',') {
                let Some((key, n)) = part.trim().split_once('=') else {
                    continue;
                };
                let n = n.trim().parse::<u32>().unwrap_or(0);
                match key.trim() {
                    "failures" | "errors" | "unexpected successes" => {
                        st.unittest_failed = st.unittest_failed.saturating_add(n);
                    }
                    "skipped" => st.unittest_skipped = st.unittest_skipped.saturating_add(n),
                    _ => {}
                }
            }
            self.summary_at.push(i);
            return;
        }
        for prefix in ["FAIL: ", "ERROR: ", "UNEXPECTED SUCCESS: "] {
            if let Some(name) = l.strip_prefix(prefix)
                && is_unittest_name(name)
            {
                if name.contains("unittest.loader._FailedTest") {
                    self.load_at.push(i);
                }
                self.name(name, i);
                return;
            }
        }

        // go test
        for (prefix, what) in [("--- PASS: ", 0), ("--- FAIL: ", 1), ("--- SKIP: ", 2)] {
            if let Some(rest) = l.strip_prefix(prefix) {
                let name = rest.split_whitespace().next().unwrap_or(rest);
                self.report.summary = true;
                match what {
                    0 => {
                        st.go_pass_lines = st.go_pass_lines.saturating_add(1);
                        self.report.passed = self.report.passed.saturating_add(1);
                    }
                    1 => {
                        self.report.failed = self.report.failed.saturating_add(1);
                        self.name(name, i);
                    }
                    _ => self.report.skipped = self.report.skipped.saturating_add(1),
                }
                return;
            }
        }
        let go_time = |w: Option<&&str>| w.is_some_and(|w| *w == "(cached)" || is_duration(w));
        if first == "ok" && words.len() >= 3 && go_time(words.get(2)) {
            self.report.summary = true;
            self.summary_at.push(i);
            if l.contains("[no tests to run]") {
                self.zero_at.push(i);
            } else {
                st.go_ok_packages = st.go_ok_packages.saturating_add(1);
            }
            return;
        }
        let go_broken = l.ends_with("[build failed]") || l.ends_with("[setup failed]");
        if first == "FAIL" && words.len() >= 3 && (go_time(words.get(2)) || go_broken) {
            self.report.summary = true;
            self.summary_at.push(i);
            if go_broken {
                self.load_at.push(i);
            }
            return;
        }
        if first == "?" && l.ends_with("[no test files]") {
            self.report.summary = true;
            self.summary_at.push(i);
            self.zero_at.push(i);
            return;
        }
        if l.contains("testing: warning: no tests to run") {
            self.zero_at.push(i);
            return;
        }

        // vitest
        if let Some(rest) = l.strip_prefix("Tests ") {
            let rest = rest.trim();
            if rest == "no tests" {
                self.summary(i, &Counts::default());
                return;
            }
            if let Some(counts) = vitest_counts(rest) {
                self.summary(i, &counts);
                return;
            }
        }
        if let Some(rest) = l.strip_prefix("Test Files ")
            && vitest_counts(rest.trim()).is_some()
        {
            self.report.summary = true;
            return;
        }
        if l.starts_with("No test files found") {
            self.report.summary = true;
            self.zero_at.push(i);
            return;
        }
        if l.contains("Failed Suites ") && l.starts_with('⎯') {
            self.load_at.push(i);
            return;
        }
        if first == "FAIL" {
            let rest = l[4..].trim();
            if let Some((file, _)) = rest.split_once(" [ ")
                && rest.ends_with(" ]")
            {
                self.load_at.push(i);
                self.name(file, i);
                return;
            }
            if rest.contains(" > ") {
                self.name(rest, i);
                return;
            }
        }
        for mark in ["× ", "✕ "] {
            if let Some(rest) = l.strip_prefix(mark) {
                st.marked.push((strip_duration(rest).to_string(), i));
                return;
            }
        }

        // jest
        if let Some(rest) = l.strip_prefix("Tests:")
            && let Some(counts) = jest_counts(rest)
        {
            self.summary(i, &counts);
            return;
        }
        if l.starts_with("Test Suites:") {
            self.report.summary = true;
            return;
        }
        if l.starts_with("No tests found") {
            self.report.summary = true;
            self.zero_at.push(i);
            return;
        }
        if first == "FAIL" && words.len() >= 2 {
            st.jest_file = Some(words[1].to_string());
            return;
        }
        if let Some(rest) = l.strip_prefix("● ") {
            let rest = rest.trim();
            if rest == "Test suite failed to run" {
                self.load_at.push(i);
                if let Some(file) = st.jest_file.clone() {
                    self.name(&file, i);
                }
            } else if !rest.starts_with("Console") {
                self.name(rest, i);
            }
            return;
        }

        // node --test (TAP and spec reporters)
        let node = l.strip_prefix("# ").or_else(|| l.strip_prefix("ℹ "));
        if let Some(rest) = node
            && let Some((key, n)) = rest.split_once(' ')
            && let Ok(n) = n.trim().parse::<u32>()
        {
            let r = &mut self.report;
            match key {
                "pass" => r.passed = r.passed.saturating_add(n),
                "fail" | "cancelled" => r.failed = r.failed.saturating_add(n),
                "skipped" | "todo" => r.skipped = r.skipped.saturating_add(n),
                "tests" => {
                    if n == 0 {
                        self.zero_at.push(i);
                    }
                }
                _ => return,
            }
            self.report.summary = true;
            if key == "tests" {
                self.summary_at.push(i);
            }
            if key == "fail" && n > 0 {
                self.summary_at.push(i);
            }
            return;
        }
        if let Some(rest) = l.strip_prefix("not ok ") {
            let name = rest
                .split_once(" - ")
                .map(|(_, n)| n)
                .unwrap_or("")
                .split(" # ")
                .next()
                .unwrap_or("");
            if is_script_path(name) {
                self.load_at.push(i);
            }
            st.last_not_ok = Some(name.to_string());
            self.name(name, i);
            return;
        }
        if l == "type: 'suite'" {
            if let Some(name) = st.last_not_ok.take() {
                st.node_suites.push(name);
            }
            return;
        }
        if l.starts_with("ok ") || l.starts_with("# Subtest:") {
            st.last_not_ok = None;
            return;
        }
        if let Some(rest) = l.strip_prefix("✖ ") {
            if rest.trim() != "failing tests:" {
                let name = match rest.rsplit_once(" (") {
                    Some((name, tail)) if tail.ends_with("ms)") => name,
                    _ => rest,
                };
                if is_script_path(name) {
                    self.load_at.push(i);
                }
                self.name(name, i);
            }
            return;
        }

        // the plain line
        if let Some(counts) = plain_counts(l) {
            self.summary(i, &counts);
        }
    }

    fn finish(&mut self, st: State) {
        if let Some(ran) = st.unittest_ran {
            let bad = st.unittest_failed.min(ran);
            let skipped = st.unittest_skipped.min(ran - bad);
            self.add(&Counts {
                passed: ran - bad - skipped,
                failed: bad,
                skipped,
            });
        }
        if st.go_pass_lines == 0 {
            self.report.passed = self.report.passed.saturating_add(st.go_ok_packages);
        }
        for (name, i) in st.marked {
            let covered = self.report.failures.iter().any(|f| {
                f == &name
                    || f.ends_with(&format!(" > {name}"))
                    || f.ends_with(&format!(" › {name}"))
            });
            if !covered {
                self.name(&name, i);
            }
        }
        if !st.node_suites.is_empty() {
            self.report.failures.retain(|f| !st.node_suites.contains(f));
            self.name_at.retain(|(f, _)| !st.node_suites.contains(f));
        }
    }
}

/// Whether `name` has unittest's shape `test_x (module.Class.test_x)` (a
/// subtest's `(i=1)` may follow), unlike pip's `ERROR: Could not find a
/// version … (from versions: none)`.
fn is_unittest_name(name: &str) -> bool {
    name.ends_with(')')
        && name.split_once(" (").is_some_and(|(head, rest)| {
            !head.is_empty()
                && !head.contains(' ')
                && rest.split(')').next().is_some_and(|id| !id.contains(' '))
        })
}

/// Whether `name` is a test file's path (a node --test failure named by its
/// file: the file failed as a whole, e.g. did not load).
fn is_script_path(name: &str) -> bool {
    let name = name.trim();
    (name.contains('/') || name.contains('\\'))
        && !name.contains(' ')
        && [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Whether `word` is a duration like go's `0.002s`.
fn is_duration(word: &str) -> bool {
    word.strip_suffix('s')
        .is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok())
}

/// `text` without a trailing duration (`7ms`, `(3 ms)`, `1.2s`).
fn strip_duration(text: &str) -> &str {
    let text = text.trim();
    if let Some((head, tail)) = text.rsplit_once(" (")
        && (tail.ends_with("ms)") || tail.ends_with("s)"))
    {
        return head.trim();
    }
    match text.rsplit_once(' ') {
        Some((head, tail))
            if tail
                .strip_suffix("ms")
                .or_else(|| tail.strip_suffix('s'))
                .is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok()) =>
        {
            head.trim()
        }
        _ => text,
    }
}

/// Counts from `N word` parts separated by `sep`; `slot` maps a word to 0
/// (passed), 1 (failed), 2 (skipped) or `None` (not counted). `None` unless
/// every part is `N word`.
fn counts_of(text: &str, sep: &str, slot: impl Fn(&str) -> Option<u8>) -> Option<Counts> {
    let mut counts = Counts::default();
    let mut any = false;
    for part in text.split(sep) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (n, word) = part.split_once(' ')?;
        let n = n.parse::<u32>().ok()?;
        let word = word.trim();
        any = true;
        match slot(word) {
            Some(0) => counts.passed = counts.passed.saturating_add(n),
            Some(1) => counts.failed = counts.failed.saturating_add(n),
            Some(_) => counts.skipped = counts.skipped.saturating_add(n),
            None => {}
        }
    }
    any.then_some(counts)
}

/// pytest's final line: `==== 3 failed, 10 passed, 1 skipped in 0.12s ====`,
/// the same without `=` (`-q`), or `no tests ran in 0.01s`.
fn pytest_summary(line: &str) -> Option<Counts> {
    let body = line.trim_matches('=').trim();
    let (counts, time) = body.rsplit_once(" in ")?;
    let time = time.trim();
    let time = time.split_whitespace().next()?;
    if !is_duration(time) {
        return None;
    }
    if counts == "no tests ran" {
        return Some(Counts::default());
    }
    let mut any = false;
    let mut out = Counts::default();
    for part in counts.split(", ") {
        let (n, word) = part.trim().split_once(' ')?;
        let n = n.parse::<u32>().ok()?;
        match word {
            "passed" | "xpassed" => out.passed = out.passed.saturating_add(n),
            "failed" | "error" | "errors" => out.failed = out.failed.saturating_add(n),
            "skipped" | "xfailed" => out.skipped = out.skipped.saturating_add(n),
            "deselected" | "warning" | "warnings" | "rerun" | "reruns" => {}
            _ => return None,
        }
        any = true;
    }
    any.then_some(out)
}

/// vitest's `2 failed | 24 passed | 1 skipped (27)` (the part after `Tests` or
/// `Test Files`).
fn vitest_counts(text: &str) -> Option<Counts> {
    let (counts, total) = text.rsplit_once(" (")?;
    total.strip_suffix(')')?.trim().parse::<u32>().ok()?;
    counts_of(counts, "|", |w| match w {
        "passed" => Some(0),
        "failed" => Some(1),
        "skipped" | "todo" => Some(2),
        _ => None,
    })
}

/// jest's `1 failed, 1 skipped, 12 passed, 14 total` (after `Tests:`).
fn jest_counts(text: &str) -> Option<Counts> {
    if !text.trim_end().ends_with(" total") {
        return None;
    }
    counts_of(text, ",", |w| match w {
        "passed" => Some(0),
        "failed" => Some(1),
        "skipped" | "todo" => Some(2),
        _ => None,
    })
}

/// The plain line `N passed, N failed` (`, N skipped` may follow; one word
/// and a colon may stand before it).
fn plain_counts(line: &str) -> Option<Counts> {
    let body = match line.split_once(':') {
        Some((word, rest)) if !word.is_empty() && !word.contains(char::is_whitespace) => {
            rest.trim()
        }
        _ => line,
    };
    let parts: Vec<&str> = body.split(", ").collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut counts = Counts::default();
    for (k, (part, want)) in parts
        .iter()
        .zip(["passed", "failed", "skipped"])
        .enumerate()
    {
        let (n, word) = part.split_once(' ')?;
        if word != want {
            return None;
        }
        let n = n.parse::<u32>().ok()?;
        match k {
            0 => counts.passed = n,
            1 => counts.failed = n,
            _ => counts.skipped = n,
        }
    }
    Some(counts)
}

/// `line` without a TAP comment (`# `) or pytest (`E `) prefix.
fn unprefix(line: &str) -> &str {
    let line = line.trim();
    let line = line.strip_prefix("# ").unwrap_or(line);
    match line.strip_prefix("E ") {
        Some(rest) => rest.trim_start(),
        None => line,
    }
}

/// Whether `line` is a traceback or stack location that comes before its
/// error: Python `File "x.py", line 3`, pytest `tests/x.py:3: in <module>`,
/// node `file:///x.js:3`.
fn is_frame_before(line: &str) -> bool {
    let l = unprefix(line);
    (l.starts_with("File \"") && l.contains("\", line "))
        || (l.contains(".py:") && l.contains(": in "))
        || (l.starts_with("file://") && l.rsplit(':').next().is_some_and(is_number))
}

/// Whether `line` is a location that comes after its error: rustc `-->
/// src/x.rs:1:2`, vitest `❯ src/x.jsx:3:17`, rolldown `╭─[ src/x.jsx:1:10 ]`.
fn is_location_after(line: &str) -> bool {
    let l = line.trim();
    l.starts_with("--> ")
        || l.starts_with("╭─[")
        || (l.starts_with("❯ ") && l.contains(':') && l.bytes().any(|b| b.is_ascii_digit()))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `line` is an error message line: `TypeError: …`,
/// `AssertionError [ERR_ASSERTION]: …`, `Cannot find module …`.
fn is_error_line(line: &str) -> bool {
    let l = unprefix(line);
    if l.starts_with("Cannot find module") || l.starts_with("Cannot find package") {
        return true;
    }
    let head = l.split([':', ' ']).next().unwrap_or("");
    let head = head.rsplit('.').next().unwrap_or(head);
    (head.ends_with("Error") || head.ends_with("Exception")) && l.contains(':')
}

/// Gathers `lines[i]` with the location that belongs to it: the nearest frame
/// among the 10 lines before, and a location in the 3 lines after, unless a
/// line for which `stop` holds (the next error) comes first.
fn with_location(out: &mut Lines, lines: &[String], i: usize, stop: impl Fn(&str) -> bool) {
    let from = i.saturating_sub(10);
    if let Some(j) = (from..i).rev().find(|&j| is_frame_before(&lines[j])) {
        out.push(&lines[j]);
    }
    out.push(&lines[i]);
    let after = lines.get(i + 1..lines.len().min(i + 4)).unwrap_or(&[]);
    if let Some(l) = after
        .iter()
        .take_while(|l| !stop(l))
        .find(|l| is_location_after(l))
    {
        out.push(l);
    }
}

/// The module name in a Python `No module named 'x'`.
fn python_missing_module(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("No module named '")?;
    rest.split('\'').next()
}

/// The specifier in `Cannot find module 'x'`, `Cannot find package 'x'`,
/// vite's `Failed to resolve import "x"` and `Failed to load url x`.
fn js_missing_module(line: &str) -> Option<&str> {
    for (marker, end) in [
        ("Cannot find module '", '\''),
        ("Cannot find package '", '\''),
        ("Failed to resolve import \"", '"'),
        ("Failed to load url ", ' '),
    ] {
        if let Some((_, rest)) = line.split_once(marker) {
            return rest.split(end).next();
        }
    }
    None
}

/// Whether `name` (a Python module or a JS specifier) names a project path:
/// a known path has it as a whole-component prefix (`app` in
/// `backend/app/x.py`, `src/api` in `frontend/src/api.js`) followed by `/`,
/// the end, or (`python`) `.py` / (otherwise) any extension.
fn is_project_path(name: &str, known: &[String], python: bool) -> bool {
    let name = name.trim_matches('/');
    if name.is_empty() {
        return false;
    }
    known.iter().any(|k| {
        k.match_indices(name).any(|(i, _)| {
            let rest = &k[i + name.len()..];
            (i == 0 || k[..i].ends_with('/'))
                && (rest.is_empty()
                    || rest.starts_with('/')
                    || if python {
                        rest == ".py"
                    } else {
                        rest.starts_with('.')
                    })
        })
    })
}

/// Whether a JS specifier is bare (a package name, not a path or alias).
fn is_bare(spec: &str) -> bool {
    !(spec.is_empty()
        || spec.starts_with('.')
        || spec.starts_with('/')
        || spec.starts_with("@/")
        || spec.starts_with('~')
        || spec.starts_with('#')
        || spec.starts_with("file:")
        || spec.starts_with("node:"))
}

/// npm error codes that mean a package could not be fetched.
const NPM_CODES: [&str; 11] = [
    "E404",
    "E403",
    "EAI_AGAIN",
    "ENOTFOUND",
    "ETARGET",
    "ERESOLVE",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
    "EINTEGRITY",
];

/// Markers of a dependency that cannot be resolved or fetched.
const SETUP_MARKERS: [&str; 20] = [
    // cargo
    "Could not resolve host",
    "no matching package named",
    "failed to download",
    "attempting to make an HTTP request, but --offline was specified",
    "failed to select a version for the requirement",
    "failed to load source for dependency",
    // pip
    "No matching distribution found for",
    "Could not find a version that satisfies the requirement",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    // npm
    "npm ERR! 404",
    "npm error 404",
    "getaddrinfo EAI_AGAIN",
    "getaddrinfo ENOTFOUND",
    "No matching version found for",
    // go
    "cannot find module providing package",
    "missing go.sum entry",
    "no required module provides package",
    "dial tcp: lookup",
    "module lookup disabled by GOPROXY",
];

/// Whether `line` says a dependency could not be resolved or fetched.
fn is_setup_line(line: &str, known: &[String]) -> bool {
    if line.starts_with("warning: spurious network error") {
        return false;
    }
    if SETUP_MARKERS.iter().any(|m| line.contains(m)) {
        return true;
    }
    if line.contains("failed to get `") && line.contains("` as a dependency") {
        return true;
    }
    for prefix in ["npm ERR! code ", "npm error code "] {
        if let Some(code) = line.strip_prefix(prefix)
            && NPM_CODES.contains(&code.trim())
        {
            return true;
        }
    }
    if let Some(module) = python_missing_module(line) {
        return !module.contains('.') && !is_project_path(module, known, true);
    }
    if let Some(spec) = js_missing_module(line) {
        return is_bare(spec) && !is_project_path(spec, known, false);
    }
    false
}

/// Decisive lines of a dependency problem in `lines` (cleaned), empty when
/// there is none.
fn setup_evidence(lines: &[String], known: &[String]) -> Vec<String> {
    let mut out = Lines::default();
    for (i, line) in lines.iter().enumerate() {
        if is_setup_line(line, known) {
            if python_missing_module(line).is_some() {
                with_location(&mut out, lines, i, |_| false);
            } else {
                out.push(line);
            }
        }
    }
    out.0
}

/// Whether `line` is a compiler, bundler or import error (not a dependency
/// problem, which [`is_setup_line`] has already ruled out).
fn is_build_line(line: &str, known: &[String]) -> bool {
    let l = unprefix(line);
    if l.starts_with("error[E") && l.contains("]:") {
        return true;
    }
    if [
        "SyntaxError:",
        "IndentationError:",
        "TabError:",
        "ImportError: cannot import name",
        "is not exported by",
        "does not provide an export named",
        "Transform failed with",
    ]
    .iter()
    .any(|m| l.contains(m))
    {
        return true;
    }
    // tsc: `src/x.ts(3,5): error TS2304: …`, `src/x.ts:3:5 - error TS2304: …`
    if let Some((_, rest)) = l.split_once("error TS")
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        return true;
    }
    // rolldown: `[PARSE_ERROR] …`, `[MISSING_EXPORT] …`, `[UNRESOLVED_IMPORT] …`
    if let Some(rest) = l.strip_prefix('[')
        && let Some((code, _)) = rest.split_once(']')
        && code.contains('_')
        && code.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    {
        return true;
    }
    if python_missing_module(l).is_some() {
        return true;
    }
    if let Some(spec) = js_missing_module(l) {
        return !is_bare(spec) || is_project_path(spec, known, false);
    }
    false
}

/// Whether `line` is go's `file.go:12:3: message`.
fn is_go_error(line: &str) -> bool {
    line.split_once(".go:").is_some_and(|(_, rest)| {
        let mut parts = rest.splitn(3, ':');
        parts.next().is_some_and(is_number) && parts.next().is_some_and(is_number)
    })
}

/// Decisive lines of a compile or import failure, or of a test file that
/// failed to load; empty when there is neither.
fn build_evidence(scan: &Scan, known: &[String]) -> Vec<String> {
    let lines = &scan.lines;
    let mut out = Lines::default();
    for (i, line) in lines.iter().enumerate() {
        // go: `# pkg` then `./x.go:3:1: undefined: y`
        if line.starts_with("# ") && lines.get(i + 1).is_some_and(|l| is_go_error(l)) {
            out.push(line);
            for next in lines[i + 1..].iter().take_while(|l| is_go_error(l)).take(5) {
                out.push(next);
            }
            continue;
        }
        // rustc errors with a code, and those without one but with a location
        let rustc_plain = line.starts_with("error: ")
            && lines
                .get(i + 1)
                .is_some_and(|l| l.trim_start().starts_with("--> "));
        if rustc_plain || is_build_line(line, known) {
            with_location(&mut out, lines, i, |l| is_build_line(l, known));
        }
    }
    if !out.0.is_empty() {
        return out.0;
    }
    for &at in &scan.load_at {
        load_lines(&mut out, lines, at);
    }
    if !out.0.is_empty() {
        return out.0;
    }
    for line in lines {
        if line.starts_with("error: could not compile") || line.ends_with("[build failed]") {
            out.push(line);
        }
    }
    out.0
}

/// Whether `line` ends a failure's block of output.
fn is_block_end(line: &str) -> bool {
    line.starts_with("====")
        || line.starts_with("____")
        || line.starts_with("⎯⎯")
        || line.starts_with("=== RUN")
        || line.starts_with("● ")
        || line.starts_with("FAIL")
        || line.starts_with("ERROR: ")
}

/// The lines of a test file that failed to load at `at`: the header, the last
/// error line of its block with its location, or the block's first line.
fn load_lines(out: &mut Lines, lines: &[String], at: usize) {
    let header = &lines[at];
    if header.starts_with('⎯') || header.contains("during collection") {
        return;
    }
    let end = (at + 1..lines.len().min(at + 40))
        .find(|&j| is_block_end(&lines[j]))
        .unwrap_or(lines.len().min(at + 40));
    out.push(header.trim_matches(|c| c == '_' || c == ' '));
    match (at + 1..end).rev().find(|&j| is_error_line(&lines[j])) {
        Some(j) => with_location(out, lines, j, |_| false),
        None => {
            if let Some(j) = (at + 1..end).find(|&j| !lines[j].is_empty()) {
                out.push(&lines[j]);
            }
        }
    }
}

/// The lines of a Failed verdict: each failing test's header with its first
/// assertion line, then the runner's summary line.
fn failed_lines(scan: &Scan, report: &Report) -> Vec<String> {
    let lines = &scan.lines;
    let name_lines: HashSet<usize> = scan.name_at.iter().map(|(_, i)| *i).collect();
    let mut out = Lines::default();
    for name in &report.failures {
        if !out.room(2) {
            break;
        }
        let mut block: Vec<&str> = Vec::new();
        for (_, at) in scan.name_at.iter().filter(|(n, _)| n == name) {
            let header = lines[*at].as_str();
            // pytest's short summary carries the message on the line itself.
            if header.starts_with("FAILED ") && header.contains(" - ") {
                block = vec![header];
                break;
            }
            let found = assertion_after(lines, *at, &name_lines);
            if !found.is_empty() {
                block = std::iter::once(header).chain(found).collect();
                break;
            }
        }
        if block.is_empty() {
            continue;
        }
        if !out.room(block.len() + 1) {
            break;
        }
        for line in block {
            out.push(line);
        }
    }
    let failing = scan
        .summary_at
        .iter()
        .rev()
        .find(|&&i| lines[i].to_lowercase().contains("fail"))
        .or(scan.summary_at.last());
    if let Some(&i) = failing {
        out.push(&lines[i]);
    }
    out.0
}

/// The first assertion line after a failure header at `at` (with the panic
/// message after a Rust `panicked at`, and a vitest `❯ file:line` after it);
/// go's message before a `-v` `--- FAIL:` line. Empty when none is near.
fn assertion_after<'a>(
    lines: &'a [String],
    at: usize,
    name_lines: &HashSet<usize>,
) -> Vec<&'a str> {
    let end = lines.len().min(at + 16);
    let next_non_empty = |from: usize| {
        (from..end)
            .find(|&j| !lines[j].is_empty())
            .map(|j| (j, lines[j].as_str()))
    };
    for (j, l) in lines.iter().enumerate().take(end).skip(at + 1) {
        let l = l.as_str();
        if name_lines.contains(&j) || is_block_end(l) {
            break;
        }
        if l.contains("panicked at") {
            let mut found = vec![l];
            if let Some((_, msg)) = next_non_empty(j + 1) {
                found.push(msg);
            }
            return found;
        }
        if l == "error: |-" {
            return next_non_empty(j + 1)
                .map(|(_, m)| vec![m])
                .unwrap_or_default();
        }
        if is_error_line(l) || l.starts_with("expect(") || l.contains("_test.go:") {
            let mut found = vec![l];
            if let Some((_, next)) = next_non_empty(j + 1)
                && next.starts_with("❯ ")
            {
                found.push(next);
            }
            return found;
        }
    }
    // go -v prints a test's messages before its `--- FAIL:` line.
    if lines[at].starts_with("--- FAIL:") {
        for j in (at.saturating_sub(10)..at).rev() {
            let l = lines[j].as_str();
            if l.starts_with("=== RUN") {
                break;
            }
            if l.contains("_test.go:") {
                return vec![l];
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real outputs, produced on a Linux machine with Python 3.11 (3.12 for
    // `UNITTEST_ZERO_312`), pytest 9.2, cargo 1.95, go 1.19, node 20, vitest
    // 4.1, vite 8.4 and jest 30, copied verbatim except where a long run of
    // identical stack frames was cut to one or two frames. The few
    // hand-written samples are inline in their tests and marked as such.

    const UNITTEST_FAIL: &str = r##"test_add (tests.test_calc.TestCalc.test_add) ... ok
test_add_wrong (tests.test_calc.TestCalc.test_add_wrong) ... FAIL
test_error (tests.test_calc.TestCalc.test_error) ... ERROR
test_ok2 (tests.test_calc.TestCalc.test_ok2) ... ok
test_skip (tests.test_calc.TestCalc.test_skip) ... skipped 'later'

======================================================================
ERROR: test_error (tests.test_calc.TestCalc.test_error)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/samples/py/tests/test_calc.py", line 10, in test_error
    raise ValueError("boom")
ValueError: boom

======================================================================
FAIL: test_add_wrong (tests.test_calc.TestCalc.test_add_wrong)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/samples/py/tests/test_calc.py", line 8, in test_add_wrong
    self.assertEqual(add(2, 2), 5)
AssertionError: 4 != 5

----------------------------------------------------------------------
Ran 5 tests in 0.001s

FAILED (failures=1, errors=1, skipped=1)
"##;

    const UNITTEST_ZERO: &str = r##"
----------------------------------------------------------------------
Ran 0 tests in 0.000s

OK
"##;

    const UNITTEST_ZERO_312: &str = r##"
----------------------------------------------------------------------
Ran 0 tests in 0.000s

NO TESTS RAN
"##;

    const UNITTEST_SYNTAX: &str = r##"tests.test_syn (unittest.loader._FailedTest.tests.test_syn) ... ERROR

======================================================================
ERROR: tests.test_syn (unittest.loader._FailedTest.tests.test_syn)
----------------------------------------------------------------------
ImportError: Failed to import test module: tests.test_syn
Traceback (most recent call last):
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 419, in _find_test_path
    module = self._get_module_from_name(name)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 362, in _get_module_from_name
    __import__(name)
  File "/tmp/samples/pc/tests/test_syn.py", line 1, in <module>
    from app.bad import f
  File "/tmp/samples/pc/app/bad.py", line 1
    def f(:
          ^
SyntaxError: invalid syntax


----------------------------------------------------------------------
Ran 1 test in 0.000s

FAILED (errors=1)
"##;

    const UNITTEST_MODULE_NOT_FOUND: &str = r##"tests.test_sql (unittest.loader._FailedTest.tests.test_sql) ... ERROR

======================================================================
ERROR: tests.test_sql (unittest.loader._FailedTest.tests.test_sql)
----------------------------------------------------------------------
ImportError: Failed to import test module: tests.test_sql
Traceback (most recent call last):
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 419, in _find_test_path
    module = self._get_module_from_name(name)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 362, in _get_module_from_name
    __import__(name)
  File "/tmp/samples/pc/tests/test_sql.py", line 2, in <module>
    import sqlmodel
ModuleNotFoundError: No module named 'sqlmodel'


----------------------------------------------------------------------
Ran 1 test in 0.000s

FAILED (errors=1)
"##;

    const PYTEST_FAIL: &str = r##"============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.7.0
rootdir: /tmp/samples/pt
collected 14 items

tests/test_many.py ..........FFFs                                        [100%]

=================================== FAILURES ===================================
_________________________________ test_delete __________________________________

    def test_delete():
>       assert 404 == 204
E       assert 404 == 204

tests/test_many.py:8: AssertionError
_________________________________ test_create __________________________________

    def test_create():
        d = {"id": 1}
>       assert d["id"] == 2, "wrong id"
E       AssertionError: wrong id
E       assert 1 == 2

tests/test_many.py:12: AssertionError
__________________________________ test_raise __________________________________

    def test_raise():
>       raise KeyError("user")
E       KeyError: 'user'

tests/test_many.py:15: KeyError
=========================== short test summary info ============================
FAILED tests/test_many.py::test_delete - assert 404 == 204
FAILED tests/test_many.py::test_create - AssertionError: wrong id
FAILED tests/test_many.py::test_raise - KeyError: 'user'
=================== 3 failed, 10 passed, 1 skipped in 0.05s ====================
"##;

    const PYTEST_FAIL_Q: &str = r##"..........FFFs                                                           [100%]
=================================== FAILURES ===================================
_________________________________ test_delete __________________________________

    def test_delete():
>       assert 404 == 204
E       assert 404 == 204

tests/test_many.py:8: AssertionError
_________________________________ test_create __________________________________

    def test_create():
        d = {"id": 1}
>       assert d["id"] == 2, "wrong id"
E       AssertionError: wrong id
E       assert 1 == 2

tests/test_many.py:12: AssertionError
__________________________________ test_raise __________________________________

    def test_raise():
>       raise KeyError("user")
E       KeyError: 'user'

tests/test_many.py:15: KeyError
=========================== short test summary info ============================
FAILED tests/test_many.py::test_delete - assert 404 == 204
FAILED tests/test_many.py::test_create - AssertionError: wrong id
FAILED tests/test_many.py::test_raise - KeyError: 'user'
3 failed, 10 passed, 1 skipped in 0.04s
"##;

    const PYTEST_ZERO: &str = r##"============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.7.0
rootdir: /tmp/samples/empty
collected 0 items

============================ no tests ran in 0.01s =============================
"##;

    const PYTEST_ZERO_Q: &str = r##"
no tests ran in 0.00s
"##;

    const PYTEST_MODULE_NOT_FOUND: &str = r##"
==================================== ERRORS ====================================
_____________________ ERROR collecting tests/test_flask.py _____________________
ImportError while importing test module '/tmp/samples/pc/tests/test_flask.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tests/test_flask.py:1: in <module>
    import sqlmodel
E   ModuleNotFoundError: No module named 'sqlmodel'
=========================== short test summary info ============================
ERROR tests/test_flask.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
1 error in 0.15s
"##;

    const PYTEST_IMPORT_ERROR: &str = r##"
==================================== ERRORS ====================================
______________________ ERROR collecting tests/test_imp.py ______________________
ImportError while importing test module '/tmp/samples/pc/tests/test_imp.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tests/test_imp.py:1: in <module>
    from app.api import get_todos
E   ImportError: cannot import name 'get_todos' from 'app.api' (/tmp/samples/pc/app/api.py)
=========================== short test summary info ============================
ERROR tests/test_imp.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
1 error in 0.12s
"##;

    const PYTEST_SYNTAX: &str = r##"
==================================== ERRORS ====================================
______________________ ERROR collecting tests/test_syn.py ______________________
/tmp/venv/lib/python3.11/site-packages/_pytest/python.py:528: in importtestmodule
    mod = import_path(
/tmp/venv/lib/python3.11/site-packages/_pytest/pathlib.py:640: in import_path
    importlib.import_module(module_name)
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
<frozen importlib._bootstrap>:1204: in _gcd_import
    ???
/tmp/venv/lib/python3.11/site-packages/_pytest/assertion/rewrite.py:185: in exec_module
    exec(co, module.__dict__)
tests/test_syn.py:1: in <module>
    from app.bad import f
E     File "/tmp/samples/pc/app/bad.py", line 1
E       def f(:
E             ^
E   SyntaxError: invalid syntax
=========================== short test summary info ============================
ERROR tests/test_syn.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
1 error in 0.17s
"##;

    const CARGO_FAIL: &str = r##"   Compiling cr v0.1.0 (/tmp/samples/cr)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.29s
     Running unittests src/lib.rs (target/debug/deps/cr-f73a538893013b88)

running 4 tests
test tests::adds ... ok
test tests::adds_wrong ... FAILED
test tests::panics ... FAILED
test tests::slow ... ignored

failures:

---- tests::adds_wrong stdout ----

thread 'tests::adds_wrong' (29696) panicked at src/lib.rs:7:31:
assertion `left == right` failed: two and two
  left: 4
 right: 5
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- tests::panics stdout ----

thread 'tests::panics' (29697) panicked at src/lib.rs:9:27:
boom


failures:
    tests::adds_wrong
    tests::panics

test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--lib`
"##;

    const CARGO_PASS: &str = r##"   Compiling cr v0.1.0 (/tmp/samples/cr)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.27s
     Running unittests src/lib.rs (target/debug/deps/cr-f73a538893013b88)

running 4 tests
test tests::adds_wrong ... ok
test tests::adds ... ok
test tests::panics ... ok
test tests::slow ... ignored

test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/it.rs (target/debug/deps/it-c402cc767e4d8483)

running 1 test
test integration ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests cr

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

"##;

    const CARGO_ZERO: &str = r##"    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.01s
     Running unittests src/lib.rs (target/debug/deps/cr0-7ae30d26c2930a31)

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests cr0

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

"##;

    const CARGO_BUILD: &str = r##"   Compiling crbad v0.1.0 (/tmp/samples/crbad)
error[E0425]: cannot find value `c` in this scope
 --> src/lib.rs:1:41
  |
1 | pub fn add(a: u32, b: u32) -> u32 { a + c }
  |                                         ^
  |
help: a local variable with a similar name exists
  |
1 - pub fn add(a: u32, b: u32) -> u32 { a + c }
1 + pub fn add(a: u32, b: u32) -> u32 { a + a }
  |

For more information about this error, try `rustc --explain E0425`.
error: could not compile `crbad` (lib) due to 1 previous error
warning: build failed, waiting for other jobs to finish...
error: could not compile `crbad` (lib test) due to 1 previous error
"##;

    const CARGO_OFFLINE: &str = r##"error: no matching package named `clap` found
location searched: crates.io index
required by package `crclap v0.1.0 (/tmp/samples/crclap)`
As a reminder, you're using offline mode (--offline) which can sometimes cause surprising resolution failures, if this error is too confusing you may wish to retry without `--offline`.
"##;

    const CARGO_NO_NETWORK: &str = r##"    Updating crates.io index
warning: spurious network error (3 tries remaining): [6] Could not resolve hostname (Could not resolve host: index.crates.io)
warning: spurious network error (2 tries remaining): [6] Could not resolve hostname (Could not resolve host: index.crates.io)
warning: spurious network error (1 try remaining): [6] Could not resolve hostname (Could not resolve host: index.crates.io)
error: failed to get `clap` as a dependency of package `crclap v0.1.0 (/tmp/samples/crclap)`

Caused by:
  download of config.json failed

Caused by:
  failed to download from `https://index.crates.io/config.json`

Caused by:
  [6] Could not resolve hostname (Could not resolve host: index.crates.io)
"##;

    const CARGO_OFFLINE_DOWNLOAD: &str = r##"error: failed to download `anstream v1.0.1`

Caused by:
  attempting to make an HTTP request, but --offline was specified
"##;

    const GO_FAIL: &str = r##"--- FAIL: TestSub (0.00s)
    calc_test.go:13: Sub(2, 1) = 3; want 1
FAIL
FAIL	example.com/calc	0.002s
?   	example.com/calc/cmd	[no test files]
ok  	example.com/calc/util	0.001s
FAIL
"##;

    const GO_FAIL_V: &str = r##"=== RUN   TestAdd
--- PASS: TestAdd (0.00s)
=== RUN   TestSub
    calc_test.go:13: Sub(2, 1) = 3; want 1
--- FAIL: TestSub (0.00s)
=== RUN   TestSkip
    calc_test.go:17: later
--- SKIP: TestSkip (0.00s)
FAIL
FAIL	example.com/calc	0.010s
?   	example.com/calc/cmd	[no test files]
=== RUN   TestTwice
--- PASS: TestTwice (0.00s)
PASS
ok  	example.com/calc/util	0.002s
FAIL
"##;

    const GO_BUILD: &str = r##"# example.com/calc [example.com/calc.test]
./calc.go:3:37: undefined: y
./calc.go:4:37: undefined: y
FAIL	example.com/calc [build failed]
?   	example.com/calc/cmd	[no test files]
ok  	example.com/calc/util	(cached)
FAIL
"##;

    const GO_SETUP: &str = r##"# example.com/calc/util
util/util_test.go:6:2: no required module provides package github.com/stretchr/testify/assert; to add it:
	go get github.com/stretchr/testify/assert
FAIL	example.com/calc/util [setup failed]
ok  	example.com/calc	0.002s
?   	example.com/calc/cmd	[no test files]
FAIL
"##;

    const GO_ZERO: &str = r##"?   	example.com/calc/cmd	[no test files]
"##;

    const NODE_FAIL: &str = r##"TAP version 13
# Subtest: adds
ok 1 - adds
  ---
  duration_ms: 0.963849
  ...
# Subtest: subtracts
not ok 2 - subtracts
  ---
  duration_ms: 1.118496
  location: '/tmp/samples/nt/test/a.test.js:4:1'
  failureType: 'testCodeFailure'
  error: |-
    Expected values to be strictly equal:
    
    1 !== 2
    
  code: 'ERR_ASSERTION'
  name: 'AssertionError'
  expected: 2
  actual: 1
  operator: 'strictEqual'
  stack: |-
    TestContext.<anonymous> (/tmp/samples/nt/test/a.test.js:4:34)
  ...
# Subtest: later
ok 3 - later # SKIP
  ---
  duration_ms: 0.091217
  ...
# Subtest: todos
    # Subtest: lists
    ok 1 - lists
      ---
      duration_ms: 0.128476
      ...
    1..1
ok 4 - todos
  ---
  duration_ms: 0.316825
  type: 'suite'
  ...
1..4
# tests 4
# suites 1
# pass 2
# fail 1
# cancelled 0
# skipped 1
# todo 0
# duration_ms 233.79831
"##;

    const NODE_SPEC: &str = r##"✔ adds (17.092167ms)
✖ subtracts (1.22914ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
      at TestContext.<anonymous> (/tmp/samples/nt/test/a.test.js:4:34)
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: 1,
    expected: 2,
    operator: 'strictEqual'
  }

﹣ later (0.101009ms) # SKIP
▶ todos
  ✔ lists (0.134875ms)
✔ todos (0.303025ms)
ℹ tests 4
ℹ suites 1
ℹ pass 2
ℹ fail 1
ℹ cancelled 0
ℹ skipped 1
ℹ todo 0
ℹ duration_ms 214.496106

✖ failing tests:

test at test/a.test.js:4:1
✖ subtracts (1.22914ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
      at TestContext.<anonymous> (/tmp/samples/nt/test/a.test.js:4:34)
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: 1,
    expected: 2,
    operator: 'strictEqual'
  }
"##;

    const NODE_MISSING_EXPORT: &str = r##"TAP version 13
# file:///tmp/samples/ntm/test/a.test.js:3
# import { getTodos } from '../src/api.js';
#          ^^^^^^^^
# SyntaxError: The requested module '../src/api.js' does not provide an export named 'getTodos'
#     at ModuleJob._instantiate (node:internal/modules/esm/module_job:213:21)
# Node.js v20.20.2
# Subtest: /tmp/samples/ntm/test/a.test.js
not ok 1 - /tmp/samples/ntm/test/a.test.js
  ---
  duration_ms: 128.522508
  location: '/tmp/samples/ntm/test/a.test.js:1:1'
  failureType: 'testCodeFailure'
  exitCode: 1
  signal: ~
  error: 'test failed'
  code: 'ERR_TEST_FAILURE'
  ...
1..1
# tests 1
# suites 0
# pass 0
# fail 1
# cancelled 0
# skipped 0
# todo 0
# duration_ms 141.138252
"##;

    const NODE_MISSING_PACKAGE: &str = r##"TAP version 13
# node:internal/modules/esm/resolve:873
#   throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);
#         ^
# Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'express' imported from /tmp/samples/ntm/test/b.test.js
#     at packageResolve (node:internal/modules/esm/resolve:873:9)
#   code: 'ERR_MODULE_NOT_FOUND'
# }
# Node.js v20.20.2
# Subtest: /tmp/samples/ntm/test/b.test.js
not ok 1 - /tmp/samples/ntm/test/b.test.js
  ---
  duration_ms: 194.349433
  location: '/tmp/samples/ntm/test/b.test.js:1:1'
  failureType: 'testCodeFailure'
  exitCode: 1
  signal: ~
  error: 'test failed'
  code: 'ERR_TEST_FAILURE'
  ...
1..1
# tests 1
# suites 0
# pass 0
# fail 1
# cancelled 0
# skipped 0
# todo 0
# duration_ms 198.25804
"##;

    const NODE_ZERO: &str = r##"TAP version 13
1..0
# tests 0
# suites 0
# pass 0
# fail 0
# cancelled 0
# skipped 0
# todo 0
# duration_ms 3.551797
"##;

    const VITEST_MISSING_EXPORT: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt

 ❯ tests/api.test.js (3 tests | 1 failed | 1 skipped) 8ms
     ✓ lists 2ms
     × is wrong 5ms
     ↓ later
 ❯ tests/TodoPage.test.jsx (1 test | 1 failed) 4ms
     × renders no todos 3ms

⎯⎯⎯⎯⎯⎯⎯ Failed Tests 2 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  tests/TodoPage.test.jsx > TodoPage > renders no todos
TypeError: getTodos is not a function
 ❯ TodoPage src/components/TodoPage.jsx:4:10
      2|
      3| export function TodoPage() {
      4|   return getTodos().length;
       |          ^
      5| }
      6|
 ❯ tests/TodoPage.test.jsx:6:12

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/2]⎯

 FAIL  tests/api.test.js > api > is wrong
AssertionError: expected [] to deeply equal [ 1 ]

- Expected
+ Received

- [
-   1,
- ]
+ []

 ❯ tests/api.test.js:6:46
      4| describe('api', () => {
      5|   it('lists', () => { expect(listTodos()).toEqual([]); });
      6|   it('is wrong', () => { expect(listTodos()).toEqual([1]); });
       |                                              ^
      7|   it.skip('later', () => {});
      8| });

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[2/2]⎯


 Test Files  2 failed (2)
      Tests  2 failed | 1 passed | 1 skipped (4)
   Start at  20:29:42
   Duration  665ms (transform 47ms, setup 0ms, import 68ms, tests 13ms, environment 0ms)

"##;

    const VITEST_MODULE_SCOPE: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt2

 ❯ tests/TodoPage.test.jsx (0 test)
 ✓ tests/api.test.js (1 test) 3ms

⎯⎯⎯⎯⎯⎯ Failed Suites 1 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  tests/TodoPage.test.jsx [ tests/TodoPage.test.jsx ]
TypeError: getTodos is not a function
 ❯ src/components/TodoPage.jsx:3:17
      1| import { getTodos } from '../api.js';
      2|
      3| const initial = getTodos();
       |                 ^
      4|
      5| export function TodoPage() {
 ❯ tests/TodoPage.test.jsx:2:1

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/1]⎯


 Test Files  1 failed | 1 passed (2)
      Tests  1 passed (1)
   Start at  20:34:30
   Duration  944ms (transform 29ms, setup 0ms, import 11ms, tests 3ms, environment 0ms)

"##;

    const VITEST_NONE: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt3

No test files found, exiting with code 1

include: **/*.{test,spec}.?(c|m)[jt]s?(x)
exclude:  **/node_modules/**, **/.git/**

"##;

    const VITEST_MISSING_MODULES: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt3

 ❯ tests/ax.test.js (0 test)
 ❯ tests/rel.test.js (0 test)

⎯⎯⎯⎯⎯⎯ Failed Suites 2 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  tests/ax.test.js [ tests/ax.test.js ]
Error: Cannot find package 'axios' imported from /tmp/samples/vt3/tests/ax.test.js
 ❯ tests/ax.test.js:2:1
      1| import { it, expect } from 'vitest';
      2| import axios from 'axios';
       | ^
      3| it('gets', () => { expect(axios).toBeTruthy(); });
      4|

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/2]⎯

 FAIL  tests/rel.test.js [ tests/rel.test.js ]
Error: Cannot find module '../src/missing.js' imported from /tmp/samples/vt3/tests/rel.test.js
 ❯ tests/rel.test.js:2:1
      1| import { it, expect } from 'vitest';
      2| import { y } from '../src/missing.js';
       | ^
      3| it('y', () => { expect(y).toBe(1); });
      4|

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[2/2]⎯


 Test Files  2 failed (2)
      Tests  no tests
   Start at  20:34:35
   Duration  900ms (transform 53ms, setup 0ms, import 0ms, tests 0ms, environment 0ms)

"##;

    const VITEST_PARSE_ERROR: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt3

 ❯ tests/broken.test.jsx (0 test)

⎯⎯⎯⎯⎯⎯ Failed Suites 1 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  tests/broken.test.jsx [ tests/broken.test.jsx ]
Error: Transform failed with 1 error:

[PARSE_ERROR] Unexpected token
   ╭─[ src/broken.jsx:2:17 ]
   │
 2 │   return <div>{</div>;
   │                 ┬  
   │                 ╰── 
───╯

  Plugin: vite:oxc
  File: /tmp/samples/vt3/src/broken.jsx
 ❯ transformWithOxc ../vt/node_modules/vite/dist/node/chunks/node.js:7061:19

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/1]⎯


 Test Files  1 failed (1)
      Tests  no tests
   Start at  20:34:37
   Duration  418ms (transform 60ms, setup 0ms, import 0ms, tests 0ms, environment 0ms)

"##;

    const VITE_BUILD_MISSING_EXPORT: &str = r##"vite v8.4.1 building client environment for production...
transforming...
✓ 6 modules transformed.
rendering chunks...
✗ Build failed in 87ms
error during build:
Build failed with 1 error:

[MISSING_EXPORT] "getTodos" is not exported by "src/api.js".
   ╭─[ src/components/TodoPage.jsx:1:10 ]
   │
 1 │ import { getTodos } from "../api.js";
   │          ────┬───  
   │              ╰───── Missing export
───╯

    at aggregateBindingErrorsIntoJsError (file:///tmp/samples/vt/node_modules/rolldown/dist/shared/error-z4CTM_u3.mjs:110:18)
  errors: [Getter/Setter]
}
"##;

    const JEST_FAIL: &str = r##"FAIL __tests__/api.test.js
  api
    ✓ lists (2 ms)
    ✕ counts (1 ms)
    ✓ more (1 ms)
    ○ skipped later

  ● api › counts

    expect(received).toBe(expected) // Object.is equality

    Expected: 1
    Received: 0

      2 | describe('api', () => {
      3 |   test('lists', () => { expect(listTodos()).toEqual([]); });
    > 4 |   test('counts', () => { expect(listTodos().length).toBe(1); });
        |                                                     ^
      5 |   test.skip('later', () => {});
      6 |   test('more', () => { expect(1).toBe(1); });
      7 | });

      at Object.toBe (__tests__/api.test.js:4:53)

Test Suites: 1 failed, 1 total
Tests:       1 failed, 1 skipped, 2 passed, 4 total
Snapshots:   0 total
Time:        0.398 s, estimated 1 s
Ran all test suites.
"##;

    const JEST_MISSING_PACKAGE: &str = r##"FAIL __tests__/api.test.js
  ● api › counts

    expect(received).toBe(expected) // Object.is equality

    Expected: 1
    Received: 0

      2 | describe('api', () => {
      3 |   test('lists', () => { expect(listTodos()).toEqual([]); });
    > 4 |   test('counts', () => { expect(listTodos().length).toBe(1); });
        |                                                     ^
      5 |   test.skip('later', () => {});
      6 |   test('more', () => { expect(1).toBe(1); });
      7 | });

      at Object.toBe (__tests__/api.test.js:4:53)

FAIL __tests__/ax.test.js
  ● Test suite failed to run

    Cannot find module 'axios' from '__tests__/ax.test.js'

    > 1 | const axios = require('axios');
        |               ^
      2 | test('gets', () => { expect(axios).toBeTruthy(); });
      3 |

      at Resolver._throwModNotFoundError (node_modules/jest-resolve/build/index.js:1031:11)
      at Object.require (__tests__/ax.test.js:1:15)

Test Suites: 2 failed, 2 total
Tests:       1 failed, 1 skipped, 2 passed, 4 total
Snapshots:   0 total
Time:        0.942 s, estimated 1 s
Ran all test suites.
"##;

    const JEST_PASS: &str = r##"PASS __tests__/api.test.js
  api
    ✓ lists (15 ms)
    ✓ counts (1 ms)
    ✓ more (1 ms)
    ○ skipped later

Test Suites: 1 passed, 1 total
Tests:       1 skipped, 3 passed, 4 total
Snapshots:   0 total
Time:        0.568 s, estimated 1 s
Ran all test suites.
"##;

    const JEST_NONE: &str = r##"No tests found, exiting with code 1
Run with `--passWithNoTests` to exit with code 0
In /tmp/samples/jt0
  1 file checked.
  testMatch: **/__tests__/**/*.?([mc])[jt]s?(x), **/?(*.)+(spec|test).?([mc])[jt]s?(x) - 0 matches
  testPathIgnorePatterns: /node_modules/ - 1 match
  testRegex:  - 0 matches
Pattern:  - 0 matches
"##;

    const PIP_NO_DISTRIBUTION: &str = r##"Looking in links: /opt/wheels
ERROR: Could not find a version that satisfies the requirement flask (from versions: none)
ERROR: No matching distribution found for flask
"##;

    const NPM_NO_NETWORK: &str = r##"npm error code EAI_AGAIN
npm error syscall getaddrinfo
npm error errno EAI_AGAIN
npm error request to https://registry.npmjs.org/express failed, reason: getaddrinfo EAI_AGAIN registry.npmjs.org
npm error A complete log of this run can be found in: /tmp/npmcache-empty2/_logs/2026-12-06T20_34_55_193Z-debug-0.log
"##;

    const VITEST_COLOURED: &str = "\x1b[41m\x1b[1m FAIL \x1b[22m\x1b[49m tests/TodoPage.test.jsx\x1b[2m > \x1b[22mTodoPage\x1b[2m > \x1b[22mrenders no todos
\x1b[31m\x1b[1mTypeError\x1b[22m: getTodos is not a function\x1b[39m
\x1b[41m\x1b[1m FAIL \x1b[22m\x1b[49m tests/api.test.js\x1b[2m > \x1b[22mapi\x1b[2m > \x1b[22mis wrong
\x1b[2m Test Files \x1b[22m \x1b[1m\x1b[31m2 failed\x1b[39m\x1b[22m\x1b[90m (2)\x1b[39m
\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[31m2 failed\x1b[39m\x1b[22m\x1b[2m | \x1b[22m\x1b[1m\x1b[32m1 passed\x1b[39m\x1b[22m\x1b[2m | \x1b[22m\x1b[33m1 skipped\x1b[39m\x1b[90m (4)\x1b[39m
";

    fn verdict(output: &str, exit: Option<i32>) -> Verdict {
        classify(output, exit, &parse(output), &[])
    }

    fn paths(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    fn counts(r: &Report) -> (u32, u32, u32) {
        (r.passed, r.failed, r.skipped)
    }

    #[test]
    fn runners_are_read_from_command_lines() {
        for (command, runner) in [
            ("python3 -m pytest -q", Runner::Pytest),
            (".venv/bin/python -m pytest tests", Runner::Pytest),
            ("pytest", Runner::Pytest),
            (
                "cd backend && PYTHONPATH=. .venv/bin/pytest -x",
                Runner::Pytest,
            ),
            ("python3 -m pytest || true", Runner::Pytest),
            ("python3 -m unittest discover -v", Runner::Unittest),
            ("cargo test --offline", Runner::Cargo),
            ("cargo nextest run", Runner::Cargo),
            ("go test ./...", Runner::Go),
            ("go test ./... | tee test.log", Runner::Go),
            ("npx vitest run --config x", Runner::Vitest),
            (
                "cd frontend && npm ci; npx vitest@1.6.0 run",
                Runner::Vitest,
            ),
            ("npx jest", Runner::Jest),
            ("node --test", Runner::NodeTest),
            ("env CI=1 timeout 60 node --test test/", Runner::NodeTest),
            ("npm test", Runner::Other),
            ("make test", Runner::Other),
            ("pytest && npm test", Runner::Other),
            ("cargo build", Runner::Other),
            ("node server.js", Runner::Other),
            ("", Runner::Other),
        ] {
            assert_eq!(Runner::from_command(command), runner, "{command}");
        }
        assert_eq!(Runner::NodeTest.name(), "node --test");
        assert_eq!(Runner::Cargo.name(), "cargo test");
        assert_eq!(Runner::Pytest.name(), "pytest");
        assert_eq!(
            serde_json::to_string(&Runner::NodeTest).ok().as_deref(),
            Some("\"node_test\"")
        );
    }

    #[test]
    fn clean_line_strips_escapes_and_controls() {
        // OSC 52 (write the clipboard), clear screen, colour, bidi override.
        assert_eq!(clean_line("\x1b]52;c;ZXZpbA==\x07safe"), "safe");
        assert_eq!(clean_line("\x1b[2Jcleared"), "cleared");
        assert_eq!(clean_line("\x1b[31mred\x1b[0m text"), "red text");
        assert_eq!(clean_line("abc\u{202e}fed"), "abcfed");
        // OSC 8 hyperlinks ended by ESC \, DEC charset selection, keypad mode.
        assert_eq!(
            clean_line("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
            "link"
        );
        assert_eq!(clean_line("\x1b(Bplain\x1b="), "plain");
        // 8-bit CSI, NEL, DEL, NUL, CR; tab becomes a space; trailing space goes.
        assert_eq!(clean_line("x\u{9b}31my\u{85}z\x7f\x00\r"), "xyz");
        assert_eq!(clean_line("a\tb  \t"), "a b");
        assert_eq!(clean_line("\u{2066}a\u{2069}\u{202a}b"), "ab");
        // An OSC cut short by a new escape does not leak the new one.
        assert_eq!(clean_line("\x1b]2;title\x1b[31mred"), "red");
        // An unterminated OSC swallows the rest.
        assert_eq!(clean_line("ok\x1b]0;title"), "ok");
        assert_eq!(clean_line("❯ ✓ × é ⎯"), "❯ ✓ × é ⎯");
    }

    #[test]
    fn unittest_failures_errors_and_skips_are_counted() {
        let r = parse(UNITTEST_FAIL);
        assert_eq!(counts(&r), (2, 2, 1));
        assert!(r.summary);
        assert_eq!(
            r.failures,
            paths(&[
                "test_error (tests.test_calc.TestCalc.test_error)",
                "test_add_wrong (tests.test_calc.TestCalc.test_add_wrong)",
            ])
        );
        let v = verdict(UNITTEST_FAIL, Some(1));
        assert_eq!(v.status, TestStatus::Failed);
        assert_eq!(
            v.lines,
            paths(&[
                "ERROR: test_error (tests.test_calc.TestCalc.test_error)",
                "ValueError: boom",
                "FAIL: test_add_wrong (tests.test_calc.TestCalc.test_add_wrong)",
                "AssertionError: 4 != 5",
                "FAILED (failures=1, errors=1, skipped=1)",
            ])
        );
    }

    #[test]
    fn unittest_running_nothing_is_no_tests() {
        let r = parse(UNITTEST_ZERO);
        assert_eq!(counts(&r), (0, 0, 0));
        assert!(r.summary);
        let v = verdict(UNITTEST_ZERO, Some(0));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(v.lines, paths(&["Ran 0 tests in 0.000s"]));
        // Python 3.12 says so and exits 5.
        let v = verdict(UNITTEST_ZERO_312, Some(5));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(v.lines, paths(&["Ran 0 tests in 0.000s", "NO TESTS RAN"]));
        // Only skipped tests: nothing executed (hand-written).
        let skipped =
            "test_a (t.T.test_a) ... skipped 'later'\n\nRan 1 test in 0.000s\n\nOK (skipped=1)\n";
        assert_eq!(counts(&parse(skipped)), (0, 0, 1));
        let v = verdict(skipped, Some(0));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(v.lines, paths(&["OK (skipped=1)"]));
    }

    #[test]
    fn unittest_import_failures_are_build_or_setup_failures() {
        let r = parse(UNITTEST_SYNTAX);
        assert_eq!(counts(&r), (0, 1, 0));
        let v = verdict(UNITTEST_SYNTAX, Some(1));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "File \"/tmp/samples/pc/app/bad.py\", line 1",
                "SyntaxError: invalid syntax",
            ])
        );

        let v = verdict(UNITTEST_MODULE_NOT_FOUND, Some(1));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "File \"/tmp/samples/pc/tests/test_sql.py\", line 2, in <module>",
                "ModuleNotFoundError: No module named 'sqlmodel'",
            ])
        );
        // The same message for a module of the project is an import error.
        let known = paths(&["sqlmodel/__init__.py", "tests/test_sql.py"]);
        let r = parse(UNITTEST_MODULE_NOT_FOUND);
        let v = classify(UNITTEST_MODULE_NOT_FOUND, Some(1), &r, &known);
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines.last().map(String::as_str),
            Some("ModuleNotFoundError: No module named 'sqlmodel'")
        );
    }

    #[test]
    fn pytest_failures_are_counted_with_names_in_both_forms() {
        let names = paths(&[
            "tests/test_many.py::test_delete",
            "tests/test_many.py::test_create",
            "tests/test_many.py::test_raise",
        ]);
        for (output, summary) in [
            (
                PYTEST_FAIL,
                "=================== 3 failed, 10 passed, 1 skipped in 0.05s ====================",
            ),
            (PYTEST_FAIL_Q, "3 failed, 10 passed, 1 skipped in 0.04s"),
        ] {
            let r = parse(output);
            assert_eq!(counts(&r), (10, 3, 1));
            assert_eq!(r.failures, names);
            let v = verdict(output, Some(1));
            assert_eq!(v.status, TestStatus::Failed);
            assert_eq!(
                v.lines,
                paths(&[
                    "FAILED tests/test_many.py::test_delete - assert 404 == 204",
                    "FAILED tests/test_many.py::test_create - AssertionError: wrong id",
                    "FAILED tests/test_many.py::test_raise - KeyError: 'user'",
                    summary,
                ])
            );
        }
    }

    #[test]
    fn pytest_running_nothing_is_no_tests() {
        for (output, line) in [
            (
                PYTEST_ZERO,
                "============================ no tests ran in 0.01s =============================",
            ),
            (PYTEST_ZERO_Q, "no tests ran in 0.00s"),
        ] {
            let r = parse(output);
            assert!(r.summary);
            assert_eq!(counts(&r), (0, 0, 0));
            let v = verdict(output, Some(5));
            assert_eq!(v.status, TestStatus::NoTests);
            assert_eq!(v.lines, paths(&[line]));
        }
    }

    #[test]
    fn pytest_collection_errors_are_setup_or_build_failures() {
        let r = parse(PYTEST_MODULE_NOT_FOUND);
        assert_eq!(counts(&r), (0, 1, 0));
        assert_eq!(r.failures, paths(&["tests/test_flask.py"]));
        let v = verdict(PYTEST_MODULE_NOT_FOUND, Some(2));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "tests/test_flask.py:1: in <module>",
                "E   ModuleNotFoundError: No module named 'sqlmodel'",
            ])
        );

        let v = verdict(PYTEST_IMPORT_ERROR, Some(2));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "tests/test_imp.py:1: in <module>",
                "E   ImportError: cannot import name 'get_todos' from 'app.api' (/tmp/samples/pc/app/api.py)",
            ])
        );

        let v = verdict(PYTEST_SYNTAX, Some(2));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "E     File \"/tmp/samples/pc/app/bad.py\", line 1",
                "E   SyntaxError: invalid syntax",
            ])
        );
        let known = paths(&["app/__init__.py", "app/bad.py", "tests/test_syn.py"]);
        assert_eq!(
            named_paths(PYTEST_SYNTAX, "", &known),
            paths(&["tests/test_syn.py", "app/bad.py"])
        );
    }

    #[test]
    fn cargo_results_are_summed_with_names_and_panics() {
        let r = parse(CARGO_FAIL);
        assert_eq!(counts(&r), (1, 2, 1));
        assert_eq!(r.failures, paths(&["tests::adds_wrong", "tests::panics"]));
        let v = verdict(CARGO_FAIL, Some(101));
        assert_eq!(v.status, TestStatus::Failed);
        assert_eq!(
            v.lines,
            paths(&[
                "---- tests::adds_wrong stdout ----",
                "thread 'tests::adds_wrong' (29696) panicked at src/lib.rs:7:31:",
                "assertion `left == right` failed: two and two",
                "---- tests::panics stdout ----",
                "thread 'tests::panics' (29697) panicked at src/lib.rs:9:27:",
                "boom",
                "test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            ])
        );

        // Unit tests, an integration test and empty doc-tests: three lines summed.
        let r = parse(CARGO_PASS);
        assert_eq!(counts(&r), (4, 0, 1));
        let v = verdict(CARGO_PASS, Some(0));
        assert_eq!(v.status, TestStatus::Passed);
        assert_eq!(
            v.lines,
            paths(&[
                "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s"
            ])
        );
    }

    #[test]
    fn cargo_running_nothing_is_no_tests() {
        let r = parse(CARGO_ZERO);
        assert!(r.summary);
        assert_eq!(counts(&r), (0, 0, 0));
        let v = verdict(CARGO_ZERO, Some(0));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(
            v.lines,
            paths(&[
                "running 0 tests",
                "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            ])
        );
        // Hand-written: only the `running 0 tests` lines.
        let v = verdict("running 0 tests\n\nrunning 0 tests\n", Some(0));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(v.lines, paths(&["running 0 tests"]));
    }

    #[test]
    fn cargo_compile_errors_are_build_failures() {
        let v = verdict(CARGO_BUILD, Some(101));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "error[E0425]: cannot find value `c` in this scope",
                "--> src/lib.rs:1:41",
            ])
        );
        let known = paths(&["Cargo.toml", "src/lib.rs"]);
        assert_eq!(named_paths(CARGO_BUILD, "", &known), paths(&["src/lib.rs"]));
    }

    #[test]
    fn cargo_dependency_failures_are_setup_failures() {
        let v = verdict(CARGO_OFFLINE, Some(101));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&["error: no matching package named `clap` found"])
        );

        let v = verdict(CARGO_NO_NETWORK, Some(101));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "error: failed to get `clap` as a dependency of package `crclap v0.1.0 (/tmp/samples/crclap)`",
                "failed to download from `https://index.crates.io/config.json`",
                "[6] Could not resolve hostname (Could not resolve host: index.crates.io)",
            ])
        );

        let v = verdict(CARGO_OFFLINE_DOWNLOAD, Some(101));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "error: failed to download `anstream v1.0.1`",
                "attempting to make an HTTP request, but --offline was specified",
            ])
        );
        assert_eq!(setup_lines(CARGO_OFFLINE_DOWNLOAD), v.lines);
    }

    #[test]
    fn nextest_summaries_are_counted() {
        // Hand-written in cargo-nextest's shape.
        let out = "        PASS [   0.004s] cr tests::adds\n        FAIL [   0.003s] cr tests::adds_wrong\n------------\n     Summary [   0.005s] 5 tests run: 4 passed, 1 failed, 1 skipped\n";
        let r = parse(out);
        assert_eq!(counts(&r), (4, 1, 1));
        assert_eq!(r.failures, paths(&["cr tests::adds_wrong"]));
    }

    #[test]
    fn go_results_are_counted_with_and_without_v() {
        // Without -v a passing test prints nothing: the `ok` package counts one.
        let r = parse(GO_FAIL);
        assert_eq!(counts(&r), (1, 1, 0));
        assert_eq!(r.failures, paths(&["TestSub"]));
        let v = verdict(GO_FAIL, Some(1));
        assert_eq!(v.status, TestStatus::Failed);
        assert_eq!(
            v.lines,
            paths(&[
                "--- FAIL: TestSub (0.00s)",
                "calc_test.go:13: Sub(2, 1) = 3; want 1",
                "FAIL example.com/calc 0.002s",
            ])
        );

        let r = parse(GO_FAIL_V);
        assert_eq!(counts(&r), (2, 1, 1));
        assert_eq!(r.failures, paths(&["TestSub"]));
        let v = verdict(GO_FAIL_V, Some(1));
        assert_eq!(v.status, TestStatus::Failed);
        assert_eq!(
            v.lines,
            paths(&[
                "--- FAIL: TestSub (0.00s)",
                "calc_test.go:13: Sub(2, 1) = 3; want 1",
                "FAIL example.com/calc 0.010s",
            ])
        );

        let v = verdict(GO_ZERO, Some(0));
        assert!(parse(GO_ZERO).summary);
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(
            v.lines,
            paths(&["?    example.com/calc/cmd [no test files]"])
        );
    }

    #[test]
    fn go_build_and_setup_failures_win_over_other_packages_passing() {
        let r = parse(GO_BUILD);
        assert_eq!(counts(&r), (1, 0, 0));
        let v = verdict(GO_BUILD, Some(2));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "# example.com/calc [example.com/calc.test]",
                "./calc.go:3:37: undefined: y",
                "./calc.go:4:37: undefined: y",
            ])
        );
        let known = paths(&["go.mod", "calc.go", "calc_test.go"]);
        assert_eq!(named_paths(GO_BUILD, "", &known), paths(&["calc.go"]));

        let v = verdict(GO_SETUP, Some(1));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "util/util_test.go:6:2: no required module provides package github.com/stretchr/testify/assert; to add it:"
            ])
        );
        // Hand-written in go's shape: a missing go.sum entry.
        let gosum = "calc_test.go:6:2: missing go.sum entry for module providing package github.com/stretchr/testify (imported by example.com/calc); to add:\n\tgo get -t example.com/calc\nFAIL\texample.com/calc [setup failed]\nFAIL\n";
        assert_eq!(verdict(gosum, Some(1)).status, TestStatus::SetupFailed);
    }

    #[test]
    fn vitest_missing_export_called_in_a_test_is_a_failed_test() {
        // TodoPage.jsx imports `getTodos` from ../api.js, which only exports
        // `listTodos`; the test calls TodoPage(). Vitest does not check the
        // import: the call fails with a TypeError inside the test.
        let r = parse(VITEST_MISSING_EXPORT);
        assert_eq!(counts(&r), (1, 2, 1));
        assert_eq!(
            r.failures,
            paths(&[
                "tests/TodoPage.test.jsx > TodoPage > renders no todos",
                "tests/api.test.js > api > is wrong",
            ])
        );
        let v = verdict(VITEST_MISSING_EXPORT, Some(1));
        assert_eq!(v.status, TestStatus::Failed);
        assert_eq!(
            v.lines,
            paths(&[
                "FAIL  tests/TodoPage.test.jsx > TodoPage > renders no todos",
                "TypeError: getTodos is not a function",
                "❯ TodoPage src/components/TodoPage.jsx:4:10",
                "FAIL  tests/api.test.js > api > is wrong",
                "AssertionError: expected [] to deeply equal [ 1 ]",
                "Tests  2 failed | 1 passed | 1 skipped (4)",
            ])
        );
        let known = paths(&[
            "backend/app.py",
            "frontend/src/api.js",
            "frontend/src/components/TodoPage.jsx",
            "frontend/tests/TodoPage.test.jsx",
            "frontend/tests/api.test.js",
        ]);
        assert_eq!(
            named_paths(VITEST_MISSING_EXPORT, "frontend", &known),
            paths(&[
                "frontend/tests/api.test.js",
                "frontend/tests/TodoPage.test.jsx",
                "frontend/src/components/TodoPage.jsx",
            ])
        );
        // Colours do not change what is read.
        let r = parse(VITEST_COLOURED);
        assert_eq!(counts(&r), (1, 2, 1));
        assert_eq!(r.failures.len(), 2);
    }

    #[test]
    fn vitest_missing_export_called_at_module_scope_is_a_build_failure() {
        // The same import, but TodoPage.jsx calls getTodos() at load: the test
        // file fails to load (`Failed Suites 1`) while another file passes.
        let r = parse(VITEST_MODULE_SCOPE);
        assert_eq!(counts(&r), (1, 0, 0));
        assert_eq!(r.failures, paths(&["tests/TodoPage.test.jsx"]));
        let v = verdict(VITEST_MODULE_SCOPE, Some(1));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "FAIL  tests/TodoPage.test.jsx [ tests/TodoPage.test.jsx ]",
                "TypeError: getTodos is not a function",
                "❯ src/components/TodoPage.jsx:3:17",
            ])
        );
        let known = paths(&[
            "src/api.js",
            "src/components/TodoPage.jsx",
            "tests/TodoPage.test.jsx",
        ]);
        assert_eq!(
            named_paths(VITEST_MODULE_SCOPE, "", &known),
            paths(&["tests/TodoPage.test.jsx", "src/components/TodoPage.jsx"])
        );
    }

    #[test]
    fn vite_names_the_missing_export_and_both_files() {
        let v = verdict(VITE_BUILD_MISSING_EXPORT, Some(1));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "[MISSING_EXPORT] \"getTodos\" is not exported by \"src/api.js\".",
                "╭─[ src/components/TodoPage.jsx:1:10 ]",
            ])
        );
        let known = paths(&[
            "frontend/src/api.js",
            "frontend/src/components/TodoPage.jsx",
        ]);
        assert_eq!(
            named_paths(VITE_BUILD_MISSING_EXPORT, "frontend", &known),
            paths(&[
                "frontend/src/api.js",
                "frontend/src/components/TodoPage.jsx"
            ])
        );
    }

    #[test]
    fn vitest_no_files_missing_modules_and_parse_errors() {
        let r = parse(VITEST_NONE);
        assert!(r.summary);
        let v = verdict(VITEST_NONE, Some(1));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(
            v.lines,
            paths(&["No test files found, exiting with code 1"])
        );

        // A missing package and a missing project file: the package decides.
        let r = parse(VITEST_MISSING_MODULES);
        assert!(r.summary);
        assert_eq!(counts(&r), (0, 0, 0));
        let v = verdict(VITEST_MISSING_MODULES, Some(1));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "Error: Cannot find package 'axios' imported from /tmp/samples/vt3/tests/ax.test.js"
            ])
        );
        let no_axios: String = VITEST_MISSING_MODULES
            .lines()
            .filter(|l| !l.contains("axios"))
            .map(|l| format!("{l}\n"))
            .collect();
        let v = verdict(&no_axios, Some(1));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "Error: Cannot find module '../src/missing.js' imported from /tmp/samples/vt3/tests/rel.test.js",
                "❯ tests/rel.test.js:2:1",
            ])
        );

        let v = verdict(VITEST_PARSE_ERROR, Some(1));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "Error: Transform failed with 1 error:",
                "[PARSE_ERROR] Unexpected token",
                "╭─[ src/broken.jsx:2:17 ]",
            ])
        );
        let known = paths(&["src/broken.jsx", "tests/broken.test.jsx"]);
        assert_eq!(
            named_paths(VITEST_PARSE_ERROR, "", &known),
            paths(&["tests/broken.test.jsx", "src/broken.jsx"])
        );
    }

    #[test]
    fn vite_resolve_errors_of_older_vitest_are_read() {
        // Hand-written in vitest 1's shape.
        let out = " FAIL  src/api.test.js [ src/api.test.js ]\nError: Failed to resolve import \"axios\" from \"src/api.js\". Does the file exist?\n ❯ src/api.js:1:18\n\n Test Files  1 failed (1)\n      Tests  no tests\n";
        assert_eq!(verdict(out, Some(1)).status, TestStatus::SetupFailed);
        let out = out.replace("\"axios\"", "\"./utils\"");
        let v = verdict(&out, Some(1));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines.last().map(String::as_str),
            Some("❯ src/api.js:1:18")
        );
    }

    #[test]
    fn jest_reports_are_read() {
        let r = parse(JEST_FAIL);
        assert_eq!(counts(&r), (2, 1, 1));
        assert_eq!(r.failures, paths(&["api › counts"]));
        let v = verdict(JEST_FAIL, Some(1));
        assert_eq!(v.status, TestStatus::Failed);
        assert_eq!(
            v.lines,
            paths(&[
                "● api › counts",
                "expect(received).toBe(expected) // Object.is equality",
                "Tests:       1 failed, 1 skipped, 2 passed, 4 total",
            ])
        );

        // A test file that cannot load for a missing package: setup, even
        // though another file ran and failed.
        let r = parse(JEST_MISSING_PACKAGE);
        assert_eq!(counts(&r), (2, 1, 1));
        assert_eq!(r.failures, paths(&["api › counts", "__tests__/ax.test.js"]));
        let v = verdict(JEST_MISSING_PACKAGE, Some(1));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&["Cannot find module 'axios' from '__tests__/ax.test.js'"])
        );

        let v = verdict(JEST_PASS, Some(0));
        assert_eq!(v.status, TestStatus::Passed);
        assert_eq!(
            v.lines,
            paths(&["Tests:       1 skipped, 3 passed, 4 total"])
        );

        assert!(parse(JEST_NONE).summary);
        let v = verdict(JEST_NONE, Some(1));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(v.lines, paths(&["No tests found, exiting with code 1"]));
    }

    #[test]
    fn node_test_reports_are_read_from_tap_and_spec() {
        for output in [NODE_FAIL, NODE_SPEC] {
            let r = parse(output);
            assert_eq!(counts(&r), (2, 1, 1));
            assert_eq!(r.failures, paths(&["subtracts"]));
            assert_eq!(verdict(output, Some(1)).status, TestStatus::Failed);
        }
        let v = verdict(NODE_FAIL, Some(1));
        assert_eq!(
            v.lines,
            paths(&[
                "not ok 2 - subtracts",
                "Expected values to be strictly equal:",
                "# fail 1",
            ])
        );

        let v = verdict(NODE_ZERO, Some(0));
        assert!(parse(NODE_ZERO).summary);
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(v.lines, paths(&["# tests 0"]));
    }

    #[test]
    fn node_test_files_that_do_not_load_are_build_or_setup_failures() {
        let r = parse(NODE_MISSING_EXPORT);
        assert_eq!(counts(&r), (0, 1, 0));
        assert_eq!(r.failures, paths(&["/tmp/samples/ntm/test/a.test.js"]));
        let v = verdict(NODE_MISSING_EXPORT, Some(1));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "# file:///tmp/samples/ntm/test/a.test.js:3",
                "# SyntaxError: The requested module '../src/api.js' does not provide an export named 'getTodos'",
            ])
        );
        let known = paths(&["package.json", "src/api.js", "test/a.test.js"]);
        assert_eq!(
            named_paths(NODE_MISSING_EXPORT, "", &known),
            paths(&["test/a.test.js"])
        );

        let v = verdict(NODE_MISSING_PACKAGE, Some(1));
        assert_eq!(v.status, TestStatus::SetupFailed);
        assert_eq!(
            v.lines,
            paths(&[
                "# Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'express' imported from /tmp/samples/ntm/test/b.test.js"
            ])
        );
    }

    #[test]
    fn the_plain_line_is_read_alone_on_its_line() {
        assert_eq!(
            counts(&parse("Results: 5 passed, 1 failed, 2 skipped")),
            (5, 1, 2)
        );
        assert_eq!(counts(&parse("12 passed, 0 failed\n")), (12, 0, 0));
        for not_plain in [
            "we had 5 passed, 1 failed",
            "Results: 5 passed, 1 failed, 2 skipped, 1 todo",
            "5 failed, 1 passed",
            "Two words: 5 passed, 1 failed",
        ] {
            let r = parse(not_plain);
            assert!(!r.summary, "{not_plain}");
            assert_eq!(counts(&r), (0, 0, 0), "{not_plain}");
        }
        assert_eq!(
            verdict("Results: 5 passed, 0 failed", Some(0)).status,
            TestStatus::Passed
        );
        assert_eq!(
            verdict("Results: 0 passed, 0 failed", Some(0)).status,
            TestStatus::NoTests
        );
    }

    #[test]
    fn exit_codes_and_missing_summaries_are_judged() {
        // No summary at all: no tests, whatever the exit code (hand-written).
        for exit in [0, 1] {
            let v = verdict("starting\nall good\n", Some(exit));
            assert_eq!(v.status, TestStatus::NoTests);
            assert_eq!(v.lines, paths(&[NO_SUMMARY]));
        }
        // A failure with exit 0 is still a failure.
        let v = verdict("==== 1 failed, 2 passed in 0.10s ====", Some(0));
        assert_eq!(v.status, TestStatus::Failed);
        // Tests passed but the command failed afterwards.
        let out = "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\nerror: coverage below 80%\n";
        assert_eq!(verdict(out, Some(1)).status, TestStatus::Failed);
        assert_eq!(verdict(out, Some(0)).status, TestStatus::Passed);
        // A compiler message inside a test that ran is that test's failure.
        let out = "FAILED tests/test_x.py::test_eval - SyntaxError: invalid syntax\n==== 1 failed, 2 passed in 0.10s ====\n";
        assert_eq!(verdict(out, Some(1)).status, TestStatus::Failed);
        // tsc before the tests, hand-written: nothing ran.
        let out = "src/api.ts(3,5): error TS2304: Cannot find name 'y'.\n";
        let v = verdict(out, Some(2));
        assert_eq!(v.status, TestStatus::BuildFailed);
        assert_eq!(
            v.lines,
            paths(&["src/api.ts(3,5): error TS2304: Cannot find name 'y'."])
        );
    }

    #[test]
    fn timeouts_keep_the_last_three_lines() {
        let v = verdict("one\ntwo\n\x1b[31mthree\x1b[0m\n\nfour\n\n", None);
        assert_eq!(v.status, TestStatus::Timeout);
        assert_eq!(v.lines, paths(&["two", "three", "four"]));
        // Even with a summary: the run was killed.
        assert_eq!(verdict(CARGO_PASS, None).status, TestStatus::Timeout);
    }

    #[test]
    fn setup_lines_name_the_package_and_the_network_error() {
        assert_eq!(
            setup_lines(PIP_NO_DISTRIBUTION),
            paths(&[
                "ERROR: Could not find a version that satisfies the requirement flask (from versions: none)",
                "ERROR: No matching distribution found for flask",
            ])
        );
        assert_eq!(
            setup_lines(NPM_NO_NETWORK),
            paths(&[
                "npm error code EAI_AGAIN",
                "npm error request to https://registry.npmjs.org/express failed, reason: getaddrinfo EAI_AGAIN registry.npmjs.org",
            ])
        );
        assert_eq!(
            setup_lines("a\n\nb\nc\n\x1b[1md\x1b[0m\ne\nf\n\n"),
            paths(&["b", "c", "d", "e", "f"])
        );
        // pip's error lines are no unittest names.
        let r = parse(PIP_NO_DISTRIBUTION);
        assert!(r.failures.is_empty());
        assert!(!r.summary);
    }

    #[test]
    fn named_paths_resolve_relative_and_absolute_mentions() {
        let known = paths(&[
            "src/main.rs",
            "src/api.js",
            "backend/app/x.py",
            "frontend/src/App.jsx",
            "frontend/src/api.js",
            "tests/backend/test_auth.py",
            "x.go",
        ]);
        let out = " --> src/main.rs:3:5\n  File \"/abs/scratch/backend/app/x.py\", line 3, in f\n    at f (/abs/scratch/frontend/src/App.jsx:10:3)\ntests/backend/test_auth.py:12: AssertionError\n./x.go:3:1: undefined: y\n --> src/main.rs:9:1\nsee https://example.com/src/api.js and /elsewhere/api.js\n";
        assert_eq!(
            named_paths(out, "", &known),
            paths(&[
                "src/main.rs",
                "backend/app/x.py",
                "frontend/src/App.jsx",
                "tests/backend/test_auth.py",
                "x.go",
            ])
        );
        // Relative to the component's root; an absolute path takes the longest
        // known path it ends with.
        let out = "\"getTodos\" is not exported by \"src/api.js\"\n    at load (/tmp/w/frontend/src/api.js:1:1)\n";
        assert_eq!(
            named_paths(out, "frontend", &known),
            paths(&["frontend/src/api.js"])
        );
        assert_eq!(
            named_paths(out, "", &known),
            paths(&["src/api.js", "frontend/src/api.js"])
        );
        assert_eq!(
            named_paths("❯ ../src/api.js:1:1\n", "frontend/src", &known),
            paths(&["frontend/src/api.js"])
        );
        assert!(named_paths("❯ ../../../etc/passwd:1:1\n", "frontend", &known).is_empty());
    }

    #[test]
    fn hostile_counts_saturate_and_names_are_bounded() {
        let out = "Ran 4294967295 tests in 0s\nRan 4294967295 tests in 0s\nOK\n\
                   test result: ok. 4294967295 passed; 4294967295 failed; 0 ignored\n\
                   # pass 4294967295\n# fail 4294967295\n";
        let r = parse(out);
        assert_eq!((r.passed, r.failed), (u32::MAX, u32::MAX));
        let many: String = (0..80)
            .map(|i| format!("--- FAIL: Test{i} (0.00s)\n"))
            .collect();
        let r = parse(&many);
        assert_eq!(r.failures.len(), 50);
        assert_eq!(r.failed, 80);
        let long = format!("--- FAIL: Test{} (0.00s)\n", "x".repeat(1000));
        assert_eq!(parse(&long).failures[0].chars().count(), 300);
        let v = verdict(&long, Some(1));
        assert!(v.lines.iter().all(|l| l.chars().count() <= 300));
        // Escape sequences in a name do not survive.
        let r = parse("--- FAIL: Test\x1b]52;c;eA==\x07Evil (0.00s)\n");
        assert_eq!(r.failures, paths(&["TestEvil"]));
    }
}
