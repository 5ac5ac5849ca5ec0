//! Sessions recorded with a real model (`tests/fixtures/recordings/`),
//! replayed through `replay.rs` into quorum, end to end: `quorum run PROMPT
//! --dir D --json` with every agent on the replay server and `[test]` left at
//! `auto`. Each component's setup fetches its dependencies from the package
//! registries (crates, PyPI, npm: the only traffic off the machine, as in CI)
//! and its tests run without the network; the counts are the recordings'
//! ground truth (docs/workflows.md, "Setup and tests").
//!
//! cargo runs with the person's `CARGO_HOME` and `RUSTUP_HOME` (the toolchain
//! and the registry cache are theirs); everything else is the hermetic `Env`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Env, Output, Session, path_str, tempdir, wait, write};
use crate::replay::{Replay, file_blocks, replay_config};

/// Longest a replayed session may run: it installs dependencies and builds.
const SESSION_TIMEOUT: Duration = Duration::from_secs(900);

/// The person's cargo and rustup homes (the toolchain lives there).
fn cargo_homes() -> [(&'static str, PathBuf); 2] {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let var = |name: &str, default: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(default))
    };
    [
        ("CARGO_HOME", var("CARGO_HOME", ".cargo")),
        ("RUSTUP_HOME", var("RUSTUP_HOME", ".rustup")),
    ]
}

/// Runs the recording's prompt headless against `replay` with `extra` config
/// and `args`; returns the session and how long it took.
fn run_replayed(
    env: &Env,
    dir: &Path,
    replay: &Replay,
    extra: &str,
    args: &[&str],
) -> (Session, Duration) {
    let config_dir = tempdir();
    let config = write_config(config_dir.path(), replay, extra);
    let prompt = replay.recording.prompt();
    let mut run = vec!["run", prompt.as_str()];
    run.extend_from_slice(args);
    quorum_json(env, dir, &config, &run)
}

/// Writes the replay's `quorum.toml` (plus `extra`) into `dir`; its path.
fn write_config(dir: &Path, replay: &Replay, extra: &str) -> PathBuf {
    write(dir, "quorum.toml", &(replay_config(&replay.url()) + extra));
    dir.join("quorum.toml")
}

/// `quorum ARGS --dir DIR --json --config CONFIG` with the person's cargo;
/// the session and how long it took.
fn quorum_json(env: &Env, dir: &Path, config: &Path, args: &[&str]) -> (Session, Duration) {
    let (out, took) = quorum_out(env, dir, config, args);
    (Session::from_output(out), took)
}

/// [`quorum_json`]'s output as it is (a resumed stream starts past seq 1).
fn quorum_out(env: &Env, dir: &Path, config: &Path, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut cmd = env.quorum(args);
    cmd.args([
        "--dir",
        path_str(dir),
        "--json",
        "--config",
        path_str(config),
    ]);
    for (name, value) in cargo_homes() {
        cmd.env(name, value);
    }
    (
        wait(crate::common::spawn(cmd), SESSION_TIMEOUT),
        started.elapsed(),
    )
}

/// The files the recording's replies wrote, the later reply winning, as the
/// session would have them (repairs overwrite).
fn recorded_files(replay: &Replay, numbers: &[&str]) -> BTreeMap<String, String> {
    numbers
        .iter()
        .flat_map(|n| file_blocks(replay.recording.reply(n)))
        .collect()
}

/// Panics unless the session went through deliver to a commit, with every
/// request matched.
fn assert_delivered(session: &Session, replay: &Replay) {
    let unmatched = replay.unmatched();
    assert!(
        unmatched.is_empty(),
        "requests the recording lacks: {unmatched:?}\nserved: {:#?}\n{}",
        replay.served(),
        session.out
    );
    session.assert_succeeded();
    let phases: Vec<&str> = session
        .of("phase_started")
        .iter()
        .filter_map(|e| e["phase"].as_str())
        .collect();
    assert_eq!(phases.last(), Some(&"deliver"), "{phases:?}");
    session.one("commit_created");
}

