//! Issue 8's commands end to end on the built binary: `init` (twice), `doctor`
//! against fake providers, `completions` (checked by `bash -n`), `man` (rendered
//! by `man -l`), `sessions list|show|export|rm|push` and `undo`, with their output
//! and exit codes. `init` and `doctor` never create `.quorum/` and log to the XDG
//! state directory.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{
    Env, Output, PROMPT, Session, check_event, path_str, read_fixture, run, tempdir, tree, write,
};

fn quorum(env: &Env, args: &[&str]) -> Output {
    run(env.quorum(args))
}

/// Every file under the XDG state dir's `quorum/`, read and joined.
fn xdg_log(env: &Env) -> String {
    let dir = env.state_home().join("quorum");
    tree(&dir)
        .iter()
        .filter_map(|name| std::fs::read_to_string(dir.join(name)).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn init_writes_the_example_once_and_force_overwrites() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let config = dir.path().join("quorum.toml");
    let example =
        std::fs::read_to_string(crate::common::project_file("assets/quorum.example.toml")).unwrap();

    let first = quorum(&env, &["init", "--dir", d]);
    assert_eq!(first.code, 0, "{first}");
    assert_eq!(first.stdout, format!("wrote {}\n", config.display()));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), example);

    // A second init keeps the person's file and names it.
    std::fs::write(&config, "# mine\n").unwrap();
    let second = quorum(&env, &["init", "--dir", d]);
    assert_eq!(second.code, 2, "{second}");
    assert!(
        second.stderr.contains(&config.display().to_string()),
        "{second}"
    );
    assert!(second.stderr.contains("--force"), "{second}");
    assert_eq!(second.stdout, "");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");

    let forced = quorum(&env, &["init", "--force", "--dir", d]);
    assert_eq!(forced.code, 0, "{forced}");
    assert_eq!(forced.stdout, format!("overwrote {}\n", config.display()));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), example);

    // --user writes the XDG user config instead.
    let user = quorum(&env, &["init", "--user", "--dir", d]);
    assert_eq!(user.code, 0, "{user}");
    let user_config = dir_of(&env).join("config/quorum/config.toml");
    assert_eq!(std::fs::read_to_string(&user_config).unwrap(), example);

    assert_eq!(
        tree(dir.path()),
        BTreeSet::from(["quorum.toml".to_string()]),
        "init creates nothing but the config (no .quorum/)"
    );
    assert!(
        xdg_log(&env).contains("init wrote the config"),
        "logged to XDG_STATE_HOME"
    );

    // The written config runs a session as it is.
    let session = env.run_json(dir.path(), &[]);
    session.assert_succeeded();
}

/// The Env's root (the parent of its XDG state dir).
fn dir_of(env: &Env) -> std::path::PathBuf {
    env.state_home().parent().unwrap().to_path_buf()
}

/// A config with one provider of each verdict this build can give without a
/// real client: offline (ok), a key variable that is unset (no key), and an
/// OpenAI-compatible server on a loopback port nobody listens on (unreachable).
fn fake_providers(port: u16) -> String {
    format!(
        r#"[providers.sim]
kind = "offline"

[providers.cloud]
kind = "openai"
api_key_env = "QUORUM_IT_DOCTOR_KEY"

[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:{port}/v1"

[agents.pm]
provider = "sim"
[agents.backend]
provider = "sim"
fallback = ["cloud:gpt-4o", "local:llama3"]
[agents.frontend]
provider = "sim"
[agents.qa]
provider = "sim"
[agents.security]
provider = "sim"
"#
    )
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn doctor_names_each_provider_verdict_and_exits_1() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let port = closed_port();
    write(dir.path(), "quorum.toml", &fake_providers(port));
    let before = tree(dir.path());

    let out = quorum(&env, &["doctor", "--dir", d]);
    assert_eq!(out.code, 1, "a required check failed: {out}");
    let line = |needle: &str| -> String {
        out.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}: {out}"))
            .to_string()
    };
    assert!(
        line("sim (offline)").trim_start().starts_with("ok "),
        "{out}"
    );
    let cloud = line("cloud (openai)");
    assert!(cloud.trim_start().starts_with("FAIL"), "{cloud}");
    assert!(cloud.contains("no key: QUORUM_IT_DOCTOR_KEY"), "{cloud}");
    let local = line("local (openai)");
    assert!(local.trim_start().starts_with("FAIL"), "{local}");
    assert!(local.contains("unreachable"), "{local}");
    assert!(local.contains(&format!("127.0.0.1:{port}")), "{local}");
    assert!(line("quorum.toml is valid").contains("ok"), "{out}");
    // The hermetic environment has no git identity: a warning, not a failure.
    assert!(line("identity").trim_start().starts_with("warn"), "{out}");
    assert!(line("rlimits").trim_start().starts_with("ok"), "{out}");
    assert!(
        out.stdout.contains("\n2 required check(s) failed ("),
        "{out}"
    );

    // --json says the same to scripts.
    let json = quorum(&env, &["doctor", "--json", "--dir", d]);
    assert_eq!(json.code, 1, "{json}");
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let status = |name: &str| -> String {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {report}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("sim (offline)"), "ok");
    assert_eq!(status("cloud (openai)"), "fail");
    assert_eq!(status("local (openai)"), "fail");

    assert_eq!(
        tree(dir.path()),
        before,
        "doctor creates nothing (no .quorum/)"
    );
    assert!(xdg_log(&env).contains("doctor"), "logged to XDG_STATE_HOME");
}

