//! The simulated team's replies, one function per task kind: requirements,
//! a plan per agent (the planners disagree on storage and API style),
//! compare, ballot, chair, breakdown, the file blocks of implement, tests and
//! repair, and review. Each reads the call's typed inputs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::project::{ApiStyle, Feature, Storage};
use super::target::Target;
use crate::llm::CallMeta;
use crate::protocol::TaskKind;
use crate::protocol::file_blocks::{EditFormat, edit_block, file_blocks};
use crate::protocol::inputs::{FileView, TaskInputs};

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

pub(super) fn prompt_of(meta: &CallMeta) -> String {
    meta.inputs
        .as_ref()
        .map_or("", TaskInputs::prompt)
        .to_string()
}

/// The decisions in the inputs (`{"storage": "sqlite", "api": "rest"}`),
/// defaulting to SQLite and REST.
pub(super) fn decisions(meta: &CallMeta) -> (Storage, ApiStyle) {
    let decided = |topic: &str| {
        meta.inputs
            .as_ref()
            .and_then(TaskInputs::shared)
            .and_then(|s| s.decisions.get(topic))
            .map(String::as_str)
    };
    let storage = decided("storage")
        .and_then(Storage::from_option)
        .unwrap_or(Storage::Sqlite);
    let api = decided("api")
        .and_then(ApiStyle::from_option)
        .unwrap_or(ApiStyle::Rest);
    (storage, api)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The deterministic reply for a call, every file written whole.
pub fn reply(meta: &CallMeta) -> String {
    reply_in(meta, EditFormat::Whole)
}

/// The deterministic reply for a call whose request asks for `format`: with
/// SEARCH/REPLACE, an implementer changes each file it sees whole in
/// `existing` with edits ([`crate::protocol::edits::diff_edits`]), and
/// writes whole a file that is new or whose edits would not apply cleanly.
pub fn reply_in(meta: &CallMeta, format: EditFormat) -> String {
    let prompt = prompt_of(meta);
    let target = Target::of(meta);
    match meta.kind {
        TaskKind::Requirements => pretty(&requirements(&prompt, &target)),
        TaskKind::Plan => pretty(&plan(&meta.agent, &target)),
        TaskKind::Compare => pretty(&compare(meta.inputs.as_ref())),
        TaskKind::Ballot => pretty(&ballot(meta)),
        TaskKind::Chair => pretty(&chair(meta)),
        TaskKind::Breakdown => pretty(&breakdown(meta, &prompt, &target)),
        TaskKind::Implement | TaskKind::Tests | TaskKind::Repair => {
            let reply = files_reply(meta, &prompt, &target);
            match (meta.kind, format) {
                (TaskKind::Implement, EditFormat::SearchReplace) => as_edits(meta, reply),
                _ => reply,
            }
        }
        TaskKind::Review => pretty(&review(meta)),
        TaskKind::Chat => format!(
            "This is the offline (simulated) provider: it plays a deterministic team for quorum's \
             structured tasks and does not answer free questions. You asked: \"{}\". Configure a \
             provider in quorum.toml (see README.md, \"Configuration\") for a real answer.\n",
            prompt.trim()
        ),
    }
}

fn requirements(prompt: &str, target: &Target) -> Value {
    let names = &target.names;
    let r = &names.resource;
    if target.existing.is_some() {
        let mut goals: Vec<String> = target
            .added
            .iter()
            .map(|f| format!("Add {}", f.describe()))
            .collect();
        if goals.is_empty() {
            goals.push(format!(
                "Record the request in the README: the offline (simulated) team can only add {}",
                Feature::ALL.map(Feature::id).join(", ")
            ));
        }
        goals.push(format!(
            "Keep the existing {} storage, {} API and every current behaviour",
            target.storage.option(),
            target.api.option()
        ));
        let mut assumptions = vec![format!(
            "Follow-up to the existing {} project in this directory; files change in place and are staged as diffs",
            names.title
        )];
        if !target.edited.is_empty() {
            assumptions.push(format!(
                "{} differ from what the team generated (edited by hand?); they are rewritten whole, so review their diffs",
                target.edited.join(", ")
            ));
        }
        let mut criteria: Vec<String> = target
            .added
            .iter()
            .map(|f| format!("Tests cover `{}` in the store, the API and the CLI", f.id()))
            .collect();
        criteria.push("The existing tests still pass: `python3 -m unittest discover`".into());
        return json!({
            "summary": format!("{}: {}", names.title, prompt.trim()),
            "goals": goals,
            "constraints": ["Python 3 standard library only: nothing to install"],
            "acceptance_criteria": criteria,
            "assumptions": assumptions,
            "questions": [],
        });
    }
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

fn plan(agent: &str, target: &Target) -> Value {
    let names = &target.names;
    let r = &names.resource;
    let decisions: Vec<Value> = TOPICS
        .iter()
        .map(|(topic, _)| {
            if target.existing.is_some() {
                // A follow-up keeps what the project already is: no conflict.
                let choice = match *topic {
                    "storage" => target.storage.option(),
                    _ => target.api.option(),
                };
                return json!({
                    "topic": topic,
                    "choice": choice,
                    "rationale": format!("The project already uses {choice}; changing it is not part of this request."),
                });
            }
            let (choice, rationale) = position(agent, topic);
            json!({"topic": topic, "choice": choice, "rationale": rationale})
        })
        .collect();
    let api: Vec<String> = [
        format!("create {}", r.singular),
        format!("get {} by id", r.singular),
        format!("list {}", r.plural),
        format!("delete {}", r.singular),
    ]
    .into_iter()
    .chain(target.features.iter().map(|f| f.describe().to_string()))
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
        "api": api,
        "decisions": decisions,
    })
}

