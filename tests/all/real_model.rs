//! Sessions recorded with a real model (`tests/fixtures/recordings/`),
//! replayed through `replay.rs` into today's quorum, end to end: `quorum run
//! PROMPT --dir D --json` with every agent on the replay server. Each session
//! must reach deliver and commit, every request must match the recording, and
//! the committed files must be the recorded replies' file blocks byte for byte.
//!
//! `[test] command = "true"`: today's quorum cannot install the projects'
//! dependencies (clap; Flask, Vite), so what runs the generated tests is not
//! what these tests are about; the replay is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Env, Session, path_str, tempdir, wait, write};
use crate::replay::{Replay, file_blocks, replay_config};

/// Longest a replayed session may run.
const SESSION_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs the recording's prompt headless against `replay`; returns the session
/// and how long it took.
fn run_replayed(env: &Env, dir: &Path, replay: &Replay) -> (Session, Duration) {
    let config_dir = tempdir();
    let config = config_dir.path().join("quorum.toml");
    write(
        config_dir.path(),
        "quorum.toml",
        &(replay_config(&replay.url()) + "[test]\ncommand = \"true\"\n"),
    );
    let prompt = replay.recording.prompt();
    let started = Instant::now();
    let cmd = env.quorum([
        "run",
        &prompt,
        "--dir",
        path_str(dir),
        "--json",
        "--config",
        path_str(&config),
    ]);
    let session = Session::from_output(wait(crate::common::spawn(cmd), SESSION_TIMEOUT));
    (session, started.elapsed())
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
                "test_run" | "finding" | "error" | "path_refused" | "task_failed" | "task_retrying"
            )
        ) {
            eprintln!("  {e}");
        }
    }
}

#[test]
fn rust_wc_cli_replays_to_a_commit_of_the_recorded_files() {
    let replay = Replay::start("rust-wc-cli");
    // The recorded session never reached review (its tests could not fetch
    // clap): the reviewer finds nothing.
    replay.reply_for("security", "review the staged files", "{\"findings\": []}");
    let env = Env::new();
    let dir = tempdir();
    let (session, took) = run_replayed(&env, dir.path(), &replay);
    report("rust-wc-cli", &session, &replay, took);
    assert_delivered(&session, &replay);

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
    let decisions = env.git(dir.path(), &["show", "HEAD:docs/DECISIONS.md"]);
    for decided in [
        "- **Decision:** wcu — decided by vote",
        "Tally: wc-rs 0, wcu 4.",
        "- **Decision:** word-content — decided by vote",
        "Tally: neutral 0, word-content 4.",
    ] {
        assert!(decisions.contains(decided), "{decided}\n{decisions}");
    }

    // Every recorded request up to the tests was answered once, in the
    // recorded phases' order, and the scripted review once; no repair ran
    // (`true` passes).
    let served: Vec<String> = replay.served().into_iter().map(|(_, _, n)| n).collect();
    let mut numbers: Vec<&str> = served.iter().map(String::as_str).collect();
    let review = numbers.pop();
    assert_eq!(review, Some("scripted"));
    numbers.sort_unstable();
    let recorded: Vec<String> = (1..=19).map(|n| format!("{n:04}")).collect();
    assert_eq!(numbers, recorded, "served: {:#?}", replay.served());
    assert!(
        session
            .of("test_run")
            .iter()
            .all(|t| t["status"] == "passed")
    );
}

#[test]
fn todo_react_flask_replays_the_review_fix_into_the_commit() {
    let replay = Replay::start("todo-react-flask");
    // The recorded review flags the `getTodos` import; should the reviewer be
    // asked again after the fix, that finding is gone from what it sees.
    replay.adapt("security", "review the staged files", |request, reply| {
        if request.to_string().contains("getTodos") {
            return reply.to_string();
        }
        let mut findings: Value = serde_json::from_str(reply).unwrap();
        findings["findings"]
            .as_array_mut()
            .unwrap()
            .retain(|f| !f["text"].as_str().unwrap_or("").contains("getTodos"));
        findings.to_string()
    });
    let env = Env::new();
    let dir = tempdir();
    let (session, took) = run_replayed(&env, dir.path(), &replay);
    report("todo-react-flask", &session, &replay, took);
    assert_delivered(&session, &replay);

    // The review's blocking finding on TodoPage.jsx, then frontend's repair.
    let blocking: Vec<&str> = session
        .of("finding")
        .iter()
        .filter(|f| f["blocking"] == true)
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(blocking, ["frontend/src/components/TodoPage.jsx"]);
    let served = replay.served();
    let fix = served
        .iter()
        .position(|(_, _, n)| n == "0016")
        .unwrap_or_else(|| panic!("the recorded repair was served: {served:#?}"));
    assert_eq!(served[fix].0, "frontend");
    assert!(served[fix].1.starts_with("repair ("), "{:?}", served[fix]);
    // Today the fix is re-tested, not re-reviewed: one review, one repair.
    for n in ["0015", "0016"] {
        assert_eq!(
            served.iter().filter(|s| s.2 == n).count(),
            1,
            "{n} served once: {served:#?}"
        );
    }
    let numbers: BTreeSet<&str> = served.iter().map(|(_, _, n)| n.as_str()).collect();
    let recorded: Vec<String> = (1..=16).map(|n| format!("{n:04}")).collect();
    assert_eq!(
        numbers,
        recorded.iter().map(String::as_str).collect(),
        "served: {served:#?}"
    );

    // The commit holds every recorded file, TodoPage.jsx as repaired.
    let numbers: Vec<String> = (8..=16).map(|n| format!("{n:04}")).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let files = recorded_files(&replay, &numbers);
    assert_eq!(files.len(), 34, "{:?}", files.keys());
    // No conflicts, so no docs/DECISIONS.md.
    assert_committed(&env, dir.path(), &session, &files, &[]);
    let page = env.git(
        dir.path(),
        &["show", "HEAD:frontend/src/components/TodoPage.jsx"],
    );
    assert!(!page.contains("getTodos"), "{page}");
    assert!(page.contains("listTodos(token)"), "{page}");
}

/// Without the scripted review, the request the recording lacks fails the
/// session clearly: a 400 naming the role and the task, and no commit.
#[test]
fn a_request_the_recording_lacks_fails_the_session_by_name() {
    let replay = Replay::start("rust-wc-cli");
    let env = Env::new();
    let dir = tempdir();
    let (session, took) = run_replayed(&env, dir.path(), &replay);
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