#[test]
fn doctor_passes_on_the_offline_defaults_and_names_config_errors() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let out = quorum(&env, &["doctor", "--dir", d]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("no config file"), "{out}");
    assert!(out.stdout.contains("all required checks passed"), "{out}");
    // A DIR that does not exist yet is fine too, and stays absent.
    let missing = dir.path().join("new");
    let out = quorum(&env, &["doctor", "--dir", path_str(&missing)]);
    assert_eq!(out.code, 0, "{out}");
    assert!(!missing.exists());

    write(
        dir.path(),
        "quorum.toml",
        &read_fixture("config/malformed.toml"),
    );
    let out = quorum(&env, &["doctor", "--dir", d]);
    assert_eq!(out.code, 1, "{out}");
    let config = out.stdout.lines().find(|l| l.contains("config ")).unwrap();
    assert!(
        config.contains("FAIL") && config.contains("line 3"),
        "{out}"
    );
    assert!(!dir.path().join(".quorum").exists());
}

#[test]
fn completions_pass_bash_n_and_name_the_commands() {
    let env = Env::new();
    let dir = tempdir();
    let bash = quorum(&env, &["completions", "bash"]);
    assert_eq!(bash.code, 0, "{bash}");
    let script = dir.path().join("quorum.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let check = run({
        let mut cmd = env.command("bash");
        cmd.arg("-n").arg(&script);
        cmd
    });
    assert_eq!(check.code, 0, "bash -n: {check}");
    for word in ["doctor", "completions", "export", "undo", "--format"] {
        assert!(bash.stdout.contains(word), "bash completes {word}");
    }
    let zsh = quorum(&env, &["completions", "zsh"]);
    assert_eq!(zsh.code, 0, "{zsh}");
    assert!(
        zsh.stdout.starts_with("#compdef quorum"),
        "{}",
        &zsh.stdout[..40]
    );
    let fish = quorum(&env, &["completions", "fish"]);
    assert_eq!(fish.code, 0, "{fish}");
    assert!(fish.stdout.contains("complete -c quorum"), "{fish}");

    let bad = quorum(&env, &["completions", "tcsh"]);
    assert_eq!(bad.code, 2, "{bad}");
    assert!(bad.stderr.contains("tcsh"), "{bad}");
}

#[test]
fn the_man_page_renders_with_man_l() {
    let env = Env::new();
    let dir = tempdir();
    let page = quorum(&env, &["man"]);
    assert_eq!(page.code, 0, "{page}");
    let file = dir.path().join("quorum.1");
    std::fs::write(&file, &page.stdout).unwrap();
    let rendered = run({
        let mut cmd = env.command("man");
        cmd.arg("-l")
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100");
        cmd
    });
    assert_eq!(rendered.code, 0, "man -l: {rendered}");
    for text in [
        "NAME",
        "SYNOPSIS",
        "COMMANDS",
        "quorum sessions export",
        "quorum doctor",
        "EXIT STATUS",
        "--format",
        "XDG_STATE_HOME",
    ] {
        assert!(
            rendered.stdout.contains(text),
            "no {text:?} in:\n{}",
            rendered.stdout
        );
    }
    assert!(
        !rendered.stderr.contains("warning"),
        "groff warns: {}",
        rendered.stderr
    );
}

