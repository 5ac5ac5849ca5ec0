//! SEARCH/REPLACE edits applied strictly (docs/design.md §1, "Edits"): each
//! block's SEARCH must match exactly one place of the current file, whole
//! lines, byte for byte including indentation; the blocks of one file apply
//! in order, each to the file as the blocks before it left it. A block that
//! matches nothing or several places is not applied, and the error says why
//! with the nearest candidates (the lines most like SEARCH, or every match's
//! lines), so that the model can correct it in one retry. A difference in
//! whitespace only is named as such but never applied: a guess could change
//! code the model did not mean to change (Aider's `diff` format, whose
//! "flexible" matching quorum deliberately does not copy; aider.chat/docs/
//! more/edit-formats.html). Pure functions; the orchestrator stages the
//! result exactly like a whole file.

use std::fmt;

use super::file_blocks::Edit;

/// SEARCH lines scored per candidate window, at most: longer SEARCH texts
/// are sampled evenly (first and last line included), which bounds the
/// search for the nearest lines at this many line comparisons per window
/// (a 2,000-line file: under 0.1 s in a debug build).
const SAMPLED_LINES: usize = 12;

/// Characters of a line compared when scoring, at most.
const SCORED_CHARS: usize = 160;

/// Windows of a file scored in full when looking for the nearest lines, at
/// most: a longer file is scanned at a stride first, then around its best
/// windows line by line, so that the search costs about the same on a
/// 100,000-line file as on a 4,000-line one.
const SCORED_WINDOWS: usize = 4_000;

/// Best windows of a strided scan that are looked at line by line.
const REFINED_WINDOWS: usize = 4;

/// Lines of a candidate quoted back to the model, at most.
const QUOTED_LINES: usize = 40;

/// Matches listed for a SEARCH that matches several places, at most.
const LISTED_MATCHES: usize = 10;

/// Why one block of a file's edits was not applied.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockFailure {
    /// The block's number among the file's edits, from 1.
    pub block: usize,
    /// The first non-blank line of its SEARCH text (`""` when it is empty).
    pub first_line: String,
    /// The reason, then the candidates, as told to the model (may span lines).
    pub reason: String,
    /// The reason in a few words, for a one-line summary.
    pub short: String,
}

/// The edits of one file that could not be applied: none of them is.
#[derive(Clone, Debug, PartialEq)]
pub struct EditError {
    /// The file, as the reply named it.
    pub path: String,
    /// Each failing block, in order.
    pub failures: Vec<BlockFailure>,
}

impl EditError {
    /// The error for edits to a file that cannot be read as text (`reason`):
    /// it must be written whole.
    pub fn unreadable(path: &str, reason: &str) -> EditError {
        EditError {
            path: path.to_string(),
            failures: vec![BlockFailure {
                block: 1,
                first_line: String::new(),
                reason: format!("the file cannot be edited ({reason}): write it whole."),
                short: "cannot be edited".into(),
            }],
        }
    }
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let first = if failure.first_line.is_empty() {
                String::new()
            } else {
                format!(" (SEARCH starting `{}`)", failure.first_line)
            };
            write!(
                f,
                "- `{}`, edit block {}{first}: {}",
                self.path, failure.block, failure.reason
            )?;
        }
        Ok(())
    }
}

