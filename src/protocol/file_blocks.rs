//! The file-block reply format of the kinds that write code (implement,
//! tests, repair): a one-line summary, then each file as a Markdown heading
//! naming its path followed by a fenced block holding the whole file. The
//! simulated team writes it ([`file_blocks`]); the orchestrator reads it
//! (`orchestrator/outputs.rs` adds the summary line and the problems quoted
//! back to a model). Models write better code in Markdown than inside JSON
//! strings (Aider's measurements, "LLMs are bad at returning code in JSON",
//! aider.chat, 2024-08).

use std::fmt::Write as _;

/// A file from a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileBlock {
    /// The path as written.
    pub path: String,
    /// The content, ending with a newline.
    pub content: String,
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
/// change. Errors: a heading not followed by a fence, an unclosed fence.
pub fn parse_file_blocks_or_none(text: &str) -> Result<Vec<FileBlock>, String> {
    parse_file_blocks_at_most(text, usize::MAX).map(|(blocks, _)| blocks)
}

/// [`parse_file_blocks_or_none`] keeping at most `max` blocks: the blocks past
/// it are still delimited (so that an unclosed fence is still an error) but
/// their content is not copied; only their paths are returned, in order, for
/// the refusals (`[session] max_files`, docs/configuration.md). This keeps a
/// reply of 100,000 tiny files as cheap as its text.
///
/// Errors: as [`parse_file_blocks_or_none`].
pub fn parse_file_blocks_at_most(
    text: &str,
    max: usize,
) -> Result<(Vec<FileBlock>, Vec<String>), String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut past = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(path) = heading_path(lines[i]) else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < lines.len() && lines[j].trim().is_empty() {
            j += 1;
        }
        let Some((c, n)) = lines.get(j).and_then(|l| opening_fence(l)) else {
            // A heading that is not a file (a section title in the summary).
            i += 1;
            continue;
        };
        let keep = blocks.len() < max;
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
            blocks.push(FileBlock { path, content });
        } else {
            past.push(path);
        }
        i = k + 1;
    }
    Ok((blocks, past))
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
