//! Resume after any crash (issue 6, acceptance 1 and 5): a headless session is
//! crashed at many points — by the test hooks `QUORUM_CRASH_AFTER_SEQ` (the
//! process SIGKILLs itself right after the flush that made event N durable)
//! and `QUORUM_CRASH_BEFORE_SEQ` (right before the group holding event N is
//! stored, so that group's effects outside the db remain), by SIGKILL from
//! outside after reading event N from `--json`, and by SIGTERM — and each is
//! resumed with `quorum resume --headless`. Every resumed session must end
//! `succeeded` with the tree of an uninterrupted run (`git ls-tree -r HEAD`,
//! `docs/DECISIONS.md` included), exactly one commit, a gapless event log,
//! and no offline call repeated for a task whose completion had been stored
//! (the offline call log, `QUORUM_OFFLINE_CALL_LOG`).
//!
//! And the person's files: a DIR holding the person's own files, some of
//! which the agents also write, one edited by hand between a crash and the
//! resume: none is deleted, none overwritten without an accepted diff, and the
//! hand edit is intact.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::common::{Env, Output, PROMPT, TIMEOUT, check_event, path_str, run, tempdir, wait};

/// How a run is stopped.
#[derive(Clone, Debug)]
enum Crash {
    /// `QUORUM_CRASH_AFTER_SEQ=N`.
    After(u64),
    /// `QUORUM_CRASH_BEFORE_SEQ=N`.
    Before(u64),
    /// SIGKILL from outside after reading the `nth` (from 1) event of a type.
    Kill(&'static str, usize),
    /// SIGTERM from outside after reading the `nth` event of a type (exit 3).
    Term(&'static str, usize),
}

/// What a session runs on: files put into DIR first, and `quorum run`'s
/// arguments after the prompt.
#[derive(Clone, Copy)]
struct Scenario {
    setup: fn(&Path),
    args: fn() -> Vec<String>,
}

/// The default team on the built-in offline provider.
const PLAIN: Scenario = Scenario {
    setup: |_| {},
    args: Vec::new,
};

/// What an uninterrupted run gives.
struct Baseline {
    scenario: Scenario,
    tree: String,
    events: Vec<Value>,
}

/// One crash and its resume, as observed.
struct Outcome {
    crash: Crash,
    /// The types of the events the crash came right after (their group was
    /// flushed, the next one not): the stored events from N on for
    /// `After(N)` (N's group is the last stored), the event read before a
    /// signal; none for `Before(N)`.
    after_types: Vec<String>,
}

fn ls_tree(env: &Env, dir: &Path) -> String {
    env.git(dir, &["ls-tree", "-r", "HEAD"])
}

/// The sessions of DIR (`sessions list --json`): exactly one, its id.
fn only_session(env: &Env, dir: &Path) -> String {
    let out = run(env.quorum(["sessions", "list", "--json", "--dir", path_str(dir)]));
    assert_eq!(out.code, 0, "sessions list in {}: {out}", dir.display());
    let list: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(list.len(), 1, "one session: {out}");
    list[0]["id"].as_str().unwrap().to_string()
}

/// The calls of an offline call log: (task, agent) lines.
fn calls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect()
}

/// `quorum run PROMPT --dir D --json` and the scenario's arguments, in a DIR
/// set up by the scenario.
fn run_command(env: &Env, scenario: Scenario, d: &Path) -> std::process::Command {
    std::fs::create_dir_all(d).unwrap();
    (scenario.setup)(d);
    let mut args: Vec<String> = ["run", PROMPT, "--dir", path_str(d), "--json"]
        .map(String::from)
        .to_vec();
    args.extend((scenario.args)());
    env.quorum(args)
}

fn baseline(env: &Env, scenario: Scenario) -> Baseline {
    let dir = tempdir();
    let log = dir.path().join("calls.log");
    let d = dir.path().join("p");
    let mut cmd = run_command(env, scenario, &d);
    cmd.env("QUORUM_OFFLINE_CALL_LOG", &log);
    let session = crate::common::Session::from_output(run(cmd));
    session.assert_succeeded();
    let tree = ls_tree(env, &d);
    assert!(tree.contains("docs/DECISIONS.md"), "{tree}");
    // The call log sees every call: each finished task was called.
    let called: BTreeSet<String> = calls(&log).into_iter().collect();
    for e in session.of("task_finished") {
        let task = e["task"].as_str().unwrap();
        assert!(called.contains(task), "{task} not in the call log");
    }
    Baseline {
        scenario,
        tree,
        events: session.events,
    }
}

/// Runs the session in a new DIR, stops it by `crash`, resumes it, and checks
/// everything acceptance 1 asks for.
fn crash_and_resume(env: &Env, base: &Baseline, crash: Crash) -> Outcome {
    crash_and_resume_via(env, base, crash, false)
}

/// [`crash_and_resume`], with the first run in-process (`quorum run`) or on
/// DIR's server (`quorum run --detach`, the server crashed).
fn crash_and_resume_via(env: &Env, base: &Baseline, crash: Crash, server: bool) -> Outcome {
    let root = tempdir();
    let d = root.path().join("p");
    let first_log = root.path().join("first.log");
    let resumed_log = root.path().join("resumed.log");
    if server {
        crash_the_server(env, base, &crash, &d, &first_log);
    } else {
        crash_the_first_run(env, base, &crash, &d, &first_log);
    }
    let id = only_session(env, &d);
    let stored = env.stored_events(&d, &id);
    let after_types = match &crash {
        Crash::After(n) => {
            let types: Vec<String> = stored
                .iter()
                .filter(|e| e["seq"].as_u64().unwrap() >= *n)
                .map(|e| e["type"].as_str().unwrap().to_string())
                .collect();
            assert!(!types.is_empty(), "{crash:?}: event {n} was stored");
            types
        }
        Crash::Kill(kind, _) | Crash::Term(kind, _) => vec![kind.to_string()],
        Crash::Before(_) => Vec::new(),
    };
    let finished: BTreeSet<String> = stored
        .iter()
        .filter(|e| e["type"] == "task_finished")
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect();

    resume_ends_in_success(env, &d, &crash, &stored, &resumed_log);
    the_log_tree_and_decisions_are_an_uninterrupted_runs(env, base, &d, &id, &crash, &stored);
    no_stored_task_is_called_again(&crash, &finished, &resumed_log);
    Outcome { crash, after_types }
}

/// The first run's environment: its calls logged to `first_log`, and the
/// crash hook `crash` names (none for a signal from outside).
fn hooks(cmd: &mut std::process::Command, crash: &Crash, first_log: &Path) {
    cmd.env("QUORUM_OFFLINE_CALL_LOG", first_log);
    match crash {
        Crash::After(n) => {
            cmd.env("QUORUM_CRASH_AFTER_SEQ", n.to_string());
        }
        Crash::Before(n) => {
            cmd.env("QUORUM_CRASH_BEFORE_SEQ", n.to_string());
        }
        Crash::Kill(..) | Crash::Term(..) => {}
    }
}

/// Step: the first run, in DIR `d` with its calls logged to `first_log`, is
/// stopped by `crash` (killed, or SIGTERM exits 3).
fn crash_the_first_run(env: &Env, base: &Baseline, crash: &Crash, d: &Path, first_log: &Path) {
    let mut cmd = run_command(env, base.scenario, d);
    hooks(&mut cmd, crash, first_log);
    let first = match crash {
        Crash::After(_) | Crash::Before(_) => run(cmd),
        Crash::Kill(kind, nth) | Crash::Term(kind, nth) => {
            let signal = match crash {
                Crash::Kill(..) => libc::SIGKILL,
                _ => libc::SIGTERM,
            };
            stop_after(cmd, kind, *nth, signal)
        }
    };
    match crash {
        Crash::Term(..) => assert_eq!(first.code, 3, "SIGTERM exits 3: {first}"),
        _ => assert_eq!(first.code, -1, "the run was killed: {first}"),
    }
}

/// Step: the first run, on DIR's server (started by `quorum run --detach`,
/// which gives it its environment: the crash hooks and the call log), is
/// stopped by `crash`: the server crashes at a seq, or is killed (SIGKILL,
/// SIGTERM) after `quorum attach --json` showed the event; returns once the
/// server is gone.
fn crash_the_server(env: &Env, base: &Baseline, crash: &Crash, d: &Path, first_log: &Path) {
    std::fs::create_dir_all(d).unwrap();
    (base.scenario.setup)(d);
    let mut args: Vec<String> = ["run", PROMPT, "--detach", "--dir", path_str(d)]
        .map(String::from)
        .to_vec();
    args.extend((base.scenario.args)());
    let mut cmd = env.quorum(args);
    hooks(&mut cmd, crash, first_log);
    let started = run(cmd);
    // A crash before `session_started` was released closes the connection
    // first (exit 1); otherwise the id is printed.
    assert!(
        started.code == 0 || started.code == 1,
        "{crash:?}: {started}"
    );
    let pid: i32 = std::fs::read_to_string(d.join(".quorum/lock"))
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    if let Crash::Kill(kind, nth) | Crash::Term(kind, nth) = crash {
        let signal = match crash {
            Crash::Kill(..) => libc::SIGKILL,
            _ => libc::SIGTERM,
        };
        let id = started.stdout.trim().to_string();
        let seen = std::cell::Cell::new(0);
        let mut follow = crate::common::Streaming::start(env.quorum([
            "attach",
            &id,
            "--json",
            "--dir",
            path_str(d),
        ]));
        follow.wait_for(TIMEOUT, kind, |e| {
            if e["type"] == *kind {
                seen.set(seen.get() + 1);
            }
            seen.get() == *nth
        });
        assert!(pid > 0, "{crash:?}: the server's pid is in the lock file");
        // SAFETY: kill(2) on the pid the server wrote into DIR's lock file.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let _ = follow.finish(TIMEOUT);
    }
    let socket = d.join(".quorum/serve.sock");
    crate::common::poll(TIMEOUT, "the server's end", || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::os::unix::net::UnixStream::connect(&socket)
            .is_err()
            .then_some(())
    });
}

