//! Orchestration in depth (issue 4), with scripted offline replies: workflow
//! errors that name their line, a custom workflow run as written, tasks that
//! share a file run one after the other, the test-and-repair loop (fixed in
//! round 1; out of rounds, headless and in the TUI's mode; a repair that
//! changes nothing), a reply repeated as
//! a loop, capped questions with defaults as assumptions, the decision record,
//! the scheduler's parallelism in virtual time, and a failed task rerun on
//! another model without repeating the rest.

use std::sync::Arc;
use std::time::Duration;

use quorum::config::Settings;
use quorum::config::workflow::Workflow;
use quorum::orchestrator::{self, Parts};
use quorum::protocol::{Event, EventBody, LoggedEvent, Op, SessionOptions, SessionStatus};
use quorum::store::Store;
use quorum::workspace::Workspace;
use quorum::workspace::state_dir::StateDir;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::common::{
    Env, PROMPT, Session, offline_config_with_script, path_str, run, run_scripted as scripted,
    tempdir, write,
};

/// A workflow without plans, votes, tests or review.
const SHORT_WORKFLOW: &str = r#"
name = "short"
[[phase]]
name = "refine"
kind = "single"
agents = ["pm"]
[[phase]]
name = "implement"
kind = "tasks"
agents = ["pm", "backend", "frontend"]
inputs = ["refine"]
[[phase]]
name = "deliver"
kind = "deliver"
"#;

fn index_of(session: &Session, kind: &str, task: &str) -> usize {
    session.index(kind, "task", task)
}

#[test]
fn workflow_errors_exit_2_and_name_the_line() {
    let env = Env::new();
    let dir = tempdir();
    let cycle = SHORT_WORKFLOW
        .replace("inputs = [\"refine\"]", "inputs = [\"deliver\"]")
        .replace(
            "name = \"deliver\"\nkind = \"deliver\"",
            "name = \"deliver\"\nkind = \"deliver\"\ninputs = [\"implement\"]",
        );
    let unknown = SHORT_WORKFLOW.replace(
        "agents = [\"pm\", \"backend\", \"frontend\"]",
        "agents = [\"pm\", \"architect\"]",
    );
    for (name, text, needle) in [
        (
            "cycle.toml",
            cycle,
            "cycle: implement → deliver → implement",
        ),
        (
            "unknown.toml",
            unknown,
            "`architect`, which is not in the roster",
        ),
    ] {
        write(dir.path(), name, &text);
        let line = text
            .lines()
            .position(|l| l.contains("\"deliver\"]") || l.contains("\"architect\""))
            .unwrap()
            + 1;
        let path = dir.path().join(name);
        let out = run(env.quorum([
            "run",
            PROMPT,
            "--dir",
            path_str(dir.path()),
            "--workflow",
            path_str(&path),
        ]));
        assert_eq!(out.code, 2, "{name}: {out}");
        assert!(out.stderr.contains(needle), "{name}: {out}");
        assert!(
            out.stderr.contains(&format!("line {line}:")),
            "{name}, line {line}: {out}"
        );
        assert!(!dir.path().join(".quorum").exists(), "nothing is created");
    }
}