fn compare(inputs: Option<&TaskInputs>) -> Value {
    let empty = BTreeMap::new();
    let plans = match inputs {
        Some(TaskInputs::Compare(c)) => c.plans.whole().unwrap_or(&empty),
        _ => &empty,
    };
    let mut conflicts = Vec::new();
    for (topic, title) in TOPICS {
        let mut options: Vec<String> = Vec::new();
        let mut positions = Vec::new();
        for (agent, plan) in plans {
            for d in &plan.decisions {
                if d.topic != topic {
                    continue;
                }
                let choice = d.choice.clone();
                if choice.is_empty() {
                    continue;
                }
                if !options.contains(&choice) {
                    options.push(choice.clone());
                }
                positions.push(json!({
                    "agent": agent,
                    "option": choice,
                    "quote": d.rationale,
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

/// The options of the conflict the inputs are about (none without one).
fn options_of(meta: &CallMeta) -> Vec<&str> {
    meta.inputs
        .as_ref()
        .and_then(TaskInputs::conflict)
        .map(|c| c.options.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

fn ballot(meta: &CallMeta) -> Value {
    let id = meta
        .inputs
        .as_ref()
        .and_then(TaskInputs::conflict)
        .map_or("", |c| c.id.as_str());
    let options = options_of(meta);
    let plan = match &meta.inputs {
        Some(TaskInputs::Ballot(b)) => b.plan.as_ref(),
        _ => None,
    };
    let own = plan
        .and_then(|p| p.decisions.iter().find(|d| d.topic == id))
        .map(|d| (d.choice.clone(), d.rationale.clone()));
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
    let options = options_of(meta);
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

fn breakdown(meta: &CallMeta, prompt: &str, target: &Target) -> Value {
    let agents: Vec<String> = match &meta.inputs {
        Some(TaskInputs::Breakdown(b)) => b.agents.clone(),
        _ => Vec::new(),
    };
    if target.existing.is_some() {
        return follow_up_breakdown(prompt, target, &agents);
    }
    let (names, storage, api) = (&target.names, target.storage, target.api);
    let files = target.files(prompt);
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
        ],
        "components": components(pkg),
    })
}

/// The offline project's one component: the package at the root, its setup
/// byte-compiling it (dependency-free, and it fails on a syntax error as an
/// install would), its tests run by unittest.
fn components(package: &str) -> Value {
    json!([{
        "name": "project",
        "root": "",
        "setup": format!("python3 -m compileall -q {package}"),
        "test": "python3 -m unittest discover -v",
    }])
}

/// A follow-up's tasks: only the files that change, one task per owner (the
/// command line after the store and server it calls). Test files are the QA
/// agent's, in the test phase.
fn follow_up_breakdown(prompt: &str, target: &Target, agents: &[String]) -> Value {
    let changed = target.changed(prompt);
    let what = if target.added.is_empty() {
        "record the open request".to_string()
    } else {
        target
            .added
            .iter()
            .map(|f| f.id())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut tasks = Vec::new();
    for (id, role, title, deps) in [
        ("backend", "backend", "store and server", vec![]),
        ("cli", "frontend", "command-line client", vec!["backend"]),
        ("docs", "pm", "README", vec![]),
    ] {
        let files: Vec<String> = changed
            .iter()
            .filter(|f| f.owner == role)
            .map(|f| f.path.clone())
            .collect();
        if files.is_empty() {
            continue;
        }
        let deps: Vec<&str> = deps
            .into_iter()
            .filter(|d| tasks.iter().any(|t: &Value| t["id"] == *d))
            .collect();
        tasks.push(json!({
            "id": id,
            "agent": owner_for(role, agents),
            "title": format!("{title}: {what}"),
            "files": files,
            "depends_on": deps,
            "description": format!(
                "Change {} in place for: {what}. Keep the {} storage, the {} API and all current behaviour.",
                files.join(", "),
                target.storage.option(),
                target.api.option()
            ),
        }));
    }
    json!({ "tasks": tasks, "components": components(&target.names.package) })
}

fn files_reply(meta: &CallMeta, prompt: &str, target: &Target) -> String {
    let names = &target.names;
    let declared: &[String] = match &meta.inputs {
        Some(TaskInputs::Implement(i)) => &i.files,
        Some(TaskInputs::Tests(i)) => &i.files,
        Some(TaskInputs::Repair(i)) => &i.files,
        _ => &[],
    };
    let covered = |path: &str| {
        declared.iter().any(|d| match d.strip_suffix('/') {
            Some(dir) => path.starts_with(&format!("{dir}/")),
            None => d == path,
        })
    };
    let findings = match &meta.inputs {
        Some(TaskInputs::Repair(r)) if meta.kind == TaskKind::Repair => findings_in(&r.report),
        _ => Vec::new(),
    };
    // A follow-up writes only what changes; a repair rewrites what it is
    // asked to even when that matches DIR.
    let candidates = if meta.kind == TaskKind::Repair {
        target.files(prompt)
    } else {
        target.changed(prompt)
    };
    let files: Vec<(String, String)> = candidates
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
        TaskKind::Tests if files.is_empty() => {
            "The existing tests already cover this change; no test file changes.".to_string()
        }
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

/// `reply` (whole files) with each file the inputs' `existing` shows whole
/// given as SEARCH/REPLACE edits instead, when they rebuild it exactly.
fn as_edits(meta: &CallMeta, reply: String) -> String {
    let Some(TaskInputs::Implement(input)) = &meta.inputs else {
        return reply;
    };
    let Some(existing) = input.existing.whole() else {
        return reply;
    };
    let Ok(blocks) = crate::protocol::file_blocks::parse_file_blocks_or_none(&reply) else {
        return reply;
    };
    let summary = reply.lines().next().unwrap_or_default();
    let mut whole = Vec::new();
    let mut edited = String::new();
    for block in blocks {
        let edits = existing
            .iter()
            .find(|f| f.path == block.path)
            .and_then(|f| crate::protocol::edits::diff_edits(&f.content, &block.content));
        match edits {
            Some(edits) => edited.push_str(&edit_block(&block.path, &edits)),
            None => whole.push((block.path, block.content)),
        }
    }
    file_blocks(summary, &whole) + &edited
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
            crate::protocol::Severity::parse(severity)
                .is_some()
                .then(|| (path.to_string(), format!("{severity}: {text}")))
        })
        .collect()
}

fn review(meta: &CallMeta) -> Value {
    let mut findings = Vec::new();
    let files: &[FileView] = match &meta.inputs {
        Some(TaskInputs::Review(r)) => &r.files,
        _ => &[],
    };
    for file in files {
        let (path, content) = (file.path.as_str(), file.content.as_str());
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
    use crate::sim::project;

    fn meta(agent: &str, kind: TaskKind, context: Value) -> CallMeta {
        CallMeta {
            agent: agent.into(),
            role: agent.into(),
            phase: "p".into(),
            task: "t".into(),
            kind,
            inputs: Some(TaskInputs::from_value(kind, context).unwrap()),
        }
    }

    /// A context whose `project` holds a generated project's files, as the
    /// orchestrator's project map carries them.
    fn follow_up(prompt: &str, storage: Storage, api: ApiStyle, features: &[Feature]) -> Value {
        let names = project::names_from_prompt("Build a URL shortener REST API with tests");
        let files: Vec<Value> = project::render_with(&names, storage, api, features)
            .into_iter()
            .map(|f| json!({"path": f.path, "content": f.content}))
            .collect();
        json!({
            "prompt": prompt,
            "agents": ["pm", "backend", "frontend"],
            "project": {"files": files.iter().map(|f| f["path"].clone()).collect::<Vec<_>>(), "key_files": files},
        })
    }

    #[test]
    fn a_follow_up_keeps_the_project_and_changes_only_what_the_feature_needs() {
        let context = follow_up(
            "add a delete endpoint with tests",
            Storage::JsonFile,
            ApiStyle::Rpc,
            &[Feature::Count],
        );
        // Every planner keeps the project's own choices: nothing to vote on.
        let mut plans = serde_json::Map::new();
        for agent in ["backend", "frontend", "qa", "security"] {
            let text = reply(&meta(agent, TaskKind::Plan, context.clone()));
            plans.insert(agent.into(), serde_json::from_str(&text).unwrap());
        }
        let compared: Value = serde_json::from_str(&reply(&meta(
            "pm",
            TaskKind::Compare,
            json!({"plans": plans}),
        )))
        .unwrap();
        assert_eq!(compared["conflicts"], json!([]));
        let requirements: Value =
            serde_json::from_str(&reply(&meta("pm", TaskKind::Requirements, context.clone())))
                .unwrap();
        assert!(requirements["goals"][0].as_str().unwrap().contains("clear"));
        assert!(
            requirements["goals"][1].as_str().unwrap().contains("json"),
            "{requirements}"
        );
        // Only the changed files are planned, grouped by owner, no test files.
        let tasks: Value =
            serde_json::from_str(&reply(&meta("pm", TaskKind::Breakdown, context.clone())))
                .unwrap();
        let planned: Vec<(String, Vec<String>)> = tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["agent"].as_str().unwrap().to_string(),
                    serde_json::from_value(t["files"].clone()).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            planned,
            vec![
                (
                    "backend".to_string(),
                    vec![
                        "url_shortener/server.py".to_string(),
                        "url_shortener/store.py".into()
                    ]
                ),
                ("frontend".into(), vec!["url_shortener/cli.py".to_string()]),
                ("pm".into(), vec!["README.md".to_string()]),
            ]
        );
        assert_eq!(tasks["tasks"][1]["depends_on"], json!(["backend"]));
        // The store is rewritten with both features, the old one kept.
        let mut implement = context.clone();
        implement["files"] = json!(["url_shortener/store.py"]);
        let text = reply(&meta("backend", TaskKind::Implement, implement));
        let blocks = crate::protocol::file_blocks::parse_file_blocks_or_none(&text).unwrap();
        assert_eq!(blocks.len(), 1);
        assert!(blocks[0].content.contains("def clear(self):"));
        assert!(blocks[0].content.contains("def count(self):"));
        assert!(blocks[0].content.contains("import json"));
        // QA writes only the test files that change.
        let mut tests = context.clone();
        tests["files"] = json!(["tests/"]);
        let text = reply(&meta("qa", TaskKind::Tests, tests));
        let paths: Vec<String> = crate::protocol::file_blocks::parse_file_blocks_or_none(&text)
            .unwrap()
            .into_iter()
            .map(|b| b.path)
            .collect();
        assert_eq!(
            paths,
            [
                "tests/test_cli.py",
                "tests/test_server.py",
                "tests/test_store.py"
            ]
        );
    }

    #[test]
    fn asked_for_edits_an_implementer_edits_the_files_it_sees_whole() {
        let context = follow_up(
            "add an endpoint to clear all links and one that counts them",
            Storage::Sqlite,
            ApiStyle::Rest,
            &[],
        );
        let mut implement = context.clone();
        implement["files"] = json!(["url_shortener/store.py"]);
        let whole = reply(&meta("backend", TaskKind::Implement, implement.clone()));
        let new = &crate::protocol::file_blocks::parse_file_blocks_or_none(&whole).unwrap()[0];
        let old = context["project"]["key_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "url_shortener/store.py")
            .unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string();
        implement["existing"] = json!([{"path": "url_shortener/store.py", "content": old}]);
        let text = reply_in(
            &meta("backend", TaskKind::Implement, implement),
            EditFormat::SearchReplace,
        );
        assert!(text.contains("<<<<<<< SEARCH\n"), "{text}");
        let (files, _) =
            crate::protocol::file_blocks::parse_reply_at_most(&text, usize::MAX).unwrap();
        let crate::protocol::file_blocks::FileBody::Edits(edits) = &files[0].body else {
            panic!("{text}")
        };
        let applied = crate::protocol::edits::apply(&new.path, Some(&old), edits).unwrap();
        assert_eq!(
            applied, new.content,
            "the edits give the file it would write whole"
        );
    }

    #[test]
    fn a_follow_up_the_team_cannot_build_is_recorded_not_faked() {
        let context = follow_up("make it faster", Storage::Sqlite, ApiStyle::Rest, &[]);
        let tasks: Value =
            serde_json::from_str(&reply(&meta("pm", TaskKind::Breakdown, context.clone())))
                .unwrap();
        assert_eq!(tasks["tasks"].as_array().unwrap().len(), 1, "{tasks}");
        assert_eq!(tasks["tasks"][0]["files"], json!(["README.md"]));
        let mut implement = context.clone();
        implement["files"] = json!(["README.md"]);
        let text = reply(&meta("pm", TaskKind::Implement, implement));
        let readme =
            &crate::protocol::file_blocks::parse_file_blocks_or_none(&text).unwrap()[0].content;
        assert!(
            readme.contains("## Open requests\n\n- make it faster (not done"),
            "{readme}"
        );
        let mut tests = context.clone();
        tests["files"] = json!(["tests/"]);
        let text = reply(&meta("qa", TaskKind::Tests, tests));
        assert_eq!(
            crate::protocol::file_blocks::parse_file_blocks_or_none(&text).unwrap(),
            vec![],
            "no test changes: {text}"
        );
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
}
