//! How a headless session delivers: token lines with `--json=tokens`, nothing
//! written with `--dry-run`, no commit with `--no-commit`, a parent repository
//! whose index and changes are left alone, and files that are never overwritten
//! without `--allow-overwrite`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{Env, PROMPT, Session, path_str, run, tempdir, tree, write};

#[test]
fn json_tokens_adds_token_lines_that_follow_their_tasks() {
    let env = Env::new();
    let dir = tempdir();
    let out = run(env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(dir.path()),
        "--json=tokens",
    ]));
    // Every line, token lines included, is validated by the schema here.
    let run = Session::from_output(out);
    run.assert_succeeded();
    assert!(run.tokens.len() > 10, "{} token lines", run.tokens.len());
    let roster: BTreeSet<&str> = ["pm", "backend", "frontend", "qa", "security"].into();
    for token in &run.tokens {
        let seq = token["seq"].as_u64().unwrap();
        assert!(roster.contains(token["agent"].as_str().unwrap()), "{token}");
        // The task had started by the durable event the token line follows.
        assert!(
            run.events.iter().any(|e| e["type"] == "task_started"
                && e["task"] == token["task"]
                && e["agent"] == token["agent"]
                && e["seq"].as_u64().unwrap() <= seq),
            "token before its task started: {token}"
        );
    }
    // The refine task's tokens rebuild its reply: the requirements JSON.
    let reply: String = run
        .tokens
        .iter()
        .filter(|t| t["task"] == "refine")
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    let requirements: Value = serde_json::from_str(&reply).unwrap();
    assert!(requirements["summary"].is_string(), "{reply}");
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing_but_its_state() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let out = run(env.quorum(["run", PROMPT, "--dir", path_str(d), "--dry-run"]));
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.starts_with("dry run: ") && out.stdout.contains("nothing written"),
        "{out}"
    );
    // Nothing in DIR but the state directory: no repo, no generated file.
    let written: Vec<String> = tree(d)
        .into_iter()
        .filter(|p| p != ".quorum" && !p.starts_with(".quorum/"))
        .collect();
    assert!(written.is_empty(), "dry run wrote {written:?}");

    // The stored events (validated) say what was staged; stdout shows each
    // staged file as a new file's diff.
    let id = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("quorum: session "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no session line on stderr: {out}"))
        .to_string();
    let events = env.stored_events(d, &id);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "session_finished");
    assert_eq!(last["status"], "succeeded");
    assert!(!events.iter().any(|e| e["type"] == "commit_created"));
    let staged: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "file_staged")
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(staged.len() >= 5, "{staged:?}");
    assert!(out.stdout.contains("--- /dev/null\n"), "{out}");
    for path in &staged {
        assert!(
            out.stdout.contains(&format!("\n+++ b/{path}\n")),
            "no diff for {path}: {out}"
        );
    }
    assert!(
        out.stdout.contains(&format!(
            "dry run: {} file(s) staged, nothing written",
            staged.len()
        )),
        "{out}"
    );
}

#[test]
fn no_commit_writes_the_files_without_creating_a_repository() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let run = env.run_json(d, &["--no-commit"]);
    run.assert_succeeded();
    assert!(run.of("commit_created").is_empty());
    assert!(!d.join(".git").exists(), "no repository is created");
    for staged in run.of("file_staged") {
        let path = staged["path"].as_str().unwrap();
        let content = std::fs::read(d.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        // The last staging of a path is what was written.
        let last = run
            .of("file_staged")
            .into_iter()
            .rev()
            .find(|e| e["path"] == path)
            .unwrap();
        assert_eq!(
            content.len() as u64,
            last["bytes"].as_u64().unwrap(),
            "{path}"
        );
    }
}

