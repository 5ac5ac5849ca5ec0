//! The event schema (`assets/events.schema.json`) against the types that
//! produce the stream (`quorum::protocol`): it is valid draft 2020-12, it
//! describes every `EventBody` variant and the `token` line, and it is strict
//! enough that a renamed, missing, extra or mistyped field fails.

use std::collections::{BTreeMap, BTreeSet};

use quorum::protocol::{
    DecidedBy, EventBody, FileChange, LoggedEvent, Position, SCHEMA_VERSION, SessionId,
    SessionStatus, SetupStatus, TestStatus,
};
use serde_json::{Value, json};

use crate::common::{check_event, schema, schema_errors, validator};

/// The type name of a body; the exhaustive match (no `_` arm) makes a new
/// variant a compile error here until [`samples`] covers it.
fn covered(body: &EventBody) -> &'static str {
    match body {
        EventBody::SessionStarted { .. }
        | EventBody::SessionResumed { .. }
        | EventBody::InstructionsRead { .. }
        | EventBody::RepoMap { .. }
        | EventBody::PhaseStarted { .. }
        | EventBody::PhaseFinished { .. }
        | EventBody::QuestionAsked { .. }
        | EventBody::QuestionAnswered { .. }
        | EventBody::TaskQueued { .. }
        | EventBody::TaskStarted { .. }
        | EventBody::TaskPaused { .. }
        | EventBody::TaskCancelled { .. }
        | EventBody::TaskFinished { .. }
        | EventBody::TaskFailed { .. }
        | EventBody::TaskRetrying { .. }
        | EventBody::ProviderFallback { .. }
        | EventBody::BudgetWarning { .. }
        | EventBody::BudgetExhausted { .. }
        | EventBody::ConflictDetected { .. }
        | EventBody::VoteCast { .. }
        | EventBody::ConflictResolved { .. }
        | EventBody::DecisionOverridden { .. }
        | EventBody::FileStaged { .. }
        | EventBody::SetupRun { .. }
        | EventBody::RepairDeclined { .. }
        | EventBody::TaskSummary { .. }
        | EventBody::PathRefused { .. }
        | EventBody::TestRun { .. }
        | EventBody::Finding { .. }
        | EventBody::CommitCreated { .. }
        | EventBody::SessionFinished { .. }
        | EventBody::Error { .. } => body.type_name(),
    }
}

fn s(text: &str) -> String {
    text.to_string()
}

fn task3() -> (String, String, String) {
    (s("implement.core"), s("backend"), s("implement"))
}

/// One body of every variant, with nullable fields both null and set.
fn samples() -> Vec<EventBody> {
    let mut all = session_and_task_samples();
    all.extend(survey_samples());
    all.extend(decision_samples());
    all.extend(file_and_setup_samples());
    all.extend(test_run_samples());
    all.extend(end_samples());
    all
}

/// Samples of what the survey of DIR at a session's start reports.
fn survey_samples() -> Vec<EventBody> {
    vec![
        EventBody::InstructionsRead {
            files: vec![s("AGENTS.md"), s("web/CLAUDE.md")],
            cut: vec![s("web/CLAUDE.md")],
        },
        EventBody::InstructionsRead {
            files: vec![s("AGENTS.md")],
            cut: Vec::new(),
        },
        EventBody::RepoMap {
            files: 41,
            parsed: 1,
            cached: 40,
            symbols: 401,
            shown: 12,
            tokens: 4090,
        },
    ]
}

