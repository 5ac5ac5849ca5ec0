//! The issue's acceptance criteria 1, 2 and 4 on the built-in offline provider:
//! the event stream of the URL shortener session, the commit it leaves, and the
//! determinism of the generated tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::common::{Env, PHASES, PROMPT, Session, VOTERS, path_str, run, tempdir};

/// Kind of each default phase, as `phase_started.kind` names it.
const KINDS: [&str; 9] = [
    "single", "fan-out", "compare", "vote", "resolve", "tasks", "test", "review", "deliver",
];

fn text<'a>(event: &'a Value, field: &str) -> &'a str {
    event[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {event}"))
}

fn canonical(path: &Path) -> String {
    path.canonicalize().unwrap().to_string_lossy().into_owned()
}

#[test]
fn acceptance_1_the_event_stream_tells_the_whole_session_in_order() {
    let env = Env::new();
    let dir = tempdir();
    let run = env.run_json(dir.path(), &[]);
    run.assert_succeeded();
    assert!(run.tokens.is_empty(), "plain --json prints no token lines");
    session_started_says_what_was_asked(&run, dir.path());
    let timeline = phases_run_in_order(&run);
    tasks_are_queued_started_finished(&run.events);
    conflicts_ballots_and_decisions_add_up(&run, &timeline);
    staging_tests_and_commit_in_their_phases(&run, &timeline);
}

/// Where each phase starts in a run's events, to place other events in phases.
struct Timeline<'a> {
    events: &'a [Value],
    at: BTreeMap<&'static str, usize>,
}

impl Timeline<'_> {
    /// Whether event `i` comes after phase `from` starts and before `to` starts.
    fn within(&self, i: usize, from: &str, to: Option<&str>) -> bool {
        i > self.at[from] && to.is_none_or(|t| i < self.at[t])
    }

    /// Indices of the events of `kind`.
    fn positions(&self, kind: &str) -> Vec<usize> {
        self.events
            .iter()
            .enumerate()
            .filter(|(_, e)| e["type"] == kind)
            .map(|(i, _)| i)
            .collect()
    }
}

/// Step: session_started comes first, with what was asked.
fn session_started_says_what_was_asked(run: &Session, dir: &Path) {
    let events = &run.events;
    // session_started first, with what was asked.
    let started = &events[0];
    assert_eq!(started["type"], "session_started");
    assert_eq!(started["prompt"], PROMPT);
    assert_eq!(text(started, "dir"), canonical(dir));
    assert_eq!(started["workflow"], "default");
    assert_eq!(
        started["agents"],
        serde_json::json!(["pm", "backend", "frontend", "qa", "security"])
    );
}

/// Step: the nine phases start and finish in order, each with its kind.
fn phases_run_in_order(run: &Session) -> Timeline<'_> {
    // The nine phases start and finish in order, each with its kind.
    let phases = |kind: &str| -> Vec<(String, String)> {
        run.of(kind)
            .iter()
            .map(|e| (text(e, "phase").to_string(), text(e, "kind").to_string()))
            .collect()
    };
    let expected: Vec<(String, String)> = PHASES
        .iter()
        .zip(KINDS)
        .map(|(p, k)| (p.to_string(), k.to_string()))
        .collect();
    assert_eq!(phases("phase_started"), expected);
    assert_eq!(phases("phase_finished"), expected);
    let at: BTreeMap<&str, usize> = PHASES
        .iter()
        .map(|p| (*p, run.index("phase_started", "phase", p)))
        .collect();
    Timeline {
        events: &run.events,
        at,
    }
}

/// Step: tasks are queued before they start, and start before they finish.
fn tasks_are_queued_started_finished(events: &[Value]) {
    // Tasks are queued before they start, and start before they finish.
    for (i, e) in events.iter().enumerate() {
        let kind = text(e, "type");
        let before = match kind {
            "task_started" => "task_queued",
            "task_finished" => "task_started",
            _ => continue,
        };
        assert!(
            events[..i]
                .iter()
                .any(|p| p["type"] == before && p["task"] == e["task"]),
            "{kind} of {} without an earlier {before}",
            e["task"]
        );
    }
}

