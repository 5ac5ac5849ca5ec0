//! The messages of each call: the agent's role prompt (`assets/prompts/<role>.md`,
//! `generic.md` for roles without one) as the system message, then the task's
//! instructions, its inputs and the reply format as the user message.

use serde_json::Value;

use crate::llm::{Message, Role};
use crate::protocol::TaskKind;

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

/// What the task asks, per kind.
fn instructions(kind: TaskKind) -> &'static str {
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
            "Implement this task. Write every file it declares, complete (no placeholders, no elisions), following the decisions. A declared file that already exists in `project` is rewritten whole, keeping what the task does not change. Write no other file."
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

/// How to reply, per kind.
fn reply_format(kind: TaskKind) -> String {
    match crate::protocol::documents::schema_for(kind) {
        Some(schema) => format!(
            "Reply with one JSON object only, matching this JSON Schema:\n{}",
            serde_json::to_string(&schema.schema).unwrap_or_default()
        ),
        None => "Reply with a one-line summary, then each file as a Markdown heading naming its path followed by a fenced block holding the whole file, for example:\n\n### `src/app.py`\n```python\n<the whole file>\n```\n\nUse a longer fence (````) when the file itself contains ``` lines.".to_string(),
    }
}

/// The messages for a task: system prompt, then the task with its inputs.
pub fn build(role: &str, kind: TaskKind, title: &str, context: &Value) -> Vec<Message> {
    let inputs = serde_json::to_string_pretty(context).unwrap_or_default();
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
        "# Task: {title}\n\n{}{rules}{memory}\n\n# Inputs\n\n```json\n{inputs}\n```\n\n# Reply format\n\n{}",
        instructions(kind),
        reply_format(kind)
    );
    vec![
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
            &serde_json::json!({"conflict": {"id": "storage"}}),
        );
        assert_eq!(m.len(), 2);
        assert!(m[0].content.contains("QA engineer"));
        assert!(m[1].content.contains("vote on storage"));
        assert!(m[1].content.contains("\"storage\""));
        assert!(m[1].content.contains("JSON Schema"));
        let m = build("martian", TaskKind::Implement, "t", &serde_json::json!({}));
        assert!(m[0].content.contains("team of software agents"));
        assert!(m[1].content.contains("fenced block"));
        assert!(!m[1].content.contains("project's own instruction files"));
        let m = build(
            "backend",
            TaskKind::Plan,
            "t",
            &serde_json::json!({"instructions": [{"path": "AGENTS.md", "text": "use tabs"}]}),
        );
        assert!(
            m[1].content
                .contains("The `instructions` input holds the project's own instruction files")
        );
        assert!(m[1].content.contains("use tabs"));
    }
}