/// Step: `resume --headless` ends the session succeeded, or exits 2 when the
/// crash came after the end; calls are logged to `resumed_log`.
fn resume_ends_in_success(
    env: &Env,
    d: &Path,
    crash: &Crash,
    stored: &[Value],
    resumed_log: &Path,
) {
    let mut cmd = env.quorum(["resume", "--headless", "--json", "--dir", path_str(d)]);
    cmd.env("QUORUM_OFFLINE_CALL_LOG", resumed_log);
    let resumed = run(cmd);
    let stored_status = stored
        .iter()
        .rev()
        .find(|e| e["type"] == "session_finished")
        .map(|e| e["status"].as_str().unwrap().to_string());
    if stored_status.as_deref() == Some("succeeded") {
        // The crash came after the end: there is nothing to resume.
        assert_eq!(resumed.code, 2, "{crash:?}: {resumed}");
        assert!(resumed.stderr.contains("no session to resume"), "{resumed}");
    } else {
        assert_eq!(resumed.code, 0, "{crash:?}: {resumed}");
        let events = resumed_stream(&resumed, stored.len() as u64);
        assert_eq!(events.last().unwrap()["status"], "succeeded", "{resumed}");
    }
}

/// Step: one log, gapless from 1, ending in success and keeping the stored
/// events; the same tree as an uninterrupted run, exactly one commit, and the
/// same decisions.
fn the_log_tree_and_decisions_are_an_uninterrupted_runs(
    env: &Env,
    base: &Baseline,
    d: &Path,
    id: &str,
    crash: &Crash,
    stored: &[Value],
) {
    // One log, gapless from 1 (parse_stream checks), ending in success.
    let all = env.stored_events(d, id);
    assert_eq!(all.last().unwrap()["type"], "session_finished");
    assert_eq!(all.last().unwrap()["status"], "succeeded", "{crash:?}");
    assert_eq!(
        all[..stored.len()],
        stored[..],
        "{crash:?}: the stored log is kept as it was"
    );
    // The same tree as an uninterrupted run, and exactly one commit.
    assert_eq!(ls_tree(env, d), base.tree, "{crash:?}: the committed tree");
    let log = env.git(d, &["log", "--format=%H %s"]);
    assert_eq!(log.lines().count(), 1, "{crash:?}: one commit: {log}");
    let commits: Vec<&Value> = all
        .iter()
        .filter(|e| e["type"] == "commit_created")
        .collect();
    assert_eq!(commits.len(), 1, "{crash:?}: one commit_created");
    assert!(log.starts_with(commits[0]["sha"].as_str().unwrap()));
    // The decisions are those of the uninterrupted run.
    let decided = |events: &[Value]| -> BTreeMap<String, (String, String)> {
        events
            .iter()
            .filter(|e| e["type"] == "conflict_resolved")
            .map(|e| {
                (
                    e["conflict"].as_str().unwrap().to_string(),
                    (e["option"].to_string(), e["decided_by"].to_string()),
                )
            })
            .collect()
    };
    assert_eq!(decided(&all), decided(&base.events), "{crash:?}: decisions");
}

