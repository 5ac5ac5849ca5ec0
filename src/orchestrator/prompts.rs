//! The messages of each call, stable part first: the session's shared
//! context (the inputs every agent of the phase is given) as a first system
//! message, the agent's role prompt (`assets/prompts/<role>.md`, `generic.md`
//! for roles without one) as a second, then the task's instructions, its own
//! inputs and the reply format as the user message (docs/design.md §2,
//! "Prompt order"). The kinds that write code are asked for whole files or, for
//! files that exist, SEARCH/REPLACE edits, per the answering model's edit format
//! (docs/design.md §1, "Edits").

use serde_json::Value;

use crate::llm::{Message, Role};
use crate::protocol::TaskKind;
use crate::protocol::file_blocks::EditFormat;

/// The system prompt for a role.
pub fn system_prompt(role: &str) -> &'static str {
    match role {
        "pm" => include_str!("../../assets/prompts/pm.md"),
        "backend" => include_str!("../../assets/prompts/backend.md"),
        "frontend" => include_str!("../../assets/prompts/frontend.md"),
        "qa" => include_str!("../../assets/prompts/qa.md"),
        "security" => include_str!("../../assets/prompts/security.md"),
        _ => include_str!("../../assets/prompts/generic.md"),
    }
}

/// What the task asks, per kind; for implement and repair, per edit format.
fn instructions(kind: TaskKind, format: EditFormat) -> &'static str {
    match (kind, format) {
        (TaskKind::Implement, EditFormat::SearchReplace) => {
            return "Implement this task. Write every file it declares, following the decisions: a new file complete (no placeholders, no elisions); a declared file that already exists (its current content is in `existing`) changed with SEARCH/REPLACE edits as the reply format says, leaving the rest of it as it is. Write no other file.";
        }
        (TaskKind::Repair, EditFormat::SearchReplace) => {
            return "The tests fail. `failure` says, per component, how (its class: `setup_failed`, `build_failed`, `failed`, `no_tests`, `timeout`), the command, the failing tests, the decisive lines and the files the output names; `report` holds the output's tail; `current` holds the files under repair and `named` other files the failure names, both with line numbers (`  12 | code`) for reference only; `manifest` holds the component's manifests. Fix it: change each file that needs it, within the declared files, with SEARCH/REPLACE edits whose SEARCH lines are copied from `current` without the line numbers (or write the file whole, without the line numbers). If no change within the declared files can fix the failure (the cause is elsewhere, or in the environment), reply with one line beginning `No change in these files can fix this:` followed by the reason and the files or settings that would fix it, and no file blocks.";
        }
        _ => {}
    }
    match kind {
        TaskKind::Requirements => {
            "Turn the prompt into requirements: a one-paragraph summary, goals, constraints, acceptance criteria and assumptions. Ask a question only when the answer would change the design; give each question a short id and the default you will assume if nobody answers."
        }
        TaskKind::Plan => {
            "Write your technical plan for these requirements from your role's point of view: stack, components with responsibilities, data model, API, and your design decisions. Give each decision a short topic id (for example `storage`, `api`), the option you choose (a short id such as `sqlite`) and why."
        }
        TaskKind::Compare => {
            "Compare the plans. List every topic on which they choose different options as a conflict: a short `id`; a `topic`, its title for people; the distinct `options`; `positions`, each planning agent's option with a `quote` from its own plan; `blocking`, whether implementation must wait for the decision; and `needs_human`, true when the choice should be a person's whatever the vote (a product, cost or legal decision the requirements leave open). Do not invent disagreements; if the plans agree, return no conflicts."
        }
        TaskKind::Ballot => {
            "Vote on this conflict: choose exactly one of its options and say why in one or two sentences. Vote for what is best for the project, not for your own plan's sake."
        }
        TaskKind::Chair => {
            "The ballots on this conflict are tied. As chair, choose exactly one of its options and say why in one or two sentences."
        }
        TaskKind::Breakdown => {
            "Break the agreed design into implementation tasks. Each task has a short id, an owner from the listed agents, a one-line title, the exact files it may write (a directory may be given with a trailing `/`), the ids of the tasks it depends on, and a description that names the interfaces it must meet (the functions, exports, routes and types other tasks call, with their exact names). Tests are written in a later phase; do not plan test files. When the inputs hold a `project` (the code already in the directory), change its files in place and list only the files that change. Never write under `.git/` or `.quorum/`.\n\nAlso list the project's components: each root directory with its own manifest (`backend` with requirements.txt, `frontend` with package.json; `\"\"` for the project's root), the shell command that installs its dependencies (run in that root, with the network; `\"\"` when none is needed) and the command that runs its tests (run in that root, without the network, after setup), using the tools in `environment`. For example: `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt` / `.venv/bin/python -m pytest -q`; `npm install` / `npx vitest run`; `cargo fetch` / `cargo test --offline`; `go mod download` / `go test ./...`. Every dependency the code imports must be in a manifest that a task writes."
        }
        TaskKind::Implement => {
            "Implement this task. Write every file it declares, complete (no placeholders, no elisions), following the decisions. A declared file that already exists (its current content is in `existing`) is rewritten whole, keeping what the task does not change. Write no other file."
        }
        TaskKind::Tests => {
            "Write the project's tests: suites that exercise the acceptance criteria and the edge cases, isolated (temporary directories, 127.0.0.1 only). They run without the network, after each component's setup, with the exact commands in `environment.components` (each in its root): write every test where that command finds it, in the framework it runs, and add any test dependency to the component's manifest only through its owner (say so in your summary line). You may write the declared files only. Begin the reply with a one-line summary that names anything wrong you noticed in the staged code. When the project already has tests, extend those files and keep their passing tests; when they already cover the task, reply with one line saying so and no file blocks."
        }
        TaskKind::Repair => {
            "The tests fail. `failure` says, per component, how (its class: `setup_failed`, `build_failed`, `failed`, `no_tests`, `timeout`), the command, the failing tests, the decisive lines and the files the output names; `report` holds the output's tail; `current` holds the files under repair and `named` other files the failure names, both with line numbers (`  12 | code`) for reference only; `manifest` holds the component's manifests. Fix it: write each file that needs a change, complete and without the line numbers, within the declared files. If no change within the declared files can fix the failure (the cause is elsewhere, or in the environment), reply with one line beginning `No change in these files can fix this:` followed by the reason and the files or settings that would fix it, and no file blocks."
        }
        TaskKind::Chat => "Answer the person's question directly and briefly.",
        TaskKind::Review => {
            "Review the staged files for security and operational problems. For each finding give its severity (info, low, medium, high, critical), the file, the 1-based line, what is wrong and why, and whether it must be fixed before delivery (blocking). Return no findings rather than invented ones."
        }
    }
}

