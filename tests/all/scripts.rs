//! Scripted offline providers (`script = "file.toml"`, docs/offline-script.md):
//! a malicious reply whose bad paths are refused one by one, a provider outage
//! that is retried, and a slow session holding DIR's lock against a second quorum.

use std::path::Path;
use std::time::Duration;

use crate::common::{
    Env, PROMPT, Session, TIMEOUT, path_str, project_file, read_fixture, run, spawn, tempdir, tree,
    wait, write,
};

/// Puts `quorum.toml` (every agent on the scripted offline provider) and the
/// script into `dir`.
fn scripted(dir: &Path, script: &str) {
    crate::common::write_scripted(dir, script, "");
}

#[test]
fn a_malicious_reply_is_refused_path_by_path_and_the_session_goes_on() {
    let env = Env::new();
    // DIR is a child of `parent`, so that `../escape.py` has somewhere to land.
    let parent = tempdir();
    let outside = tempdir();
    let d = parent.path().join("project");
    std::fs::create_dir(&d).unwrap();
    let script = read_fixture("scripts/evil.toml").replace("@OUTSIDE@", path_str(outside.path()));
    // The 50 MB reply passes the default reply cap (4 MiB): the cap is
    // raised so that the path rules see the file (docs/offline-script.md).
    crate::common::write_scripted(&d, &script, "max_reply_bytes = 67108864\n");
    // DIR/site leads outside DIR; the docs task declares `site/`.
    std::os::unix::fs::symlink(outside.path(), d.join("site")).unwrap();
    let absolute = format!("{}/quorum-pwned", path_str(outside.path()));

    let run = env.run_json(&d, &[]);
    run.assert_succeeded();

    each_bad_path_is_refused_with_its_reason(&run, &absolute);
    only_the_legitimate_file_is_committed(&env, &run, &d);
    nothing_lands_outside_dir_or_in_git(&env, &run, parent.path(), outside.path(), &d);
}