/// The committed tree is `files`, byte for byte, plus the files quorum writes
/// itself (`generated`, e.g. `docs/DECISIONS.md`).
fn assert_committed(
    env: &Env,
    dir: &Path,
    session: &Session,
    files: &BTreeMap<String, String>,
    generated: &[&str],
) {
    let commit = session.one("commit_created");
    let sha = commit["sha"].as_str().unwrap();
    let listed: BTreeSet<String> = env
        .git(dir, &["ls-tree", "-r", "--name-only", sha])
        .lines()
        .map(String::from)
        .collect();
    let mut expected: BTreeSet<String> = files.keys().cloned().collect();
    expected.extend(generated.iter().map(|p| p.to_string()));
    assert_eq!(listed, expected, "the committed tree");
    let event_files: BTreeSet<String> = commit["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    assert_eq!(event_files, expected, "commit_created.files");
    for (path, content) in files {
        let committed = env.git(dir, &["show", &format!("{sha}:{path}")]);
        assert!(
            committed == *content,
            "{path} differs from the recorded block:\n--- committed ---\n{committed}\n--- recorded ---\n{content}"
        );
    }
}

/// Prints what the test saw, for the record (`--nocapture`).
fn report(name: &str, session: &Session, replay: &Replay, took: Duration) {
    eprintln!("{name}: {:.1} s", took.as_secs_f64());
    for (role, title, source) in replay.served() {
        eprintln!("  served {source} {role}: {title}");
    }
    for e in &session.events {
        if matches!(
            e["type"].as_str(),
            Some(
                "setup_run"
                    | "test_run"
                    | "finding"
                    | "error"
                    | "path_refused"
                    | "task_failed"
                    | "task_retrying"
            )
        ) {
            eprintln!("  {e}");
        }
    }
}

#[test]
fn rust_wc_cli_sets_up_passes_39_tests_offline_and_commits_once() {
    let replay = Replay::start("rust-wc-cli");
    // The recorded session never reached review (its tests could not fetch
    // clap): the reviewer finds nothing.
    replay.reply_for("security", "review the staged files", "{\"findings\": []}");
    let env = Env::new();
    let dir = tempdir();
    let (session, took) = run_replayed(&env, dir.path(), &replay, "", &[]);
    report("rust-wc-cli", &session, &replay, took);
    assert_delivered(&session, &replay);

    // Setup fetched the crates with the network; the tests ran offline.
    let setup = session.one("setup_run");
    assert_eq!(setup["command"], "cargo fetch");
    assert_eq!(setup["status"], "ok");
    assert_eq!(setup["network"], true);
    let run = session.one("test_run");
    assert_eq!(run["command"], "cargo test --offline");
    assert_eq!(run["status"], "passed", "{run}");
    assert_eq!(run["passed"], 39, "the recording's ground truth: {run}");
    assert_eq!(run["failed"], 0);

    let files = recorded_files(&replay, &["0016", "0017", "0018", "0019"]);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "Cargo.toml",
            "README.md",
            "src/lib.rs",
            "src/main.rs",
            "tests/cli.rs",
            "tests/counting.rs"
        ]
    );
    // The two conflicts, decided 4–0 as recorded, are quorum's own record.
    assert_committed(&env, dir.path(), &session, &files, &["docs/DECISIONS.md"]);
    assert_eq!(session.of("commit_created").len(), 1);
    let message = env.git(dir.path(), &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("Tests: passed, 39 passed, 0 failed (cargo test --offline)"),
        "{message}"
    );
    let record = env.git(dir.path(), &["show", "HEAD:docs/DECISIONS.md"]);
    assert!(
        record.contains("- project (`cargo test --offline`): passed, 39 passed, 0 failed"),
        "{record}"
    );

    // Every recorded request up to the tests was answered once, and the
    // scripted review once; no repair ran.
    let served: Vec<String> = replay.served().into_iter().map(|(_, _, n)| n).collect();
    let mut numbers: Vec<&str> = served.iter().map(String::as_str).collect();
    let review = numbers.pop();
    assert_eq!(review, Some("scripted"));
    numbers.sort_unstable();
    let recorded: Vec<String> = (1..=19).map(|n| format!("{n:04}")).collect();
    assert_eq!(numbers, recorded, "served: {:#?}", replay.served());

    // The committed tree builds and its tests pass from a clean clone.
    let clone = tempdir();
    let target = clone.path().join("wcu");
    let out = crate::common::run({
        let mut git = env.command("git");
        git.args(["clone", "-q", path_str(dir.path()), path_str(&target)]);
        git
    });
    assert_eq!(out.code, 0, "{out}");
    let mut cargo = env.command("cargo");
    cargo.args(["test", "--offline", "-q"]).current_dir(&target);
    for (name, value) in cargo_homes() {
        cargo.env(name, value);
    }
    let out = wait(crate::common::spawn(cargo), SESSION_TIMEOUT);
    assert_eq!(out.code, 0, "{out}");
    let passed: u64 = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(passed, 39, "{out}");
}