/// Samples of the session, phase, question, task and budget events.
fn session_and_task_samples() -> Vec<EventBody> {
    let (task, agent, phase) = task3();
    vec![
        EventBody::SessionStarted {
            prompt: s("Build a todo app"),
            dir: s("/tmp/todo"),
            workflow: s("default"),
            agents: vec![s("pm"), s("backend")],
        },
        EventBody::SessionResumed { from_seq: 42 },
        EventBody::PhaseStarted {
            phase: s("plan"),
            kind: s("fan-out"),
        },
        EventBody::PhaseFinished {
            phase: s("plan"),
            kind: s("fan-out"),
        },
        EventBody::QuestionAsked {
            id: s("q1"),
            text: s("Which port?"),
            default: s("8000"),
        },
        EventBody::QuestionAnswered {
            id: s("q1"),
            answer: s("8080"),
            by: s("answers_file"),
        },
        EventBody::TaskQueued {
            task: task.clone(),
            agent: agent.clone(),
            phase: phase.clone(),
            title: s("link store (sqlite)"),
        },
        EventBody::TaskStarted {
            task: task.clone(),
            agent: agent.clone(),
            phase: phase.clone(),
        },
        EventBody::TaskPaused {
            task: task.clone(),
            agent: agent.clone(),
            phase: phase.clone(),
        },
        EventBody::TaskCancelled {
            task: task.clone(),
            agent: agent.clone(),
            phase: phase.clone(),
        },
        EventBody::TaskFinished {
            task: task.clone(),
            agent: agent.clone(),
            phase: phase.clone(),
            tokens_in: 1200,
            tokens_out: 300,
            cost_usd: 0.0125,
            cache_read_tokens: 120,
            cache_write_tokens: 30,
        },
        EventBody::TaskFailed {
            task: task.clone(),
            agent: agent.clone(),
            phase: phase.clone(),
            error: s("HTTP 400: bad request"),
        },
        EventBody::TaskRetrying {
            task: task.clone(),
            attempt: 1,
            reason: s("HTTP 503: overloaded"),
            delay_ms: 500,
        },
        EventBody::ProviderFallback {
            task: task.clone(),
            from: s("anthropic:claude-sonnet-4-5"),
            to: s("openai:gpt-4o"),
            reason: s("HTTP 401"),
        },
        EventBody::BudgetWarning {
            scope: s("session"),
            spent_usd: 8.0,
            budget_usd: Some(10.0),
            spent_tokens: 120_000,
            budget_tokens: None,
        },
        EventBody::BudgetExhausted {
            scope: s("backend"),
            spent_usd: 0.0,
            budget_usd: None,
            spent_tokens: 50_321,
            budget_tokens: Some(50_000),
        },
    ]
}

/// Samples of the conflict, ballot and decision events.
fn decision_samples() -> Vec<EventBody> {
    vec![
        EventBody::ConflictDetected {
            conflict: s("storage"),
            topic: s("Storage engine"),
            options: vec![s("json-file"), s("sqlite")],
            blocking: true,
            needs_human: false,
            positions: vec![Position {
                agent: s("backend"),
                option: s("sqlite"),
                quote: s("One file, no server."),
            }],
        },
        EventBody::VoteCast {
            conflict: s("storage"),
            agent: s("qa"),
            option: Some(s("sqlite")),
            rationale: s("atomic writes"),
        },
        EventBody::VoteCast {
            conflict: s("storage"),
            agent: s("security"),
            option: None,
            rationale: s("abstained: HTTP 503"),
        },
        EventBody::ConflictResolved {
            conflict: s("storage"),
            option: s("sqlite"),
            decided_by: DecidedBy::Chair,
            tally: BTreeMap::from([(s("json-file"), 2), (s("sqlite"), 2)]),
        },
        EventBody::ConflictResolved {
            conflict: s("api"),
            option: s("rest"),
            decided_by: DecidedBy::Vote,
            tally: BTreeMap::from([(s("rest"), 3), (s("rpc"), 1)]),
        },
        EventBody::ConflictResolved {
            conflict: s("api"),
            option: s("rpc"),
            decided_by: DecidedBy::Human,
            tally: BTreeMap::new(),
        },
        EventBody::DecisionOverridden {
            conflict: s("api"),
            from: Some(s("rest")),
            to: s("rpc"),
            note: s("we already run JSON-RPC elsewhere"),
        },
        EventBody::DecisionOverridden {
            conflict: s("api"),
            from: None,
            to: s("rpc"),
            note: String::new(),
        },
    ]
}

/// Samples of the staged-file, refused-path and setup events.
fn file_and_setup_samples() -> Vec<EventBody> {
    let (_, agent, _) = task3();
    vec![
        EventBody::FileStaged {
            path: s("pkg/store.py"),
            agent: agent.clone(),
            bytes: 4510,
            change: FileChange::New,
        },
        EventBody::FileStaged {
            path: s("README.md"),
            agent: s("pm"),
            bytes: 0,
            change: FileChange::Modified,
        },
        EventBody::PathRefused {
            path: s("../escape.py"),
            agent: s("pm"),
            reason: s("`..` escapes the target directory"),
        },
        EventBody::SetupRun {
            round: 1,
            component: s("backend"),
            command: s("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"),
            status: SetupStatus::Ok,
            network: true,
            duration_ms: 5200,
            lines: Vec::new(),
            isolation: Default::default(),
        },
        EventBody::SetupRun {
            round: 1,
            component: s("project"),
            command: s("cargo fetch"),
            status: SetupStatus::Failed,
            network: false,
            duration_ms: 40,
            lines: vec![s(
                "error: failed to get `clap` as a dependency of package `wcu v0.1.0`",
            )],
            isolation: Default::default(),
        },
    ]
}

