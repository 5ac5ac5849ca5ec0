//! The outputs of each task kind, how replies are parsed into them, and the
//! checks beyond the JSON shape (a ballot's option must be on offer, a task
//! graph must be acyclic, …).
//!
//! JSON kinds use structured output; their JSON Schemas are [`schema_for`]. Code
//! comes back as fenced file blocks instead (a heading naming the path, then a
//! fenced block), because models write better code in Markdown than inside JSON
//! strings (Aider's measurements, "LLMs are bad at returning code in JSON",
//! aider.chat, 2024-08). Every parse error quotes the offending part of the reply.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;

pub use crate::protocol::documents::{
    Ballot, Breakdown, Component, Conflict, Conflicts, FindingOut, Findings, ImplTask, JsonOutput,
    Plan, PlanDecision, PlannedComponent, Question, Requirements, schema_for,
};
pub use crate::protocol::file_blocks::{
    FileBlock, heading_path, opening_fence, parse_file_blocks_at_most, parse_file_blocks_or_none,
    parse_reply_at_most,
};
use crate::protocol::inputs::TaskInputs;
use crate::protocol::{Severity, TaskKind};

/// Quotes up to 120 characters of line `line` (from 1) of `text`, redacted
/// before the cut ([`crate::secrets::redact::clip`]).
fn quote_around(text: &str, line: usize) -> String {
    let quoted = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    crate::secrets::redact::clip(quoted, 121)
}

/// The JSON document inside a reply: the whole reply, or the contents of a
/// ```json fence, or the span from the first `{` to the last `}`.
fn json_span(text: &str) -> &str {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        return trimmed;
    }
    if let Some(start) = trimmed.find("```json")
        && let Some(rest) = trimmed.get(start + 7..)
        && let Some(end) = rest.find("```")
    {
        return rest[..end].trim();
    }
    match (trimmed.find('{'), trimmed.rfind('}')) {
        (Some(a), Some(b)) if a < b => &trimmed[a..=b],
        _ => trimmed,
    }
}

/// Parses a JSON reply into `T`; the error quotes the offending line.
pub fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let span = json_span(text);
    serde_json::from_str(span).map_err(|e| {
        let line = e.line();
        if span.is_empty() {
            "the reply is empty; expected a JSON object".to_string()
        } else {
            format!("{e}; at: `{}`", quote_around(span, line))
        }
    })
}

/// Longest identifier a model may choose, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Whether `id` is a short slug, as every identifier a model chooses must be
/// (conflict, option, question and task ids): an ASCII letter or digit, then
/// at most 63 ASCII letters, digits, `_`, `.` or `-` (`storage`, `json-file`,
/// `Q1`). Such an id cannot carry a line, a control or a Markdown construct
/// into prompts, memory or documents.
pub fn is_slug(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id.len() <= MAX_ID_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `Ok` when `id` [`is_slug`]; else the problem, naming `what` and the id as
/// it can safely be shown (one line, controls visible, redacted, cut), for
/// the validation retry.
pub fn check_slug(what: &str, id: &str) -> Result<(), String> {
    if is_slug(id) {
        return Ok(());
    }
    Err(format!(
        "{what} `{}` is not a short id: use 1 to {MAX_ID_LEN} ASCII letters, digits, `_`, `.` or `-`, starting with a letter or digit (for example `storage`)",
        crate::secrets::redact::clip(&crate::sanitize::line(id), 80)
    ))
}

/// Checks requirements: question ids are unique slugs.
pub fn check_requirements(r: &Requirements) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    for q in &r.questions {
        check_slug("question id", &q.id)?;
        if !ids.insert(q.id.as_str()) {
            return Err(format!("question id `{}` is used twice", q.id));
        }
    }
    Ok(())
}

