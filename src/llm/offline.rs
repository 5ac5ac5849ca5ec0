//! The offline provider (`kind = "offline"`): deterministic, in process, labelled
//! "offline (simulated)" wherever it is shown.
//!
//! It answers every task kind with structurally valid output computed from the
//! call's structured context: the planning agents disagree on two real topics
//! (storage and API style) so that compare, vote and resolve do real work — with
//! the default roster storage ends in a 2–2 tie and API style in a 3–1
//! majority — and implementation yields a small Python project (standard library
//! only, with a `unittest` suite) shaped by the prompt's nouns and by the
//! decisions actually taken ([`project`]).
//!
//! With `script = "file.toml"` it first replays canned replies per agent and
//! phase ([`script`]; format in `docs/offline-script.md`), which lets tests and
//! users replay any scenario, a faulty or malicious one included.

pub mod project;
pub mod script;

use std::fmt::Write as _;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};

use self::project::{ApiStyle, Names, Storage};
use self::script::{Script, ScriptedReply};
use super::{CallMeta, ChatRequest, Chunk, LlmError, Provider, TaskKind, Usage, estimate_tokens};
use crate::config::OFFLINE_LABEL;

/// The built-in simulated provider.
pub struct OfflineProvider {
    name: String,
    script: Option<Script>,
}

impl OfflineProvider {
    /// A provider named `name`, replaying `script` first when given.
    pub fn new(name: &str, script: Option<Script>) -> Self {
        OfflineProvider {
            name: name.to_string(),
            script,
        }
    }
}

impl Provider for OfflineProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn label(&self) -> String {
        OFFLINE_LABEL.to_string()
    }

    fn stream(&self, request: ChatRequest) -> BoxStream<'static, Result<Chunk, LlmError>> {
        let input_tokens: u64 = request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum();
        let scripted = self.script.as_ref().and_then(|s| s.take(&request.meta));
        let (text, delay, latency, error) = match scripted {
            Some(ScriptedReply {
                text,
                delay_ms,
                latency_ms,
                error,
            }) => (
                text,
                Duration::from_millis(delay_ms),
                Duration::from_millis(latency_ms),
                error,
            ),
            None => (reply(&request.meta), Duration::ZERO, Duration::ZERO, None),
        };
        let wait = futures::stream::once(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
        })
        .filter_map(|()| async { None::<Result<Chunk, LlmError>> });
        if let Some(error) = error {
            return wait
                .chain(futures::stream::once(async move { Err(error) }))
                .boxed();
        }
        let output_tokens = estimate_tokens(&text);
        let pieces = split_tokens(&text);
        let body = futures::stream::iter(pieces)
            .then(move |piece| async move {
                if delay.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(delay).await;
                }
                Ok(Chunk::Text(piece))
            })
            .chain(futures::stream::once(async move {
                Ok(Chunk::Usage(Usage {
                    input_tokens,
                    output_tokens,
                }))
            }));
        wait.chain(body).boxed()
    }
}

