//! The decisive lines of a run: what tells a missing dependency, a build
//! or import error, or a failing assertion.

use super::*;

/// Whether `line` is an error message line: `TypeError: …`,
/// `AssertionError [ERR_ASSERTION]: …`, `Cannot find module …`.
pub(super) fn is_error_line(line: &str) -> bool {
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
pub(super) fn with_location(
    out: &mut Lines,
    lines: &[String],
    i: usize,
    stop: impl Fn(&str) -> bool,
) {
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
pub(super) fn python_missing_module(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("No module named '")?;
    rest.split('\'').next()
}

/// The specifier in `Cannot find module 'x'`, `Cannot find package 'x'`,
/// vite's `Failed to resolve import "x"` and `Failed to load url x`.
pub(super) fn js_missing_module(line: &str) -> Option<&str> {
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
pub(super) fn is_project_path(name: &str, known: &[String], python: bool) -> bool {
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
pub(super) fn is_bare(spec: &str) -> bool {
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
pub(super) const NPM_CODES: [&str; 11] = [
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
pub(super) const SETUP_MARKERS: [&str; 20] = [
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
pub(super) fn is_setup_line(line: &str, known: &[String]) -> bool {
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
pub(super) fn setup_evidence(lines: &[String], known: &[String]) -> Vec<String> {
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
pub(super) fn is_build_line(line: &str, known: &[String]) -> bool {
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
pub(super) fn is_go_error(line: &str) -> bool {
    line.split_once(".go:").is_some_and(|(_, rest)| {
        let mut parts = rest.splitn(3, ':');
        parts.next().is_some_and(is_number) && parts.next().is_some_and(is_number)
    })
}

/// Decisive lines of a compile or import failure, or of a test file that
/// failed to load; empty when there is neither.
pub(super) fn build_evidence(scan: &Scan, known: &[String]) -> Vec<String> {
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
pub(super) fn is_block_end(line: &str) -> bool {
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
pub(super) fn load_lines(out: &mut Lines, lines: &[String], at: usize) {
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
pub(super) fn failed_lines(scan: &Scan, report: &Report) -> Vec<String> {
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
pub(super) fn assertion_after<'a>(
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