/// Checks conflicts: unique slug ids, at least two distinct slug options,
/// positions that name planning agents and offered options.
pub fn check_conflicts(c: &Conflicts, planners: &[String]) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    for conflict in &c.conflicts {
        if conflict.id.trim().is_empty() {
            return Err(format!(
                "conflict `{}` has an empty id",
                crate::secrets::redact::clip(&crate::sanitize::line(&conflict.topic), 80)
            ));
        }
        check_slug("conflict id", &conflict.id)?;
        for option in &conflict.options {
            check_slug(&format!("conflict `{}`: option", conflict.id), option)?;
        }
        if !ids.insert(conflict.id.as_str()) {
            return Err(format!("conflict id `{}` is used twice", conflict.id));
        }
        let distinct: BTreeSet<&String> = conflict.options.iter().collect();
        if distinct.len() < 2 || distinct.len() != conflict.options.len() {
            return Err(format!(
                "conflict `{}` needs at least two distinct options, has {:?}",
                conflict.id, conflict.options
            ));
        }
        for p in &conflict.positions {
            if !planners.contains(&p.agent) {
                return Err(format!(
                    "conflict `{}` quotes `{}`, which is not a planning agent",
                    conflict.id,
                    crate::secrets::redact::clip(&crate::sanitize::line(&p.agent), 80)
                ));
            }
            if !conflict.options.contains(&p.option) {
                return Err(format!(
                    "conflict `{}`: {}'s position `{}` is not one of its options",
                    conflict.id, p.agent, p.option
                ));
            }
        }
    }
    Ok(())
}

/// Checks a ballot's option is on offer.
pub fn check_ballot(b: &Ballot, options: &[String]) -> Result<(), String> {
    if options.contains(&b.option) {
        Ok(())
    } else {
        Err(format!(
            "option `{}` is not one of {}",
            crate::secrets::redact::clip(&crate::sanitize::line(&b.option), 80),
            options.join(", ")
        ))
    }
}

/// Checks a breakdown: unique ids, known owners, known dependencies, no cycle,
/// at least one file per task, paths valid. Two tasks may declare the same file:
/// [`serialize_shared_files`] then orders them.
pub fn check_breakdown(b: &Breakdown, owners: &[String]) -> Result<(), String> {
    if b.tasks.is_empty() {
        return Err("the breakdown has no tasks".into());
    }
    let ids: BTreeSet<&str> = b.tasks.iter().map(|t| t.id.as_str()).collect();
    if ids.len() != b.tasks.len() {
        return Err("task ids are not unique".into());
    }
    let mut claimed: BTreeMap<String, &str> = BTreeMap::new();
    for t in &b.tasks {
        // A task id becomes part of `implement.<id>`: no `.` in it.
        if !is_slug(&t.id) || t.id.contains('.') {
            return Err(format!(
                "task id `{}` must be 1 to {MAX_ID_LEN} letters, digits, - or _, starting with a letter or digit",
                crate::secrets::redact::clip(&crate::sanitize::line(&t.id), 80)
            ));
        }
        if !owners.contains(&t.agent) {
            return Err(format!(
                "task `{}` is owned by `{}`, not one of {}",
                t.id,
                crate::secrets::redact::clip(&crate::sanitize::line(&t.agent), 80),
                owners.join(", ")
            ));
        }
        if t.files.is_empty() {
            return Err(format!("task `{}` declares no files", t.id));
        }
        for f in &t.files {
            let dir = f.ends_with('/');
            let norm = crate::workspace::paths::normalize(f)
                .and_then(|p| crate::workspace::paths::check_name(&p).map(|()| p))
                .map_err(|r| format!("task `{}` declares `{f}`: {r}", t.id))?;
            let norm = if dir { format!("{norm}/") } else { norm };
            claimed.insert(norm, &t.id);
        }
        for d in &t.depends_on {
            if !ids.contains(d.as_str()) {
                return Err(format!(
                    "task `{}` depends on unknown task `{}`",
                    t.id,
                    crate::secrets::redact::clip(&crate::sanitize::line(d), 80)
                ));
            }
        }
    }
    // Kahn's algorithm: a cycle leaves tasks with unmet dependencies.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = done.len();
        for t in &b.tasks {
            if !done.contains(t.id.as_str())
                && t.depends_on.iter().all(|d| done.contains(d.as_str()))
            {
                done.insert(&t.id);
            }
        }
        if done.len() == b.tasks.len() {
            return Ok(());
        }
        if done.len() == before {
            let stuck: Vec<&str> = b
                .tasks
                .iter()
                .map(|t| t.id.as_str())
                .filter(|id| !done.contains(id))
                .collect();
            return Err(format!(
                "the task graph has a cycle among {}",
                stuck.join(", ")
            ));
        }
    }
}

/// Whether two declarations can name the same file (exact paths, or a
/// directory prefix ending in `/` and a path under it).
fn overlap(a: &str, b: &str) -> bool {
    let under = |dir: &str, p: &str| dir.ends_with('/') && p.starts_with(dir);
    a == b || under(a, b) || under(b, a)
}

