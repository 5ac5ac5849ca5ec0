//! One pass over a run's output lines: every known runner's summary and
//! failing-test lines, into counts and the positions later steps quote.

use super::*;

/// Everything read from one output: the report, and where its parts were.
#[derive(Default)]
pub(super) struct Scan {
    /// What the runners reported.
    pub(super) report: Report,
    /// The output's lines, cleaned and trimmed.
    pub(super) lines: Vec<String>,
    /// Every line a failing name was read from (a name may appear on several).
    pub(super) name_at: Vec<(String, usize)>,
    /// Summary lines (counts), in order.
    pub(super) summary_at: Vec<usize>,
    /// Lines saying that nothing ran (`Ran 0 tests`, `no tests ran`, …).
    pub(super) zero_at: Vec<usize>,
    /// Lines saying that a test file failed to load.
    pub(super) load_at: Vec<usize>,
}

/// Counts read from one summary line.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) passed: u32,
    pub(super) failed: u32,
    pub(super) skipped: u32,
}

/// One line of a runner's output, split once for every reader.
struct Line<'a> {
    /// The line's index in the output, from 0.
    i: usize,
    /// The line, without its newline.
    text: &'a str,
    /// The line's words, split at whitespace.
    words: Vec<&'a str>,
    /// The first word, or "".
    first: &'a str,
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
pub(super) struct State {
    /// unittest: tests run (`Ran N tests`), if a `Ran` line was seen.
    pub(super) unittest_ran: Option<u32>,
    pub(super) unittest_failed: u32,
    pub(super) unittest_skipped: u32,
    /// go: `--- PASS:` lines seen, and `ok` packages.
    pub(super) go_pass_lines: u32,
    pub(super) go_ok_packages: u32,
    /// vitest `×` / jest `✕` names, used when no header line named them.
    pub(super) marked: Vec<(String, usize)>,
    /// node TAP: the last `not ok` name, and names that turned out to be suites.
    pub(super) last_not_ok: Option<String>,
    pub(super) node_suites: Vec<String>,
    /// jest: the file of the last `FAIL file` line.
    pub(super) jest_file: Option<String>,
}

