//! A state db that is truncated, or that is not quorum's (DESIGN.md §6, issue 6
//! acceptance 6): every command that opens it exits 1 with a message naming the
//! db, and leaves every byte of it as it was.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{Env, PROMPT, path_str, run, tempdir, tree};

/// Every file under `dir` with its content.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|rel| dir.join(rel).is_file())
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).unwrap();
            (rel, bytes)
        })
        .collect()
}

/// Runs `sessions list` and `run` on DIR and checks both refuse the db.
fn refused(env: &Env, d: &Path, expected: &str) {
    let state = d.join(".quorum");
    let before = snapshot(&state);
    for args in [
        vec!["sessions", "list", "--dir", path_str(d)],
        vec!["run", PROMPT, "--dir", path_str(d), "--offline", "--json"],
    ] {
        let out = run(env.quorum(&args));
        assert_eq!(out.code, 1, "{args:?}: {out}");
        let db = d.join(".quorum/db");
        assert!(
            out.stderr
                .contains(&format!("the state db {}", db.display())),
            "names the db: {out}"
        );
        assert!(out.stderr.contains(expected), "{out}");
        assert!(out.stderr.contains("left untouched"), "{out}");
        assert_eq!(out.stdout, "", "{out}");
    }
    let after = snapshot(&state);
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k).map(|b| b.len()) != after.get(*k).map(|b| b.len()))
        .collect();
    assert!(
        before
            .iter()
            .filter(|(k, _)| k.starts_with("db"))
            .all(|(k, v)| after.get(k) == Some(v)),
        "the db changed: {changed:?}"
    );
    assert_eq!(
        before
            .keys()
            .filter(|k| k.starts_with("db"))
            .collect::<Vec<_>>(),
        after
            .keys()
            .filter(|k| k.starts_with("db"))
            .collect::<Vec<_>>(),
        "no file of the db was added or removed"
    );
}

#[test]
fn a_truncated_db_is_refused_by_name_and_left_as_it_was() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let first = env.run_json(d, &["--offline"]);
    first.assert_succeeded();
    assert!(
        d.join(".quorum/db.seal").is_file(),
        "the flush sealed the db"
    );
    // Cut the data file in half, as a full disk or an interrupted copy would.
    let data = d.join(".quorum/db/db");
    let len = std::fs::metadata(&data).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    refused(&env, d, "is truncated or corrupt");
}

#[test]
fn a_db_cut_at_its_tail_is_refused_too() {
    // A shorter cut that sled alone would take for a torn write and recover
    // from silently, losing the last flushed events.
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    env.run_json(d, &["--offline"]).assert_succeeded();
    let data = d.join(".quorum/db/db");
    let len = std::fs::metadata(&data).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    file.set_len(len - 4096.min(len / 4)).unwrap();
    drop(file);
    refused(&env, d, "is truncated or corrupt");
}

#[test]
fn a_foreign_db_is_refused_and_left_as_it_was() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let db_path = d.join(".quorum/db");
    {
        let db = sled::open(&db_path).unwrap();
        db.open_tree("customers")
            .unwrap()
            .insert("alice", "not quorum's")
            .unwrap();
        db.insert("answer", "42").unwrap();
        db.flush().unwrap();
    }
    refused(&env, d, "is not a quorum db");
}

#[test]
fn a_session_removed_leaves_a_db_that_opens() {
    // The seal names the last durable event; deleting its session must not
    // make the db look truncated.
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let s = env.run_json(d, &["--offline", "--dry-run"]);
    s.assert_succeeded();
    let out = run(env.quorum(["sessions", "rm", s.id(), "--dir", path_str(d)]));
    assert_eq!(out.code, 0, "{out}");
    let out = run(env.quorum(["sessions", "list", "--dir", path_str(d)]));
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stdout.contains(s.id()), "{out}");
}