#[test]
fn a_custom_workflow_runs_exactly_its_phases_and_roster() {
    let env = Env::new();
    let dir = tempdir();
    // A roster with a `docs` agent, planning beside the backend; no tests, no review.
    write(
        dir.path(),
        "quorum.toml",
        "[providers.sim]\nkind = \"offline\"\n[agents.docs]\nprovider = \"sim\"\n",
    );
    let workflow = r#"
name = "lean"
[[phase]]
name = "understand"
kind = "single"
agents = ["pm"]
[[phase]]
name = "design"
kind = "fan-out"
agents = ["backend", "docs"]
inputs = ["understand"]
[[phase]]
name = "build"
kind = "tasks"
agents = ["pm", "backend"]
inputs = ["understand", "design"]
[[phase]]
name = "ship"
kind = "deliver"
"#;
    write(dir.path(), "lean.toml", workflow);
    let lean = dir.path().join("lean.toml");
    let out = run(env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(dir.path()),
        "--workflow",
        path_str(&lean),
        "--json",
    ]));
    let session = Session::from_output(out);
    session.assert_succeeded();
    let started = session.one("session_started");
    assert_eq!(started["workflow"], "lean");
    assert!(
        started["agents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "docs")
    );
    let phases: Vec<(&str, &str)> = session
        .of("phase_started")
        .iter()
        .map(|e| (e["phase"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        phases,
        vec![
            ("understand", "single"),
            ("design", "fan-out"),
            ("build", "tasks"),
            ("ship", "deliver")
        ]
    );
    let planners: Vec<&str> = session
        .of("task_queued")
        .iter()
        .filter(|e| e["phase"] == "design")
        .map(|e| e["agent"].as_str().unwrap())
        .collect();
    assert_eq!(planners, vec!["backend", "docs"]);
    assert!(session.of("test_run").is_empty() && session.of("finding").is_empty());
    assert!(
        session
            .of("task_queued")
            .iter()
            .all(|e| ["pm", "backend", "docs"].contains(&e["agent"].as_str().unwrap()))
    );
}

const SHARED_BREAKDOWN: &str = r#"
[[reply]]
agent = "pm"
kind = "breakdown"
text = '''
{"tasks": [
  {"id": "a", "agent": "backend", "title": "a", "files": ["shared.py", "a.py"], "depends_on": [], "description": "a"},
  {"id": "b", "agent": "frontend", "title": "b", "files": ["shared.py", "b.py"], "depends_on": [], "description": "b"}
]}
'''
[[reply]]
agent = "backend"
task = "implement.a"
latency_ms = 300
text = '''
### `shared.py`
```python
OWNER = "a"
```
### `a.py`
```python
A = 1
```
'''
[[reply]]
agent = "frontend"
task = "implement.b"
text = '''
### `shared.py`
```python
OWNER = "b"
```
### `b.py`
```python
B = 1
```
'''
"#;

#[test]
fn tasks_declaring_one_file_run_one_after_the_other() {
    let (_env, dir, session) = {
        let env = Env::new();
        let dir = tempdir();
        write(dir.path(), "script.toml", SHARED_BREAKDOWN);
        write(dir.path(), "short.toml", SHORT_WORKFLOW);
        write(
            dir.path(),
            "quorum.toml",
            &offline_config_with_script("script.toml"),
        );
        let short = dir.path().join("short.toml");
        let out = run(env.quorum([
            "run",
            PROMPT,
            "--dir",
            path_str(dir.path()),
            "--workflow",
            path_str(&short),
            "--json",
        ]));
        (env, dir, Session::from_output(out))
    };
    session.assert_succeeded();
    // `a` is slow and was queued first; `b` still waits for it.
    assert!(
        index_of(&session, "task_started", "implement.b")
            > index_of(&session, "task_finished", "implement.a"),
        "b never runs while a writes shared.py"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("shared.py")).unwrap(),
        "OWNER = \"b\"\n",
        "the later task's version wins"
    );
}

/// A store that cannot even be imported.
const BROKEN_STORE: &str = "raise ImportError(\"broken on purpose\")\n";

fn broken_core(times: u32) -> String {
    format!(
        "[[reply]]\nagent = \"backend\"\nkind = \"implement\"\ntask = \"implement.core\"\ntimes = {times}\ntext = '''\n### `url_shortener/store.py`\n```python\n{BROKEN_STORE}```\n'''\n"
    )
}

#[test]
fn a_failing_test_is_repaired_in_round_one() {
    let (env, dir, session) = scripted(&broken_core(1), "", &[]);
    session.assert_succeeded();
    let runs = session.of("test_run");
    assert_eq!(runs.len(), 2, "one failing run, one passing run");
    // The broken store fails the import of the tests: the run did not build.
    assert_eq!(runs[0]["status"], "build_failed", "{}", runs[0]);
    assert!(runs[0]["lines"].as_array().is_some_and(|l| !l.is_empty()));
    assert_eq!(runs[1]["status"], "passed");
    assert!(
        session
            .of("task_queued")
            .iter()
            .any(|e| e["task"] == "test.repair1.backend"),
        "the owner of store.py repairs it"
    );
    let store = env.git(dir.path(), &["show", "HEAD:url_shortener/store.py"]);
    assert!(
        !store.contains("broken on purpose"),
        "the repaired store was committed"
    );
}

#[test]
fn running_out_of_repair_rounds_fails_without_a_commit() {
    // Each repair changes the file, and each is still broken.
    let repairs = (2..=3)
        .map(|v| {
            format!(
                "[[reply]]\nagent = \"backend\"\nkind = \"repair\"\ntimes = 1\ntext = '''\n### `url_shortener/store.py`\n```python\nraise ImportError(\"still broken, version {v}\")\n```\n'''\n"
            )
        })
        .collect::<String>();
    let (_env, dir, session) = scripted(&(broken_core(1) + &repairs), "", &[]);
    assert_eq!(session.status(), "failed");
    assert_eq!(session.out.code, 1);
    let runs = session.of("test_run");
    assert_eq!(
        runs.len(),
        3,
        "the first run and one per repair round (max_repair_rounds = 2)"
    );
    assert!(
        runs.iter()
            .all(|r| r["status"] == "failed" || r["status"] == "build_failed"),
        "{runs:?}"
    );
    assert!(session.of("commit_created").is_empty());
    assert!(
        !dir.path().join(".git").exists() && !dir.path().join("url_shortener").exists(),
        "nothing was delivered"
    );
    let error = session.one("error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("after 2 repair round"),
        "{error}"
    );
}

#[test]
fn a_repair_that_changes_nothing_stops_the_repairs() {
    let same = format!(
        "[[reply]]\nagent = \"backend\"\nkind = \"repair\"\ntimes = 0\ntext = '''\n### `url_shortener/store.py`\n```python\n{BROKEN_STORE}```\n'''\n"
    );
    let (_env, _dir, session) = scripted(&(broken_core(1) + &same), "", &[]);
    assert_eq!(session.status(), "failed");
    assert_eq!(
        session.of("test_run").len(),
        1,
        "no second run after a repair that changed nothing"
    );
    assert!(
        session
            .of("finding")
            .iter()
            .any(|f| f["text"].as_str().unwrap().contains("changed nothing")),
        "a clear finding says why"
    );
    assert!(session.of("commit_created").is_empty());
}

#[test]
fn the_same_invalid_reply_twice_is_a_loop() {
    let script = "[[reply]]\nagent = \"pm\"\nkind = \"requirements\"\ntimes = 0\ntext = \"I would rather chat about it.\"\n";
    let (_env, _dir, session) = scripted(script, "", &[]);
    assert_eq!(session.status(), "failed");
    let failed = session.one("task_failed");
    assert_eq!(failed["task"], "refine");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("same invalid reply twice"),
        "{failed}"
    );
    assert_eq!(session.of("task_started").len(), 1, "no third attempt");
}