/// The text of `field` of the one event of `kind`.
fn field<'a>(run: &'a Session, kind: &str, field: &str) -> &'a Value {
    &run.one(kind)[field]
}

#[test]
fn export_md_json_and_tar_round_trip_the_session() {
    let env = Env::new();
    let dir = tempdir();
    let session = env.run_json(dir.path(), &[]);
    session.assert_succeeded();
    let id = session.id();
    let sha = field(&session, "commit_created", "sha").as_str().unwrap();

    sessions_list_shows_the_row(&env, dir.path(), id, sha);
    let tokens_in = md_export_names_the_session_facts(&env, dir.path(), &session, sha);
    json_export_holds_the_full_record(&env, dir.path(), &session, sha, tokens_in);
    tar_export_unpacks_to_the_committed_tree(&env, dir.path(), id);
    bad_export_input_exits_2(&env, dir.path(), id);
}

/// Step: `sessions list` prints a header and the session's row, and `--json` its record.
fn sessions_list_shows_the_row(env: &Env, dir: &std::path::Path, id: &str, sha: &str) {
    let d = path_str(dir);
    // The table: a header, then the session's row.
    let list = quorum(env, &["sessions", "list", "--dir", d]);
    assert_eq!(list.code, 0, "{list}");
    let mut lines = list.stdout.lines();
    assert!(lines.next().unwrap().starts_with("ID "), "{list}");
    let row = lines.next().unwrap();
    assert!(row.starts_with(id) && row.contains("succeeded"), "{row}");
    assert!(row.contains(&sha[..8]) && row.ends_with(PROMPT), "{row}");
    let json_list = quorum(env, &["sessions", "list", "--json", "--dir", d]);
    let listed: Value = serde_json::from_str(json_list.stdout.trim()).unwrap();
    assert_eq!(listed["id"], id);
    assert_eq!(listed["commit"], sha);
}

/// Step: the md export names the session's facts; returns the session's `tokens_in`.
fn md_export_names_the_session_facts(
    env: &Env,
    dir: &std::path::Path,
    session: &Session,
    sha: &str,
) -> u64 {
    let d = path_str(dir);
    let id = session.id();
    // md: the readable report names the session's facts.
    let md = quorum(env, &["sessions", "export", &id[..6], "--dir", d]);
    assert_eq!(md.code, 0, "{md}");
    let report = &md.stdout;
    assert!(
        report.starts_with(&format!("# quorum session {id}\n")),
        "{report}"
    );
    assert!(report.contains(&format!("> {PROMPT}")));
    for section in [
        "## Requirements",
        "## Plans",
        "## Conflicts",
        "## Tasks",
        "## Test results",
        "## Review findings",
        "## Files",
        "## Commit",
        "## Tokens and cost",
    ] {
        assert!(report.contains(section), "no {section}:\n{report}");
    }
    for conflict in session.of("conflict_detected") {
        assert!(report.contains(conflict["topic"].as_str().unwrap()));
    }
    for vote in session.of("vote_cast") {
        let row = format!(
            "| {} | {} |",
            vote["agent"].as_str().unwrap(),
            vote["option"].as_str().unwrap_or("abstained")
        );
        assert!(report.contains(&row), "no ballot {row}");
    }
    for resolved in session.of("conflict_resolved") {
        let line = format!(
            "**Decision:** {} — by {}",
            resolved["option"].as_str().unwrap(),
            resolved["decided_by"].as_str().unwrap()
        );
        assert!(report.contains(&line), "no {line:?}");
    }
    for path in session.staged() {
        assert!(report.contains(&format!("| `{path}` |")), "no file {path}");
    }
    for finding in session.of("finding") {
        assert!(report.contains(finding["path"].as_str().unwrap()));
    }
    let test_run = field(session, "test_run", "passed").as_u64().unwrap();
    assert!(
        report.contains(&format!("| passed | {test_run} | 0 |")),
        "{report}"
    );
    assert!(report.contains(sha));
    let tokens_in = field(session, "session_finished", "tokens_in")
        .as_u64()
        .unwrap();
    assert!(report.contains(&format!("**{tokens_in}**")), "{report}");
    tokens_in
}