/// Splits text into token-sized pieces (a word with its trailing whitespace),
/// grouped so a reply streams in a few hundred chunks at most.
fn split_tokens(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            in_space = false;
            words += 1;
            if words >= 4 {
                pieces.push(std::mem::take(&mut current));
                words = 0;
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Agents' positions on the two contested topics: (topic, option, rationale).
/// Agents not listed take the first option of each topic.
fn position(agent: &str, topic: &str) -> (&'static str, &'static str) {
    match (agent, topic) {
        ("backend", "storage") => (
            "sqlite",
            "SQLite through the standard library's sqlite3: one file, no server, transactions and indexes for free.",
        ),
        ("frontend", "storage") => (
            "json-file",
            "A JSON file is enough at this size: readable, diffable, trivially backed up, and no schema to migrate.",
        ),
        ("qa", "storage") => (
            "sqlite",
            "SQLite gives atomic writes, so a crash mid-test cannot leave half-written data behind.",
        ),
        ("security", "storage") => (
            "json-file",
            "A JSON file written atomically has the smallest attack surface: no query language, no injection.",
        ),
        ("security", "api") => (
            "rpc",
            "One JSON-RPC endpoint is a single place to validate input and to add authentication later.",
        ),
        (_, "api") => (
            "rest",
            "Plain REST over HTTP: resource URLs, standard verbs and status codes, testable with curl.",
        ),
        (_, _) => (
            "sqlite",
            "SQLite through the standard library's sqlite3: one file, no server.",
        ),
    }
}

/// The contested topics: (id, title).
const TOPICS: [(&str, &str); 2] = [("storage", "Storage engine"), ("api", "API style")];

fn prompt_of(meta: &CallMeta) -> String {
    meta.context["prompt"].as_str().unwrap_or("").to_string()
}

/// The decisions in the context (`{"storage": "sqlite", "api": "rest"}`),
/// defaulting to SQLite and REST.
fn decisions(meta: &CallMeta) -> (Storage, ApiStyle) {
    let decisions = &meta.context["decisions"];
    let storage = decisions["storage"]
        .as_str()
        .and_then(Storage::from_option)
        .unwrap_or(Storage::Sqlite);
    let api = decisions["api"]
        .as_str()
        .and_then(ApiStyle::from_option)
        .unwrap_or(ApiStyle::Rest);
    (storage, api)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The deterministic reply for a call.
pub fn reply(meta: &CallMeta) -> String {
    let prompt = prompt_of(meta);
    let names = project::names_from_prompt(&prompt);
    match meta.kind {
        TaskKind::Requirements => pretty(&requirements(&prompt, &names)),
        TaskKind::Plan => pretty(&plan(&meta.agent, &names)),
        TaskKind::Compare => pretty(&compare(&meta.context)),
        TaskKind::Ballot => pretty(&ballot(meta)),
        TaskKind::Chair => pretty(&chair(meta)),
        TaskKind::Breakdown => pretty(&breakdown(meta, &names)),
        TaskKind::Implement | TaskKind::Tests | TaskKind::Repair => files_reply(meta, &names),
        TaskKind::Review => pretty(&review(meta)),
        TaskKind::Chat => format!(
            "This is the offline (simulated) provider: it plays a deterministic team for quorum's \
             structured tasks and does not answer free questions. You asked: \"{}\". Configure a \
             provider in quorum.toml (see README.md, \"Configuration\") for a real answer.\n",
            prompt.trim()
        ),
    }
}

fn requirements(prompt: &str, names: &Names) -> Value {
    let r = &names.resource;
    json!({
        "summary": format!("{}: {}", names.title, prompt.trim()),
        "goals": [
            format!("Create, list, show and delete {} through a JSON HTTP API", r.plural),
            format!("A command-line client for the same {}", r.plural),
            "Persist data across restarts",
        ],
        "constraints": [
            "Python 3 standard library only: nothing to install",
            "Runs on one machine; binds to 127.0.0.1 by default",
        ],
        "acceptance_criteria": [
            format!("Creating a {} with an invalid {} is refused with a clear error", r.singular, r.field),
            format!("A created {} can be fetched by id and appears in the list", r.singular),
            "`python3 -m unittest discover` passes",
        ],
        "assumptions": [
            "Single user; no authentication in the first version",
            "Tens of thousands of records at most",
        ],
        "questions": [],
    })
}

fn plan(agent: &str, names: &Names) -> Value {
    let r = &names.resource;
    let decisions: Vec<Value> = TOPICS
        .iter()
        .map(|(topic, _)| {
            let (choice, rationale) = position(agent, topic);
            json!({"topic": topic, "choice": choice, "rationale": rationale})
        })
        .collect();
    let focus = match agent {
        "backend" => "the store and the HTTP server",
        "frontend" => "the command-line client and its output",
        "qa" => "the unittest suites and their isolation",
        "security" => "input validation and the attack surface",
        _ => "the whole project",
    };
    json!({
        "summary": format!("{} from the {agent} agent's view, focused on {focus}.", names.title),
        "stack": ["Python 3 (standard library)", "unittest", "http.server"],
        "components": [
            {"name": format!("{}.store", names.package), "responsibility": format!("create, get, list and delete {}", r.plural)},
            {"name": format!("{}.server", names.package), "responsibility": "JSON over HTTP on top of the store"},
            {"name": format!("{}.cli", names.package), "responsibility": "command-line client"},
        ],
        "data_model": format!("{} {{ id: integer, {}: string }}", r.singular, r.field),
        "api": [
            format!("create {}", r.singular),
            format!("get {} by id", r.singular),
            format!("list {}", r.plural),
            format!("delete {}", r.singular),
        ],
        "decisions": decisions,
    })
}

fn compare(context: &Value) -> Value {
    let empty = serde_json::Map::new();
    let plans = context["plans"].as_object().unwrap_or(&empty);
    let mut conflicts = Vec::new();
    for (topic, title) in TOPICS {
        let mut options: Vec<String> = Vec::new();
        let mut positions = Vec::new();
        for (agent, plan) in plans {
            let Some(decisions) = plan["decisions"].as_array() else {
                continue;
            };
            for d in decisions {
                if d["topic"].as_str() != Some(topic) {
                    continue;
                }
                let choice = d["choice"].as_str().unwrap_or("").to_string();
                if choice.is_empty() {
                    continue;
                }
                if !options.contains(&choice) {
                    options.push(choice.clone());
                }
                positions.push(json!({
                    "agent": agent,
                    "option": choice,
                    "quote": d["rationale"].as_str().unwrap_or(""),
                }));
            }
        }
        if options.len() >= 2 {
            options.sort();
            conflicts.push(json!({
                "id": topic,
                "topic": title,
                "options": options,
                "positions": positions,
                "blocking": true,
                "needs_human": false,
            }));
        }
    }
    json!({ "conflicts": conflicts })
}

fn ballot(meta: &CallMeta) -> Value {
    let conflict = &meta.context["conflict"];
    let id = conflict["id"].as_str().unwrap_or("");
    let options: Vec<&str> = conflict["options"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let own = meta.context["plan"]["decisions"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["topic"].as_str() == Some(id)))
        .and_then(|d| {
            let choice = d["choice"].as_str()?;
            Some((
                choice.to_string(),
                d["rationale"].as_str().unwrap_or("").to_string(),
            ))
        });
    let (option, rationale) = match own {
        Some((choice, why)) if options.contains(&choice.as_str()) => (choice, why),
        _ => (
            options.first().map(|s| s.to_string()).unwrap_or_default(),
            "No position in my plan; the first option is the simplest.".to_string(),
        ),
    };
    json!({"option": option, "rationale": rationale})
}

fn chair(meta: &CallMeta) -> Value {
    let conflict = &meta.context["conflict"];
    let options: Vec<&str> = conflict["options"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // The chair prefers what keeps the first version smallest and safest.
    let preferred = ["sqlite", "rest"];
    let option = options
        .iter()
        .find(|o| preferred.contains(o))
        .or(options.first())
        .map(|s| s.to_string())
        .unwrap_or_default();
    json!({
        "option": option,
        "rationale": format!(
            "The ballots are tied. As chair I pick {option}: it needs nothing beyond the standard library and keeps the first version simple to test."
        ),
    })
}

/// Owner roles for generated files, mapped onto the phase's agents.
fn owner_for(role: &str, agents: &[String]) -> String {
    if agents.iter().any(|a| a == role) {
        return role.to_string();
    }
    agents
        .iter()
        .find(|a| a.as_str() != "pm")
        .or(agents.first())
        .cloned()
        .unwrap_or_else(|| role.to_string())
}

fn breakdown(meta: &CallMeta, names: &Names) -> Value {
    let (storage, api) = decisions(meta);
    let files = project::render(names, storage, api);
    let agents: Vec<String> = meta.context["agents"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let pkg = &names.package;
    let pick = |pred: &dyn Fn(&str) -> bool| -> Vec<String> {
        files
            .iter()
            .filter(|f| f.owner != "qa" && pred(&f.path))
            .map(|f| f.path.clone())
            .collect()
    };
    let core = pick(&|p| p == format!("{pkg}/__init__.py") || p == format!("{pkg}/store.py"));
    let server = pick(&|p| p == format!("{pkg}/server.py"));
    let cli = pick(&|p| p == format!("{pkg}/cli.py") || p == format!("{pkg}/__main__.py"));
    let docs = pick(&|p| !p.starts_with(&format!("{pkg}/")));
    let task = |id: &str, role: &str, title: String, files: Vec<String>, deps: &[&str]| {
        json!({
            "id": id,
            "agent": owner_for(role, &agents),
            "title": title,
            "files": files,
            "depends_on": deps,
            "description": format!("Write {} following the decisions ({} storage, {} API).", files.join(", "), storage.option(), api.option()),
        })
    };
    json!({
        "tasks": [
            task("core", "backend", format!("{} store ({})", names.resource.singular, storage.option()), core, &[]),
            task("server", "backend", format!("{} HTTP server", api.option()), server, &["core"]),
            task("cli", "frontend", "command-line client".to_string(), cli, &["core"]),
            task("docs", "pm", "README and .gitignore".to_string(), docs, &[]),
        ]
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

fn files_reply(meta: &CallMeta, names: &Names) -> String {
    let (storage, api) = decisions(meta);
    let declared: Vec<String> = meta.context["files"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let covered = |path: &str| {
        declared.iter().any(|d| match d.strip_suffix('/') {
            Some(dir) => path.starts_with(&format!("{dir}/")),
            None => d == path,
        })
    };
    let findings = if meta.kind == TaskKind::Repair {
        findings_in(meta.context["report"].as_str().unwrap_or(""))
    } else {
        Vec::new()
    };
    let files: Vec<(String, String)> = project::render(names, storage, api)
        .into_iter()
        .filter(|f| covered(&f.path))
        .filter(|f| meta.kind != TaskKind::Tests || f.owner == "qa")
        .map(|f| {
            // A review finding on a Python file is acknowledged where the next
            // reader will see it: a comment at the top of the file.
            let notes: Vec<String> = findings
                .iter()
                .filter(|(path, _)| *path == f.path && f.path.ends_with(".py"))
                .map(|(_, note)| format!("# Security review: {note}\n"))
                .collect();
            (f.path, format!("{}{}", notes.concat(), f.content))
        })
        .collect();
    let summary = match meta.kind {
        TaskKind::Tests => format!(
            "unittest suites for {} ({} files).",
            names.title,
            files.len()
        ),
        TaskKind::Repair => "Rewrote the files named in the failure report.".to_string(),
        _ => format!("Wrote {} file(s) for task `{}`.", files.len(), meta.task),
    };
    file_blocks(&summary, &files)
}

/// The review findings a repair report lists, as (path, "severity: text"); the
/// report's lines read `SEVERITY PATH:LINE: TEXT`.
fn findings_in(report: &str) -> Vec<(String, String)> {
    report
        .lines()
        .filter_map(|line| {
            let (severity, rest) = line.split_once(' ')?;
            let (location, text) = rest.split_once(": ")?;
            let (path, number) = location.rsplit_once(':')?;
            number.parse::<u32>().ok()?;
            crate::orchestrator::outputs::SEVERITIES
                .contains(&severity)
                .then(|| (path.to_string(), format!("{severity}: {text}")))
        })
        .collect()
}

fn review(meta: &CallMeta) -> Value {
    let mut findings = Vec::new();
    let empty = Vec::new();
    let files = meta.context["files"].as_array().unwrap_or(&empty);
    for file in files {
        let path = file["path"].as_str().unwrap_or("");
        let content = file["content"].as_str().unwrap_or("");
        if path.starts_with("tests/") {
            continue;
        }
        if path.ends_with("server.py") {
            let line = content
                .lines()
                .position(|l| l.contains("def make_server"))
                .map(|i| i + 1)
                .unwrap_or(1);
            findings.push(json!({
                "severity": "low",
                "path": path,
                "line": line,
                "text": "The API has no authentication. It binds to 127.0.0.1 by default; keep it there, or put an authenticating proxy in front before exposing it.",
                "blocking": false,
            }));
        }
        if path.ends_with("store.py") && content.contains("execute(") {
            let line = content
                .lines()
                .position(|l| l.contains("execute("))
                .map(|i| i + 1)
                .unwrap_or(1);
            findings.push(json!({
                "severity": "info",
                "path": path,
                "line": line,
                "text": "SQL statements use parameter binding throughout; no injection found.",
                "blocking": false,
            }));
        }
    }
    json!({ "findings": findings })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn meta(agent: &str, kind: TaskKind, context: Value) -> CallMeta {
        CallMeta {
            agent: agent.into(),
            role: agent.into(),
            phase: "p".into(),
            task: "t".into(),
            kind,
            context,
        }
    }

    #[test]
    fn planners_disagree_two_two_on_storage_and_three_one_on_api() {
        let mut plans = serde_json::Map::new();
        for agent in ["backend", "frontend", "qa", "security"] {
            let text = reply(&meta(
                agent,
                TaskKind::Plan,
                json!({"prompt": "Build a todo app"}),
            ));
            plans.insert(agent.into(), serde_json::from_str(&text).unwrap());
        }
        let conflicts: Value = serde_json::from_str(&reply(&meta(
            "pm",
            TaskKind::Compare,
            json!({"plans": plans}),
        )))
        .unwrap();
        let conflicts = conflicts["conflicts"].as_array().unwrap();
        assert_eq!(conflicts.len(), 2);
        let mut tallies = Vec::new();
        for conflict in conflicts {
            let mut counts = std::collections::BTreeMap::new();
            for agent in ["backend", "frontend", "qa", "security"] {
                let b: Value = serde_json::from_str(&reply(&meta(
                    agent,
                    TaskKind::Ballot,
                    json!({"conflict": conflict, "plan": plans[agent]}),
                )))
                .unwrap();
                *counts
                    .entry(b["option"].as_str().unwrap().to_string())
                    .or_insert(0) += 1;
            }
            let mut v: Vec<u32> = counts.values().copied().collect();
            v.sort();
            tallies.push(v);
        }
        assert_eq!(tallies, vec![vec![2, 2], vec![1, 3]]);
    }

    #[test]
    fn file_blocks_use_fences_longer_than_the_content_needs() {
        let text = file_blocks("s", &[("README.md".into(), "```sh\nx\n```\n".into())]);
        assert!(
            text.contains("\n````markdown\n```sh\nx\n```\n````\n"),
            "{text}"
        );
    }

    #[test]
    fn a_review_fix_acknowledges_the_finding_in_the_file() {
        let meta = meta(
            "backend",
            TaskKind::Repair,
            json!({
                "prompt": "Build a todo app",
                "files": ["todo/server.py"],
                "report": "high todo/server.py:12: Check the bind address.",
            }),
        );
        let text = reply(&meta);
        assert!(
            text.contains("# Security review: high: Check the bind address.\n"),
            "{text}"
        );
        assert_eq!(
            findings_in("FAIL: test_x (t.T)\n  File \"a.py\", line 3"),
            vec![]
        );
    }

    #[test]
    fn tokens_rejoin_to_the_text() {
        let text = "one two  three\nfour five six seven eight nine";
        assert_eq!(split_tokens(text).concat(), text);
        assert!(split_tokens(text).len() >= 2);
    }
}
