//! The file-block reply format of the kinds that write code (implement,
//! tests, repair): a one-line summary, then each file as a Markdown heading
//! naming its path followed by a fenced block holding the whole file, or, for
//! a file that exists, one or more fenced blocks of SEARCH/REPLACE edits
//! (Aider's `diff` edit format, aider.chat/docs/more/edit-formats.html):
//!
//! ```text
//! <<<<<<< SEARCH
//! exact lines of the current file
//! =======
//! their replacement
//! >>>>>>> REPLACE
//! ```
//!
//! The simulated team writes it ([`file_blocks`]); the orchestrator reads it
//! ([`parse_reply_at_most`]; `orchestrator/outputs.rs` adds the summary line
//! and the problems quoted back to a model; the edits are applied by
//! `super::edits`). Models write better code in Markdown than inside JSON
//! strings (Aider's measurements, "LLMs are bad at returning code in JSON",
//! aider.chat, 2024-08), and edit a long file better by search/replace than by
//! rewriting it (Aider's edit-format benchmarks, aider.chat/docs/benchmarks.html).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// A file from a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileBlock {
    /// The path as written.
    pub path: String,
    /// The content, ending with a newline.
    pub content: String,
}

/// How a model is asked to write a file that already exists
/// (`[models."MODEL"] edit_format`, docs/configuration.md). Whatever was
/// asked, a reply in either form is accepted (a fallback model may answer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EditFormat {
    /// SEARCH/REPLACE blocks for an existing file, whole files for new ones.
    SearchReplace,
    /// Every file written whole.
    #[default]
    Whole,
}

impl EditFormat {
    /// The setting's value as written in `quorum.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            EditFormat::SearchReplace => "search-replace",
            EditFormat::Whole => "whole",
        }
    }
}

/// One SEARCH/REPLACE edit: whole lines, each ending with `\n` (an empty
/// string is no lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// The exact lines of the current file to replace.
    pub search: String,
    /// Their replacement.
    pub replace: String,
}

impl Edit {
    /// The edit of `search` (whole lines) into `replace`.
    pub fn new(search: impl Into<String>, replace: impl Into<String>) -> Self {
        Edit {
            search: search.into(),
            replace: replace.into(),
        }
    }
}

/// What a reply says of one file: its whole content, or edits to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileBody {
    /// The whole file, ending with a newline.
    Whole(String),
    /// SEARCH/REPLACE edits, applied in order (at least one).
    Edits(Vec<Edit>),
}

/// A file of a reply: its path as written and what the reply says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyFile {
    /// The path as written.
    pub path: String,
    /// The whole file or the edits.
    pub body: FileBody,
}

/// The path named by a heading line: `### path`, `### `path``, `### File: path`.
pub fn heading_path(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix('#')?;
    let rest = rest.trim_start_matches('#').trim();
    let rest = rest.strip_prefix("File:").map(str::trim).unwrap_or(rest);
    let path = rest.trim_matches('`').trim().trim_matches('*').trim();
    (!path.is_empty() && !path.contains(' ')).then(|| path.to_string())
}

/// An opening fence: (fence char, length), for a line of three or more
/// backticks or tildes (after indentation).
pub fn opening_fence(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start();
    let c = t.chars().next()?;
    if c != '`' && c != '~' {
        return None;
    }
    let n = t.chars().take_while(|&x| x == c).count();
    (n >= 3).then_some((c, n))
}

/// `orchestrator::outputs::parse_file_blocks` where a reply without any block is valid (an empty
/// list): for test tasks on a project whose existing tests already cover the
/// change. Errors: a heading not followed by a fence, an unclosed fence, a
/// block of edits (this reads whole files only; [`parse_reply_at_most`]
/// reads both).
pub fn parse_file_blocks_or_none(text: &str) -> Result<Vec<FileBlock>, String> {
    parse_file_blocks_at_most(text, usize::MAX).map(|(blocks, _)| blocks)
}