/// Samples of the test-run event, one per status.
fn test_run_samples() -> Vec<EventBody> {
    vec![
        EventBody::TestRun {
            round: 1,
            component: s("project"),
            command: s("python3 -m unittest discover -v"),
            passed: 37,
            failed: 0,
            skipped: 1,
            status: TestStatus::Passed,
            failures: Vec::new(),
            lines: Vec::new(),
            isolation: quorum::protocol::Isolation {
                namespaces: ["user", "mount", "pid", "ipc", "uts", "net"]
                    .map(String::from)
                    .to_vec(),
                filesystem: true,
                landlock: 7,
                processes: s("cgroup v1 pids.max=1024"),
                memory: s("cgroup v1 4096 MiB for the whole tree"),
                network: true,
            },
        },
        EventBody::TestRun {
            round: 3,
            component: s("project"),
            command: s("cargo test"),
            passed: 0,
            failed: 0,
            skipped: 0,
            status: TestStatus::Timeout,
            failures: Vec::new(),
            lines: Vec::new(),
            isolation: Default::default(),
        },
        EventBody::TestRun {
            round: 2,
            component: s("frontend"),
            command: s("npx vitest run"),
            passed: 20,
            failed: 2,
            skipped: 0,
            status: TestStatus::Failed,
            failures: vec![s("tests/frontend/App.test.jsx > lists todos")],
            lines: vec![s(
                "SyntaxError: The requested module '../api.js' does not provide an export named 'getTodos'",
            )],
            isolation: Default::default(),
        },
        EventBody::TestRun {
            round: 1,
            component: s("project"),
            command: s("python3 -m unittest discover -v"),
            passed: 0,
            failed: 0,
            skipped: 0,
            status: TestStatus::NoTests,
            failures: Vec::new(),
            lines: vec![s("Ran 0 tests in 0.000s")],
            isolation: Default::default(),
        },
    ]
}

/// Samples of the repair, summary, finding, commit, end and error events.
fn end_samples() -> Vec<EventBody> {
    vec![
        EventBody::RepairDeclined {
            task: s("test.repair1.qa"),
            agent: s("qa"),
            reason: s("cargo could not download `clap`: the failure is environmental"),
        },
        EventBody::TaskSummary {
            task: s("test.write"),
            agent: s("qa"),
            summary: s("TodoPage imports getTodos, which api.js does not export"),
        },
        EventBody::Finding {
            severity: s("low"),
            path: s("pkg/server.py"),
            line: 151,
            text: s("no authentication"),
            blocking: false,
        },
        EventBody::CommitCreated {
            sha: s("a874ab77336141d337d46eeec6f20570032c71e8"),
            files: vec![s("README.md"), s("pkg/store.py")],
            repo: s("/tmp/todo"),
        },
        EventBody::SessionFinished {
            status: SessionStatus::Succeeded,
            tokens_in: 29853,
            tokens_out: 10924,
            cost_usd: 0.0,
        },
        EventBody::SessionFinished {
            status: SessionStatus::PausedBudget,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 10.5,
        },
        EventBody::Error {
            message: s("no test command found"),
        },
    ]
}

fn logged(seq: u64, body: EventBody) -> Value {
    serde_json::to_value(LoggedEvent {
        v: SCHEMA_VERSION,
        seq,
        session: SessionId::parse("0123456789ab").unwrap(),
        at: s("2026-01-01T12:00:00.123456789Z"),
        body,
    })
    .unwrap()
}

fn token() -> Value {
    json!({
        "v": 1, "seq": 12, "type": "token", "session": "0123456789ab",
        "at": "2026-01-01T12:00:00Z", "agent": "backend", "task": "plan.backend",
        "text": "SQLite through ",
    })
}