/// The lines of `text`, each with its line end (the last may have none).
fn lines_of(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// A line without its line end (`\n` or `\r\n`).
fn body(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// A line with its runs of whitespace made one space, and trimmed.
fn squeezed(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where `search` (line bodies) matches `file` (lines), as start indices.
fn matches(file: &[&str], search: &[&str], same: impl Fn(&str, &str) -> bool) -> Vec<usize> {
    if search.is_empty() || search.len() > file.len() {
        return Vec::new();
    }
    (0..=file.len() - search.len())
        .filter(|&i| {
            search
                .iter()
                .enumerate()
                .all(|(j, s)| same(body(file[i + j]), s))
        })
        .collect()
}

/// 1-based line ranges of the matches starting at `starts`, `n` lines each:
/// `lines 120 and 877`, `lines 3-5, 9-11 and 20-22`.
fn line_list(starts: &[usize], n: usize) -> String {
    let shown: Vec<String> = starts
        .iter()
        .take(LISTED_MATCHES)
        .map(|&i| {
            if n <= 1 {
                (i + 1).to_string()
            } else {
                format!("{}-{}", i + 1, i + n)
            }
        })
        .collect();
    let mut list = match shown.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    if starts.len() > LISTED_MATCHES {
        list.push_str(&format!(" (and {} more)", starts.len() - LISTED_MATCHES));
    }
    let word = if starts.len() == 1 && n <= 1 {
        "line"
    } else {
        "lines"
    };
    format!("{word} {list}")
}

/// The lines `start..start + n` of `file`, numbered as `  12 | code`.
fn quote(file: &[&str], start: usize, n: usize) -> String {
    let end = (start + n).min(file.len());
    let width = end.to_string().len();
    let mut out = String::new();
    for (i, line) in file[start..end].iter().enumerate().take(QUOTED_LINES) {
        out.push_str(&format!("    {:>width$} | {}\n", start + i + 1, body(line)));
    }
    if end - start > QUOTED_LINES {
        out.push_str(&format!(
            "    … ({} more lines)\n",
            end - start - QUOTED_LINES
        ));
    }
    out
}

/// How alike two lines are, 0 to 1 (normalised Levenshtein over at most
/// [`SCORED_CHARS`] characters of each, `strsim`).
fn line_score(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let cut = |s: &str| -> String { s.chars().take(SCORED_CHARS).collect() };
    strsim::normalized_levenshtein(&cut(a), &cut(b))
}

/// The windows of `file` with as many lines as `search` that are most like
/// it, best first: at most two, not overlapping, the second only when it is
/// nearly as good as the first. Each is (start, score).
fn nearest(file: &[&str], search: &[&str]) -> Vec<(usize, f64)> {
    let n = search.len();
    if n == 0 || file.is_empty() {
        return Vec::new();
    }
    let n = n.min(file.len());
    let sampled: Vec<usize> = if n <= SAMPLED_LINES {
        (0..n).collect()
    } else {
        (0..SAMPLED_LINES)
            .map(|k| k * (n - 1) / (SAMPLED_LINES - 1))
            .collect()
    };
    let score = |i: usize| {
        let total: f64 = sampled
            .iter()
            .map(|&j| line_score(body(file[i + j]).trim(), search[j].trim()))
            .sum();
        (i, total / sampled.len() as f64)
    };
    let windows = file.len() - n + 1;
    let step = windows.div_ceil(SCORED_WINDOWS).max(1);
    let mut scored: Vec<(usize, f64)> = (0..windows).step_by(step).map(score).collect();
    if step > 1 {
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let best: Vec<usize> = scored.iter().take(REFINED_WINDOWS).map(|w| w.0).collect();
        for start in best {
            let around = start.saturating_sub(step)..(start + step).min(windows);
            scored.extend(around.filter(|i| i % step != 0).map(score));
        }
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let Some(&best) = scored.first() else {
        return Vec::new();
    };
    let mut out = vec![best];
    if let Some(&second) = scored
        .iter()
        .find(|(i, _)| i.abs_diff(best.0) >= n && best.1 > 0.0)
        && second.1 >= 0.8 * best.1
    {
        out.push(second);
    }
    out
}

/// `true` when every non-blank line of SEARCH starts like a numbered line
/// of the inputs (`  12 | code`).
fn numbered(search: &[&str]) -> bool {
    let mut filled = search.iter().filter(|l| !l.trim().is_empty()).peekable();
    filled.peek().is_some()
        && filled.all(|l| {
            l.trim_start()
                .split_once(" | ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
}

/// Why `search` (line bodies, not empty) does not match exactly once in
/// `file`, or `None` when it does; with the reason in a few words.
fn no_single_match(file: &[&str], search: &[&str], starts: &[usize]) -> Option<(String, String)> {
    let n = search.len();
    if starts.len() > 1 {
        let short = format!("matches {} places", starts.len());
        return Some((
            format!(
                "matches {} places: {}. Include more of the surrounding lines in SEARCH so that it matches exactly one place.",
                starts.len(),
                line_list(starts, n)
            ),
            short,
        ));
    }
    if !starts.is_empty() {
        return None;
    }
    let mut reason = "matches nothing.".to_string();
    if numbered(search) {
        reason.push_str(
            " SEARCH carries line numbers (`  12 | `): the lines must be copied without them.",
        );
    }
    let loose = matches(file, search, |a, b| squeezed(a) == squeezed(b));
    if !loose.is_empty() {
        reason.push_str(&format!(
            " It matches if whitespace is ignored, at {}, but it is not applied: copy the lines exactly, with their indentation.",
            line_list(&loose, n)
        ));
    }
    let candidates = nearest(file, search);
    if !candidates.is_empty() {
        reason.push_str(" The nearest lines of the current file:\n");
        for (start, _) in candidates {
            reason.push_str(&quote(file, start, n));
        }
        reason.push_str("  Copy SEARCH exactly from the file as shown in the inputs.");
    }
    let short = if loose.is_empty() {
        "matches nothing"
    } else {
        "matches only if whitespace is ignored"
    };
    Some((reason, short.to_string()))
}

/// `file` (lines) with `n` lines at `start` replaced by `replace`, in the
/// file's line ends; a file without a final line end keeps none.
fn replaced(file: &[&str], start: usize, n: usize, replace: &str) -> String {
    let crlf = file.get(start).is_some_and(|l| l.ends_with("\r\n"));
    let mut out: String = file[..start].concat();
    let mut new: String = replace
        .lines()
        .map(|l| {
            if crlf {
                format!("{l}\r\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let at_end = start + n == file.len();
    let open_end = file.last().is_some_and(|l| !l.ends_with('\n'));
    if at_end && open_end && n > 0 {
        while new.ends_with('\n') || new.ends_with('\r') {
            new.pop();
        }
    }
    out.push_str(&new);
    out.push_str(&file[start + n..].concat());
    out
}

/// The first non-blank line of SEARCH, trimmed, at most 80 characters.
fn first_line(search: &str) -> String {
    let line = search.lines().map(str::trim).find(|l| !l.is_empty());
    line.map(|l| l.chars().take(80).collect())
        .unwrap_or_default()
}

/// Applies `edits` to `original` (the file's current content; `None` when it
/// does not exist) in order, each to the file as the blocks before it left
/// it. For a file that does not exist, every SEARCH must be empty and the
/// file is the REPLACE texts in order.
///
/// Errors: every block that matches nothing or several places, or whose
/// SEARCH is empty for a file that exists (none of the edits is applied);
/// its reason carries the nearest candidates with their line numbers.
pub fn apply(path: &str, original: Option<&str>, edits: &[Edit]) -> Result<String, EditError> {
    let fail = |failures| EditError {
        path: path.to_string(),
        failures,
    };
    let Some(original) = original else {
        if edits.iter().all(|e| e.search.trim().is_empty()) {
            return Ok(edits.iter().map(|e| e.replace.as_str()).collect());
        }
        return Err(fail(vec![BlockFailure {
            block: edits
                .iter()
                .position(|e| !e.search.trim().is_empty())
                .unwrap_or(0)
                + 1,
            first_line: edits
                .iter()
                .map(|e| first_line(&e.search))
                .find(|l| !l.is_empty())
                .unwrap_or_default(),
            reason:
                "the file does not exist yet: write it whole, as a fenced block of its content."
                    .into(),
            short: "the file does not exist".into(),
        }]));
    };
    let mut content = original.to_string();
    let mut failures = Vec::new();
    let mut changed_before = false;
    for (k, edit) in edits.iter().enumerate() {
        let search: Vec<&str> = edit.search.lines().collect();
        let file = lines_of(&content);
        let problem = if search.iter().all(|l| l.trim().is_empty()) {
            Some((
                "an empty SEARCH is not allowed for a file that exists: give the exact lines to replace (or write the whole file).".to_string(),
                "empty SEARCH".to_string(),
            ))
        } else {
            let starts = matches(&file, &search, |a, b| a == b);
            match no_single_match(&file, &search, &starts) {
                None => {
                    let next = replaced(&file, starts[0], search.len(), &edit.replace);
                    changed_before |= next != content;
                    content = next;
                    continue;
                }
                some => some,
            }
        };
        if let Some((mut reason, short)) = problem {
            if changed_before {
                reason.push_str(
                    "\n  (Line numbers are of the file as the blocks before this one left it.)",
                );
            }
            failures.push(BlockFailure {
                block: k + 1,
                first_line: first_line(&edit.search),
                reason,
                short,
            });
        }
    }
    if failures.is_empty() {
        Ok(content)
    } else {
        Err(fail(failures))
    }
}

/// SEARCH/REPLACE edits that turn `old` into `new`: one block per group of
/// changed lines with up to three lines of context around it (`similar`'s
/// grouped line diff), checked by applying them. `None` when the files are
/// the same, `old` is empty, or the blocks would not apply to give exactly
/// `new` (a SEARCH not unique, say): then the file is written whole. The
/// simulated team answers with these when asked for edits.
pub fn diff_edits(old: &str, new: &str) -> Option<Vec<Edit>> {
    if old == new || old.is_empty() {
        return None;
    }
    let (old_lines, new_lines) = (lines_of(old), lines_of(new));
    let joined =
        |lines: &[&str]| -> String { lines.iter().map(|l| format!("{}\n", body(l))).collect() };
    let diff = similar::TextDiff::from_lines(old, new);
    let mut edits = Vec::new();
    for group in diff.grouped_ops(3) {
        let (first, last) = (group.first()?, group.last()?);
        let from = first.old_range().start..last.old_range().end;
        let to = first.new_range().start..last.new_range().end;
        edits.push(Edit {
            search: joined(old_lines.get(from)?),
            replace: joined(new_lines.get(to)?),
        });
    }
    let applied = apply("", Some(old), &edits).ok()?;
    (applied == new).then_some(edits)
}

/// The problem told to the model (the validation retry, `tasks.rs`) when
/// the edits of one or more files could not be applied: a first line that
/// sums it up (shown in the transcript), then every failing block with its
/// reason and candidates, then what to send again.
pub fn problem(errors: &[EditError]) -> String {
    let count: usize = errors.iter().map(|e| e.failures.len()).sum();
    let summary: Vec<String> = errors
        .iter()
        .flat_map(|e| {
            e.failures
                .iter()
                .map(move |f| format!("`{}` block {} {}", e.path, f.block, f.short))
        })
        .collect();
    let mut out = format!(
        "{count} edit block(s) could not be applied, so none of the reply's files was staged ({}).\n",
        summary.join("; ")
    );
    for e in errors {
        out.push_str(&format!("{e}\n"));
    }
    out.push_str(
        "Send the whole reply again, every file block, with the failing blocks corrected: each SEARCH must match exactly one place of the current file, whole lines, byte for byte including indentation, without line numbers.",
    );
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A 2,000-line Python file: 400 functions of five lines each, each
    /// distinct by its number, the bodies alike.
    fn big_file() -> String {
        (0..400)
            .map(|i| {
                format!(
                    "def handler_{i}(request):\n    value = request.get(\"k{i}\")\n    if value is None:\n        return {i}\n    return value * 2\n"
                )
            })
            .collect()
    }

    /// On a file too long to score every window, the strided scan and its
    /// refinement still find the window a near-miss SEARCH was meant for.
    #[test]
    fn the_nearest_lines_are_found_in_a_100000_line_file() {
        let lines: Vec<String> = (0..100_000)
            .map(|i| format!("    let value_{i} = compute({i}, \"{}\");", i % 7))
            .collect();
        let file: Vec<&str> = lines.iter().map(String::as_str).collect();
        let wanted = 77_777;
        let mut search: Vec<String> = lines[wanted..wanted + 5].to_vec();
        search[2] = search[2].replace("compute", "compute_all");
        let search: Vec<&str> = search.iter().map(String::as_str).collect();
        let found = nearest(&file, &search);
        assert_eq!(found.first().map(|w| w.0), Some(wanted), "{found:?}");
    }

    #[test]
    fn a_block_on_a_2000_line_file_changes_only_its_lines() {
        let original = big_file();
        assert_eq!(original.lines().count(), 2000);
        let edits = [
            Edit::new(
                "def handler_120(request):\n    value = request.get(\"k120\")\n",
                "def handler_120(request, default=0):\n    value = request.get(\"k120\", default)\n",
            ),
            Edit::new("        return 250\n", "        return -1\n"),
            Edit::new(
                "def handler_399(request):\n    value = request.get(\"k399\")\n    if value is None:\n        return 399\n    return value * 2\n",
                "",
            ),
        ];
        let new = apply("app.py", Some(&original), &edits).unwrap();
        let before: Vec<&str> = original.lines().collect();
        let after: Vec<&str> = new.lines().collect();
        assert_eq!(after.len(), 1995);
        let changed: Vec<usize> = (0..after.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        assert_eq!(
            changed,
            [600, 601, 1253],
            "handler_120's two lines, handler_250's return"
        );
        assert_eq!(after[600], "def handler_120(request, default=0):");
        assert_eq!(after[1253], "        return -1");
        assert_eq!(
            &before[..1995],
            &{
                let mut expected = after.clone();
                expected[600] = before[600];
                expected[601] = before[601];
                expected[1253] = before[1253];
                expected
            }[..]
        );
        // `return 1999` is no line of the file: nothing is applied.
        let err = apply(
            "app.py",
            Some(&original),
            &[Edit::new("        return 1999\n", "x\n")],
        )
        .unwrap_err();
        assert_eq!(err.failures[0].short, "matches nothing");
    }

    #[test]
    fn a_block_that_matches_twice_names_every_match() {
        let original = big_file();
        let err = apply(
            "app.py",
            Some(&original),
            &[
                Edit::new("    if value is None:\n        return 7\n", "x\n"),
                Edit::new("    return value * 2\n", "    return value * 3\n"),
            ],
        )
        .unwrap_err();
        assert_eq!(err.failures.len(), 1, "the first block alone is fine");
        let failure = &err.failures[0];
        assert_eq!(failure.block, 2);
        assert_eq!(failure.first_line, "return value * 2");
        assert!(
            failure
                .reason
                .starts_with("matches 400 places: lines 5, 10, 15"),
            "{}",
            failure.reason
        );
        assert!(failure.reason.contains("(and 390 more)"));
        let two = "def a():\n    pass\n\ndef b():\n    pass\n";
        let err = apply(
            "m.py",
            Some(two),
            &[Edit::new("    pass\n", "    return 1\n")],
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "- `m.py`, edit block 1 (SEARCH starting `pass`): matches 2 places: lines 2 and 5."
            ),
            "{err}"
        );
    }

    #[test]
    fn a_block_that_matches_nothing_quotes_the_nearest_lines() {
        let original = big_file();
        let search = "def handler_777(request):\n    value = request.get(\"k777\")\n    if value is None:\n        return 777\n";
        let err = apply("app.py", Some(&original), &[Edit::new(search, "pass\n")]).unwrap_err();
        let reason = &err.failures[0].reason;
        assert!(
            reason.starts_with("matches nothing. The nearest lines"),
            "{reason}"
        );
        // handler_77 (lines 386-389) is the nearest window: quoted with its numbers.
        assert!(
            reason.contains("\n    386 | def handler_77(request):\n")
                && reason.contains("\n    389 |         return 77\n"),
            "{reason}"
        );
        let start = std::time::Instant::now();
        let _ = nearest(&lines_of(&original), &search.lines().collect::<Vec<_>>());
        // Not an assertion on time: the figure is for the reader of the log.
        eprintln!("nearest lines in 2,000 lines: {:?}", start.elapsed());
    }

    #[test]
    fn whitespace_only_differences_are_named_and_not_applied() {
        let original = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";
        let err = apply(
            "main.rs",
            Some(original),
            &[Edit::new(
                "  let x = 1;\n  println!(\"{x}\");\n",
                "    let x = 2;\n",
            )],
        )
        .unwrap_err();
        let failure = &err.failures[0];
        assert_eq!(failure.short, "matches only if whitespace is ignored");
        assert!(
            failure.reason.contains(
                "It matches if whitespace is ignored, at lines 2-3, but it is not applied"
            ),
            "{}",
            failure.reason
        );
        // Line numbers copied from the inputs are named too.
        let err = apply(
            "main.rs",
            Some(original),
            &[Edit::new("2 |     let x = 1;\n", "    let x = 2;\n")],
        )
        .unwrap_err();
        assert!(
            err.failures[0]
                .reason
                .contains("SEARCH carries line numbers")
        );
    }

    #[test]
    fn blocks_apply_in_order_and_one_failure_applies_none() {
        let original = "a\nb\nc\n";
        let new = apply(
            "f",
            Some(original),
            &[Edit::new("a\n", "a\nb\n"), Edit::new("b\nb\n", "B\n")],
        )
        .unwrap();
        assert_eq!(new, "a\nB\nc\n", "the second block sees the first's result");
        let err = apply(
            "f",
            Some(original),
            &[
                Edit::new("a\n", "A\n"),
                Edit::new("", "x\n"),
                Edit::new("zzz\n", "y\n"),
            ],
        )
        .unwrap_err();
        let blocks: Vec<usize> = err.failures.iter().map(|f| f.block).collect();
        assert_eq!(blocks, [2, 3]);
        assert_eq!(err.failures[0].short, "empty SEARCH");
        let text = problem(&[err]);
        assert!(text.starts_with(
            "2 edit block(s) could not be applied, so none of the reply's files was staged (`f` block 2 empty SEARCH; `f` block 3 matches nothing).\n"
        ), "{text}");
        assert!(
            text.contains("(Line numbers are of the file as the blocks before this one left it.)")
        );
        assert!(text.ends_with("without line numbers."));
    }

    #[test]
    fn the_diff_of_two_versions_is_edits_that_rebuild_the_new_one() {
        let old = big_file();
        let new = old
            .replace(
                "def handler_120(request):\n",
                "def handler_120(request, d=0):\n",
            )
            .replace("        return 399\n", "        return 399\n    # done\n");
        let edits = diff_edits(&old, &new).unwrap();
        assert_eq!(edits.len(), 2);
        assert!(
            edits[0]
                .search
                .starts_with("    if value is None:\n        return 119\n    return value * 2\ndef handler_120(request):\n")
        );
        assert_eq!(apply("app.py", Some(&old), &edits).unwrap(), new);
        assert!(diff_edits(&old, &old).is_none());
        // A change whose context is not unique is written whole.
        assert!(diff_edits("a\na\na\na\na\na\na\na\n", "a\na\na\na\nb\na\na\na\na\n").is_none());
    }

    #[test]
    fn line_ends_and_new_files() {
        assert_eq!(
            apply("f", Some("a\r\nb\r\n"), &[Edit::new("b\n", "c\nd\n")]).unwrap(),
            "a\r\nc\r\nd\r\n"
        );
        assert_eq!(
            apply("f", Some("a\nb"), &[Edit::new("b\n", "c\n")]).unwrap(),
            "a\nc",
            "no final line end stays none"
        );
        assert_eq!(
            apply("f", None, &[Edit::new("", "x\n"), Edit::new("", "y\n")]).unwrap(),
            "x\ny\n"
        );
        let err = apply("f", None, &[Edit::new("x\n", "y\n")]).unwrap_err();
        assert!(err.failures[0].reason.contains("does not exist yet"));
    }
}