#[test]
fn questions_over_the_cap_are_dropped_and_defaults_become_assumptions() {
    let script = r#"
[[reply]]
agent = "pm"
kind = "requirements"
text = '''
{"summary": "s", "goals": ["g"], "constraints": ["c"], "acceptance_criteria": ["a"], "assumptions": ["single user"],
 "questions": [
   {"id": "q1", "text": "Which port?", "default": "8000"},
   {"id": "q2", "text": "Which database file?", "default": "links.db"},
   {"id": "q3", "text": "Authentication?", "default": "none"},
   {"id": "q4", "text": "Rate limits?", "default": "none"}
 ]}
'''
"#;
    let (env, dir, session) = scripted(script, "[session]\nmax_questions = 2\n", &[]);
    session.assert_succeeded();
    let asked: Vec<&str> = session
        .of("question_asked")
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(asked, vec!["q1", "q2"]);
    assert!(
        session
            .of("question_answered")
            .iter()
            .all(|a| a["by"] == "default")
    );
    let out = run(env.quorum([
        "sessions",
        "export",
        session.id(),
        "--format",
        "json",
        "--dir",
        path_str(dir.path()),
    ]));
    assert_eq!(out.code, 0, "{out}");
    let export: Value = serde_json::from_str(&out.stdout).unwrap();
    let assumptions = export["records"]["output"]["requirements"]["assumptions"]
        .as_array()
        .unwrap();
    assert!(
        assumptions
            .iter()
            .any(|a| a == "Which port? — assumed: 8000"),
        "{assumptions:?}"
    );
    assert!(assumptions.iter().any(|a| a == "single user"));
}

#[test]
fn the_decision_record_lists_every_conflict_in_the_commit() {
    let env = Env::new();
    let dir = tempdir();
    let session = env.run_json(dir.path(), &[]);
    session.assert_succeeded();
    let record = env.git(dir.path(), &["show", "HEAD:docs/DECISIONS.md"]);
    for conflict in session.of("conflict_detected") {
        let topic = conflict["topic"].as_str().unwrap();
        assert!(
            record.contains(&format!(". {topic}\n")),
            "{topic} has a record:\n{record}"
        );
        for option in conflict["options"].as_array().unwrap() {
            assert!(record.contains(option.as_str().unwrap()));
        }
    }
    for vote in session.of("vote_cast") {
        let row = format!(
            "| {} | {} |",
            vote["agent"].as_str().unwrap(),
            vote["option"].as_str().unwrap()
        );
        assert!(record.contains(&row), "ballot {row} recorded:\n{record}");
    }
    assert!(
        record.contains("decided by the chair after a tie, 2–2"),
        "{record}"
    );
    assert!(record.contains("decided by vote, 3–1"), "{record}");
    assert!(
        !record.contains(session.id()),
        "no session id in a generated file"
    );
}

/// Waits (bounded, in real or virtual time) for the first event `pick` accepts.
async fn until<T>(
    rx: &mut UnboundedReceiver<Event>,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("the orchestrator stopped before {what}"));
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

fn logged(event: &Event) -> Option<&LoggedEvent> {
    match event {
        Event::Logged(e) => Some(e),
        _ => None,
    }
}

/// Starts an orchestrator in `dir` with `config` (offline providers, scripts
/// relative to `dir`) and `workflow`.
fn spawn_in(
    dir: &std::path::Path,
    config: &str,
    workflow: &str,
) -> (orchestrator::OrchestratorHandle, StateDir) {
    let state = StateDir::open(&StateDir::location(dir, None)).unwrap();
    let store = Store::open(&state.db_path()).unwrap();
    let settings = Settings::from_toml(config, &dir.join("quorum.toml"), false, &|_| None).unwrap();
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    let workflow = Workflow::parse(workflow, "test", &roster).unwrap();
    let providers = quorum::orchestrator::providers::build_providers(&settings).unwrap();
    let handle = orchestrator::spawn(Parts {
        settings: Arc::new(settings),
        workflow,
        store,
        workspace: Workspace::new(dir, state.root()),
        providers,
    });
    (handle, state)
}

const PARALLEL: &str = r#"
[[reply]]
agent = "pm"
kind = "breakdown"
text = '''
{"tasks": [
  {"id": "a1", "agent": "backend", "title": "a1", "files": ["a1.py"], "depends_on": [], "description": ""},
  {"id": "a2", "agent": "backend", "title": "a2", "files": ["a2.py"], "depends_on": [], "description": ""},
  {"id": "b1", "agent": "frontend", "title": "b1", "files": ["b1.py"], "depends_on": [], "description": ""},
  {"id": "b2", "agent": "frontend", "title": "b2", "files": ["b2.py"], "depends_on": [], "description": ""}
]}
'''
"#;