/// Step: at least two conflicts found by compare, one ballot per voter per
/// conflict during vote, one decision per conflict during resolve whose tally
/// counts exactly those ballots; one tie (chair) and one 3–1 majority (vote).
fn conflicts_ballots_and_decisions_add_up(run: &Session, timeline: &Timeline) {
    let events = &run.events;
    // At least two conflicts, found by compare.
    let conflicts = run.of("conflict_detected");
    assert!(conflicts.len() >= 2, "{conflicts:?}");
    for i in timeline.positions("conflict_detected") {
        assert!(
            timeline.within(i, "compare", Some("vote")),
            "conflict at {i}"
        );
    }

    // One ballot per voter per conflict, during vote; one decision per conflict,
    // during resolve, whose tally counts exactly those ballots.
    let mut decided_by: BTreeMap<String, (String, Vec<u32>)> = BTreeMap::new();
    for conflict in &conflicts {
        let id = text(conflict, "conflict");
        let options: BTreeSet<&str> = conflict["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert!(options.len() >= 2, "{conflict}");
        let ballots: Vec<(usize, &Value)> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e["type"] == "vote_cast" && e["conflict"] == id)
            .collect();
        let mut voters: Vec<&str> = ballots.iter().map(|(_, b)| text(b, "agent")).collect();
        voters.sort_unstable();
        assert_eq!(voters, VOTERS, "one ballot per planning agent on {id}");
        let mut counts: BTreeMap<String, u32> =
            options.iter().map(|o| (o.to_string(), 0)).collect();
        for (i, ballot) in &ballots {
            assert!(
                timeline.within(*i, "vote", Some("resolve")),
                "ballot at {i}"
            );
            let option = text(ballot, "option");
            assert!(options.contains(option), "{ballot}");
            *counts.get_mut(option).unwrap() += 1;
        }
        let resolved: Vec<(usize, &Value)> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e["type"] == "conflict_resolved" && e["conflict"] == id)
            .collect();
        assert_eq!(resolved.len(), 1, "one decision for {id}");
        let (i, decision) = resolved[0];
        assert!(
            timeline.within(i, "resolve", Some("implement")),
            "decision at {i}"
        );
        let tally: BTreeMap<String, u32> =
            serde_json::from_value(decision["tally"].clone()).unwrap();
        assert_eq!(tally, counts, "the tally of {id} counts its ballots");
        let by = text(decision, "decided_by").to_string();
        let option = text(decision, "option");
        let top = counts.values().max().copied().unwrap_or(0);
        if by == "vote" {
            assert!(top * 2 > VOTERS.len() as u32, "a vote needs a majority");
            assert_eq!(counts[option], top, "the majority's option wins");
        }
        let mut values: Vec<u32> = tally.values().copied().collect();
        values.sort_unstable();
        decided_by.insert(id.to_string(), (by, values));
    }
    let mut outcomes: Vec<(String, Vec<u32>)> = decided_by.into_values().collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        vec![
            ("chair".to_string(), vec![2, 2]),
            ("vote".to_string(), vec![1, 3])
        ],
        "the offline team produces one tie (chair) and one 3–1 majority (vote)"
    );
}