/// Step: the json export, written with --output, holds the full record.
fn json_export_holds_the_full_record(
    env: &Env,
    dir: &std::path::Path,
    session: &Session,
    sha: &str,
    tokens_in: u64,
) {
    let d = path_str(dir);
    let id = session.id();
    // json: the full record, written with --output.
    let file = dir.join("export.json");
    let out = quorum(
        env,
        &[
            "sessions",
            "export",
            id,
            "--format",
            "json",
            "-o",
            path_str(&file),
            "--dir",
            d,
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(record["format"], "quorum-session");
    assert_eq!(record["version"], 1);
    assert_eq!(record["session"]["id"], id);
    assert_eq!(record["session"]["prompt"], PROMPT);
    assert_eq!(record["session"]["commit"], sha);
    assert_eq!(record["session"]["tokens_in"], tokens_in);
    let events = record["events"].as_array().unwrap();
    events.iter().for_each(check_event);
    assert_eq!(events, &env.stored_events(dir, id));
    assert_eq!(
        events, &session.events,
        "the record holds the stream as it was printed"
    );
    for path in session.staged() {
        let committed = env.git(dir, &["show", &format!("HEAD:{path}")]);
        assert_eq!(
            record["records"]["file"][&path]["content"], committed,
            "{path}"
        );
    }
    for resolved in session.of("conflict_resolved") {
        let name = format!("decision/{}", resolved["conflict"].as_str().unwrap());
        assert_eq!(
            record["records"]["output"][&name]["option"],
            resolved["option"]
        );
    }
    assert!(record["records"]["output"]["requirements"]["goals"].is_array());
    assert!(!record["transcript"].as_array().unwrap().is_empty());
}

/// Step: the tar export unpacks to the committed tree, and prints the same bytes on stdout.
fn tar_export_unpacks_to_the_committed_tree(env: &Env, dir: &std::path::Path, id: &str) {
    let d = path_str(dir);
    // tar: the archive unpacks to the committed tree.
    let archive = dir.join("project.tar.gz");
    let out = quorum(
        env,
        &[
            "sessions",
            "export",
            id,
            "--format",
            "tar",
            "--output",
            path_str(&archive),
            "--dir",
            d,
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let unpacked = tempdir();
    let untar = run({
        let mut cmd = env.command("tar");
        cmd.arg("-xzf").arg(&archive).arg("-C").arg(unpacked.path());
        cmd
    });
    assert_eq!(untar.code, 0, "{untar}");
    let root_name = format!("{}-{id}", dir.file_name().unwrap().to_string_lossy());
    let root = unpacked.path().join(&root_name);
    let committed: BTreeSet<String> = env
        .git(dir, &["ls-tree", "-r", "--name-only", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    let files: BTreeSet<String> = tree(&root)
        .into_iter()
        .filter(|p| root.join(p).is_file())
        .collect();
    assert_eq!(files, committed);
    for path in &committed {
        assert_eq!(
            std::fs::read_to_string(root.join(path)).unwrap(),
            env.git(dir, &["show", &format!("HEAD:{path}")]),
            "{path}"
        );
    }
    // The same archive on stdout, byte for byte.
    let piped = env
        .quorum(["sessions", "export", id, "--format", "tar", "--dir", d])
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert_eq!(piped.stdout, std::fs::read(&archive).unwrap());
}

/// Step: bad export input (unknown id, format or output dir) exits 2 naming it.
fn bad_export_input_exits_2(env: &Env, dir: &std::path::Path, id: &str) {
    let d = path_str(dir);
    // Bad input exits 2 naming it.
    let out = quorum(env, &["sessions", "export", "fffffff", "--dir", d]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("fffffff"), "{out}");
    let out = quorum(
        env,
        &["sessions", "export", id, "--format", "pdf", "--dir", d],
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("pdf"), "{out}");
    let out = quorum(
        env,
        &[
            "sessions",
            "export",
            id,
            "-o",
            path_str(&dir.join("no/such/x.md")),
            "--dir",
            d,
        ],
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("does not exist"), "{out}");
}

#[test]
fn exports_never_hold_a_key_value() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let secret = "sk-quorum-it-0123456789abcdef";
    let prompt = format!("Build a todo app; my key is {secret}");
    let out = run(env.quorum(["run", &prompt, "--dir", d, "--json", "--dry-run"]));
    let session = Session::from_output(out);
    session.assert_succeeded();
    let id = session.id();
    for format in ["md", "json"] {
        let out = run({
            let mut cmd = env.quorum(["sessions", "export", id, "--format", format, "--dir", d]);
            cmd.env("OPENAI_API_KEY", secret);
            cmd
        });
        assert_eq!(out.code, 0, "{out}");
        assert!(
            !out.stdout.contains(secret),
            "{format} export holds the key"
        );
        assert!(
            out.stdout.contains("[redacted $OPENAI_API_KEY]"),
            "{format}"
        );
    }
    // The dry run made no commit: the archive holds its accepted staged files.
    let out = env
        .quorum(["sessions", "export", id, "--format", "tar", "--dir", d])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no commit"));
    let names: BTreeSet<String> = tar_names(&out.stdout)
        .iter()
        .filter_map(|name| name.split_once('/').map(|(_, rest)| rest.to_string()))
        .collect();
    assert_eq!(names, session.staged());
}

/// The entry names of a .tar.gz, as the system tar lists them.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let dir = tempdir();
    let file = dir.path().join("a.tar.gz");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn push_undo_and_rm_a_session() {
    let env = Env::new();
    let dir = tempdir();
    let bare = tempdir();
    let d = path_str(dir.path());
    env.git(dir.path(), &["init", "-q", "-b", "main"]);
    env.git(bare.path(), &["init", "-q", "--bare"]);
    env.git(
        dir.path(),
        &["remote", "add", "origin", path_str(bare.path())],
    );
    let session = env.run_json(dir.path(), &[]);
    session.assert_succeeded();
    let id = session.id();
    let sha = field(&session, "commit_created", "sha")
        .as_str()
        .unwrap()
        .to_string();

    // push: to `[git] remote` (origin by default), verified in the bare repo.
    let out = quorum(&env, &["sessions", "push", id, "--dir", d]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("refs/heads/main") && out.stdout.contains("git2"),
        "{out}"
    );
    let log = env.git(bare.path(), &["log", "--format=%H", "main"]);
    assert_eq!(log.lines().next(), Some(sha.as_str()), "{log}");
    let out = quorum(
        &env,
        &["sessions", "push", id, "--remote", "nope", "--dir", d],
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("`nope`"), "{out}");

    // undo refuses to touch uncommitted work in a file it would revert.
    std::fs::write(dir.path().join("README.md"), "my edit\n").unwrap();
    let out = quorum(&env, &["undo", "--dir", d]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("README.md") && out.stderr.contains("uncommitted"),
        "{out}"
    );
    assert_eq!(env.git(dir.path(), &["rev-parse", "HEAD"]).trim(), sha);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
        "my edit\n"
    );
    env.git(dir.path(), &["checkout", "--", "README.md"]);

    // With unrelated work present, undo reverts with a new commit.
    std::fs::write(dir.path().join("notes.txt"), "mine\n").unwrap();
    let out = quorum(&env, &["undo", "--dir", d]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.starts_with(&format!("reverted session {id}")),
        "{out}"
    );
    assert_eq!(env.git(dir.path(), &["rev-parse", "HEAD~1"]).trim(), sha);
    let message = env.git(dir.path(), &["log", "-1", "--format=%B"]);
    assert!(
        message.contains(&format!("This reverts commit {sha}.")),
        "{message}"
    );
    assert!(
        message.contains(&format!("Quorum-Reverted-Session: {id}")),
        "{message}"
    );
    assert_eq!(env.git(dir.path(), &["ls-tree", "-r", "HEAD"]), "");
    assert_eq!(
        env.git(dir.path(), &["status", "--porcelain"]),
        "?? notes.txt\n"
    );
    for path in session.staged() {
        assert!(!dir.path().join(&path).exists(), "{path} is reverted");
    }
    let out = quorum(&env, &["undo", "--dir", d]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("nothing to undo"), "{out}");
    let out = quorum(&env, &["undo", id, "--dir", d]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("already undone"), "{out}");
    let show = quorum(&env, &["sessions", "show", id, "--dir", d]);
    assert!(show.stdout.contains("undone    by "), "{show}");

    // rm: the session leaves the db; its commits stay.
    let out = quorum(&env, &["sessions", "rm", id, "--dir", d]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.starts_with(&format!("removed session {id}")),
        "{out}"
    );
    assert!(!dir.path().join(".quorum/work").join(id).exists());
    let list = quorum(&env, &["sessions", "list", "--dir", d]);
    assert_eq!((list.code, list.stdout.as_str()), (0, ""), "{list}");
    let out = quorum(&env, &["sessions", "show", id, "--dir", d]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains(id), "{out}");
    assert!(env.git(dir.path(), &["log", "--format=%H"]).contains(&sha));
    let out = quorum(&env, &["sessions", "rm", "nope", "--dir", d]);
    assert_eq!(out.code, 2, "{out}");
}

#[test]
fn session_commands_in_a_dir_without_state_create_nothing() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let list = quorum(&env, &["sessions", "list", "--dir", d]);
    assert_eq!(list.code, 0, "{list}");
    assert!(list.stderr.contains("no sessions"), "{list}");
    for args in [
        vec!["sessions", "export", "abc", "--dir", d],
        vec!["sessions", "rm", "abc", "--dir", d],
        vec!["sessions", "push", "abc", "--dir", d],
        vec!["undo", "abc", "--dir", d],
    ] {
        let out = quorum(&env, &args);
        assert_eq!(out.code, 2, "{args:?}: {out}");
        assert!(out.stderr.contains("abc"), "{args:?}: {out}");
    }
    let out = quorum(&env, &["undo", "--dir", d]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("nothing to undo"), "{out}");
    assert!(
        tree(dir.path()).is_empty(),
        "nothing created: {:?}",
        tree(dir.path())
    );
}

#[test]
fn the_docs_name_every_command_and_option_and_their_workflow_parses() {
    use clap::CommandFactory as _;
    let doc = std::fs::read_to_string(crate::common::project_file("docs/commands.md")).unwrap();
    let mut cmd = quorum::cli::Cli::command();
    cmd.build();
    let mut missing = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let actions: Vec<&clap::Command> = sub
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        let mut named = vec![(format!("quorum {}", sub.get_name()), sub)];
        for action in actions {
            named.push((
                format!("quorum {} {}", sub.get_name(), action.get_name()),
                action,
            ));
        }
        for (name, command) in named {
            if !doc.contains(&name) {
                missing.push(name.clone());
            }
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long()
                    && !["help", "version"].contains(&long)
                    && !doc.contains(&format!("--{long}"))
                {
                    missing.push(format!("{name} --{long}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/commands.md does not name: {missing:?}"
    );

    // The lean workflow of docs/workflows.md is a valid workflow.
    let doc = std::fs::read_to_string(crate::common::project_file("docs/workflows.md")).unwrap();
    let start = doc
        .find("```toml\nname = \"lean\"")
        .expect("the lean example")
        + "```toml\n".len();
    let text = &doc[start..start + doc[start..].find("```").unwrap()];
    let roster: Vec<String> = quorum::config::DEFAULT_ROSTER
        .iter()
        .map(|s| s.to_string())
        .collect();
    let workflow = quorum::config::workflow::Workflow::parse(text, "docs/workflows.md", &roster)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(workflow.phases.len(), 4);
}

/// doctor with real provider kinds against the fake server: one answers (ok),
/// one refuses the key (unauthorised); the key is never printed.
#[test]
fn doctor_probes_real_providers_ok_and_unauthorised() {
    use crate::fake_llm::{FakeLlm, Fault, Format};
    let server = FakeLlm::start();
    server.reply_with("ok");
    server.fault(
        Some(Format::Anthropic),
        Fault::Status {
            status: 401,
            headers: vec![],
            message: "invalid x-api-key".into(),
        },
    );
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let config = format!(
        "[providers.local]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\n\
         [providers.claude]\nkind = \"anthropic\"\nbase_url = \"{url}\"\napi_key_env = \"QUORUM_IT_DOCTOR_KEY\"\n\
         [agents.pm]\nprovider = \"claude\"\nmodel = \"claude-x\"\n\
         [agents.backend]\nprovider = \"local\"\nmodel = \"m\"\n[agents.frontend]\nprovider = \"local\"\nmodel = \"m\"\n\
         [agents.qa]\nprovider = \"local\"\nmodel = \"m\"\n[agents.security]\nprovider = \"local\"\nmodel = \"m\"\n",
        url = server.url()
    );
    write(dir.path(), "quorum.toml", &config);
    let mut cmd = env.quorum(["doctor", "--dir", d]);
    cmd.env("QUORUM_IT_DOCTOR_KEY", "sk-doctor-secret-123456");
    let out = crate::common::run(cmd);
    assert_eq!(out.code, 1, "{out}");
    let line = |needle: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("local (openai)").trim_start().starts_with("ok"),
        "{out}"
    );
    let claude = line("claude (anthropic)");
    assert!(
        claude.trim_start().starts_with("FAIL")
            && claude.contains("unauthorised")
            && claude.contains("invalid x-api-key"),
        "{out}"
    );
    assert!(
        !out.stdout.contains("sk-doctor-secret") && !out.stderr.contains("sk-doctor-secret"),
        "{out}"
    );
    assert!(!dir.path().join(".quorum").exists());
}

/// Every file under `dir` (recursively, `.git` and `.quorum` included) with
/// its content, for before/after comparisons.
fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .filter_map(|rel| {
            let path = dir.join(&rel);
            let meta = std::fs::symlink_metadata(&path).ok()?;
            meta.is_file()
                .then(|| (rel, std::fs::read(&path).unwrap_or_default()))
        })
        .collect()
}

/// Issue 17, acceptance 5: `undo` and `sessions push` act on the repository of
/// `--dir`. In a copy of DIR (`cp -a`) both refuse, naming DIR and the copy,
/// and the original repository (HEAD, status, every file) and its remote are
/// untouched. A session's commit that is not in the repository of `--dir` is
/// refused the same way; where the session's DIR is gone (moved), `undo` in
/// the moved repository reverts there.
#[test]
fn undo_and_push_act_on_the_repository_of_dir_and_refuse_in_a_copy() {
    let env = Env::new();
    let parent = tempdir();
    let bare = tempdir();
    let dir = parent.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    env.git(&dir, &["init", "-q", "-b", "main"]);
    env.git(bare.path(), &["init", "-q", "--bare"]);
    env.git(&dir, &["remote", "add", "origin", path_str(bare.path())]);
    let session = env.run_json(&dir, &[]);
    session.assert_succeeded();
    let id = session.id();
    let sha = field(&session, "commit_created", "sha")
        .as_str()
        .unwrap()
        .to_string();

    let copy = parent.path().join("copy");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(&dir)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    let (d, c) = (dir.canonicalize().unwrap(), copy.canonicalize().unwrap());
    let head = env.git(&dir, &["rev-parse", "HEAD"]);
    let status = env.git(&dir, &["status", "--porcelain"]);
    let files = snapshot(&dir);
    let remote = snapshot(bare.path());
    let copied = snapshot(&copy);

    for args in [
        vec!["undo", "--dir", path_str(&copy)],
        vec!["undo", id, "--dir", path_str(&copy)],
        vec!["sessions", "push", id, "--dir", path_str(&copy)],
    ] {
        let out = quorum(&env, &args);
        assert_eq!(out.code, 1, "{args:?}: {out}");
        for named in [&d, &c] {
            assert!(
                out.stderr.contains(path_str(named)),
                "{args:?} names {}: {out}",
                named.display()
            );
        }
        assert!(out.stderr.contains(&sha[..7]), "{args:?}: {out}");
        assert!(out.stdout.is_empty(), "{args:?}: {out}");
    }
    assert_eq!(env.git(&dir, &["rev-parse", "HEAD"]), head);
    assert_eq!(env.git(&dir, &["status", "--porcelain"]), status);
    assert!(
        snapshot(&dir) == files,
        "the original DIR is byte-identical"
    );
    assert!(snapshot(bare.path()) == remote, "nothing was pushed");
    // Nor did anything change in the copy, but for quorum's own logs.
    let outside_state = |files: Vec<(String, Vec<u8>)>| {
        files
            .into_iter()
            .filter(|(p, _)| !p.starts_with(".quorum/"))
            .collect::<Vec<_>>()
    };
    assert!(outside_state(snapshot(&copy)) == outside_state(copied));

    // The session's DIR moved away: a repository without its commit is
    // refused, naming both paths; the moved repository is undone in place.
    let moved = parent.path().join("moved");
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::remove_dir_all(copy.join(".git")).unwrap();
    env.git(&copy, &["init", "-q", "-b", "main"]);
    let out = quorum(&env, &["undo", id, "--dir", path_str(&copy)]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("is not in the repository")
            && out.stderr.contains(path_str(&d))
            && out.stderr.contains(path_str(&c)),
        "{out}"
    );
    let out = quorum(&env, &["sessions", "push", id, "--dir", path_str(&copy)]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("is not in the repository"), "{out}");
    let out = quorum(&env, &["undo", id, "--dir", path_str(&moved)]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(env.git(&moved, &["rev-parse", "HEAD~1"]), head);
    assert_eq!(env.git(&moved, &["ls-tree", "-r", "HEAD"]), "");
}

/// Issue 17: a `DIR/.quorum` that is a symbolic link is refused with an error
/// naming it, by `run` and by the session commands, and nothing is written
/// through it (its target stays empty, DIR gets nothing else).
#[test]
fn a_linked_state_directory_is_refused_and_never_written_through() {
    let env = Env::new();
    let parent = tempdir();
    let dir = parent.path().join("project");
    let outside = parent.path().join("outside");
    std::fs::create_dir(&dir).unwrap();
    std::fs::create_dir(&outside).unwrap();
    let link = dir.join(".quorum");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let d = path_str(&dir);
    let named = path_str(&dir.canonicalize().unwrap().join(".quorum")).to_string();
    for args in [
        vec!["run", "--offline", PROMPT, "--dir", d, "--json"],
        vec!["sessions", "list", "--dir", d],
        vec!["undo", "--dir", d],
        vec!["resume", "abc", "--headless", "--dir", d],
    ] {
        let out = quorum(&env, &args);
        assert_eq!(out.code, 1, "{args:?}: {out}");
        assert!(
            out.stderr.contains(&named) && out.stderr.contains("symbolic link"),
            "{args:?}: {out}"
        );
        assert!(tree(&outside).is_empty(), "{args:?}: {:?}", tree(&outside));
        assert_eq!(
            tree(&dir).into_iter().collect::<Vec<_>>(),
            [".quorum"],
            "{args:?}"
        );
    }
    // A link to a directory that already holds a state is refused the same.
    std::fs::remove_file(&link).unwrap();
    let session = env.run_json(&dir, &[]);
    session.assert_succeeded();
    std::fs::rename(&link, outside.join("state")).unwrap();
    std::os::unix::fs::symlink(outside.join("state"), &link).unwrap();
    let before = tree(&outside);
    let out = quorum(&env, &["sessions", "list", "--dir", d]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains(&named), "{out}");
    assert_eq!(tree(&outside), before);
}

/// `quorum run --estimate`: a line (or a JSON object) with the range, exit 0,
/// and no session, no state directory, nothing written into DIR; the
/// offline team costs nothing.
#[test]
fn run_estimate_prints_the_range_and_starts_nothing() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let offline = quorum(&env, &["run", PROMPT, "--estimate", "--dir", d]);
    assert_eq!(offline.code, 0, "{offline}");
    assert!(offline.stdout.contains("costs nothing"), "{offline}");
    let mut config =
        "[providers.p]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n".to_string();
    for agent in ["pm", "backend", "frontend", "qa", "security"] {
        config.push_str(&format!(
            "[agents.{agent}]\nprovider = \"p\"\nmodel = \"gpt-4o\"\n"
        ));
    }
    write(dir.path(), "quorum.toml", &config);
    let line = quorum(&env, &["run", PROMPT, "--estimate", "--dir", d]);
    assert_eq!(line.code, 0, "{line}");
    assert!(line.stdout.starts_with("estimate: 12–30 calls, "), "{line}");
    assert!(line.stdout.contains(" output tokens, $"), "{line}");
    let json = quorum(&env, &["run", PROMPT, "--estimate", "--json", "--dir", d]);
    assert_eq!(json.code, 0, "{json}");
    let e: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(e["calls"]["low"], 12);
    assert_eq!(e["offline"], false);
    assert!(e["usd"]["high"].as_f64().unwrap() > e["usd"]["low"].as_f64().unwrap());
    assert_eq!(
        tree(dir.path()),
        BTreeSet::from(["quorum.toml".to_string()]),
        "nothing but the config"
    );
}