/// Four independent tasks over two agents, each reply taking 1 s: with two
/// slots per agent (provider limit 4) all four run at once and the phase takes
/// 1 s of virtual time; with one slot per agent, two at a time and 2 s.
#[tokio::test(start_paused = true)]
async fn independent_tasks_run_in_parallel_within_the_agent_and_provider_limits() {
    for (per_agent, want_in_flight, want_secs) in [(2usize, 4usize, 1u64), (1, 2, 2)] {
        let dir = tempdir();
        let mut script = PARALLEL.to_string();
        for t in ["a1", "a2", "b1", "b2"] {
            script.push_str(&format!(
                "[[reply]]\ntask = \"implement.{t}\"\nlatency_ms = 1000\ntext = '''\n### `{t}.py`\n```python\nX = 1\n```\n'''\n"
            ));
        }
        write(dir.path(), "script.toml", &script);
        let config = format!(
            "[providers.sim]\nkind = \"offline\"\nscript = \"script.toml\"\nmax_concurrency = 4\n\
             [agents.backend]\nmax_concurrency = {per_agent}\n[agents.frontend]\nmax_concurrency = {per_agent}\n"
        );
        let (handle, _state) = spawn_in(dir.path(), &config, SHORT_WORKFLOW);
        let mut rx = handle.subscribe();
        handle.send(Op::Start {
            prompt: "Build it".into(),
            options: SessionOptions::default(),
        });
        let mut in_flight = 0usize;
        let mut most = 0usize;
        let mut started_at = None;
        let elapsed = until(&mut rx, "the implement phase's end", |e| {
            let e = logged(e)?;
            match &e.body {
                EventBody::TaskStarted { task, .. }
                    if task != "implement.breakdown" && task.starts_with("implement.") =>
                {
                    started_at.get_or_insert_with(tokio::time::Instant::now);
                    in_flight += 1;
                    most = most.max(in_flight);
                    None
                }
                EventBody::TaskFinished { task, .. }
                    if task != "implement.breakdown" && task.starts_with("implement.") =>
                {
                    in_flight -= 1;
                    None
                }
                EventBody::PhaseFinished { phase, .. } if phase == "implement" => {
                    Some(started_at.map(|t| t.elapsed()).unwrap_or_default())
                }
                _ => None,
            }
        })
        .await;
        assert_eq!(most, want_in_flight, "{per_agent} slot(s) per agent");
        // Measured where the events arrive: the first start may wait up to
        // one group interval for its flush, the session's end (in the same
        // group as the phase's end here) is flushed at once.
        let interval = quorum::orchestrator::committer::GROUP_INTERVAL;
        assert!(
            elapsed + interval >= Duration::from_secs(want_secs)
                && elapsed < Duration::from_secs(want_secs) + Duration::from_millis(500),
            "{per_agent} slot(s) per agent: {elapsed:?}"
        );
        let status = until(&mut rx, "the end", |e| match logged(e).map(|e| &e.body) {
            Some(EventBody::SessionFinished { status, .. }) => Some(*status),
            _ => None,
        })
        .await;
        assert_eq!(status, SessionStatus::Succeeded);
        handle.send(Op::Shutdown);
        handle.join().await;
    }
}

/// A task that failed for good is rerun on another model by the person; the
/// session completes and no task that had succeeded runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_reruns_on_another_model_and_nothing_else_repeats() {
    let dir = tempdir();
    write(
        dir.path(),
        "flaky.toml",
        "[[reply]]\ntask = \"implement.core\"\ntimes = 0\nerror = { status = 400, message = \"this model cannot do that\" }\n",
    );
    let mut config = "[providers.flaky]\nkind = \"offline\"\nscript = \"flaky.toml\"\n[providers.sim]\nkind = \"offline\"\n".to_string();
    for agent in ["pm", "backend", "frontend", "qa", "security"] {
        config.push_str(&format!("[agents.{agent}]\nprovider = \"flaky\"\n"));
    }
    let workflow = r#"