/// Makes tasks that declare the same file run one after the other: for each
/// such pair not already ordered by their dependencies, the later task (in the
/// breakdown's order) comes to depend on the earlier one. No two agents ever
/// write one file at once. Returns the dependencies added, as `(task, on)`.
pub fn serialize_shared_files(b: &mut Breakdown) -> Vec<(String, String)> {
    fn reaches(b: &Breakdown, from: &str, to: &str) -> bool {
        let mut stack = vec![from.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(id) = stack.pop() {
            if id == to {
                return true;
            }
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(t) = b.tasks.iter().find(|t| t.id == id) {
                stack.extend(t.depends_on.iter().cloned());
            }
        }
        false
    }
    let mut added = Vec::new();
    for later in 0..b.tasks.len() {
        for earlier in 0..later {
            let shared = b.tasks[later]
                .files
                .iter()
                .any(|f| b.tasks[earlier].files.iter().any(|g| overlap(f, g)));
            let (a, e) = (b.tasks[later].id.clone(), b.tasks[earlier].id.clone());
            if shared && !reaches(b, &a, &e) && !reaches(b, &e, &a) {
                b.tasks[later].depends_on.push(e.clone());
                added.push((a, e));
            }
        }
    }
    added
}

/// Checks findings' severities and lines.
pub fn check_findings(f: &Findings) -> Result<(), String> {
    for finding in &f.findings {
        if Severity::parse(&finding.severity).is_none() {
            return Err(format!(
                "severity `{}` is not one of {}",
                finding.severity,
                Severity::names().join(", ")
            ));
        }
    }
    Ok(())
}

/// The summary line a code reply begins with: the first non-empty line
/// before the first file block's heading, cleaned of control characters and
/// Markdown emphasis, at most 300 characters. `None` when the reply starts
/// with a file block.
pub fn summary_line(text: &str) -> Option<String> {
    let line = text
        .lines()
        .take_while(|l| heading_path(l).is_none() && opening_fence(l).is_none())
        .map(str::trim)
        .find(|l| !l.is_empty())?;
    let line = crate::workspace::report::clean_line(line.trim_start_matches('#').trim());
    let line = line.trim_matches('*').trim();
    if line.is_empty() {
        return None;
    }
    Some(crate::secrets::redact::clip(line, 301))
}

/// Parses fenced file blocks: a Markdown heading naming the path, then a fence
/// of three or more backticks (or tildes) holding the whole file; the closing
/// fence is at least as long as the opening one (CommonMark). Text outside blocks
/// is the summary and is ignored here.
///
/// Errors: no block at all, a heading not followed by a fence, an unclosed fence.
pub fn parse_file_blocks(text: &str) -> Result<Vec<FileBlock>, String> {
    let blocks = parse_file_blocks_or_none(text)?;
    if blocks.is_empty() {
        return Err(no_file_blocks(text));
    }
    Ok(blocks)
}

/// The problem of a reply without any file block, quoting its start (for the
/// validation retry).
pub fn no_file_blocks(text: &str) -> String {
    let start = crate::secrets::redact::clip(text.trim(), 80);
    format!(
        "no file blocks found (a `### path` heading followed by a fenced block); the reply starts: `{start}`"
    )
}

/// [`schema_for`] narrowed to one task's inputs: a ballot's or the chair's
/// `option` is an `enum` of the conflict's options (the inputs' `conflict`),
/// so a structured-output model cannot answer with an option not on offer.
pub fn schema_for_task(kind: TaskKind, inputs: Option<&TaskInputs>) -> Option<JsonOutput> {
    let mut out = schema_for(kind)?;
    if matches!(kind, TaskKind::Ballot | TaskKind::Chair)
        && let Some(conflict) = inputs.and_then(TaskInputs::conflict)
        && !conflict.options.is_empty()
    {
        out.schema["properties"]["option"]["enum"] = serde_json::json!(conflict.options);
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_ballots_option_is_an_enum_of_the_conflicts_options() {
        let inputs = TaskInputs::Ballot(crate::protocol::inputs::BallotInput {
            prompt: String::new(),
            requirements: None,
            conflict: Conflict {
                id: "storage".into(),
                topic: "Storage".into(),
                options: vec!["sqlite".into(), "json-file".into()],
                positions: Vec::new(),
                blocking: true,
                needs_human: false,
            },
            plan: None,
            instructions: Default::default(),
            memory: None,
        });
        let context = Some(&inputs);
        for kind in [TaskKind::Ballot, TaskKind::Chair] {
            let out = schema_for_task(kind, context).unwrap();
            assert_eq!(
                out.schema["properties"]["option"]["enum"],
                json!(["sqlite", "json-file"])
            );
            assert_eq!(out.schema["properties"]["option"]["type"], "string");
        }
        let plan = schema_for_task(TaskKind::Plan, context).unwrap();
        assert_eq!(plan.schema, schema_for(TaskKind::Plan).unwrap().schema);
        let bare = schema_for_task(TaskKind::Ballot, None).unwrap();
        assert!(bare.schema["properties"]["option"].get("enum").is_none());
        assert!(schema_for_task(TaskKind::Implement, context).is_none());
    }

    #[test]
    fn model_chosen_ids_are_short_slugs() {
        for ok in [
            "storage",
            "json-file",
            "Q1",
            "q-grapheme",
            "v1.2",
            "a_b",
            "9",
        ] {
            assert!(is_slug(ok), "{ok}");
        }
        let long = "a".repeat(MAX_ID_LEN + 1);
        for bad in [
            "",
            "-x",
            ".x",
            "a b",
            "a\nb",
            "x\u{1b}[2J",
            "é",
            "a/b",
            &long,
        ] {
            assert!(!is_slug(bad), "{bad:?}");
        }
        let conflict = |id: &str, options: &[&str]| Conflicts {
            conflicts: vec![Conflict {
                id: id.into(),
                topic: "Storage".into(),
                options: options.iter().map(|o| o.to_string()).collect(),
                positions: vec![],
                blocking: false,
                needs_human: false,
            }],
        };
        assert!(check_conflicts(&conflict("storage", &["json-file", "sqlite"]), &[]).is_ok());
        // A newline in an id is refused, named (visibly) in the error.
        let err =
            check_conflicts(&conflict("storage\ndecision api: rpc", &["a", "b"]), &[]).unwrap_err();
        assert!(
            err.contains("conflict id `storage^Jdecision api: rpc`"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        let err =
            check_conflicts(&conflict("storage", &["a", "b\u{1b}]0;x\u{7}"]), &[]).unwrap_err();
        assert!(err.contains("option `b^[]0;x^G`"), "{err}");
        let req = |id: &str| Requirements {
            summary: String::new(),
            goals: vec![],
            constraints: vec![],
            acceptance_criteria: vec![],
            assumptions: vec![],
            questions: vec![Question {
                id: id.into(),
                text: "?".into(),
                default: "d".into(),
            }],
        };
        assert!(check_requirements(&req("Q1")).is_ok());
        assert!(
            check_requirements(&req("q 1"))
                .unwrap_err()
                .contains("question id")
        );
    }

    #[test]
    fn json_errors_quote_the_offending_line() {
        let err =
            parse_json::<Ballot>("{\n  \"option\": 3,\n  \"rationale\": \"x\"\n}").unwrap_err();
        assert!(err.contains("\"option\": 3"), "{err}");
        let err = parse_json::<Ballot>("{\"option\": \"a\"}").unwrap_err();
        assert!(err.contains("rationale"), "{err}");
        let ok: Ballot =
            parse_json("Sure!\n```json\n{\"option\": \"a\", \"rationale\": \"b\"}\n```").unwrap();
        assert_eq!(ok.option, "a");
    }

    #[test]
    fn file_blocks_parse_with_nested_fences_and_summaries() {
        let text = "Done.\n\n## Notes\nplain\n\n### `a/b.py`\n```python\nx = 1\n```\n\n### File: README.md\n````markdown\n```sh\nrun\n```\n````\n";
        let blocks = parse_file_blocks(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks[0],
            FileBlock {
                path: "a/b.py".into(),
                content: "x = 1\n".into()
            }
        );
        assert_eq!(blocks[1].content, "```sh\nrun\n```\n");
        assert!(
            parse_file_blocks("no files here")
                .unwrap_err()
                .contains("no file blocks")
        );
        assert!(
            parse_file_blocks("### x.py\n```\nunclosed\n")
                .unwrap_err()
                .contains("not closed")
        );
    }

    #[test]
    fn blocks_past_the_cap_are_named_but_not_kept() {
        let text: String = (0..5)
            .map(|i| format!("### `f{i}.txt`\n```\ncontent {i}\n```\n"))
            .collect();
        let (kept, past) = parse_file_blocks_at_most(&text, 3).unwrap();
        let kept: Vec<(&str, &str)> = kept
            .iter()
            .map(|b| (b.path.as_str(), b.content.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                ("f0.txt", "content 0\n"),
                ("f1.txt", "content 1\n"),
                ("f2.txt", "content 2\n")
            ]
        );
        assert_eq!(past, ["f3.txt", "f4.txt"]);
        let (all, none) = parse_file_blocks_at_most(&text, usize::MAX).unwrap();
        assert_eq!((all.len(), none.len()), (5, 0));
        // A block past the cap must still be closed.
        let unclosed = format!("{text}### `late.txt`\n```\nnever closed\n");
        assert!(parse_file_blocks_at_most(&unclosed, 1).is_err());
    }

    #[test]
    fn offline_file_blocks_round_trip() {
        let files = vec![("x.md".to_string(), "a\n```\nb\n```\n".to_string())];
        let text = crate::protocol::file_blocks::file_blocks("sum", &files);
        let blocks = parse_file_blocks(&text).unwrap();
        assert_eq!(blocks[0].content, files[0].1);
    }

    fn task(id: &str, agent: &str, files: &[&str], deps: &[&str]) -> ImplTask {
        ImplTask {
            id: id.into(),
            agent: agent.into(),
            title: id.into(),
            files: files.iter().map(|s| s.to_string()).collect(),
            depends_on: deps.iter().map(|s| s.to_string()).collect(),
            description: String::new(),
        }
    }

    #[test]
    fn breakdowns_are_checked() {
        let owners = vec!["backend".to_string(), "pm".to_string()];
        let ok = Breakdown {
            tasks: vec![
                task("a", "backend", &["a.py"], &[]),
                task("b", "pm", &["b.md"], &["a"]),
            ],
            components: Vec::new(),
        };
        assert!(check_breakdown(&ok, &owners).is_ok());
        // A declared file git refuses is refused with the breakdown.
        for bad in ["GIT~1/config", "docs/.git./x", "a\u{202e}b.py"] {
            let b = Breakdown {
                tasks: vec![task("a", "backend", &[bad], &[])],
                components: Vec::new(),
            };
            let err = check_breakdown(&b, &owners).unwrap_err();
            assert!(err.starts_with("task `a` declares `"), "{bad:?}: {err}");
        }
        let cyc = Breakdown {
            tasks: vec![
                task("a", "backend", &["a.py"], &["b"]),
                task("b", "pm", &["b.md"], &["a"]),
            ],
            components: Vec::new(),
        };
        assert!(
            check_breakdown(&cyc, &owners)
                .unwrap_err()
                .contains("cycle")
        );
        let mut twice = Breakdown {
            tasks: vec![
                task("a", "backend", &["a.py"], &[]),
                task("b", "pm", &["a.py", "b.md"], &[]),
                task("c", "pm", &["pkg/"], &[]),
                task("d", "backend", &["pkg/x.py"], &["c"]),
            ],
            components: Vec::new(),
        };
        assert!(check_breakdown(&twice, &owners).is_ok());
        let added = serialize_shared_files(&mut twice);
        assert_eq!(
            added,
            vec![("b".to_string(), "a".to_string())],
            "b now waits for a; d already waits for c"
        );
        assert!(check_breakdown(&twice, &owners).is_ok());
        let who = Breakdown {
            tasks: vec![task("a", "qa", &["a.py"], &[])],
            components: Vec::new(),
        };
        assert!(check_breakdown(&who, &owners).unwrap_err().contains("`qa`"));
        let esc = Breakdown {
            tasks: vec![task("a", "pm", &["../a.py"], &[])],
            components: Vec::new(),
        };
        assert!(check_breakdown(&esc, &owners).unwrap_err().contains(".."));
    }

    #[test]
    fn every_json_kind_has_a_schema_that_accepts_the_offline_reply() {
        // The schema and the serde types must agree: the offline reply of each
        // kind validates against its schema.
        for kind in [
            TaskKind::Requirements,
            TaskKind::Plan,
            TaskKind::Ballot,
            TaskKind::Breakdown,
            TaskKind::Review,
        ] {
            let schema = schema_for(kind).unwrap();
            assert!(schema.name.len() <= 64);
            assert_eq!(schema.schema["type"], "object");
        }
        assert!(schema_for(TaskKind::Implement).is_none());
    }
}