/// Step: files are staged during implement and test, the tests ran and
/// passed, and one commit of exactly the staged files lands at deliver.
fn staging_tests_and_commit_in_their_phases(run: &Session, timeline: &Timeline) {
    let events = &run.events;
    // Files are staged during implement and test, never elsewhere.
    let staged = run.staged();
    assert!(!staged.is_empty());
    for i in timeline.positions("file_staged") {
        assert!(
            timeline.within(i, "implement", Some("review")),
            "file staged at {i}"
        );
    }

    // The tests ran and passed.
    let runs = timeline.positions("test_run");
    let last = *runs.last().expect("a test_run");
    assert!(timeline.within(last, "test", Some("review")));
    let report = &events[last];
    assert_eq!(report["status"], "passed", "{report}");
    assert!(report["passed"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["failed"], 0, "{report}");

    // One commit of exactly the staged files, at deliver; the session succeeded.
    let commit = run.one("commit_created");
    let i = run.index("commit_created", "type", "commit_created");
    assert!(timeline.within(i, "deliver", None));
    let sha = text(commit, "sha");
    assert!(
        sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sha}"
    );
    let files: BTreeSet<String> = commit["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(files, staged);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "session_finished");
    assert_eq!(last["status"], "succeeded");
    assert!(last["tokens_in"].as_u64().unwrap() > 0);
}

#[test]
fn acceptance_2_one_clean_commit_with_trailers_whose_tests_pass() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let run = env.run_json(d, &[]);
    run.assert_succeeded();
    let id = run.id();
    let commit = run.one("commit_created");
    assert_eq!(text(commit, "repo"), canonical(d));

    // Exactly one commit, made by the fallback identity (no git config anywhere).
    let log = env.git(d, &["log", "--format=%H%n%an <%ae>%n%cn <%ce>%x00"]);
    let commits: Vec<&str> = log
        .split('\0')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(commits.len(), 1, "{log}");
    let lines: Vec<&str> = commits[0].lines().collect();
    assert_eq!(lines[0], text(commit, "sha"));
    assert_eq!(lines[1], "quorum <quorum@localhost>", "author");
    assert_eq!(lines[2], "quorum <quorum@localhost>", "committer");

    // The trailers, as git itself parses them.
    let trailer = |key: &str| {
        env.git(
            d,
            &[
                "log",
                "-1",
                &format!("--format=%(trailers:key={key},valueonly)"),
            ],
        )
        .trim()
        .to_string()
    };
    assert_eq!(trailer("Quorum-Session"), id);
    assert_eq!(trailer("Quorum-Provider"), "offline");
    let message = env.git(d, &["log", "-1", "--format=%B"]);
    assert!(
        message.starts_with(&format!("quorum: {PROMPT}")),
        "{message}"
    );

    // A sound repository and a clean work tree.
    let fsck = env.git_output(d, &["fsck", "--full"]);
    assert_eq!(fsck.code, 0, "{fsck}");
    let report = format!("{}{}", fsck.stdout, fsck.stderr);
    assert!(
        !report.contains("dangling") && !report.contains("error"),
        "{report}"
    );
    assert_eq!(env.git(d, &["status", "--porcelain"]), "");

    // The generated tests pass in DIR too, and leave nothing git would show.
    let mut python = env.command("python3");
    python.args(["-m", "unittest", "discover"]).current_dir(d);
    let tests = crate::common::run(python);
    assert_eq!(tests.code, 0, "python3 -m unittest discover: {tests}");
    assert!(tests.stderr.contains("OK"), "{tests}");
    assert_eq!(
        env.git(d, &["status", "--porcelain", "--untracked-files=all"]),
        "",
        ".gitignore covers what the tests leave behind"
    );
}

#[test]
fn acceptance_4_sessions_are_listed_and_the_same_prompt_gives_the_same_tree() {
    let env = Env::new();
    let (a, b) = (tempdir(), tempdir());
    let (run_a, run_b): (Session, Session) = std::thread::scope(|scope| {
        let first = scope.spawn(|| env.run_json(a.path(), &[]));
        let second = scope.spawn(|| env.run_json(b.path(), &[]));
        (first.join().unwrap(), second.join().unwrap())
    });
    run_a.assert_succeeded();
    run_b.assert_succeeded();
    assert_ne!(run_a.id(), run_b.id());

    // `sessions list` names the session as succeeded.
    let list = run(env.quorum(["sessions", "list", "--dir", path_str(a.path())]));
    assert_eq!(list.code, 0, "{list}");
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(run_a.id()))
        .unwrap_or_else(|| panic!("{} not listed: {list}", run_a.id()));
    assert!(row.contains("succeeded"), "{row}");
    assert!(row.contains(PROMPT), "{row}");

    // Same blobs at the same paths.
    let tree_a = env.git(a.path(), &["ls-tree", "-r", "HEAD"]);
    let tree_b = env.git(b.path(), &["ls-tree", "-r", "HEAD"]);
    assert!(!tree_a.is_empty());
    assert_eq!(tree_a, tree_b);

    // No generated file carries a session id or today's date.
    let day = &text(&run_a.events[0], "at")[..10];
    let compact = day.replace('-', "");
    let paths = env.git(a.path(), &["ls-tree", "-r", "--name-only", "HEAD"]);
    for path in paths.lines() {
        let content = std::fs::read_to_string(a.path().join(path)).unwrap();
        for needle in [run_a.id(), run_b.id(), day, compact.as_str()] {
            assert!(!content.contains(needle), "{path} contains `{needle}`");
        }
    }
}
