//! Durability (DESIGN.md §4): an event a consumer has seen was flushed before it
//! was released, so it survives a crash. The test kills `quorum run` with SIGKILL
//! right after reading an event from its stdout, then reads the db back.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use crate::common::{Env, PROMPT, check_event, path_str, tempdir};

#[test]
fn events_seen_before_a_sigkill_are_in_the_db_afterwards_and_the_dir_is_usable() {
    let env = Env::new();
    let dir = tempdir();
    let mut child = env
        .quorum(["run", PROMPT, "--dir", path_str(dir.path()), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut seen: Vec<serde_json::Value> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        check_event(&value);
        let kill = value["type"] == "vote_cast";
        seen.push(value);
        if kill {
            // SIGKILL: no destructor, no flush, no goodbye.
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    assert_eq!(
        seen.last().unwrap()["type"],
        "vote_cast",
        "the session reached the vote"
    );
    let session = seen[0]["session"].as_str().unwrap().to_string();

    let stored = env.stored_events(dir.path(), &session);
    assert!(
        stored.len() >= seen.len(),
        "{} stored < {} seen",
        stored.len(),
        seen.len()
    );
    for (seen, stored) in seen.iter().zip(&stored) {
        assert_eq!(
            seen, stored,
            "every event seen is stored, unchanged and in order"
        );
    }
    // The db is not corrupt, the lock is free, and the dir takes a new session.
    let list = crate::common::run(env.quorum(["sessions", "list", "--dir", path_str(dir.path())]));
    assert_eq!(list.code, 0, "{list}");
    assert!(list.stdout.contains(&session), "{list}");
    assert!(
        list.stdout.contains("running"),
        "the killed session never finished: {list}"
    );
    let again = env.run_json(dir.path(), &[]);
    again.assert_succeeded();
}

/// `sessions list` reads the session index alone when the last process
/// closed it, and sled after a crash (rebuilding the index), listing the same
/// either way (issue 7: `sessions list` without opening sled).
#[test]
fn sessions_list_reads_the_index_after_a_clean_exit_and_sled_after_a_crash() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let db = d.join(".quorum/db");
    let first = env.run_json(d, &["--offline"]);
    first.assert_succeeded();
    let indexed = quorum::store::index::read(&db).expect("`run` closed the index");
    assert_eq!(indexed.len(), 1);
    assert_eq!(indexed[0].id.as_str(), first.id());
    assert_eq!(indexed[0].status_label(), "succeeded");
    let listed =
        crate::common::run(env.quorum(["sessions", "list", "--json", "--dir", path_str(d)]));
    assert_eq!(listed.code, 0, "{listed}");
    let from_index: Vec<serde_json::Value> = listed
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_index, vec![serde_json::to_value(&indexed[0]).unwrap()]);

    // A second session killed in the middle: the index is left open.
    let mut crash = env.quorum(["run", PROMPT, "--dir", path_str(d), "--offline", "--json"]);
    crash.env("QUORUM_CRASH_AFTER_SEQ", "40");
    let crashed = crate::common::run(crash);
    assert_ne!(crashed.code, 0, "{crashed}");
    assert_eq!(
        quorum::store::index::read(&db),
        None,
        "left open by the crash"
    );
    let listed =
        crate::common::run(env.quorum(["sessions", "list", "--json", "--dir", path_str(d)]));
    assert_eq!(listed.code, 0, "{listed}");
    let rows: Vec<serde_json::Value> = listed
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(
        rows[0]["status"].is_null(),
        "the crashed one, newest: {listed}"
    );
    assert!(
        rows[0]["last_seq"].as_u64().unwrap() >= 40,
        "as far as sled got: {listed}"
    );
    // That list rebuilt the index from sled: it now says the same.
    let rebuilt = quorum::store::index::read(&db).expect("rebuilt and closed");
    let rebuilt: Vec<serde_json::Value> = rebuilt
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    assert_eq!(rebuilt, rows);
    // And the resumed session's end reaches the index.
    let resumed = crate::common::run(env.quorum([
        "resume",
        "--headless",
        "--allow-overwrite",
        "--dir",
        path_str(d),
    ]));
    assert_eq!(resumed.code, 0, "{resumed}");
    let after = quorum::store::index::read(&db).expect("`resume` closed the index");
    assert!(
        after.iter().all(|r| r.status_label() == "succeeded"),
        "{after:?}"
    );
}
