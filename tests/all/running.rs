//! A session that runs, waits or died, seen from a second quorum (issue 18):
//! `sessions list|show|export` read DIR's state while a session runs (never
//! exit 4), while writes are refused naming the pid; a second quorum on one
//! DIR is refused whatever its `--state-dir`; a session whose owner was
//! SIGKILLed lists `interrupted` and resumes; and `quorum resume --headless`
//! settles a session a TUI left waiting for the person (at a question, at
//! resolve) by the headless rules, never waiting for an answer no one gives.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use serde_json::Value;

use crate::common::{Env, Output, TIMEOUT, path_str, poll, run, spawn, wait};
use crate::tui_tmux::{AFTER, Tmux, WAIT};

/// A script whose implement calls wait ten minutes before their first
/// chunk: the session stays in its implement phase until it is killed.
const STALLED: &str =
    "[[reply]]\nkind = \"implement\"\nlatency_ms = 600000\ntimes = 0\ntext = \"x\"\n";

/// Puts the offline team with `script` in `dir`.
fn scripted(dir: &Path, script: &str) {
    crate::common::write_scripted(dir, script, "");
}

/// `quorum ARGS --dir DIR`.
fn quorum(env: &Env, dir: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--dir", path_str(dir)]);
    run(env.quorum(all))
}

/// `sessions list --json`: every stored session's summary; the command must
/// succeed.
fn listed(env: &Env, dir: &Path) -> Vec<Value> {
    let out = quorum(env, dir, &["sessions", "list", "--json"]);
    assert_eq!(out.code, 0, "sessions list: {out}");
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The pid on the first line of DIR's lock.
fn owner(dir: &Path) -> u32 {
    let text = std::fs::read_to_string(dir.join(".quorum/lock")).unwrap();
    text.lines().next().unwrap().trim().parse().unwrap()
}

/// Polls until DIR holds one session in `phase`, still without an end
/// (`status: null`), each look a `sessions list` that succeeds; its id.
fn running_in(env: &Env, dir: &Path, phase: &str) -> String {
    poll(WAIT, &format!("a session running in {phase}"), || {
        std::thread::sleep(Duration::from_millis(50));
        if !dir.join(".quorum/db").exists() {
            return None;
        }
        listed(env, dir)
            .into_iter()
            .find(|s| s["status"].is_null() && s["phase"] == phase)
            .map(|s| s["id"].as_str().unwrap().to_string())
    })
}

/// Kills `child` with SIGKILL and reaps it.
fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sessions_list_show_and_export_read_a_running_session_and_a_killed_owner_leaves_it_interrupted() {
    let env = Env::new();
    let dir = crate::common::tempdir();
    scripted(dir.path(), STALLED);
    let child = spawn(env.quorum(["run", "Build a CLI todo app", "--dir", path_str(dir.path())]));
    let id = running_in(&env, dir.path(), "implement");
    let pid = owner(dir.path());

    let out = quorum(&env, dir.path(), &["sessions", "list"]);
    assert_eq!(out.code, 0, "{out}");
    let row = out.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.contains("running"), "{out}");
    let out = quorum(&env, dir.path(), &["sessions", "show", &id]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("status    running"), "{out}");
    assert!(out.stdout.contains("phase_started"), "{out}");
    let out = quorum(
        &env,
        dir.path(),
        &["sessions", "export", &id, "--format", "json"],
    );
    assert_eq!(out.code, 0, "{out}");
    let export: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(export["events"].as_array().unwrap().len() > 5, "{out}");

    // Writes still wait for the session: refused, naming its pid.
    for args in [vec!["sessions", "rm", id.as_str()], vec!["undo"]] {
        let out = quorum(&env, dir.path(), &args);
        assert_eq!(out.code, 4, "{args:?}: {out}");
        assert!(out.stderr.contains(&format!("pid {pid}")), "{out}");
    }
    assert_eq!(listed(&env, dir.path()).len(), 1, "nothing was removed");

    // The owner dies without a word: the session is interrupted, not running.
    kill(child);
    let out = quorum(&env, dir.path(), &["sessions", "list"]);
    assert_eq!(out.code, 0, "{out}");
    let row = out.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.contains("interrupted"), "{out}");
    assert_eq!(listed(&env, dir.path())[0]["status"], "interrupted");

    // Resumed (with replies that come at once now), it finishes.
    std::fs::write(dir.path().join("script.toml"), "").unwrap();
    let out = wait(
        spawn(env.quorum(["resume", "--headless", "--dir", path_str(dir.path())])),
        WAIT,
    );
    assert_eq!(out.code, 0, "{out}");
    let all = listed(&env, dir.path());
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["status"], "succeeded", "{all:?}");
    assert!(all[0]["commit"].is_string(), "{all:?}");
}