/// The reply format of SEARCH/REPLACE edits (Aider's `diff` edit format,
/// aider.chat/docs/more/edit-formats.html), with the exact matching rules
/// `protocol/edits.rs` applies; `source` names the input the SEARCH lines
/// are copied from.
fn search_replace_format(source: &str) -> String {
    format!(
        "Reply with a one-line summary, then each file as a Markdown heading naming its path followed by:\n\n- for a new file, a fenced block holding the whole file;\n- for a file that already exists, one or more fenced blocks of SEARCH/REPLACE edits (writing it whole is accepted too), for example:\n\n### `src/app.py`\n```python\n<<<<<<< SEARCH\ndef total(items):\n    return sum(items)\n=======\ndef total(items, tax=0):\n    return sum(items) * (1 + tax)\n>>>>>>> REPLACE\n```\n\nThe edits are applied strictly:\n\n- SEARCH holds whole lines of the current file (as in `{source}`), copied exactly, byte for byte: the same indentation, spacing, comments and blank lines, and no line numbers.\n- SEARCH must match exactly one place in the file: include enough of the surrounding lines to make it unique, and no more than that.\n- SEARCH is never empty for a file that exists.\n- Several blocks for one file apply in order, each to the file as the blocks before it left it; they must not overlap.\n- To delete lines, leave REPLACE empty; to move code, delete it with one block and insert it with another.\n- If any block matches nothing or several places, no file of the reply is used and you are asked once to send the whole reply again.\n\nUse a longer fence (````) when the file itself contains ``` lines."
    )
}