/// Step: no call repeated whose reply had been stored with its task.
fn no_stored_task_is_called_again(crash: &Crash, finished: &BTreeSet<String>, resumed_log: &Path) {
    // No call repeated whose reply had been stored with its task.
    let again: Vec<String> = calls(resumed_log)
        .into_iter()
        .filter(|task| finished.contains(task))
        .collect();
    assert!(
        again.is_empty(),
        "{crash:?}: tasks stored as finished were called again: {again:?}"
    );
}

/// Runs `cmd` until the `nth` event of type `kind` is on its stdout, then
/// sends `signal`; returns what it printed.
fn stop_after(cmd: std::process::Command, kind: &str, nth: usize, signal: i32) -> Output {
    let mut seen = 0;
    stop_when(cmd, signal, |event| {
        if event["type"] == kind {
            seen += 1;
        }
        seen == nth
    })
}

/// Runs `cmd` until an event on its stdout satisfies `stop`, then sends
/// `signal`; returns what it printed. Panics if no event did.
fn stop_when(
    mut cmd: std::process::Command,
    signal: i32,
    mut stop: impl FnMut(&Value) -> bool,
) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stopped = false;
    let mut printed = String::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let value: Value = serde_json::from_str(&line).unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if stop(&value) {
            let pid = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
            assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
            stopped = true;
            break;
        }
    }
    assert!(
        stopped,
        "the run never printed the event to stop at: {printed}"
    );
    // Drain the rest so that the child is never blocked on a full pipe.
    for line in lines {
        printed.push_str(&line.unwrap_or_default());
        printed.push('\n');
    }
    let mut out = wait(child, TIMEOUT);
    out.stdout = printed + &out.stdout;
    out
}