name = "no-vote"
[[phase]]
name = "refine"
kind = "single"
agents = ["pm"]
[[phase]]
name = "implement"
kind = "tasks"
agents = ["pm", "backend", "frontend"]
[[phase]]
name = "test"
kind = "test"
agents = ["qa"]
[[phase]]
name = "deliver"
kind = "deliver"
"#;
    let (handle, _state) = spawn_in(dir.path(), &config, workflow);
    let mut rx = handle.subscribe();
    handle.send(Op::Start {
        prompt: "Build a CLI todo app".into(),
        options: SessionOptions {
            interactive: true,
            ..SessionOptions::default()
        },
    });
    let mut starts: std::collections::BTreeMap<String, u32> = Default::default();
    let mut count = |e: &Event| {
        if let Some(EventBody::TaskStarted { task, .. }) = logged(e).map(|e| &e.body) {
            *starts.entry(task.clone()).or_default() += 1;
        }
    };
    let error = until(&mut rx, "the failure", |e| {
        count(e);
        match logged(e).map(|e| &e.body) {
            Some(EventBody::TaskFailed { task, error, .. }) if task == "implement.core" => {
                Some(error.clone())
            }
            _ => None,
        }
    })
    .await;
    assert!(error.contains("cannot do that"), "{error}");
    // The phase stalls, visibly, and waits for the person.
    until(&mut rx, "the stall", |e| {
        count(e);
        match logged(e).map(|e| &e.body) {
            Some(EventBody::Error { message }) if message.contains("implement.core") => Some(()),
            _ => None,
        }
    })
    .await;
    handle.send(Op::RetryTaskOn {
        task: "implement.core".into(),
        model: "nowhere:x".into(),
    });
    until(&mut rx, "a refusal", |e| {
        matches!(e, Event::Rejected { reason, .. } if reason.contains("nowhere")).then_some(())
    })
    .await;
    handle.send(Op::RetryTaskOn {
        task: "implement.core".into(),
        model: "sim:offline".into(),
    });
    until(&mut rx, "deliver", |e| {
        count(e);
        matches!(e, Event::DeliveryReady { .. }).then_some(())
    })
    .await;
    handle.send(Op::Commit {
        message: None,
        allow_secrets: false,
    });
    let status = until(&mut rx, "the end", |e| {
        count(e);
        match logged(e).map(|e| &e.body) {
            Some(EventBody::SessionFinished { status, .. }) => Some(*status),
            _ => None,
        }
    })
    .await;
    assert_eq!(status, SessionStatus::Succeeded);
    assert_eq!(starts.get("implement.core"), Some(&2), "{starts:?}");
    for (task, n) in &starts {
        if task != "implement.core" {
            assert_eq!(*n, 1, "{task} ran once: {starts:?}");
        }
    }
    handle.send(Op::Shutdown);
    handle.join().await;
}

#[test]
fn an_agent_budget_pauses_its_queue_and_headless_stops_resumably() {
    // The offline team spends about 1,000 tokens on the backend's plan and
    // about 1,050 on each of its two ballots (the shared context first, issue
    // 21): past 80 % of 2,500 first, then past it.
    let env = Env::new();
    let dir = tempdir();
    write(
        dir.path(),
        "quorum.toml",
        "[providers.sim]\nkind = \"offline\"\n[agents.backend]\nbudget_tokens = 2500\n",
    );
    let session = env.run_json(dir.path(), &[]);
    assert_eq!(session.status(), "paused_budget");
    assert_eq!(session.out.code, 3, "resumable: exit 3");
    let warned = session.index("budget_warning", "scope", "backend");
    let exhausted = session.index("budget_exhausted", "scope", "backend");
    assert!(warned < exhausted);
    let event = &session.events[exhausted];
    assert!(
        event["spent_tokens"].as_u64().unwrap() >= 2500 && event["budget_tokens"] == 2500,
        "{event}"
    );
    assert!(event["budget_usd"].is_null());
    // Nothing of the backend starts after its budget is spent; its queued work pauses.
    let later = &session.events[exhausted..];
    assert!(
        !later
            .iter()
            .any(|e| e["type"] == "task_started" && e["agent"] == "backend"),
        "the backend's queue is paused"
    );
    assert!(
        later
            .iter()
            .any(|e| e["type"] == "task_paused" && e["agent"] == "backend")
    );
    assert!(session.of("commit_created").is_empty());
}

#[test]
fn a_session_budget_stops_the_session_at_once() {
    let env = Env::new();
    let dir = tempdir();
    write(
        dir.path(),
        "quorum.toml",
        "[providers.sim]\nkind = \"offline\"\n[session]\nbudget_tokens = 3000\n",
    );
    let session = env.run_json(dir.path(), &[]);
    assert_eq!(session.status(), "paused_budget");
    assert_eq!(session.out.code, 3);
    let exhausted = session.index("budget_exhausted", "scope", "session");
    let after: Vec<&str> = session.events[exhausted + 1..]
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        after
            .iter()
            .all(|t| ["error", "task_paused", "task_cancelled", "session_finished"].contains(t)),
        "nothing runs after the session's budget is spent: {after:?}"
    );
}

/// In the TUI's mode, a spent agent budget pauses its queue and the session
/// waits; raising the budget resumes exactly the paused work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_a_spent_budget_resumes_the_paused_work() {
    let dir = tempdir();
    let config = "[providers.sim]\nkind = \"offline\"\n[agents.backend]\nbudget_tokens = 1000\n";
    let workflow = r#"