/// How to reply, per kind; for implement and repair, per edit format.
fn reply_format(kind: TaskKind, format: EditFormat) -> String {
    match (kind, format) {
        (TaskKind::Implement, EditFormat::SearchReplace) => {
            return search_replace_format("existing");
        }
        (TaskKind::Repair, EditFormat::SearchReplace) => {
            return search_replace_format("current");
        }
        _ => {}
    }
    match crate::protocol::documents::schema_for(kind) {
        Some(schema) => format!(
            "Reply with one JSON object only, matching this JSON Schema:\n{}",
            serde_json::to_string(&schema.schema).unwrap_or_default()
        ),
        None => "Reply with a one-line summary, then each file as a Markdown heading naming its path followed by a fenced block holding the whole file, for example:\n\n### `src/app.py`\n```python\n<the whole file>\n```\n\nUse a longer fence (````) when the file itself contains ``` lines.".to_string(),
    }
}

/// The inputs every agent of a phase shares, in the order the shared context
/// shows them: the most stable first (the project instructions and the code
/// that was there before the session never change within it; the decisions
/// and the environment's components are settled later), so that consecutive
/// requests share the longest prefix (docs/design.md §2, "Prompt order").
pub const SHARED_INPUTS: &[&str] = &[
    "instructions",
    "project",
    "prompt",
    "requirements",
    "answers",
    "decisions",
    "environment",
];

/// The sentence that opens the shared context: the same for every role and
/// every kind, so that it never breaks a shared prefix.
const SHARED_FRAME: &str = "You work in a team of software agents on one session. This first message holds the session's shared context: the inputs every agent of the phase is given, the same for all of them. Your role comes next, then your task with its own inputs; read the two sets of inputs together as the task's inputs.";

/// Splits a task's inputs (a JSON object) into the shared context's JSON, its
/// keys in [`SHARED_INPUTS`] order, and the task's own inputs' JSON (every
/// other key, sorted), both pretty-printed as the fit estimates them
/// (`context.rs`). Anything but an object counts as no inputs.
fn split_inputs(context: &Value) -> (String, String) {
    let empty = serde_json::Map::new();
    let map = context.as_object().unwrap_or(&empty);
    let mut shared = String::from("{");
    for key in SHARED_INPUTS {
        let Some(value) = map.get(*key) else {
            continue;
        };
        let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
        if shared.len() > 1 {
            shared.push(',');
        }
        shared.push_str("\n  ");
        shared.push_str(&serde_json::to_string(key).unwrap_or_default());
        shared.push_str(": ");
        shared.push_str(&pretty.replace('\n', "\n  "));
    }
    shared.push_str(if shared.len() > 1 { "\n}" } else { "}" });
    let own: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !SHARED_INPUTS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let own = serde_json::to_string_pretty(&Value::Object(own)).unwrap_or_default();
    (shared, own)
}