impl Scan {
    pub(super) fn read(output: &str) -> Scan {
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

    /// Reads one line of a runner's output: the first runner whose format
    /// the line matches takes it (cargo, nextest, pytest, unittest, go,
    /// vitest, jest, node), else a plain summary line may count.
    fn read_line(&mut self, st: &mut State, i: usize, l: &str) {
        if l.is_empty() {
            return;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let line = Line {
            i,
            text: l,
            first: words.first().copied().unwrap_or(""),
            words,
        };
        let _ = self.cargo_test(&line)
            || self.nextest(&line)
            || self.pytest(&line)
            || self.unittest(st, &line)
            || self.go_test(st, &line)
            || self.vitest(st, &line)
            || self.jest(st, &line)
            || self.node_test(st, &line)
            || self.plain(&line);
    }

    /// Cargo test: whether the line was one of its lines.
    fn cargo_test(&mut self, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
        let first = line.first;
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
            return true;
        }
        if let Some(name) = l
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            self.name(name, i);
            return true;
        }
        if first == "test"
            && let Some(name) = l
                .strip_prefix("test ")
                .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            self.name(name, i);
            return true;
        }
        if l == "running 0 tests" {
            self.zero_at.push(i);
            return true;
        }
        false
    }

    /// Cargo nextest: whether the line was one of its lines.
    fn nextest(&mut self, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
        let words = &line.words;
        let first = line.first;
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
                return true;
            }
        }
        if first == "FAIL"
            && words.get(1).is_some_and(|w| w.starts_with('['))
            && let Some((_, name)) = l.split_once("] ")
        {
            self.name(name, i);
            return true;
        }
        false
    }

    /// Pytest: whether the line was one of its lines.
    fn pytest(&mut self, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
        let words = &line.words;
        let first = line.first;
        if let Some(counts) = pytest_summary(l) {
            self.summary(i, &counts);
            return true;
        }
        if first == "FAILED" || first == "ERROR" {
            let rest = l[first.len()..].trim_start();
            let name = rest.split(" - ").next().unwrap_or(rest).trim();
            if name.contains("::") || (first == "ERROR" && name.ends_with(".py")) {
                self.name(name, i);
                return true;
            }
        }
        if words.len() >= 2 && words[0].contains("::") && matches!(words[1], "FAILED" | "ERROR") {
            self.name(words[0], i);
            return true;
        }
        let bare = l.trim_matches(|c| c == '_' || c == '!' || c == '=' || c == ' ');
        if bare.starts_with("ERROR collecting ")
            || bare.contains("error during collection")
            || bare.contains("errors during collection")
        {
            self.load_at.push(i);
            return true;
        }
        false
    }

    /// Unittest: whether the line was one of its lines.
    fn unittest(&mut self, st: &mut State, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
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
                return true;
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
            return true;
        }
        for prefix in ["FAIL: ", "ERROR: ", "UNEXPECTED SUCCESS: "] {
            if let Some(name) = l.strip_prefix(prefix)
                && is_unittest_name(name)
            {
                if name.contains("unittest.loader._FailedTest") {
                    self.load_at.push(i);
                }
                self.name(name, i);
                return true;
            }
        }
        false
    }

    /// Go test: whether the line was one of its lines.
    fn go_test(&mut self, st: &mut State, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
        let words = &line.words;
        let first = line.first;
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
                return true;
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
            return true;
        }
        let go_broken = l.ends_with("[build failed]") || l.ends_with("[setup failed]");
        if first == "FAIL" && words.len() >= 3 && (go_time(words.get(2)) || go_broken) {
            self.report.summary = true;
            self.summary_at.push(i);
            if go_broken {
                self.load_at.push(i);
            }
            return true;
        }
        if first == "?" && l.ends_with("[no test files]") {
            self.report.summary = true;
            self.summary_at.push(i);
            self.zero_at.push(i);
            return true;
        }
        if l.contains("testing: warning: no tests to run") {
            self.zero_at.push(i);
            return true;
        }
        false
    }

    /// Vitest: whether the line was one of its lines.
    fn vitest(&mut self, st: &mut State, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
        let first = line.first;
        if let Some(rest) = l.strip_prefix("Tests ") {
            let rest = rest.trim();
            if rest == "no tests" {
                self.summary(i, &Counts::default());
                return true;
            }
            if let Some(counts) = vitest_counts(rest) {
                self.summary(i, &counts);
                return true;
            }
        }
        if let Some(rest) = l.strip_prefix("Test Files ")
            && vitest_counts(rest.trim()).is_some()
        {
            self.report.summary = true;
            return true;
        }
        if l.starts_with("No test files found") {
            self.report.summary = true;
            self.zero_at.push(i);
            return true;
        }
        if l.contains("Failed Suites ") && l.starts_with('⎯') {
            self.load_at.push(i);
            return true;
        }
        if first == "FAIL" {
            let rest = l[4..].trim();
            if let Some((file, _)) = rest.split_once(" [ ")
                && rest.ends_with(" ]")
            {
                self.load_at.push(i);
                self.name(file, i);
                return true;
            }
            if rest.contains(" > ") {
                self.name(rest, i);
                return true;
            }
        }
        for mark in ["× ", "✕ "] {
            if let Some(rest) = l.strip_prefix(mark) {
                st.marked.push((strip_duration(rest).to_string(), i));
                return true;
            }
        }
        false
    }

    /// Jest: whether the line was one of its lines.
    fn jest(&mut self, st: &mut State, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
        let words = &line.words;
        let first = line.first;
        if let Some(rest) = l.strip_prefix("Tests:")
            && let Some(counts) = jest_counts(rest)
        {
            self.summary(i, &counts);
            return true;
        }
        if l.starts_with("Test Suites:") {
            self.report.summary = true;
            return true;
        }
        if l.starts_with("No tests found") {
            self.report.summary = true;
            self.zero_at.push(i);
            return true;
        }
        if first == "FAIL" && words.len() >= 2 {
            st.jest_file = Some(words[1].to_string());
            return true;
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
            return true;
        }
        false
    }

    /// Node --test (TAP and spec reporters): whether the line was one of its lines.
    fn node_test(&mut self, st: &mut State, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
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
                _ => return true,
            }
            self.report.summary = true;
            if key == "tests" {
                self.summary_at.push(i);
            }
            if key == "fail" && n > 0 {
                self.summary_at.push(i);
            }
            return true;
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
            return true;
        }
        if l == "type: 'suite'" {
            if let Some(name) = st.last_not_ok.take() {
                st.node_suites.push(name);
            }
            return true;
        }
        if l.starts_with("ok ") || l.starts_with("# Subtest:") {
            st.last_not_ok = None;
            return true;
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
            return true;
        }
        false
    }

    /// The plain line: whether the line was a summary it counted.
    fn plain(&mut self, line: &Line) -> bool {
        let i = line.i;
        let l = line.text;
        let Some(counts) = plain_counts(l) else {
            return false;
        };
        self.summary(i, &counts);
        true
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
pub(super) fn is_unittest_name(name: &str) -> bool {
    name.ends_with(')')
        && name.split_once(" (").is_some_and(|(head, rest)| {
            !head.is_empty()
                && !head.contains(' ')
                && rest.split(')').next().is_some_and(|id| !id.contains(' '))
        })
}

/// Whether `name` is a test file's path (a node --test failure named by its
/// file: the file failed as a whole, e.g. did not load).
pub(super) fn is_script_path(name: &str) -> bool {
    let name = name.trim();
    (name.contains('/') || name.contains('\\'))
        && !name.contains(' ')
        && [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Whether `word` is a duration like go's `0.002s`.
pub(super) fn is_duration(word: &str) -> bool {
    word.strip_suffix('s')
        .is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok())
}

/// `text` without a trailing duration (`7ms`, `(3 ms)`, `1.2s`).
pub(super) fn strip_duration(text: &str) -> &str {
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
pub(super) fn counts_of(
    text: &str,
    sep: &str,
    slot: impl Fn(&str) -> Option<u8>,
) -> Option<Counts> {
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
pub(super) fn pytest_summary(line: &str) -> Option<Counts> {
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
pub(super) fn vitest_counts(text: &str) -> Option<Counts> {
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
pub(super) fn jest_counts(text: &str) -> Option<Counts> {
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
pub(super) fn plain_counts(line: &str) -> Option<Counts> {
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
pub(super) fn unprefix(line: &str) -> &str {
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
pub(super) fn is_frame_before(line: &str) -> bool {
    let l = unprefix(line);
    (l.starts_with("File \"") && l.contains("\", line "))
        || (l.contains(".py:") && l.contains(": in "))
        || (l.starts_with("file://") && l.rsplit(':').next().is_some_and(is_number))
}

/// Whether `line` is a location that comes after its error: rustc `-->
/// src/x.rs:1:2`, vitest `❯ src/x.jsx:3:17`, rolldown `╭─[ src/x.jsx:1:10 ]`.
pub(super) fn is_location_after(line: &str) -> bool {
    let l = line.trim();
    l.starts_with("--> ")
        || l.starts_with("╭─[")
        || (l.starts_with("❯ ") && l.contains(':') && l.bytes().any(|b| b.is_ascii_digit()))
}

pub(super) fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
