//! A state db that is truncated, corrupt, or not quorum's (docs/design.md §6, issue
//! 6 acceptance 6, issue 17 acceptance 4): every command that opens it exits
//! 2 (corrupt) or 1 (not quorum's) with a message naming the db, and leaves
//! every byte of it as it was.

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

/// Runs `sessions list` and `run` on DIR and checks both refuse the db with
/// exit `code`.
fn refused(env: &Env, d: &Path, expected: &str, code: i32) {
    let state = d.join(".quorum");
    let before = snapshot(&state);
    for args in [
        vec!["sessions", "list", "--dir", path_str(d)],
        vec!["run", PROMPT, "--dir", path_str(d), "--offline", "--json"],
    ] {
        let out = run(env.quorum(&args));
        assert_eq!(out.code, code, "{args:?}: {out}");
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
    refused(&env, d, "is truncated or corrupt", 2);
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
    refused(&env, d, "is truncated or corrupt", 2);
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
    refused(&env, d, "is not a quorum db", 1);
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

/// Every file of the db directory and the seal, with its bytes.
fn db_files(d: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut all: BTreeMap<String, Vec<u8>> = snapshot(&d.join(".quorum/db"))
        .into_iter()
        .map(|(k, v)| (format!("db/{k}"), v))
        .collect();
    all.insert(
        "db.seal".into(),
        std::fs::read(d.join(".quorum/db.seal")).unwrap(),
    );
    all
}

/// Runs `args` on DIR and checks it reports the db as corrupt (exit 2),
/// naming `file`, and that the db and its seal are byte for byte as before.
fn reported(env: &Env, d: &Path, args: &[&str], file: &str, what: &str) {
    let before = db_files(d);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--dir", path_str(d)]);
    let out = run(env.quorum(&all));
    assert_eq!(out.code, 2, "{what}: {args:?}: {out}");
    assert!(
        out.stderr.contains("is corrupt") || out.stderr.contains("is truncated or corrupt"),
        "{what}: {out}"
    );
    assert!(out.stderr.contains(file), "{what}: names {file}: {out}");
    assert!(out.stderr.contains("left untouched"), "{what}: {out}");
    assert_eq!(db_files(d), before, "{what}: the db changed");
}

#[test]
fn a_flipped_byte_a_cut_or_a_missing_file_is_reported_as_corruption_and_left_as_it_was() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let session = env.run_json(d, &["--offline"]);
    session.assert_succeeded();
    let id = session.id().to_string();
    let clean = db_files(d);
    assert!(clean.contains_key("db/db") && clean.contains_key("db/conf"));
    let out = run(env.quorum(["db", "verify", "--dir", path_str(d)]));
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("intact"), "{out}");
    let restore = || {
        for (rel, bytes) in &clean {
            std::fs::write(d.join(".quorum").join(rel), bytes).unwrap();
        }
    };
    let commands: [&[&str]; 3] = [
        &["db", "verify"],
        &["sessions", "list"],
        &["sessions", "show", &id],
    ];
    // Several offsets spread over every file of the db and its seal: every
    // byte of them is covered by the seal's CRCs, so each flip is seen.
    for (rel, bytes) in &clean {
        let len = bytes.len();
        let offsets: Vec<usize> = if rel == "db.seal" {
            vec![0, 12, len / 2, len - 2]
        } else {
            (0..6).map(|i| i * (len - 1) / 5).collect()
        };
        let shown = rel.trim_start_matches("db/");
        for at in offsets {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            std::fs::write(d.join(".quorum").join(rel), &bad).unwrap();
            let what = format!("{rel} flipped at {at} of {len}");
            let command = commands[at % commands.len()];
            reported(&env, d, command, shown, &what);
            restore();
        }
    }
    // A data file cut short, and a missing conf.
    let data = d.join(".quorum/db/db");
    let file = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    file.set_len(clean["db/db"].len() as u64 - 100).unwrap();
    drop(file);
    for command in commands {
        reported(&env, d, command, "db/db", "a cut data file");
    }
    restore();
    std::fs::remove_file(d.join(".quorum/db/conf")).unwrap();
    for command in commands {
        reported(&env, d, command, "conf is missing", "a missing conf");
    }
    restore();
    // Restored, it is intact again, and the session is as it was.
    let out = run(env.quorum(["db", "verify", "--dir", path_str(d)]));
    assert_eq!(out.code, 0, "{out}");
    let out = run(env.quorum(["sessions", "list", "--dir", path_str(d)]));
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains(&id) && out.stdout.contains("succeeded"),
        "{out}"
    );
    // `doctor` runs the same check.
    std::fs::remove_file(d.join(".quorum/db/conf")).unwrap();
    let out = run(env.quorum(["doctor", "--dir", path_str(d)]));
    assert_ne!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("conf is missing") || out.stderr.contains("conf is missing"),
        "{out}"
    );
}