/// The messages for a task, stable part first (docs/design.md §2, "Prompt
/// order"): a system message with the shared context (the
/// [`SHARED_INPUTS`] the context holds, byte for byte the same for every
/// agent given the same session state), a system message with the role
/// prompt, then the user message — `# Task: <title>` as its first line, the
/// task's instructions, its own inputs and the reply format. Providers that
/// cache a prompt's prefix automatically (OpenAI, Gemini) reuse the first
/// message across the agents of a phase, and the first two across one
/// agent's tasks. `format` is how the task's model is asked to write
/// existing files.
pub fn build(
    role: &str,
    kind: TaskKind,
    title: &str,
    context: &Value,
    format: EditFormat,
) -> Vec<Message> {
    let (shared, own) = split_inputs(context);
    let memory = if context.get("memory").is_some() {
        "\n\nThe `memory` input holds your notes from earlier sessions in this directory (conventions, past decisions, the files you own): follow them unless this task says otherwise."
    } else {
        ""
    };
    let rules = if context.get("instructions").is_some() {
        "\n\nThe `instructions` input holds the project's own instruction files (`AGENTS.md` and the like), each with the subtree it applies to: they are the project's rules for its code (style, commands, conventions); follow them, the deepest one applying to a file winning, unless this task says otherwise."
    } else {
        ""
    };
    let user = format!(
        "# Task: {title}\n\n{}{memory}\n\n# Inputs\n\n```json\n{own}\n```\n\n# Reply format\n\n{}",
        instructions(kind, format),
        reply_format(kind, format)
    );
    vec![
        Message::new(
            Role::System,
            format!("{SHARED_FRAME}{rules}\n\n# Shared inputs\n\n```json\n{shared}\n```"),
        ),
        Message::new(Role::System, system_prompt(role)),
        Message::new(Role::User, user),
    ]
}