name = "no-vote"
[[phase]]
name = "refine"
kind = "single"
agents = ["pm"]
[[phase]]
name = "implement"
kind = "tasks"
agents = ["pm", "backend", "frontend"]
[[phase]]
name = "deliver"
kind = "deliver"
"#;
    let (handle, _state) = spawn_in(dir.path(), config, workflow);
    let mut rx = handle.subscribe();
    handle.send(Op::Start {
        prompt: "Build a CLI todo app".into(),
        options: SessionOptions {
            interactive: true,
            ..SessionOptions::default()
        },
    });
    until(&mut rx, "the backend's budget spent", |e| {
        match logged(e).map(|e| &e.body) {
            Some(EventBody::BudgetExhausted { scope, .. }) if scope == "backend" => Some(()),
            _ => None,
        }
    })
    .await;
    until(
        &mut rx,
        "the backend's server task paused",
        |e| match logged(e).map(|e| &e.body) {
            Some(EventBody::TaskPaused { task, .. }) if task == "implement.server" => Some(()),
            _ => None,
        },
    )
    .await;
    handle.send(Op::RaiseBudget {
        scope: "nobody".into(),
        usd: None,
        tokens: None,
    });
    until(&mut rx, "a refusal", |e| {
        matches!(e, Event::Rejected { reason, .. } if reason.contains("nobody")).then_some(())
    })
    .await;
    handle.send(Op::RaiseBudget {
        scope: "backend".into(),
        usd: None,
        tokens: Some(1_000_000),
    });
    until(
        &mut rx,
        "the server task running again",
        |e| match logged(e).map(|e| &e.body) {
            Some(EventBody::TaskStarted { task, .. }) if task == "implement.server" => Some(()),
            _ => None,
        },
    )
    .await;
    until(&mut rx, "deliver", |e| {
        matches!(e, Event::DeliveryReady { .. }).then_some(())
    })
    .await;
    handle.send(Op::Commit {
        message: None,
        allow_secrets: false,
    });
    let status = until(&mut rx, "the end", |e| match logged(e).map(|e| &e.body) {
        Some(EventBody::SessionFinished { status, .. }) => Some(*status),
        _ => None,
    })
    .await;
    assert_eq!(status, SessionStatus::Succeeded);
    handle.send(Op::Shutdown);
    handle.join().await;
}

/// A workflow of refine, implement, test and deliver: no plans, votes or review.
const TEST_ONLY_WORKFLOW: &str = r#"
name = "test-only"
[[phase]]
name = "refine"
kind = "single"
agents = ["pm"]
[[phase]]
name = "implement"
kind = "tasks"
agents = ["pm", "backend", "frontend"]
[[phase]]
name = "test"
kind = "test"
agents = ["qa"]
[[phase]]
name = "deliver"
kind = "deliver"
"#;

/// In the TUI's mode, tests that still fail after the last repair round do not
/// end the session with the work thrown away: the files stay staged, the
/// person is told, and nothing is committed unless they commit. Quitting then
/// ends the session `failed` with DIR untouched; committing records the
/// failing tests in the commit message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_tests_out_of_rounds_wait_for_the_person() {
    let workflow = TEST_ONLY_WORKFLOW;
    for commit in [false, true] {
        let dir = tempdir();
        // Every version of the store stays broken, each one different.
        let mut script = broken_core(1);
        for v in 2..=3 {
            script.push_str(&format!(
                "[[reply]]\nagent = \"backend\"\nkind = \"repair\"\ntimes = 1\ntext = '''\n### `url_shortener/store.py`\n```python\nraise ImportError(\"still broken, version {v}\")\n```\n'''\n"
            ));
        }
        write(dir.path(), "script.toml", &script);
        let config = offline_config_with_script("script.toml");
        let (handle, _state) = spawn_in(dir.path(), &config, workflow);
        let mut rx = handle.subscribe();
        handle.send(Op::Start {
            prompt: PROMPT.into(),
            options: SessionOptions {
                interactive: true,
                ..SessionOptions::default()
            },
        });
        the_person_is_told_and_nothing_is_committed(&mut rx, dir.path()).await;
        handle.send(if commit {
            Op::Commit {
                message: None,
                allow_secrets: false,
            }
        } else {
            Op::Shutdown
        });
        the_persons_choice_ends_the_session(&handle, &mut rx, dir.path(), commit).await;
        handle.join().await;
    }
}

/// Step: after the first test run and two repair rounds the person is told the
/// tests still fail, and the delivery waits with nothing committed yet.
async fn the_person_is_told_and_nothing_is_committed(
    rx: &mut UnboundedReceiver<Event>,
    dir: &std::path::Path,
) {
    let mut runs = 0;
    let told = until(rx, "the person told", |e| {
        match logged(e).map(|e| &e.body) {
            Some(EventBody::TestRun { .. }) => {
                runs += 1;
                None
            }
            Some(EventBody::Error { message }) if message.contains("commit anyway") => {
                Some(message.clone())
            }
            Some(EventBody::SessionFinished { status, .. }) => {
                panic!("the session ended {status:?} without asking")
            }
            _ => None,
        }
    })
    .await;
    assert_eq!(runs, 3, "the first run and one per repair round");
    assert!(told.contains("after 2 repair round"), "{told}");
    let message = until(rx, "deliver", |e| match e {
        Event::DeliveryReady { message } => Some(message.clone()),
        _ => None,
    })
    .await;
    assert!(
        message.contains("Tests: failed") || message.contains("Tests: did not build"),
        "{message}"
    );
    assert!(!dir.join(".git").exists(), "nothing committed yet");
}