/// Step: one refusal per bad path, each with its reason, all from the pm's task.
fn each_bad_path_is_refused_with_its_reason(run: &Session, absolute: &str) {
    // One refusal per bad path, each with its reason, all from the pm's task.
    let refusals: Vec<(String, String)> = run
        .of("path_refused")
        .iter()
        .map(|e| {
            assert_eq!(e["agent"], "pm", "{e}");
            (
                e["path"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let paths: Vec<&str> = refusals.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "../escape.py",
            absolute,
            ".git/hooks/pre-commit",
            ".quorum/db",
            "notes/undeclared.py",
            "site/pwned.md",
            "assets/aux.txt",
            "assets/huge.txt",
        ]
    );
    for ((path, reason), expected) in refusals.iter().zip([
        "..",
        "absolute",
        ".git",
        ".quorum",
        "declared",
        "`site` is a symlink",
        "device name",
        "file too large",
    ]) {
        assert!(reason.contains(expected), "{path}: {reason}");
    }
}

/// Step: the legitimate file was staged and committed; the bad ones nowhere.
fn only_the_legitimate_file_is_committed(env: &Env, run: &Session, d: &Path) {
    // The legitimate file was staged and committed; the bad ones nowhere.
    let readme = "# URL shortener\n\nWritten by a scripted reply.\n";
    let staged = run
        .of("file_staged")
        .into_iter()
        .find(|e| e["path"] == "README.md")
        .expect("README.md staged");
    assert_eq!(staged["agent"], "pm");
    assert_eq!(staged["bytes"], readme.len());
    assert_eq!(
        std::fs::read_to_string(d.join("README.md")).unwrap(),
        readme
    );
    let committed = env.git(d, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(committed.lines().any(|l| l == "README.md"), "{committed}");
    for bad in ["undeclared", "escape", "pwned", "huge", "aux", ".quorum"] {
        assert!(!committed.contains(bad), "{bad}: {committed}");
    }
}

/// Step: nothing outside DIR, in .git, undeclared or beside the scratch tree;
/// quorum's db is still a db and the session is listed.
fn nothing_lands_outside_dir_or_in_git(
    env: &Env,
    run: &Session,
    parent: &Path,
    outside: &Path,
    d: &Path,
) {
    // Nothing outside DIR, nothing in .git, nothing undeclared, nothing beside
    // the scratch tree, and quorum's db is still a db.
    assert_eq!(
        tree(parent)
            .into_iter()
            .filter(|p| !p.starts_with("project/"))
            .collect::<Vec<_>>(),
        vec!["project".to_string()]
    );
    assert!(tree(outside).is_empty(), "{:?}", tree(outside));
    assert!(!d.join(".git/hooks/pre-commit").exists());
    for hook in tree(&d.join(".git/hooks")) {
        let text = std::fs::read_to_string(d.join(".git/hooks").join(&hook)).unwrap_or_default();
        assert!(!text.contains("attacker.invalid"), "{hook}");
    }
    assert!(d.join(".quorum/db").is_dir(), "the state db is untouched");
    assert!(!d.join("notes").exists() && !d.join("assets").exists());
    assert!(
        std::fs::symlink_metadata(d.join("site"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let scratch = tree(&d.join(".quorum/work"));
    assert_eq!(
        scratch
            .iter()
            .filter(|p| !p.contains('/'))
            .cloned()
            .collect::<Vec<_>>(),
        vec![run.id().to_string()],
        "the scratch trees hold only the session's own"
    );
    for bad in ["escape", "pwned", "huge", "aux", "undeclared"] {
        assert!(
            !scratch.iter().any(|p| p.contains(bad)),
            "{bad}: {scratch:?}"
        );
    }
    let list = run_list(env, d);
    assert!(list.contains(run.id()), "{list}");
}

#[test]
fn a_provider_outage_is_retried_and_the_session_succeeds() {
    let env = Env::new();
    let dir = tempdir();
    scripted(dir.path(), &read_fixture("scripts/outage.toml"));
    let run = env.run_json(dir.path(), &[]);
    run.assert_succeeded();
    assert!(run.of("task_failed").is_empty());
    assert!(run.of("provider_fallback").is_empty());

    let retries = |task: &str| -> Vec<(u64, u64, String)> {
        run.of("task_retrying")
            .into_iter()
            .filter(|e| e["task"] == task)
            .map(|e| {
                (
                    e["attempt"].as_u64().unwrap(),
                    e["delay_ms"].as_u64().unwrap(),
                    e["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let server = retries("implement.server");
    assert_eq!(
        server,
        vec![
            (1, 50, "HTTP 503: overloaded".to_string()),
            (2, 50, "HTTP 503: overloaded".to_string())
        ]
    );
    let refine = retries("refine");
    assert_eq!(refine.len(), 1, "{refine:?}");
    let (attempt, delay, reason) = &refine[0];
    assert_eq!(*attempt, 1);
    assert!(
        (250..=500).contains(delay),
        "backoff from 0.5 s with jitter: {delay}"
    );
    assert!(reason.contains("reset by peer"), "{reason}");
    for task in ["refine", "implement.server"] {
        assert_eq!(
            run.of("task_finished")
                .iter()
                .filter(|e| e["task"] == task)
                .count(),
            1,
            "{task} finished once"
        );
    }
}

#[test]
fn a_second_quorum_on_a_busy_dir_exits_4_naming_the_pid() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    scripted(d, &read_fixture("scripts/slow_refine.toml"));
    let mut first = spawn(env.quorum(["run", PROMPT, "--dir", path_str(d), "--json"]));
    let pid = first.id().to_string();

    // The first quorum has taken the lock once its pid is in the lock file
    // (its first line; the session it runs follows on the second).
    let lock = d.join(".quorum/lock");
    crate::common::poll(Duration::from_secs(30), "the first quorum's lock", || {
        std::fs::read_to_string(&lock)
            .ok()
            .filter(|held| held.lines().next().map(str::trim) == Some(pid.as_str()))
    });
    let second = run(env.quorum(["run", PROMPT, "--dir", path_str(d), "--json"]));
    let still_running = first.try_wait().unwrap().is_none();
    assert_eq!(second.code, 4, "{second}");
    assert!(
        second.stderr.contains(&format!("pid {pid}")),
        "the message names the holder's pid {pid}: {second}"
    );
    assert!(second.stderr.contains("in use"), "{second}");
    assert_eq!(second.stdout, "", "{second}");
    assert!(still_running, "the first quorum held the lock throughout");

    // The first session is unharmed.
    let first = Session::from_output(wait(first, TIMEOUT));
    first.assert_succeeded();
    let list = run(env.quorum(["sessions", "list", "--dir", path_str(d)]));
    assert_eq!(
        list.stdout.lines().filter(|l| l.contains(PROMPT)).count(),
        1,
        "the refused quorum started no session: {list}"
    );
}

#[test]
fn the_documented_examples_are_the_tested_scripts() {
    let doc = std::fs::read_to_string(project_file("docs/offline-script.md")).unwrap();
    let outage = read_fixture("scripts/outage.toml");
    assert!(
        doc.contains(outage.trim()),
        "docs/offline-script.md shows tests/fixtures/scripts/outage.toml verbatim"
    );
    let evil = read_fixture("scripts/evil.toml").replace("@OUTSIDE@", "/etc/cron.d");
    assert!(
        doc.contains(evil.trim()),
        "docs/offline-script.md shows tests/fixtures/scripts/evil.toml (with /etc/cron.d)"
    );
}

#[test]
fn questions_an_abstention_and_a_blocking_finding_take_their_paths() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    scripted(d, &read_fixture("scripts/team.toml"));
    let answers = crate::common::fixture("answers.toml");
    let run = env.run_json(d, &["--answers", path_str(&answers)]);
    run.assert_succeeded();

    // Questions: one answered from the file, one by its default.
    let asked: Vec<(&str, &str)> = run
        .of("question_asked")
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e["default"].as_str().unwrap()))
        .collect();
    assert_eq!(asked, [("port", "8000"), ("auth", "no")]);
    let answered: Vec<(&str, &str, &str)> = run
        .of("question_answered")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap(),
                e["answer"].as_str().unwrap(),
                e["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        answered,
        [("port", "8080", "answers_file"), ("auth", "no", "default")]
    );

    // The failed ballot is a visible abstention; the valid ballots decide 2–1.
    let abstention = run
        .of("vote_cast")
        .into_iter()
        .find(|e| e["conflict"] == "storage" && e["agent"] == "security")
        .expect("security's storage ballot");
    assert!(abstention["option"].is_null(), "{abstention}");
    assert!(
        abstention["rationale"]
            .as_str()
            .unwrap()
            .contains("unprocessable entity"),
        "{abstention}"
    );
    let storage = run
        .of("conflict_resolved")
        .into_iter()
        .find(|e| e["conflict"] == "storage")
        .unwrap();
    assert_eq!(storage["decided_by"], "vote");
    assert_eq!(storage["option"], "sqlite");
    assert_eq!(
        storage["tally"],
        serde_json::json!({"json-file": 1, "sqlite": 2})
    );

    // The blocking finding becomes the owner's repair task, and the tests run again.
    // One blocking finding; the repaired files are reviewed again (by the
    // built-in reviewer, whose findings block nothing).
    let blocking: Vec<&serde_json::Value> = run
        .of("finding")
        .into_iter()
        .filter(|f| f["blocking"] == true)
        .collect();
    assert_eq!(blocking.len(), 1, "{blocking:?}");
    let finding = blocking[0];
    assert!(
        run.of("task_finished")
            .iter()
            .any(|e| e["task"] == "review.2"),
        "the repaired files were reviewed again"
    );
    assert_eq!(finding["blocking"], true);
    assert_eq!(finding["severity"], "high");
    let repair = run
        .of("task_finished")
        .into_iter()
        .find(|e| e["task"] == "review.fix1.backend")
        .expect("the backend repaired its file");
    assert_eq!(repair["phase"], "review");
    let rounds: Vec<(u64, &str)> = run
        .of("test_run")
        .iter()
        .map(|e| (e["round"].as_u64().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(rounds, [(1, "passed"), (2, "passed")]);
}

#[test]
fn sigterm_interrupts_the_session_with_exit_3_and_writes_nothing() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    scripted(d, &read_fixture("scripts/slow_refine.toml"));
    let before = tree(d);
    let mut session = crate::common::Streaming::start(env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(d),
        "--json=tokens",
    ]));
    // The refine reply is streaming (slowly): the session is under way.
    session.wait_for(Duration::from_secs(30), "a refine token", |e| {
        e["type"] == "token" && e["task"] == "refine"
    });
    let pid = libc::pid_t::try_from(session.pid()).unwrap();
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let run = Session::from_output(session.finish(TIMEOUT));
    assert_eq!(run.out.code, 3, "{}", run.out);
    assert_eq!(run.status(), "interrupted");
    assert!(run.of("commit_created").is_empty());
    let after: Vec<String> = tree(d)
        .into_iter()
        .filter(|p| p != ".quorum" && !p.starts_with(".quorum/"))
        .collect();
    let before: Vec<String> = before.into_iter().collect();
    assert_eq!(after, before, "nothing written into DIR");
    let list = run_list(&env, d);
    assert!(
        list.lines()
            .any(|l| l.starts_with(run.id()) && l.contains("interrupted")),
        "{list}"
    );
}

fn run_list(env: &Env, dir: &Path) -> String {
    let out = run(env.quorum(["sessions", "list", "--dir", path_str(dir)]));
    assert_eq!(out.code, 0, "{out}");
    out.stdout
}

#[test]
fn a_symlink_in_dir_is_never_written_through() {
    let env = Env::new();
    let parent = tempdir();
    let d = parent.path().join("project");
    let outside = parent.path().join("outside");
    std::fs::create_dir(&d).unwrap();
    std::fs::create_dir(&outside).unwrap();
    write(&outside, "victim.md", "precious\n");
    std::os::unix::fs::symlink("../outside/victim.md", d.join("README.md")).unwrap();

    // Even with --allow-overwrite, the link is refused at staging.
    let run = env.run_json(&d, &["--allow-overwrite"]);
    run.assert_succeeded();
    let refused = run.one("path_refused");
    assert_eq!(refused["path"], "README.md");
    assert!(
        refused["reason"].as_str().unwrap().contains("symlink"),
        "{refused}"
    );
    assert!(!run.staged().contains("README.md"));
    assert_eq!(
        std::fs::read_to_string(outside.join("victim.md")).unwrap(),
        "precious\n"
    );
    assert!(
        std::fs::symlink_metadata(d.join("README.md"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let committed = env.git(&d, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(!committed.lines().any(|l| l == "README.md"), "{committed}");
}

/// The built-in breakdown, except that the pm's `docs` task also declares
/// `site/` and runs after the other tasks (so that what it stages comes last).
const DOCS_WITH_SITE: &str = r#"
[[reply]]
agent = "pm"
kind = "breakdown"
text = '''
{"tasks": [
  {"id": "core", "agent": "backend", "title": "link store", "depends_on": [],
   "files": ["url_shortener/__init__.py", "url_shortener/store.py"],
   "description": "Write the store."},
  {"id": "server", "agent": "backend", "title": "HTTP server", "depends_on": ["core"],
   "files": ["url_shortener/server.py"], "description": "Write the server."},
  {"id": "cli", "agent": "frontend", "title": "command-line client", "depends_on": ["core"],
   "files": ["url_shortener/cli.py", "url_shortener/__main__.py"],
   "description": "Write the command line."},
  {"id": "docs", "agent": "pm", "title": "README and .gitignore",
   "depends_on": ["core", "server", "cli"],
   "files": ["README.md", ".gitignore", "site/"],
   "description": "Write the README."}
]}
'''
"#;

/// Issue 17, acceptance 6: names git refuses (its NTFS and HFS+ protections
/// on), `.git` in another case, and names holding a bidirectional override or
/// a newline are each refused at staging with a `path_refused` event saying
/// why; the legitimate file beside them is staged and committed, and nothing
/// of the others reaches DIR or the commit.
#[test]
fn names_git_refuses_and_hidden_characters_are_refused_at_staging() {
    let bad = [
        ("site/.git.", "`.git.` is `.git` on NTFS"),
        ("site/GIT~1/config", "`GIT~1` is `.git` on NTFS"),
        ("site/.git::$INDEX_ALLOCATION", "alternate data stream"),
        (
            ".git::$INDEX_ALLOCATION/hooks/pre-commit",
            "alternate data stream",
        ),
        (".GIT/x", "inside `.GIT/`"),
        ("site/.git\u{200c}/x", "is `.git` on HFS+"),
        ("site/\u{ff0e}git/config", "inside `.git/`"),
        ("site/evil\u{202e}dm.txt", "bidirectional control U+202E"),
        ("site/zero\u{200b}width.md", "invisible character U+200B"),
        ("site/new\rline.md", "control character U+000D"),
        ("site/next\u{85}line.md", "control character U+0085"),
        (
            "site/line\u{2028}sep.md",
            "line or paragraph separator U+2028",
        ),
        ("site/trailing.", "ends with a dot or a space"),
    ];
    let mut reply = String::from("Here are the files.\n\n");
    for (path, _) in &bad {
        reply.push_str(&format!("### `{path}`\n```\nhostile\n```\n\n"));
    }
    reply.push_str("### `README.md`\n```markdown\n# URL shortener\n```\n");
    // A basic TOML string, so that the control characters are escapes.
    let text = serde_json::to_string(&reply).unwrap();
    let script = format!(
        "{DOCS_WITH_SITE}\n[[reply]]\nagent = \"pm\"\nkind = \"implement\"\ntask = \"docs\"\ntext = {text}\n"
    );
    let (env, dir, run) = crate::common::run_scripted(&script, "", &[]);
    let d = dir.path();
    run.assert_succeeded();

    let refusals: Vec<(&str, &str)> = run
        .of("path_refused")
        .iter()
        .map(|e| {
            assert_eq!(e["agent"], "pm", "{e}");
            (e["path"].as_str().unwrap(), e["reason"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        refusals.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        bad.iter().map(|(p, _)| *p).collect::<Vec<_>>()
    );
    for ((path, reason), (_, says)) in refusals.iter().zip(bad) {
        assert!(reason.contains(says), "{path:?}: {reason}");
    }
    assert!(run.staged().contains("README.md"), "{:?}", run.staged());
    assert_eq!(
        std::fs::read_to_string(d.join("README.md")).unwrap(),
        "# URL shortener\n"
    );
    assert!(!d.join("site").exists(), "{:?}", tree(d));
    let committed = env.git(d, &["ls-tree", "-r", "--name-only", "-z", "HEAD"]);
    assert!(
        committed.split('\0').all(|p| !p.starts_with("site/")),
        "{committed:?}"
    );
    // Not in the scratch tree either, and `.git` took nothing.
    let scratch = tree(&d.join(".quorum/work").join(run.id()));
    assert!(
        scratch.iter().all(|p| !p.starts_with("site")),
        "{scratch:?}"
    );
    assert!(!d.join(".git/hooks/pre-commit").exists());
}

/// Issue 17, acceptance 6: a session stages at most `[session] max_files`
/// files (2,000 by default, proved by the config's unit test; 12 here to keep
/// the test quick): the files of a reply past the limit are refused with a
/// reason naming it, the first 100 each by name and the rest counted in one
/// last event, without being staged anywhere; later tasks meet the same
/// limit.
#[test]
fn files_past_the_session_limit_are_refused() {
    const LIMIT: usize = 12;
    const EXTRA: usize = 2_001;
    let mut reply = String::from("Here are the files.\n\n### `README.md`\n```\n# x\n```\n");
    for i in 0..EXTRA {
        reply.push_str(&format!("### `site/f{i:04}.md`\n```\npage {i}\n```\n"));
    }
    let text = serde_json::to_string(&reply).unwrap();
    let script = format!(
        "{DOCS_WITH_SITE}\n[[reply]]\nagent = \"pm\"\nkind = \"implement\"\ntask = \"docs\"\ntext = {text}\n"
    );
    let (_env, dir, run) =
        crate::common::run_scripted(&script, &format!("[session]\nmax_files = {LIMIT}\n"), &[]);
    let d = dir.path();
    // The limit holds over the whole session: the qa's tests, which come
    // after the docs, are refused too, and the session fails on them.
    assert_eq!(run.status(), "failed", "{}", run.out);
    let failed = run.one("task_failed");
    assert_eq!(failed["task"], "test.write", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("every file was refused: tests/"),
        "{failed}"
    );
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("[session] max_files")
    );
    // Never more than LIMIT paths staged.
    let staged = run.staged();
    assert_eq!(staged.len(), LIMIT, "{staged:?}");
    let site_staged = staged.iter().filter(|p| p.starts_with("site/")).count();
    assert!(site_staged > 0, "{staged:?}");
    let pm: Vec<&serde_json::Value> = run
        .of("path_refused")
        .into_iter()
        .filter(|e| e["agent"] == "pm")
        .collect();
    let limit =
        format!("the session already stages the most files it may ({LIMIT}, [session] max_files)");
    let refused = EXTRA + 1 - site_staged - usize::from(staged.contains("README.md"));
    assert_eq!(pm.len(), 101, "100 by name, then one that counts the rest");
    for e in &pm[..100] {
        assert_eq!(e["reason"], limit.as_str(), "{e}");
    }
    assert_eq!(
        pm[100]["reason"],
        format!(
            "{limit}; so are the {} file(s) after it in the reply, not listed",
            refused - 101
        )
    );
    // In order: the first refused page follows the last staged one.
    assert_eq!(pm[0]["path"], format!("site/f{:04}.md", site_staged));
    let scratch = tree(&d.join(".quorum/work").join(run.id()).join("site"));
    assert_eq!(scratch.len(), site_staged, "{scratch:?}");
}