#[test]
fn a_second_quorum_on_one_dir_is_refused_whatever_its_state_dir() {
    let env = Env::new();
    let dir = crate::common::tempdir();
    let states = crate::common::tempdir();
    let (first, second) = (states.path().join("one"), states.path().join("two"));
    scripted(dir.path(), STALLED);
    let child = spawn(env.quorum([
        "run",
        "Build a CLI todo app",
        "--dir",
        path_str(dir.path()),
        "--state-dir",
        path_str(&first),
    ]));
    let pid = poll(TIMEOUT, "the first quorum's lock", || {
        std::thread::sleep(Duration::from_millis(50));
        let text = std::fs::read_to_string(first.join("lock")).ok()?;
        text.lines().nth(1)?;
        text.lines().next()?.trim().parse::<u32>().ok()
    });
    for state in [Some(&second), None] {
        let mut args = vec!["run", "Build a notes app", "--dir", path_str(dir.path())];
        if let Some(state) = state {
            args.extend(["--state-dir", path_str(state)]);
        }
        let out = run(env.quorum(args));
        assert_eq!(out.code, 4, "{state:?}: {out}");
        assert!(out.stderr.contains(&format!("pid {pid}")), "{out}");
        assert!(out.stderr.contains("in use by another quorum"), "{out}");
    }
    assert!(
        !second.join("db").exists(),
        "the refused quorum opened no db"
    );
    // DIR's lock lives in DIR/.quorum, which git never shows.
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".quorum/.gitignore")).unwrap(),
        "*\n"
    );
    kill(child);
    // Once the first is gone, DIR is free for another state directory.
    std::fs::write(dir.path().join("script.toml"), "").unwrap();
    let out = run(env.quorum([
        "run",
        "Build a notes app",
        "--dir",
        path_str(dir.path()),
        "--state-dir",
        path_str(&second),
    ]));
    assert_eq!(out.code, 0, "{out}");
}

/// A requirements reply with one question, `storage`.
const ASKS: &str = r#"[[reply]]
kind = "requirements"
text = '''{"summary": "a CLI todo app", "goals": ["add, list and finish todos"],
 "constraints": ["standard library only"], "acceptance_criteria": ["the tests pass"],
 "assumptions": [], "questions": [{"id": "storage", "text": "Where should the todos be kept?",
 "default": "a JSON file"}]}'''
"#;

/// The TUI on the offline team (with `script`) in tmux, until `waiting`
/// says it waits for the person; then its server is stopped.
/// `quorum resume --headless` must then finish the session by itself.
/// Returns the resume's output and the stored events.
fn hang_up_and_resume(
    script: &str,
    waiting: impl Fn(&Env, &Path, &str) -> bool,
) -> (Output, Vec<Value>) {
    let env = Env::new();
    let dir = crate::common::tempdir();
    scripted(dir.path(), script);
    let command = format!("{} 'Build a CLI todo app'; {AFTER}", crate::common::bin());
    let t = Tmux::start(Env::new(), dir.path(), 120, 40, &command);
    let id = running_in_any(&env, dir.path());
    // Read while the TUI runs: the session shows, running.
    poll(WAIT, "the session waiting for the person", || {
        std::thread::sleep(Duration::from_millis(100));
        waiting(&env, dir.path(), &id).then_some(())
    });
    let out = quorum(&env, dir.path(), &["sessions", "show", &id]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("status    running"), "{out}");

    // The TUI is a client of DIR's server (docs/design.md §4): a hangup
    // would leave the session waiting there; stopping the server ends it
    // `interrupted`, as the hangup of a TUI that ran its own session did.
    let stop = quorum(&env, dir.path(), &["serve", "--stop"]);
    assert_eq!(stop.code, 0, "{stop}");
    t.wait_for("the server stopped");
    t.keys("q", true);
    t.wait_for("EXIT=");
    assert_eq!(listed(&env, dir.path())[0]["status"], "interrupted");

    let resumed = wait(
        spawn(env.quorum(["resume", "--headless", "--dir", path_str(dir.path())])),
        WAIT,
    );
    assert_eq!(resumed.code, 0, "{resumed}");
    let all = listed(&env, dir.path());
    assert_eq!(all[0]["status"], "succeeded", "{all:?}");
    let log = env.git(dir.path(), &["log", "--format=%B%x00"]);
    assert_eq!(log.matches('\0').count(), 1, "one commit:\n{log}");
    (resumed, env.stored_events(dir.path(), &id))
}

/// The id of the one session in DIR once it is listed.
fn running_in_any(env: &Env, dir: &Path) -> String {
    poll(WAIT, "a session in DIR", || {
        std::thread::sleep(Duration::from_millis(50));
        if !dir.join(".quorum/db").exists() {
            return None;
        }
        listed(env, dir)
            .first()
            .map(|s| s["id"].as_str().unwrap().to_string())
    })
}

/// Whether the stored events of `id` hold one of `kind` (read while the
/// session runs).
fn has_event(env: &Env, dir: &Path, id: &str, kind: &str) -> bool {
    env.stored_events(dir, id).iter().any(|e| e["type"] == kind)
}

#[test]
fn headless_resume_settles_what_a_tui_left_waiting_at_a_question_and_at_resolve() {
    // At refine: the question takes its default.
    let (out, events) = hang_up_and_resume(ASKS, |env, dir, id| {
        has_event(env, dir, id, "question_asked")
    });
    assert!(out.stderr.contains("headless rules"), "{out}");
    assert!(out.stderr.contains("question(s) storage"), "{out}");
    assert!(out.stderr.contains("quorum resume"), "{out}");
    let answered: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "question_answered")
        .collect();
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert_eq!(answered[0]["answer"], "a JSON file");
    assert_eq!(answered[0]["by"], "default");

    // At resolve: the TUI waits for the person to confirm the decisions;
    // the vote and the chair decide instead.
    let (out, events) = hang_up_and_resume("", |env, dir, id| {
        env.stored_events(dir, id)
            .iter()
            .any(|e| e["type"] == "phase_started" && e["phase"] == "resolve")
    });
    assert!(out.stderr.contains("headless rules"), "{out}");
    assert!(out.stderr.contains("conflict(s)"), "{out}");
    let resolved: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "conflict_resolved")
        .collect();
    assert_eq!(resolved.len(), 2, "{resolved:?}");
    assert!(
        resolved.iter().any(|e| e["decided_by"] == "chair"),
        "the tie went to the chair: {resolved:?}"
    );
    assert!(
        resolved.iter().any(|e| e["decided_by"] == "vote"),
        "the majority was decided by the vote: {resolved:?}"
    );
}