/// Step: committing ends the session succeeded with the failing tests in the
/// commit message; quitting ends it failed with DIR untouched.
async fn the_persons_choice_ends_the_session(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
    dir: &std::path::Path,
    commit: bool,
) {
    let status = until(rx, "the end", |e| match logged(e).map(|e| &e.body) {
        Some(EventBody::SessionFinished { status, .. }) => Some(*status),
        _ => None,
    })
    .await;
    if commit {
        assert_eq!(status, SessionStatus::Succeeded);
        let log = std::process::Command::new("git")
            .args(["log", "-1", "--format=%B"])
            .current_dir(dir)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&log.stdout);
        assert!(
            log.contains("Tests: failed") || log.contains("Tests: did not build"),
            "{log}"
        );
        handle.send(Op::Shutdown);
    } else {
        assert_eq!(status, SessionStatus::Failed);
        assert!(
            !dir.join(".git").exists() && !dir.join("url_shortener").exists(),
            "quitting leaves DIR untouched"
        );
    }
}

/// Acceptance 5: a second session in the same DIR reads the first session's
/// code and changes it in place — staged as diffs to existing files, not a new
/// project — and the tests of the commit it makes pass.
#[test]
fn a_second_session_changes_the_existing_code_and_its_commit_passes_its_tests() {
    let env = Env::new();
    let dir = tempdir();
    let first = Session::from_output(run(env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(dir.path()),
        "--json",
    ])));
    first.assert_succeeded();
    let first_passed = first.one("test_run")["passed"].as_u64().unwrap();
    let first_head = env.git(dir.path(), &["rev-parse", "HEAD"]);
    let follow_up = "add a delete endpoint with tests";

    // Headless, changing existing files needs consent; without it nothing moves.
    let refused = Session::from_output(run(env.quorum([
        "run",
        follow_up,
        "--dir",
        path_str(dir.path()),
        "--json",
    ])));
    assert_eq!(refused.status(), "failed");
    assert!(
        refused.one("error")["message"]
            .as_str()
            .unwrap()
            .contains("--allow-overwrite"),
        "{}",
        refused.one("error")
    );
    assert_eq!(env.git(dir.path(), &["rev-parse", "HEAD"]), first_head);

    let second = Session::from_output(run(env.quorum([
        "run",
        follow_up,
        "--dir",
        path_str(dir.path()),
        "--json",
        "--allow-overwrite",
    ])));
    second.assert_succeeded();
    assert!(
        second.of("conflict_detected").is_empty(),
        "the plans keep the project's own storage and API"
    );
    let staged = second.of("file_staged");
    assert!(!staged.is_empty());
    for f in &staged {
        assert_eq!(f["change"], "modified", "{f}");
        assert!(
            f["path"] == "README.md"
                || f["path"].as_str().unwrap().starts_with("url_shortener/")
                || f["path"].as_str().unwrap().starts_with("tests/"),
            "a file of the existing project: {f}"
        );
    }
    let changed = env.git(dir.path(), &["diff", "--name-status", "HEAD~1", "HEAD"]);
    assert!(
        changed.lines().all(|l| l.starts_with('M')),
        "only modifications: {changed}"
    );
    assert!(changed.contains("url_shortener/store.py"), "{changed}");
    let store = env.git(dir.path(), &["show", "HEAD:url_shortener/store.py"]);
    assert!(store.contains("def clear(self):"), "{store}");
    let run_tests = second.one("test_run");
    assert_eq!(run_tests["status"], "passed");
    assert!(
        run_tests["passed"].as_u64().unwrap() > first_passed,
        "new tests were added: {run_tests}"
    );

    // The commit's own tree, checked out alone, passes its tests.
    let tree = tempdir();
    let archive = tree.path().join("head.tar");
    env.git(dir.path(), &["archive", "-o", path_str(&archive), "HEAD"]);
    let untar = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(tree.path())
        .status()
        .unwrap();
    assert!(untar.success());
    let tests = std::process::Command::new("python3")
        .args(["-m", "unittest", "discover", "-v"])
        .current_dir(tree.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&tests.stderr);
    assert!(tests.status.success(), "{report}");
    assert!(
        report.contains(&format!("Ran {} tests", run_tests["passed"])),
        "{report}"
    );
}