#[test]
fn a_dir_inside_a_parent_repo_commits_there_and_leaves_the_persons_work_alone() {
    let env = Env::new();
    let parent = tempdir();
    let p = parent.path();
    env.git(p, &["init", "-q"]);
    env.git(p, &["config", "user.name", "Ada"]);
    env.git(p, &["config", "user.email", "ada@example.com"]);
    write(p, "mine.txt", "v1\n");
    write(p, "other.txt", "v1\n");
    env.git(p, &["add", "."]);
    env.git(p, &["commit", "-qm", "base"]);
    let base = env.git(p, &["rev-parse", "HEAD"]).trim().to_string();
    // The person's own work in progress: one staged change, one unstaged change.
    write(p, "mine.txt", "v2 staged\n");
    env.git(p, &["add", "mine.txt"]);
    write(p, "other.txt", "v2 unstaged\n");

    let sub = p.join("svc");
    std::fs::create_dir(&sub).unwrap();
    let run = env.run_json(&sub, &[]);
    run.assert_succeeded();

    // The parent repository was used, and the event names it.
    let commit = run.one("commit_created");
    assert_eq!(
        commit["repo"].as_str().unwrap(),
        p.canonicalize().unwrap().to_str().unwrap()
    );
    assert!(!sub.join(".git").exists(), "no nested repository");
    assert_eq!(
        env.git(p, &["rev-parse", "HEAD"]).trim(),
        commit["sha"].as_str().unwrap()
    );
    assert_eq!(env.git(p, &["rev-parse", "HEAD~1"]).trim(), base);
    assert_eq!(env.git(p, &["rev-list", "--count", "HEAD"]).trim(), "2");
    // The repository's identity is used.
    assert_eq!(
        env.git(p, &["log", "-1", "--format=%an <%ae>"]).trim(),
        "Ada <ada@example.com>"
    );

    // The commit holds HEAD's files plus the generated ones, under svc/.
    let tree: BTreeSet<String> = env
        .git(p, &["ls-tree", "-r", "--name-only", "HEAD"])
        .lines()
        .map(String::from)
        .collect();
    let mut expected: BTreeSet<String> = run.staged().iter().map(|f| format!("svc/{f}")).collect();
    expected.insert("mine.txt".into());
    expected.insert("other.txt".into());
    assert_eq!(tree, expected);
    assert_eq!(env.git(p, &["show", "HEAD:mine.txt"]), "v1\n");

    // Staged stays staged, unstaged stays unstaged, nothing else shows.
    assert_eq!(
        env.git(p, &["status", "--porcelain"]),
        "M  mine.txt\n M other.txt\n"
    );
    assert_eq!(
        env.git(p, &["diff", "--cached", "--name-only"]),
        "mine.txt\n"
    );
    assert_eq!(env.git(p, &["diff", "--name-only"]), "other.txt\n");
    assert_eq!(
        std::fs::read_to_string(p.join("mine.txt")).unwrap(),
        "v2 staged\n"
    );
    assert_eq!(
        std::fs::read_to_string(p.join("other.txt")).unwrap(),
        "v2 unstaged\n"
    );
}

#[test]
fn an_existing_file_is_overwritten_only_with_allow_overwrite() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let mine = "# My notes\n\nNot generated; do not lose these.\n";
    write(d, "README.md", mine);
    // Committed: uncommitted work is never overwritten (tests/all/sacred.rs).
    env.git(d, &["init", "-q"]);
    env.commit_all(d, "my notes");

    let refused = env.run_json(d, &[]);
    assert_eq!(refused.out.code, 1, "{}", refused.out);
    assert_eq!(refused.status(), "failed");
    let readme = refused
        .of("file_staged")
        .into_iter()
        .find(|e| e["path"] == "README.md")
        .expect("README.md is staged");
    assert_eq!(readme["change"], "modified");
    let message = refused
        .of("error")
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        message.contains("README.md"),
        "the error names the file: {message}"
    );
    assert!(message.contains("--allow-overwrite"), "{message}");
    assert!(refused.of("commit_created").is_empty());
    assert_eq!(std::fs::read_to_string(d.join("README.md")).unwrap(), mine);
    // Nothing at all was written.
    assert_eq!(
        tree(d)
            .into_iter()
            .filter(|p| p != ".quorum" && !p.starts_with(".quorum/") && !p.starts_with(".git/"))
            .collect::<Vec<_>>(),
        vec![".git".to_string(), "README.md".to_string()]
    );

    let allowed = env.run_json(d, &["--allow-overwrite"]);
    allowed.assert_succeeded();
    let commit = allowed.one("commit_created");
    assert!(
        commit["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "README.md"),
        "{commit}"
    );
    let now = std::fs::read_to_string(d.join("README.md")).unwrap();
    assert_ne!(now, mine);
    assert_eq!(env.git(d, &["show", "HEAD:README.md"]), now);
    assert_eq!(env.git(d, &["show", "HEAD~1:README.md"]), mine);
    assert_eq!(env.git(d, &["status", "--porcelain"]), "");
}

/// Logs go to `DIR/.quorum/logs/`, never to the terminal (docs/design.md §4, "Logs").
#[test]
fn session_logs_go_to_the_state_dir_and_never_to_the_terminal() {
    let env = Env::new();
    let dir = tempdir();
    let out = crate::common::run(env.quorum(["run", PROMPT, "--dir", path_str(dir.path())]));
    assert_eq!(out.code, 0, "{out}");
    for level in ["INFO", "WARN", "DEBUG", "ERROR"] {
        assert!(
            !out.stderr.contains(level),
            "tracing output on the terminal: {out}"
        );
        assert!(
            !out.stdout.contains(level),
            "tracing output on stdout: {out}"
        );
    }
    let logs: Vec<_> = std::fs::read_dir(dir.path().join(".quorum/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 1, "one rolling log file: {logs:?}");
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    for milestone in [
        "session started",
        "phase_started",
        "test run",
        "commit created",
        "session finished",
    ] {
        assert!(
            log.contains(milestone),
            "{milestone} missing from the log:\n{log}"
        );
    }
}