#[test]
fn the_schema_is_draft_2020_12_and_says_where_it_comes_from() {
    let schema = schema();
    jsonschema::meta::validate(&schema).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(schema["title"].as_str().is_some_and(|t| !t.is_empty()));
    let description = schema["description"].as_str().unwrap();
    assert!(description.contains("docs/design.md §5"), "{description}");
    for extra in [
        "`title` on task_queued",
        "`positions` and `needs_human` on conflict_detected",
        "task_finished",
        "`default` on question_asked",
        "`repo` on commit_created",
    ] {
        assert!(description.contains(extra), "{extra}: {description}");
    }
    // Each type's definition lists all its fields as required and no others.
    let defs = schema["$defs"].as_object().unwrap();
    for name in schema["properties"]["type"]["enum"].as_array().unwrap() {
        let def = &defs[name.as_str().unwrap()];
        assert_eq!(def["additionalProperties"], false, "{name}");
        let props: BTreeSet<&String> = def["properties"].as_object().unwrap().keys().collect();
        let required: BTreeSet<&String> = def["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| match r {
                Value::String(r) => r,
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(props, required, "{name}");
    }
}

#[test]
fn every_event_body_variant_is_described_and_validates() {
    let schema = schema();
    let listed: BTreeSet<String> = schema["properties"]["type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let mut produced = BTreeSet::from([s("token")]);
    for (i, body) in samples().into_iter().enumerate() {
        produced.insert(covered(&body).to_string());
        let event = logged(i as u64 + 1, body);
        assert_eq!(
            event["type"],
            covered(
                &serde_json::from_value::<LoggedEvent>(event.clone())
                    .unwrap()
                    .body
            )
        );
        check_event(&event);
    }
    // No stale type in the schema, no variant missing from it.
    assert_eq!(listed, produced);
    check_event(&token());
}

/// Applies `edit` to a valid event and expects the schema to refuse the result.
fn refused(base: &Value, what: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let mut event = base.clone();
    edit(event.as_object_mut().unwrap());
    assert!(
        !validator().is_valid(&event),
        "the schema accepts {what}: {event}"
    );
    assert!(!schema_errors(&event).is_empty());
}

#[test]
fn renamed_missing_extra_and_mistyped_fields_fail() {
    a_session_started_with_a_bad_field_fails();
    a_bad_ballot_or_decision_fails();
    a_bad_conflict_or_staged_file_fails();
    a_bad_end_commit_test_run_or_token_fails();
}

/// Step: a session_started with a renamed, missing, extra or mistyped field,
/// or a bad common field, fails.
fn a_session_started_with_a_bad_field_fails() {
    let started = logged(
        1,
        EventBody::SessionStarted {
            prompt: s("p"),
            dir: s("/d"),
            workflow: s("default"),
            agents: vec![s("pm")],
        },
    );
    refused(&started, "a renamed field", |e| {
        let v = e.remove("prompt").unwrap();
        e.insert(s("prompts"), v);
    });
    refused(&started, "a missing field", |e| {
        e.remove("agents");
    });
    refused(&started, "an extra field", |e| {
        e.insert(s("extra"), json!(1));
    });
    refused(&started, "v = 2", |e| {
        e.insert(s("v"), json!(2));
    });
    refused(&started, "seq = 0", |e| {
        e.insert(s("seq"), json!(0));
    });
    refused(&started, "a fractional seq", |e| {
        e.insert(s("seq"), json!(1.5));
    });
    refused(&started, "an uppercase session", |e| {
        e.insert(s("session"), json!("0123456789AB"));
    });
    refused(&started, "a short session", |e| {
        e.insert(s("session"), json!("0123"));
    });
    refused(&started, "a non-RFC 3339 `at`", |e| {
        e.insert(s("at"), json!("yesterday at noon"));
    });
    refused(&started, "an unknown type", |e| {
        e.insert(s("type"), json!("session_exploded"));
    });
    refused(&started, "a missing common field", |e| {
        e.remove("session");
    });
}

/// Step: a ballot with a bad option and a decision with a bad `decided_by` or tally fail.
fn a_bad_ballot_or_decision_fails() {
    let vote = logged(
        5,
        EventBody::VoteCast {
            conflict: s("api"),
            agent: s("qa"),
            option: None,
            rationale: s("abstained"),
        },
    );
    check_event(&vote);
    refused(&vote, "a numeric option", |e| {
        e.insert(s("option"), json!(3));
    });
    refused(&vote, "a vote without option", |e| {
        e.remove("option");
    });

    let resolved = logged(
        6,
        EventBody::ConflictResolved {
            conflict: s("api"),
            option: s("rest"),
            decided_by: DecidedBy::Vote,
            tally: BTreeMap::from([(s("rest"), 3), (s("rpc"), 1)]),
        },
    );
    refused(&resolved, "decided_by = coin", |e| {
        e.insert(s("decided_by"), json!("coin"));
    });
    refused(&resolved, "a negative tally", |e| {
        e.insert(s("tally"), json!({"rest": -1}));
    });
    refused(&resolved, "a textual tally", |e| {
        e.insert(s("tally"), json!({"rest": "3"}));
    });
    refused(&resolved, "a tally array", |e| {
        e.insert(s("tally"), json!([3, 1]));
    });
}

/// Step: a conflict with a bad position or a single option, and a staged file
/// with a bad change, path or size, fail.
fn a_bad_conflict_or_staged_file_fails() {
    let conflict = logged(
        7,
        EventBody::ConflictDetected {
            conflict: s("api"),
            topic: s("API style"),
            options: vec![s("rest"), s("rpc")],
            blocking: true,
            needs_human: false,
            positions: vec![Position {
                agent: s("qa"),
                option: s("rest"),
                quote: s("q"),
            }],
        },
    );
    refused(&conflict, "a position without quote", |e| {
        e.insert(s("positions"), json!([{"agent": "qa", "option": "rest"}]));
    });
    refused(&conflict, "a position with an extra field", |e| {
        e.insert(
            s("positions"),
            json!([{"agent": "qa", "option": "rest", "quote": "q", "why": "x"}]),
        );
    });
    refused(&conflict, "a single option", |e| {
        e.insert(s("options"), json!(["rest"]));
    });

    let staged = logged(
        8,
        EventBody::FileStaged {
            path: s("a.py"),
            agent: s("backend"),
            bytes: 3,
            change: FileChange::New,
        },
    );
    refused(&staged, "change = deleted", |e| {
        e.insert(s("change"), json!("deleted"));
    });
    refused(&staged, "a staged path outside DIR", |e| {
        e.insert(s("path"), json!("../a.py"));
    });
    refused(&staged, "negative bytes", |e| {
        e.insert(s("bytes"), json!(-3));
    });
}

/// Step: a bad session_finished, commit_created, test_run or token line fails.
fn a_bad_end_commit_test_run_or_token_fails() {
    let finished = logged(
        9,
        EventBody::SessionFinished {
            status: SessionStatus::Succeeded,
            tokens_in: 1,
            tokens_out: 1,
            cost_usd: 0.0,
        },
    );
    refused(&finished, "status = done", |e| {
        e.insert(s("status"), json!("done"));
    });
    refused(&finished, "a textual cost", |e| {
        e.insert(s("cost_usd"), json!("0.00"));
    });

    let commit = logged(
        10,
        EventBody::CommitCreated {
            sha: s("a874ab77336141d337d46eeec6f20570032c71e8"),
            files: vec![s("a.py")],
            repo: s("/r"),
        },
    );
    refused(&commit, "a short sha", |e| {
        e.insert(s("sha"), json!("a874ab7"));
    });
    refused(&commit, "an uppercase sha", |e| {
        e.insert(s("sha"), json!("A874AB77336141D337D46EEEC6F20570032C71E8"));
    });
    refused(&commit, "a commit without repo", |e| {
        e.remove("repo");
    });

    let test_run = logged(
        11,
        EventBody::TestRun {
            round: 1,
            component: s("project"),
            command: s("make test"),
            passed: 1,
            failed: 0,
            skipped: 0,
            status: TestStatus::Passed,
            failures: Vec::new(),
            lines: Vec::new(),
            isolation: Default::default(),
        },
    );
    refused(&test_run, "status = ok", |e| {
        e.insert(s("status"), json!("ok"));
    });

    refused(&token(), "a token with a task_finished field", |e| {
        e.insert(s("tokens_in"), json!(1));
    });
    refused(&token(), "a token without text", |e| {
        e.remove("text");
    });
    refused(&token(), "a token with seq 0", |e| {
        e.insert(s("seq"), json!(0));
    });
}
