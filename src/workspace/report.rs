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

/// Markers of a package registry that could not be reached: name
/// resolution, refused or reset connections, cargo's `--offline` with
/// crates that were never fetched.
const UNREACHABLE: [&str; 14] = [
    "Could not resolve host",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Failed to establish a new connection",
    "spurious network error",
    "attempting to make an HTTP request, but --offline was specified",
    "EAI_AGAIN",
    "ENOTFOUND",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
    "dial tcp: lookup",
];

/// The marker that says a setup or test output could not reach a package
/// registry (the machine's problem, not the code's), if one is there.
pub fn unreachable(output: &str) -> Option<&'static str> {
    UNREACHABLE.into_iter().find(|m| output.contains(m))
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

/// `text` without escape sequences and controls, trailing whitespace
/// trimmed: [`crate::sanitize::strip_line`], the one sanitiser's treatment of
/// test runners' output (their colours are expected, their lines parsed).
pub fn clean_line(text: &str) -> String {
    crate::sanitize::strip_line(text)
}

/// A line cut to [`MAX_LINE_CHARS`] characters, redacted of the registered
/// key values first ([`crate::secrets::redact`]: a cut key no longer matches).
fn cut(line: &str) -> String {
    crate::secrets::redact::redacted(line)
        .chars()
        .take(MAX_LINE_CHARS)
        .collect()
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

mod evidence;
mod paths;
mod scan;

use evidence::*;
pub use paths::named_paths;
use scan::*;

#[cfg(test)]
mod tests;