/// The resumed run's events: validated, beginning with `session_resumed`
/// whose seq (and `from_seq`) follows the `stored` ones, gapless after it.
pub fn resumed_stream(out: &Output, stored: u64) -> Vec<Value> {
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            check_event(&v);
            v
        })
        .collect();
    assert_eq!(events[0]["type"], "session_resumed", "{out}");
    assert_eq!(events[0]["from_seq"], stored + 1, "{out}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], stored + 1 + i as u64, "gapless: {out}");
    }
    events
}

/// The crash points: after each event type's first and last occurrence in
/// the uninterrupted run, and evenly spaced seqs, at least 30 in all; and
/// groups lost before they were stored, at a few points that matter (the
/// files, the tests, the commit).
fn crash_points(base: &Baseline) -> Vec<Crash> {
    let mut seqs = BTreeSet::new();
    let mut first: BTreeMap<&str, u64> = BTreeMap::new();
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &base.events {
        let kind = e["type"].as_str().unwrap();
        let seq = e["seq"].as_u64().unwrap();
        first.entry(kind).or_insert(seq);
        last.insert(kind, seq);
    }
    seqs.extend(first.values());
    seqs.extend(last.values());
    let total = base.events.len() as u64;
    for k in 1..total {
        if seqs.len() >= 32 {
            break;
        }
        // Evenly spread (the van der Corput sequence): 1/2, 1/4, 3/4, 1/8, … of the run.
        let (mut bits, mut weight, mut fraction) = (k, 0.5, 0.0);
        while bits > 0 {
            if bits & 1 == 1 {
                fraction += weight;
            }
            bits >>= 1;
            weight /= 2.0;
        }
        seqs.insert(((total as f64 * fraction).round() as u64).clamp(1, total));
    }
    let mut points: Vec<Crash> = seqs.into_iter().map(Crash::After).collect();
    let seq_of = |kind: &str| first.get(kind).copied().unwrap_or(1);
    for kind in [
        "file_staged",
        "test_run",
        "commit_created",
        "session_finished",
    ] {
        points.push(Crash::Before(seq_of(kind)));
    }
    points.push(Crash::Kill("vote_cast", 3));
    points.push(Crash::Kill("file_staged", 2));
    points.push(Crash::Kill("test_run", 1));
    points.push(Crash::Term("task_started", 6));
    points.push(Crash::Term("file_staged", 4));
    points
}