/// The follow-up after an invalid reply: the reply, then what was wrong with it.
pub fn validation_retry(previous: &str, problem: &str) -> Vec<Message> {
    vec![
        Message::new(Role::Assistant, previous),
        Message::new(
            Role::User,
            format!("That reply cannot be used: {problem}\nReply again, in the required format."),
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_role_task_inputs_and_format() {
        let m = build(
            "qa",
            TaskKind::Ballot,
            "vote on storage",
            &serde_json::json!({"prompt": "a todo app", "conflict": {"id": "storage"}}),
            EditFormat::SearchReplace,
        );
        assert_eq!(m.len(), 3);
        assert_eq!(
            m.iter().map(|m| m.role).collect::<Vec<_>>(),
            [Role::System, Role::System, Role::User]
        );
        assert!(m[0].content.contains("\"prompt\": \"a todo app\""));
        assert!(
            !m[0].content.contains("storage"),
            "the conflict is the task's own"
        );
        assert!(m[1].content.contains("QA engineer"));
        assert!(m[2].content.starts_with("# Task: vote on storage\n"));
        assert!(m[2].content.contains("\"storage\""));
        assert!(!m[2].content.contains("a todo app"));
        assert!(m[2].content.contains("JSON Schema"));
        let m = build(
            "martian",
            TaskKind::Implement,
            "t",
            &serde_json::json!({}),
            EditFormat::Whole,
        );
        assert!(m[0].content.contains("# Shared inputs\n\n```json\n{}\n```"));
        assert!(m[1].content.contains("team of software agents"));
        assert!(m[2].content.contains("fenced block"));
        assert!(!m[2].content.contains("SEARCH"));
        assert!(!m[0].content.contains("project's own instruction files"));
        let m = build(
            "backend",
            TaskKind::Plan,
            "t",
            &serde_json::json!({"instructions": [{"path": "AGENTS.md", "text": "use tabs"}]}),
            EditFormat::SearchReplace,
        );
        assert!(
            m[0].content
                .contains("The `instructions` input holds the project's own instruction files")
        );
        assert!(m[0].content.contains("use tabs"));
    }

    /// The shared context in its fixed order, each value as pretty-printed
    /// whole; the two halves read back as the inputs they were split from.
    #[test]
    fn the_inputs_split_into_the_shared_context_in_order_and_the_tasks_own() {
        let context = serde_json::json!({
            "task": {"id": "t1"},
            "environment": {"os": "linux"},
            "decisions": {"storage": "sqlite"},
            "prompt": "p",
            "project": {"files": ["a.rs"], "key_files": []},
            "memory": "notes",
            "requirements": {"summary": "s", "goals": ["g"]},
            "summaries": {"t0": "done"},
        });
        let (shared, own) = split_inputs(&context);
        let keys: Vec<usize> = [
            "\"project\"",
            "\"prompt\"",
            "\"requirements\"",
            "\"decisions\"",
            "\"environment\"",
        ]
        .iter()
        .map(|k| shared.find(k).unwrap())
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{shared}");
        let shared: Value = serde_json::from_str(&shared).unwrap();
        let own: Value = serde_json::from_str(&own).unwrap();
        assert_eq!(shared.as_object().unwrap().len(), 5);
        assert_eq!(
            own.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["memory", "summaries", "task"]
        );
        let mut merged = shared.as_object().unwrap().clone();
        merged.extend(own.as_object().unwrap().clone());
        assert_eq!(Value::Object(merged), context);
        assert_eq!(split_inputs(&Value::Null), ("{}".into(), "{}".into()));
    }

    /// Two agents of one phase (other roles, other own inputs, one with
    /// memory) share the first message byte for byte; one agent's two tasks
    /// share the first two.
    #[test]
    fn agents_of_a_phase_share_the_prefix_byte_for_byte_up_to_the_role_prompt() {
        let shared = serde_json::json!({
            "prompt": "a todo app",
            "requirements": {"summary": "todos", "goals": ["add", "list"]},
            "decisions": {"storage": "sqlite", "api": "rest"},
            "answers": [{"question": "auth?", "answer": "jwt"}],
            "environment": {"tools": {"python3": "3.12"}},
            "project": {"files": ["app.py"], "key_files": [{"path": "app.py", "content": "print()\n"}]},
        });
        let with = |extra: Value| {
            let mut c = shared.clone();
            c.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            c
        };
        let backend = build(
            "backend",
            TaskKind::Implement,
            "the API",
            &with(
                serde_json::json!({"task": {"id": "api"}, "files": ["app.py"], "memory": "use flask"}),
            ),
            EditFormat::SearchReplace,
        );
        let frontend = build(
            "frontend",
            TaskKind::Implement,
            "the UI",
            &with(serde_json::json!({"task": {"id": "ui"}, "files": ["ui.js"]})),
            EditFormat::SearchReplace,
        );
        let vote = build(
            "backend",
            TaskKind::Ballot,
            "ballot on storage",
            &with(serde_json::json!({"conflict": {"id": "storage"}})),
            EditFormat::SearchReplace,
        );
        assert_eq!(backend[0].content, frontend[0].content);
        assert_eq!(backend[0].content, vote[0].content);
        assert_ne!(backend[1].content, frontend[1].content);
        assert_eq!(backend[1].content, vote[1].content);
        assert_ne!(backend[2].content, vote[2].content);
        assert!(backend[0].content.contains("\"storage\": \"sqlite\""));
        assert!(!backend[0].content.contains("use flask"));
        assert!(backend[2].content.contains("use flask"));
    }

    #[test]
    fn the_search_replace_format_states_its_matching_rules() {
        let m = build(
            "backend",
            TaskKind::Implement,
            "t",
            &serde_json::json!({}),
            EditFormat::SearchReplace,
        );
        let user = &m[2].content;
        for rule in [
            "<<<<<<< SEARCH\n",
            "=======\n",
            ">>>>>>> REPLACE\n",
            "(as in `existing`)",
            "byte for byte",
            "exactly one place",
            "never empty for a file that exists",
            "apply in order",
            "no line numbers",
        ] {
            assert!(user.contains(rule), "{rule}: {user}");
        }
        let repair = build(
            "backend",
            TaskKind::Repair,
            "t",
            &serde_json::json!({}),
            EditFormat::SearchReplace,
        );
        assert!(
            repair[2]
                .content
                .contains("copied from `current` without the line numbers")
        );
        assert!(repair[2].content.contains("(as in `current`)"));
        // The test writer writes whole files whatever the model's format.
        let tests = build(
            "qa",
            TaskKind::Tests,
            "t",
            &serde_json::json!({}),
            EditFormat::SearchReplace,
        );
        assert!(!tests[2].content.contains("<<<<<<< SEARCH"));
    }
}