/// [`parse_file_blocks_or_none`] keeping at most `max` blocks (see
/// [`parse_reply_at_most`]).
///
/// Errors: as [`parse_file_blocks_or_none`].
pub fn parse_file_blocks_at_most(
    text: &str,
    max: usize,
) -> Result<(Vec<FileBlock>, Vec<String>), String> {
    let (files, past) = parse_reply_at_most(text, max)?;
    let blocks = files
        .into_iter()
        .map(|f| match f.body {
            FileBody::Whole(content) => Ok(FileBlock {
                path: f.path,
                content,
            }),
            FileBody::Edits(_) => Err(format!(
                "`{}` is given as SEARCH/REPLACE edits where a whole file was expected",
                f.path
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok((blocks, past))
}

/// The reply's files, each a whole file or SEARCH/REPLACE edits, keeping at
/// most `max`: the files past it are still delimited (so that an unclosed
/// fence is still an error) but their content is not copied; only their
/// paths are returned, in order, for the refusals (`[session] max_files`,
/// docs/configuration.md). This keeps a reply of 100,000 tiny files as cheap
/// as its text.
///
/// A file is a heading naming its path, then a fence. When the fence's
/// first line is `<<<<<<< SEARCH`, the fence holds edits (one or more
/// `<<<<<<< SEARCH` / `=======` / `>>>>>>> REPLACE` blocks), and further
/// fences of edits right after it belong to the same file; inside a SEARCH
/// or REPLACE section a fence line is content. Otherwise the fence holds the
/// whole file and closes at a line of at least as many fence characters
/// (CommonMark). Markers are matched as Aider writes them: 5 to 9 `<`, `=`
/// or `>` at the line's start.
///
/// Errors: an unclosed fence, an edit block without its `=======` or
/// `>>>>>>> REPLACE`.
pub fn parse_reply_at_most(
    text: &str,
    max: usize,
) -> Result<(Vec<ReplyFile>, Vec<String>), String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut files = Vec::new();
    let mut past = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(path) = heading_path(lines[i]) else {
            i += 1;
            continue;
        };
        let j = next_filled(&lines, i + 1);
        let Some((c, n)) = lines.get(j).and_then(|l| opening_fence(l)) else {
            // A heading that is not a file (a section title in the summary).
            i += 1;
            continue;
        };
        let keep = files.len() < max;
        if lines
            .get(next_filled(&lines, j + 1))
            .is_some_and(|l| is_search(l))
        {
            let mut edits = Vec::new();
            let mut at = j;
            // One fence of edits, then any fence of edits right after it.
            loop {
                let (fence_c, fence_n) = opening_fence(lines[at]).unwrap_or((c, n));
                at = edits_in_fence(&lines, at + 1, (fence_c, fence_n), &path, &mut edits)?;
                let next = next_filled(&lines, at + 1);
                let more = lines.get(next).is_some_and(|l| opening_fence(l).is_some())
                    && lines
                        .get(next_filled(&lines, next + 1))
                        .is_some_and(|l| is_search(l));
                if !more {
                    break;
                }
                at = next;
            }
            if keep {
                files.push(ReplyFile {
                    path,
                    body: FileBody::Edits(edits),
                });
            } else {
                past.push(path);
            }
            i = at + 1;
            continue;
        }
        let mut content = String::new();
        let mut k = j + 1;
        let mut closed = false;
        while k < lines.len() {
            let t = lines[k].trim();
            if t.len() >= n && t.chars().all(|x| x == c) {
                closed = true;
                break;
            }
            if keep {
                content.push_str(lines[k]);
                content.push('\n');
            }
            k += 1;
        }
        if !closed {
            return Err(format!(
                "the block for `{path}` is not closed (expected a line of at least {n} `{c}`)"
            ));
        }
        if keep {
            files.push(ReplyFile {
                path,
                body: FileBody::Whole(content),
            });
        } else {
            past.push(path);
        }
        i = k + 1;
    }
    Ok((files, past))
}

/// The index of the first line at or after `from` that is not blank
/// (`lines.len()` when there is none).
fn next_filled(lines: &[&str], from: usize) -> usize {
    let mut j = from;
    while j < lines.len() && lines[j].trim().is_empty() {
        j += 1;
    }
    j
}

/// A marker line: 5 to 9 `c` at the start, then `word` (if any), then only
/// whitespace.
fn marker(line: &str, c: char, word: &str) -> bool {
    let run = line.chars().take_while(|&x| x == c).count();
    if !(5..=9).contains(&run) {
        return false;
    }
    let rest = &line[run..];
    if word.is_empty() {
        return rest.trim().is_empty();
    }
    rest.strip_prefix(' ')
        .and_then(|r| r.strip_prefix(word))
        .is_some_and(|r| r.trim_start_matches('>').trim().is_empty())
}

/// `<<<<<<< SEARCH`.
fn is_search(line: &str) -> bool {
    marker(line, '<', "SEARCH")
}

/// `=======`.
fn is_divider(line: &str) -> bool {
    marker(line, '=', "")
}

/// `>>>>>>> REPLACE`.
fn is_replace(line: &str) -> bool {
    marker(line, '>', "REPLACE")
}

/// Reads the edit blocks of one fence from line `from` (after the opening
/// fence `fence`) into `edits`; returns the index of the closing fence.
/// Lines between blocks are ignored. Errors name the file and the block.
fn edits_in_fence(
    lines: &[&str],
    from: usize,
    fence: (char, usize),
    path: &str,
    edits: &mut Vec<Edit>,
) -> Result<usize, String> {
    enum Part {
        Between,
        Search,
        Replace,
    }
    let (c, n) = fence;
    let mut part = Part::Between;
    let (mut search, mut replace) = (String::new(), String::new());
    for (k, line) in lines.iter().enumerate().skip(from) {
        let block = edits.len() + 1;
        match part {
            Part::Between => {
                let t = line.trim();
                if is_search(line) {
                    part = Part::Search;
                } else if t.len() >= n && t.chars().all(|x| x == c) {
                    return Ok(k);
                }
            }
            Part::Search => {
                if is_divider(line) {
                    part = Part::Replace;
                } else if is_search(line) || is_replace(line) {
                    return Err(format!(
                        "edit block {block} for `{path}`: `{}` before its `=======` line",
                        line.trim()
                    ));
                } else {
                    search.push_str(line);
                    search.push('\n');
                }
            }
            Part::Replace => {
                if is_replace(line) {
                    edits.push(Edit {
                        search: std::mem::take(&mut search),
                        replace: std::mem::take(&mut replace),
                    });
                    part = Part::Between;
                } else if is_search(line) {
                    return Err(format!(
                        "edit block {block} for `{path}`: a new `<<<<<<< SEARCH` before its `>>>>>>> REPLACE` line"
                    ));
                } else {
                    replace.push_str(line);
                    replace.push('\n');
                }
            }
        }
    }
    Err(match part {
        Part::Between => {
            format!("the block for `{path}` is not closed (expected a line of at least {n} `{c}`)")
        }
        Part::Search | Part::Replace => format!(
            "edit block {} for `{path}` is not finished (expected `=======` and then `>>>>>>> REPLACE`)",
            edits.len() + 1
        ),
    })
}

/// A fence of backticks longer than any run of backticks in `content`.
fn fence_for(content: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn language_of(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("py") => "python",
        Some("md") => "markdown",
        Some("toml") => "toml",
        Some("json") => "json",
        _ => "",
    }
}

/// Formats files as the fenced file blocks of the implement reply format.
pub fn file_blocks(summary: &str, files: &[(String, String)]) -> String {
    let mut out = format!("{summary}\n");
    for (path, content) in files {
        let fence = fence_for(content);
        let _ = write!(
            out,
            "\n### `{path}`\n{fence}{}\n{content}",
            language_of(path)
        );
        if !content.ends_with('\n') {
            out.push('\n');
        }
        let _ = writeln!(out, "{fence}");
    }
    out
}

/// Formats one file's edits as a fenced block of SEARCH/REPLACE edits, after
/// its heading (the form [`parse_reply_at_most`] reads).
pub fn edit_block(path: &str, edits: &[Edit]) -> String {
    let all: String = edits
        .iter()
        .flat_map(|e| [e.search.as_str(), e.replace.as_str()])
        .collect();
    let fence = fence_for(&all);
    let mut out = format!("\n### `{path}`\n{fence}{}\n", language_of(path));
    for e in edits {
        let _ = write!(
            out,
            "<<<<<<< SEARCH\n{}=======\n{}>>>>>>> REPLACE\n",
            e.search, e.replace
        );
    }
    let _ = writeln!(out, "{fence}");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn edits_and_whole_files_parse_side_by_side() {
        let text = "Changed two things.\n\n### `src/app.py`\n```python\n<<<<<<< SEARCH\ndef f():\n    return 1\n=======\ndef f():\n    return 2\n>>>>>>> REPLACE\n\n<<<<<<< SEARCH\nX = 1\n=======\n>>>>>>> REPLACE\n```\n\n```python\n<<<<<<< SEARCH\nY = 2\n=======\nY = 3\n>>>>>>> REPLACE\n```\n\n### `new.py`\n```python\nprint('hi')\n```\n";
        let (files, past) = parse_reply_at_most(text, usize::MAX).unwrap();
        assert!(past.is_empty());
        assert_eq!(
            files,
            vec![
                ReplyFile {
                    path: "src/app.py".into(),
                    body: FileBody::Edits(vec![
                        Edit::new("def f():\n    return 1\n", "def f():\n    return 2\n"),
                        Edit::new("X = 1\n", ""),
                        Edit::new("Y = 2\n", "Y = 3\n"),
                    ]),
                },
                ReplyFile {
                    path: "new.py".into(),
                    body: FileBody::Whole("print('hi')\n".into()),
                },
            ]
        );
        // The whole-file reader refuses edits rather than staging markers.
        assert!(
            parse_file_blocks_or_none(text)
                .unwrap_err()
                .contains("SEARCH/REPLACE")
        );
    }

    #[test]
    fn fences_inside_search_and_replace_are_content() {
        let text = "### README.md\n```markdown\n<<<<<<< SEARCH\nRun:\n```sh\nmake\n```\n=======\nRun:\n```sh\nmake check\n```\n>>>>>>> REPLACE\n```\n";
        let (files, _) = parse_reply_at_most(text, usize::MAX).unwrap();
        assert_eq!(
            files[0].body,
            FileBody::Edits(vec![Edit::new(
                "Run:\n```sh\nmake\n```\n",
                "Run:\n```sh\nmake check\n```\n"
            )])
        );
        // The writer and the reader agree.
        let FileBody::Edits(edits) = &files[0].body else {
            unreachable!()
        };
        let (again, _) = parse_reply_at_most(&edit_block("README.md", edits), 9).unwrap();
        assert_eq!(again, files);
    }

    #[test]
    fn broken_edit_blocks_are_errors_that_name_the_file_and_block() {
        let cases = [
            (
                "### a.py\n```\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n```\n",
                "edit block 1 for `a.py`: `>>>>>>> REPLACE` before its `=======`",
            ),
            (
                "### a.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nz\n=======\n<<<<<<< SEARCH\n```\n",
                "edit block 2 for `a.py`: a new `<<<<<<< SEARCH`",
            ),
            (
                "### a.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n",
                "edit block 1 for `a.py` is not finished",
            ),
            (
                "### a.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
                "the block for `a.py` is not closed",
            ),
        ];
        for (text, want) in cases {
            let err = parse_reply_at_most(text, usize::MAX).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        // Markers are Aider's: 5 to 9 characters, nothing before them.
        assert!(is_search("<<<<< SEARCH") && is_search("<<<<<<<<< SEARCH  "));
        assert!(!is_search("<<<< SEARCH") && !is_search(" <<<<<<< SEARCH"));
        assert!(is_divider("=======") && !is_divider("======= x"));
        assert!(is_replace(">>>>>>> REPLACE") && !is_replace(">>>>>>> REPLACED"));
    }

    #[test]
    fn files_past_the_cap_count_a_file_of_edits_once() {
        let text = "### a.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n```\n<<<<<<< SEARCH\nz\n=======\nw\n>>>>>>> REPLACE\n```\n### b.py\n```\nb\n```\n";
        let (files, past) = parse_reply_at_most(text, 1).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(past, ["b.py"]);
    }
}
