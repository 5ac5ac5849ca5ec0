//! Acceptance 5: bad input exits 2 with a message on stderr that names the
//! problem, and leaves DIR exactly as it was (no `.quorum/`, no file created).

use std::path::Path;

use crate::common::{Env, PROMPT, path_str, read_fixture, run, tempdir, tree, write};

/// Runs quorum with `args` on `dir` and checks the refusal: exit 2, every
/// `names` on stderr, nothing on stdout, DIR unchanged.
fn refused(env: &Env, dir: &Path, args: &[&str], names: &[&str]) -> String {
    let before = tree(dir);
    let out = run(env.quorum(args));
    assert_eq!(out.code, 2, "{out}");
    for name in names {
        assert!(
            out.stderr.contains(name),
            "stderr should name `{name}`: {out}"
        );
    }
    assert_eq!(out.stdout, "", "nothing on stdout: {out}");
    assert!(!dir.join(".quorum").exists(), "no .quorum/ left behind");
    assert_eq!(tree(dir), before, "no file created in DIR");
    out.stderr
}

#[test]
fn an_unknown_flag_exits_2_naming_it() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    refused(
        &env,
        dir.path(),
        &["run", PROMPT, "--dir", d, "--json", "--frobnicate"],
        &["--frobnicate"],
    );
    // An unknown `--json=` value is refused the same way.
    refused(
        &env,
        dir.path(),
        &["run", PROMPT, "--dir", d, "--json=everything"],
        &["everything"],
    );
}

#[test]
fn a_malformed_config_exits_2_naming_the_file_and_line_and_logs_outside_dir() {
    let env = Env::new();
    let dir = tempdir();
    write(
        dir.path(),
        "quorum.toml",
        &read_fixture("config/malformed.toml"),
    );
    let d = path_str(dir.path());
    refused(
        &env,
        dir.path(),
        &["run", PROMPT, "--dir", d, "--json"],
        &["quorum.toml", "line 3"],
    );
    // The early error is logged in the XDG state directory, not in DIR.
    let logs = tree(&env.state_home().join("quorum"));
    let logged = logs.iter().any(|name| {
        std::fs::read_to_string(env.state_home().join("quorum").join(name))
            .is_ok_and(|log| log.contains("line 3"))
    });
    assert!(logged, "no early-error log in XDG_STATE_HOME: {logs:?}");
}

#[test]
fn an_unset_key_variable_exits_2_naming_the_variable() {
    let env = Env::new();
    let dir = tempdir();
    write(
        dir.path(),
        "quorum.toml",
        &read_fixture("config/missing_key.toml"),
    );
    let d = path_str(dir.path());
    refused(
        &env,
        dir.path(),
        &["run", PROMPT, "--dir", d, "--json"],
        &["QUORUM_IT_UNSET_KEY"],
    );
}

#[test]
fn a_broken_offline_script_exits_2_naming_the_script_and_entry() {
    let env = Env::new();
    let dir = tempdir();
    write(
        dir.path(),
        "quorum.toml",
        &crate::common::offline_config_with_script("bad.toml"),
    );
    write(
        dir.path(),
        "bad.toml",
        &read_fixture("config/bad_script.toml"),
    );
    let d = path_str(dir.path());
    refused(
        &env,
        dir.path(),
        &["run", PROMPT, "--dir", d, "--json"],
        &["bad.toml", "reply #1", "`vote`"],
    );
}

#[test]
fn a_malformed_answers_file_exits_2_naming_it() {
    let env = Env::new();
    let dir = tempdir();
    let answers = crate::common::fixture("config/bad_answers.toml");
    let d = path_str(dir.path());
    refused(
        &env,
        dir.path(),
        &[
            "run",
            PROMPT,
            "--dir",
            d,
            "--json",
            "--answers",
            path_str(&answers),
        ],
        &["bad_answers.toml"],
    );
}

#[test]
fn a_dir_that_is_a_file_or_has_no_parent_exits_2() {
    let env = Env::new();
    let dir = tempdir();
    write(dir.path(), "notes.txt", "mine\n");
    let file = dir.path().join("notes.txt");
    refused(
        &env,
        dir.path(),
        &["run", PROMPT, "--dir", path_str(&file), "--json"],
        &["notes.txt", "not a directory"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine\n");
    let orphan = dir.path().join("no/such/dir");
    refused(
        &env,
        dir.path(),
        &["run", PROMPT, "--dir", path_str(&orphan), "--json"],
        &["no/such/dir"],
    );
}

#[test]
fn an_empty_or_blank_prompt_exits_2() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    for prompt in ["", "   ", " \t\n "] {
        refused(
            &env,
            dir.path(),
            &["run", prompt, "--dir", d, "--json"],
            &["prompt is empty"],
        );
    }
}