/// Crashes and resumes at every point, on two workers (CI has two cores);
/// returns what each crash observed.
fn crash_everywhere(env: &Env, base: &Baseline, points: Vec<Crash>) -> Vec<Outcome> {
    let shares: [Vec<Crash>; 2] = [
        points.iter().step_by(2).cloned().collect(),
        points.iter().skip(1).step_by(2).cloned().collect(),
    ];
    std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(move || {
                    share
                        .into_iter()
                        .map(|crash| crash_and_resume(env, base, crash))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

/// Panics unless a crash came right after an event of every type the
/// uninterrupted run emits.
fn assert_every_type_covered(base: &Baseline, outcomes: &[Outcome]) {
    let covered: BTreeSet<&str> = outcomes
        .iter()
        .flat_map(|o| o.after_types.iter().map(String::as_str))
        .collect();
    let types: BTreeSet<&str> = base
        .events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    let missing: Vec<&&str> = types.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "no crash right after {missing:?}; crashes: {:?}",
        outcomes
            .iter()
            .map(|o| (&o.crash, &o.after_types))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_session_crashed_at_any_point_resumes_to_the_same_commit() {
    let env = Env::new();
    let base = baseline(&env, PLAIN);
    let points = crash_points(&base);
    let after = points
        .iter()
        .filter(|p| matches!(p, Crash::After(_)))
        .count();
    assert!(after >= 30, "{after} crash points");
    let outcomes = crash_everywhere(&env, &base, points);
    assert_every_type_covered(&base, &outcomes);
}

/// The crash suite through the server (issue 20, acceptance 7): the first run
/// on DIR's server (`run --detach`), the server crashed at a share of the
/// points (after and before a seq, SIGKILL and SIGTERM from outside), each
/// resumed to the same commit as an uninterrupted run.
#[test]
fn a_session_on_the_server_crashed_at_any_point_resumes_to_the_same_commit() {
    let env = Env::new();
    let base = baseline(&env, PLAIN);
    let points: Vec<Crash> = crash_points(&base)
        .into_iter()
        .enumerate()
        .filter(|(i, p)| !matches!(p, Crash::After(_)) || i % 4 == 0)
        .map(|(_, p)| p)
        .collect();
    let shares: [Vec<Crash>; 2] = [
        points.iter().step_by(2).cloned().collect(),
        points.iter().skip(1).step_by(2).cloned().collect(),
    ];
    let env = &env;
    let base = &base;
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(move || {
                    let mut done = 0;
                    for crash in share {
                        crash_and_resume_via(env, base, crash, true);
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(done, points.len());
    assert!(done >= 12, "{done} crash points");
}

/// The less travelled paths (tests/fixtures/scripts/team.toml): questions
/// answered from a file and by default, a ballot that fails for good (an
/// abstention), a blocking review finding repaired before the tests run
/// again; plus two 503s with `retry_after` on the backend's server task.
const TEAM: Scenario = Scenario {
    setup: |d| {
        let mut script = crate::common::read_fixture("scripts/team.toml");
        script.push_str(
            "\n[[reply]]\nagent = \"backend\"\nphase = \"implement\"\nkind = \"implement\"\ntask = \"server\"\ntimes = 2\nerror = { status = 503, message = \"overloaded\", retry_after_ms = 50 }\n",
        );
        crate::common::write(
            d,
            "quorum.toml",
            &crate::common::offline_config_with_script("script.toml"),
        );
        crate::common::write(d, "script.toml", &script);
    },
    args: || {
        let answers = crate::common::fixture("answers.toml");
        vec!["--answers".into(), path_str(&answers).to_string()]
    },
};

#[test]
fn a_session_on_its_less_travelled_paths_resumes_from_any_event_type() {
    let env = Env::new();
    let base = baseline(&env, TEAM);
    for kind in [
        "question_asked",
        "question_answered",
        "task_failed",
        "task_retrying",
        "finding",
    ] {
        assert!(
            base.events.iter().any(|e| e["type"] == kind),
            "the scenario emits {kind}"
        );
    }
    // Right after the first and the last event of each type.
    let mut seqs = BTreeSet::new();
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &base.events {
        let kind = e["type"].as_str().unwrap();
        let seq = e["seq"].as_u64().unwrap();
        if !last.contains_key(kind) {
            seqs.insert(seq);
        }
        last.insert(kind, seq);
    }
    seqs.extend(last.values());
    let mut points: Vec<Crash> = seqs.into_iter().map(Crash::After).collect();
    // Parallel ballots finish in any order: the failed one is caught by name.
    points.push(Crash::Kill("task_failed", 1));
    points.push(Crash::Kill("task_retrying", 1));
    let outcomes = crash_everywhere(&env, &base, points);
    assert_every_type_covered(&base, &outcomes);
}

#[test]
fn the_persons_files_survive_a_crash_a_hand_edit_and_the_resume() {
    let env = Env::new();
    let root = tempdir();
    let d = root.path().join("p");
    std::fs::create_dir(&d).unwrap();
    // The person's own project: files the agents also write (README.md,
    // .gitignore) and files they do not.
    let own = [
        ("README.md", "# My shortener\n\nThe person's own README.\n"),
        (".gitignore", "target/\n"),
        ("notes.txt", "ideas, not for the agents\n"),
        ("docs/design.txt", "the person's design notes\n"),
    ];
    the_persons_project_is_committed(&env, &d, &own);
    a_crash_leaves_their_files_untouched(&env, &d, &own);
    // The person edits README.md by hand before resuming.
    let edit = "# My shortener\n\nEdited by hand after the crash.\n";
    std::fs::write(d.join("README.md"), edit).unwrap();

    let (resumed, events) = the_resume_keeps_the_hand_edit_and_says_so(&env, &d, edit);
    nothing_of_theirs_is_lost_or_overwritten(&env, &d, &own, edit, &resumed, &events);
    their_files_stay_tracked_and_no_litter_is_left(&env, &d, &own);
}

/// Step: the person's own project is a git repository with one commit of theirs.
fn the_persons_project_is_committed(env: &Env, d: &Path, own: &[(&str, &str); 4]) {
    for (path, text) in *own {
        crate::common::write(d, path, text);
    }
    env.git(d, &["init", "-q"]);
    env.commit_all(d, "my project");
}

/// Step: a run crashed once README.md (a file of theirs) is staged leaves their files untouched.
fn a_crash_leaves_their_files_untouched(env: &Env, d: &Path, own: &[(&str, &str); 4]) {
    // Crashed once README.md (a file of theirs) is staged.
    let cmd = env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(d),
        "--json",
        "--allow-overwrite",
    ]);
    let first = stop_when(cmd, libc::SIGKILL, |e| {
        e["type"] == "file_staged" && e["path"] == "README.md"
    });
    assert_eq!(first.code, -1, "{first}");
    for (path, text) in *own {
        assert_eq!(
            std::fs::read_to_string(d.join(path)).unwrap(),
            text,
            "{path} untouched by the crashed run"
        );
    }
}

/// Step: the resume succeeds; the hand edit is intact and reported as kept.
/// Returns the resume's output and its events.
fn the_resume_keeps_the_hand_edit_and_says_so(
    env: &Env,
    d: &Path,
    edit: &str,
) -> (Output, Vec<Value>) {
    let resumed = run(env.quorum([
        "resume",
        "--headless",
        "--json",
        "--allow-overwrite",
        "--dir",
        path_str(d),
    ]));
    assert_eq!(resumed.code, 0, "{resumed}");
    let events = resumed_stream(&resumed, resumed_from(&resumed));
    assert_eq!(events.last().unwrap()["status"], "succeeded");
    // The hand edit is intact and reported; the staged README is left out.
    assert_eq!(std::fs::read_to_string(d.join("README.md")).unwrap(), edit);
    let kept: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "finding" && e["path"] == "README.md")
        .collect();
    assert_eq!(kept.len(), 1, "{resumed}");
    assert!(
        kept[0]["text"]
            .as_str()
            .unwrap()
            .contains("your version is kept"),
        "{kept:?}"
    );
    (resumed, events)
}

/// Step: the staged README is left out of the commit; nothing of theirs is
/// deleted, their other files are as they were, .gitignore changed only
/// through the accepted diff.
fn nothing_of_theirs_is_lost_or_overwritten(
    env: &Env,
    d: &Path,
    own: &[(&str, &str); 4],
    edit: &str,
    resumed: &Output,
    events: &[Value],
) {
    let commit = events
        .iter()
        .find(|e| e["type"] == "commit_created")
        .unwrap_or_else(|| panic!("a commit: {resumed}"));
    let files: Vec<&str> = commit["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(!files.contains(&"README.md"), "{files:?}");
    // Nothing of theirs deleted; their other files as they were; .gitignore
    // changed only through the accepted diff (--allow-overwrite).
    for (path, text) in *own {
        let now = std::fs::read_to_string(d.join(path))
            .unwrap_or_else(|e| panic!("{path} still exists: {e}"));
        match path {
            "README.md" => assert_eq!(now, edit),
            ".gitignore" if files.contains(&".gitignore") => {
                let staged = env.git(d, &["show", "HEAD:.gitignore"]);
                assert_eq!(now, staged, "the accepted .gitignore");
            }
            _ => assert_eq!(now, text, "{path}"),
        }
    }
}

/// Step: their files stay tracked, HEAD keeps their README, and no
/// temporary file of the atomic writes is left.
fn their_files_stay_tracked_and_no_litter_is_left(env: &Env, d: &Path, own: &[(&str, &str); 4]) {
    let tracked = env.git(d, &["ls-tree", "-r", "--name-only", "HEAD"]);
    for path in ["notes.txt", "docs/design.txt", "README.md"] {
        assert!(
            tracked.lines().any(|l| l == path),
            "{path} in HEAD: {tracked}"
        );
    }
    // The person's README is still HEAD's (their commit), edited in the work tree.
    assert_eq!(
        env.git(d, &["show", "HEAD:README.md"]),
        own[0].1,
        "HEAD keeps the person's README"
    );
    // No temporary file of the atomic writes is left.
    let litter: Vec<String> = crate::common::tree(d)
        .into_iter()
        .filter(|p| p.contains(".quorum-") && p.ends_with(".tmp"))
        .collect();
    assert!(litter.is_empty(), "{litter:?}");
}

/// The stored event count before a resume: the resumed stream's first seq − 1.
fn resumed_from(out: &Output) -> u64 {
    let first: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    first["seq"].as_u64().unwrap() - 1
}

#[test]
fn a_session_stopped_by_its_budget_goes_on_after_the_budget_is_raised() {
    let env = Env::new();
    let root = tempdir();
    let d = root.path().join("p");
    std::fs::create_dir(&d).unwrap();
    let config = |tokens: u64| {
        format!("[providers.sim]\nkind = \"offline\"\n\n[session]\nbudget_tokens = {tokens}\n")
    };
    crate::common::write(&d, "quorum.toml", &config(15_000));
    let first = crate::common::Session::from_output(run(env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(&d),
        "--json",
    ])));
    assert_eq!(first.out.code, 3, "{}", first.out);
    assert_eq!(first.status(), "paused_budget");
    assert!(first.of("commit_created").is_empty());
    // Resumed with the same budget: still spent, it stops again at once.
    let again = run(env.quorum(["resume", "--headless", "--json", "--dir", path_str(&d)]));
    assert_eq!(again.code, 3, "{again}");
    let events = resumed_stream(&again, first.events.len() as u64);
    assert!(
        events.iter().any(|e| e["type"] == "budget_exhausted"),
        "the spent budget is said again: {again}"
    );
    assert_eq!(events.last().unwrap()["status"], "paused_budget");
    // Raised in the config: the session goes on to its commit.
    crate::common::write(&d, "quorum.toml", &config(10_000_000));
    let done = run(env.quorum(["resume", "--headless", "--json", "--dir", path_str(&d)]));
    assert_eq!(done.code, 0, "{done}");
    let events = resumed_stream(&done, resumed_from(&done));
    assert_eq!(events.last().unwrap()["status"], "succeeded", "{done}");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "commit_created")
            .count(),
        1
    );
    let log = env.git(&d, &["log", "--format=%s"]);
    assert_eq!(log.lines().count(), 1, "{log}");
}
