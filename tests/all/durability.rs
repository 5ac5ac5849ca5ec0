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