#[test]
fn rust_wc_cli_without_setup_network_fails_as_the_environments_and_blames_no_agent() {
    let replay = Replay::start("rust-wc-cli");
    let env = Env::new();
    let dir = tempdir();
    let (session, took) = run_replayed(&env, dir.path(), &replay, "", &["--no-setup-network"]);
    report("rust-wc-cli, setup offline", &session, &replay, took);
    assert_eq!(session.status(), "failed", "{}", session.out);
    assert_eq!(session.out.code, 1);
    let setup = session.one("setup_run");
    assert_eq!(setup["network"], false);
    assert_eq!(setup["status"], "failed");
    let run = session.one("test_run");
    assert_eq!(run["status"], "setup_failed", "{run}");
    let lines = run["lines"].to_string();
    assert!(lines.contains("clap"), "the missing package: {run}");
    let message = session.of("error").last().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("the environment, not the code"),
        "{message}"
    );
    assert!(message.contains("without the network"), "{message}");
    // No agent is blamed: no repair, no finding, no commit.
    assert!(
        session
            .of("task_queued")
            .iter()
            .all(|t| !t["task"].as_str().unwrap().contains("repair")),
        "no repair task"
    );
    assert!(session.of("finding").is_empty());
    assert!(session.of("commit_created").is_empty());
    // stderr still says so with --json, and where the staged work is.
    let stderr = &session.out.stderr;
    assert!(stderr.contains("the environment, not the code"), "{stderr}");
    assert!(stderr.contains("--format tar"), "{stderr}");
}

#[test]
fn a_session_failed_at_setup_resumes_once_the_network_is_allowed_and_commits_once() {
    let replay = Replay::start("rust-wc-cli");
    replay.reply_for("security", "review the staged files", "{\"findings\": []}");
    let env = Env::new();
    let dir = tempdir();
    let config_dir = tempdir();
    // The person vendors nothing but turned setup's network off.
    let config = write_config(
        config_dir.path(),
        &replay,
        "[test]\nsetup_network = false\n",
    );
    let prompt = replay.recording.prompt();
    let (failed, took) = quorum_json(&env, dir.path(), &config, &["run", &prompt]);
    report("rust-wc-cli, setup without network", &failed, &replay, took);
    assert_eq!(failed.status(), "failed", "{}", failed.out);
    assert_eq!(failed.one("test_run")["status"], "setup_failed");
    let id = failed.id().to_string();

    // The config is changed to allow it; the failed session is resumed.
    write_config(config_dir.path(), &replay, "");
    let (out, took) = quorum_out(&env, dir.path(), &config, &["resume", &id, "--headless"]);
    let stored = failed.events.last().unwrap()["seq"].as_u64().unwrap();
    // The resumed stream continues the stored log, gapless.
    let events = crate::resume::resumed_stream(&out, stored);
    let resumed = Session {
        out,
        events,
        tokens: Vec::new(),
    };
    report("rust-wc-cli, resumed", &resumed, &replay, took);
    assert_eq!(resumed.out.code, 0, "{}", resumed.out);
    assert_eq!(resumed.status(), "succeeded", "{}", resumed.out);
    let setup = resumed.one("setup_run");
    assert_eq!(
        (setup["status"].as_str(), setup["network"].as_bool()),
        (Some("ok"), Some(true))
    );
    let run = resumed.one("test_run");
    assert_eq!(run["status"], "passed", "{run}");
    assert_eq!(run["passed"], 39);
    // Nothing asked twice: the implementation was not redone, review once.
    let served = replay.served();
    assert_eq!(
        served.iter().filter(|s| s.2 == "0016").count(),
        1,
        "{served:#?}"
    );
    assert_eq!(
        served.iter().filter(|s| s.2 == "scripted").count(),
        1,
        "{served:#?}"
    );
    // One commit, this session's.
    resumed.one("commit_created");
    let log = env.git(dir.path(), &["log", "--format=%H %s"]);
    assert_eq!(log.lines().count(), 1, "{log}");
    let message = env.git(dir.path(), &["log", "-1", "--format=%B"]);
    assert!(
        message.contains(&format!("Quorum-Session: {id}")),
        "{message}"
    );
}