/// The ops the TUI edits memory with work without a session: set, load back,
/// and refusals naming the agent or the size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_ops_store_load_and_refuse() {
    let dir = tempdir();
    let (handle, state) = spawn_in(
        dir.path(),
        "[providers.sim]\nkind = \"offline\"\n",
        SHORT_WORKFLOW,
    );
    let mut rx = handle.subscribe();
    handle.send(Op::SetMemory {
        agent: "frontend".into(),
        notes: "  prefer argparse\n\n".into(),
    });
    let stored = until(&mut rx, "the stored notes", |e| match e {
        Event::Memory { agent, notes } if agent == "frontend" => Some(notes.clone()),
        _ => None,
    })
    .await;
    assert_eq!(stored, "  prefer argparse\n", "blank lines dropped");
    handle.send(Op::LoadMemory {
        agent: "frontend".into(),
    });
    let loaded = until(&mut rx, "the loaded notes", |e| match e {
        Event::Memory { notes, .. } => Some(notes.clone()),
        _ => None,
    })
    .await;
    assert_eq!(loaded, stored);
    handle.send(Op::LoadMemory {
        agent: "nobody".into(),
    });
    let reason = until(&mut rx, "a refusal", |e| match e {
        Event::Rejected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("no agent `nobody`"), "{reason}");
    handle.send(Op::SetMemory {
        agent: "qa".into(),
        notes: "y".repeat(quorum::protocol::MEMORY_MAX_BYTES + 1),
    });
    let reason = until(&mut rx, "a refusal", |e| match e {
        Event::Rejected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("bytes"), "{reason}");
    handle.send(Op::Shutdown);
    handle.join().await;
    drop(state);
    // Stored durably: a new orchestrator on the same state reads it back.
    let (handle, _state) = spawn_in(
        dir.path(),
        "[providers.sim]\nkind = \"offline\"\n",
        SHORT_WORKFLOW,
    );
    let mut rx = handle.subscribe();
    handle.send(Op::LoadMemory {
        agent: "frontend".into(),
    });
    let reloaded = until(&mut rx, "the reloaded notes", |e| match e {
        Event::Memory { notes, .. } => Some(notes.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reloaded, stored);
    handle.send(Op::Shutdown);
    handle.join().await;
}

/// Pausing the session stops the running tasks and starts nothing (for as
/// long as the pause lasts, in virtual time); resuming queues exactly the
/// stopped tasks again and the session completes with every task done once.
#[tokio::test(start_paused = true)]
async fn a_paused_session_starts_nothing_until_it_is_resumed() {
    let dir = tempdir();
    let mut script = PARALLEL.to_string();
    for t in ["a1", "a2", "b1", "b2"] {
        script.push_str(&format!(
            "[[reply]]\ntask = \"implement.{t}\"\ntimes = 0\nlatency_ms = 1000\ntext = '''\n### `{t}.py`\n```python\nX = 1\n```\n'''\n"
        ));
    }
    write(dir.path(), "script.toml", &script);
    let config = "[providers.sim]\nkind = \"offline\"\nscript = \"script.toml\"\n\
                  [agents.backend]\nmax_concurrency = 1\n[agents.frontend]\nmax_concurrency = 1\n";
    let (handle, _state) = spawn_in(dir.path(), config, SHORT_WORKFLOW);
    let mut rx = handle.subscribe();
    handle.send(Op::ResumeSession);
    let reason = until(&mut rx, "a refusal", |e| match e {
        Event::Rejected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("no session"), "{reason}");
    handle.send(Op::Start {
        prompt: "Build it".into(),
        options: SessionOptions {
            interactive: true,
            ..SessionOptions::default()
        },
    });
    let is_work = |task: &str| task.starts_with("implement.") && task != "implement.breakdown";
    let mut running = std::collections::BTreeSet::new();
    until(&mut rx, "two tasks running", |e| {
        if let Some(EventBody::TaskStarted { task, .. }) = logged(e).map(|e| &e.body)
            && is_work(task)
        {
            running.insert(task.clone());
        }
        (running.len() == 2).then_some(())
    })
    .await;
    handle.send(Op::PauseSession);
    handle.send(Op::PauseSession);
    let mut paused = std::collections::BTreeSet::new();
    until(&mut rx, "both paused and the second pause refused", |e| {
        match e {
            Event::Logged(l) => {
                if let EventBody::TaskPaused { task, .. } = &l.body {
                    paused.insert(task.clone());
                }
                if let EventBody::TaskStarted { task, .. } | EventBody::TaskFinished { task, .. } =
                    &l.body
                {
                    panic!("{task} moved while the session was paused");
                }
            }
            Event::Rejected { reason, .. } => {
                assert!(reason.contains("paused already"), "{reason}");
                return Some(());
            }
            _ => {}
        }
        None
    })
    .await;
    assert_eq!(paused, running, "exactly the running tasks were paused");
    // A long pause: nothing starts or finishes meanwhile.
    tokio::time::sleep(Duration::from_secs(30)).await;
    while let Ok(e) = rx.try_recv() {
        if let Some(EventBody::TaskStarted { task, .. } | EventBody::TaskFinished { task, .. }) =
            logged(&e).map(|e| &e.body)
        {
            panic!("{task} moved while the session was paused");
        }
    }
    handle.send(Op::ResumeSession);
    let mut finished: std::collections::BTreeMap<String, u32> = Default::default();
    let mut requeued = std::collections::BTreeSet::new();
    until(&mut rx, "deliver", |e| {
        match logged(e).map(|e| &e.body) {
            Some(EventBody::TaskQueued { task, .. }) if is_work(task) => {
                requeued.insert(task.clone());
            }
            Some(EventBody::TaskFinished { task, .. }) if is_work(task) => {
                *finished.entry(task.clone()).or_default() += 1;
            }
            _ => {}
        }
        matches!(e, Event::DeliveryReady { .. }).then_some(())
    })
    .await;
    assert_eq!(requeued, running, "the stopped tasks, queued again");
    assert_eq!(finished.len(), 4, "{finished:?}");
    assert!(finished.values().all(|n| *n == 1), "{finished:?}");
    handle.send(Op::Shutdown);
    handle.join().await;
}