#[test]
fn todo_react_flask_sets_up_both_components_routes_the_vitest_failure_and_commits_once() {
    let replay = Replay::start("todo-react-flask");
    // The recorded review flags the `getTodos` import; once the code no longer
    // calls it, that finding is gone from what the reviewer sees.
    replay.adapt("security", "review the staged files", |request, reply| {
        if request.to_string().contains("getTodos(") {
            return reply.to_string();
        }
        let mut findings: Value = serde_json::from_str(reply).unwrap();
        findings["findings"]
            .as_array_mut()
            .unwrap()
            .retain(|f| !f["text"].as_str().unwrap_or("").contains("getTodos"));
        findings.to_string()
    });
    // What the repair request showed the frontend.
    let repair_requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = std::sync::Arc::clone(&repair_requests);
    replay.adapt("frontend", "repair (", move |request, reply| {
        seen.lock().unwrap().push(request.to_string());
        reply.to_string()
    });
    let env = Env::new();
    let dir = tempdir();
    let (session, took) = run_replayed(&env, dir.path(), &replay, "", &[]);
    report("todo-react-flask", &session, &replay, took);
    assert_delivered(&session, &replay);

    // Two components, each set up once (the repair round reuses them).
    let setups: Vec<(&str, &str)> = session
        .of("setup_run")
        .iter()
        .map(|e| {
            (
                e["component"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(setups, [("backend", "ok"), ("frontend", "ok")]);
    let runs: Vec<(u64, &str, &str, u64)> = session
        .of("test_run")
        .iter()
        .map(|e| {
            (
                e["round"].as_u64().unwrap(),
                e["component"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
                e["passed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(runs.len(), 4, "{runs:?}");
    assert_eq!(runs[0], (1, "backend", "passed", 68), "{runs:?}");
    assert_eq!((runs[1].0, runs[1].1), (1, "frontend"), "{runs:?}");
    assert!(
        ["build_failed", "failed"].contains(&runs[1].2),
        "the getTodos import fails the frontend first: {runs:?}"
    );
    assert_eq!(
        &runs[2..],
        [(2, "backend", "passed", 68), (2, "frontend", "passed", 26)]
    );

    // The failure went to the owner of TodoPage.jsx, with api.js in the request.
    let served = replay.served();
    let fix = served
        .iter()
        .position(|(_, _, n)| n == "0016")
        .unwrap_or_else(|| panic!("the recorded repair was served: {served:#?}"));
    assert_eq!(served[fix].0, "frontend");
    assert_eq!(served[fix].1, "repair (repair1)");
    let requests = repair_requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].contains("frontend/src/api.js"),
        "api.js in the repair request"
    );
    assert!(
        requests[0].contains("export async function listTodos")
            || requests[0].contains("listTodos")
    );
    // QA's summary line, which named the bug, was kept.
    assert!(
        session
            .of("task_summary")
            .iter()
            .any(|e| e["agent"] == "qa" && e["summary"].as_str().unwrap().contains("getTodos")),
        "qa's summary line"
    );
    // Review saw the fixed code: no blocking finding, one review.
    assert!(session.of("finding").iter().all(|f| f["blocking"] == false));
    assert_eq!(served.iter().filter(|s| s.2 == "0015").count(), 1);

    // The commit holds every recorded file, TodoPage.jsx as repaired, and
    // its message lists both components.
    let numbers: Vec<String> = (8..=16).map(|n| format!("{n:04}")).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let files = recorded_files(&replay, &numbers);
    assert_eq!(files.len(), 34, "{:?}", files.keys());
    // No conflicts, so no docs/DECISIONS.md.
    assert_committed(&env, dir.path(), &session, &files, &[]);
    assert_eq!(session.of("commit_created").len(), 1);
    let page = env.git(
        dir.path(),
        &["show", "HEAD:frontend/src/components/TodoPage.jsx"],
    );
    assert!(!page.contains("getTodos"), "{page}");
    let message = env.git(dir.path(), &["log", "-1", "--format=%B"]);
    assert!(message.contains("- backend ("), "{message}");
    assert!(message.contains("passed, 68 passed, 0 failed"), "{message}");
    assert!(message.contains("- frontend ("), "{message}");
    assert!(message.contains("passed, 26 passed, 0 failed"), "{message}");
}

/// Without the scripted review, the request the recording lacks fails the
/// session clearly: a 400 naming the role and the task, and no commit.
#[test]
fn a_request_the_recording_lacks_fails_the_session_by_name() {
    let replay = Replay::start("rust-wc-cli");
    let env = Env::new();
    let dir = tempdir();
    let (session, took) = run_replayed(
        &env,
        dir.path(),
        &replay,
        "[test]\nsetup = \"\"\ncommand = \"echo '1 passed, 0 failed'\"\n",
        &[],
    );
    report("rust-wc-cli without review", &session, &replay, took);
    assert_eq!(
        replay.unmatched(),
        [(
            "security".to_string(),
            "review the staged files".to_string()
        )]
    );
    assert_eq!(session.status(), "failed", "{}", session.out);
    assert_ne!(session.out.code, 0);
    assert_eq!(session.one("task_failed")["task"], "review");
    assert!(session.of("commit_created").is_empty());
    assert!(
        session.out.stdout.contains(
            "no recorded or scripted reply for role `security`, task `review the staged files`"
        ),
        "{}",
        session.out
    );
}
