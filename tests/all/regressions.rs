//! Regression tests for bugs found in `src/` while the integration suite was
//! written, one test each, asserting what docs/design.md promises.

use std::time::Duration;

use crate::common::{
    Env, PROMPT, Session, offline_config_with_script, path_str, read_fixture, spawn, tempdir, wait,
    write,
};

/// A failed implementation task whose dependents can never start must end the
/// session; headless it fails (exit 1) instead of waiting forever.
///
/// The bug was: the dependents, still `queued` behind the failed task, counted
/// as active, so the `tasks` phase never stalled and the headless run hung
/// until a signal.
#[test]
fn a_failed_task_with_dependents_ends_the_session_instead_of_hanging() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    write(d, "quorum.toml", &offline_config_with_script("script.toml"));
    write(
        d,
        "script.toml",
        &read_fixture("scripts/failed_dependency.toml"),
    );
    // A session takes ~2 s; 20 s is ample, and bounds the hang.
    let out = wait(
        spawn(env.quorum(["run", PROMPT, "--dir", path_str(d), "--json"])),
        Duration::from_secs(20),
    );
    let run = Session::from_output(out);
    assert!(
        run.of("task_failed")
            .iter()
            .any(|e| e["task"] == "implement.core"),
        "{}",
        run.out
    );
    assert_eq!(run.status(), "failed");
    assert_eq!(run.out.code, 1, "{}", run.out);
}

/// docs/design.md §5: "Author and committer come from the repo or user git config".
/// git reads the user config from `GIT_CONFIG_GLOBAL` when it is set; libgit2's
/// own lookup ignores that variable and reads `$HOME/.gitconfig`, so quorum and
/// git disagreed on who the user is (`workspace::git::identity` now follows git).
#[test]
fn the_commit_identity_follows_git_config_global_like_git() {
    let env = Env::new();
    let dir = tempdir();
    let global = tempdir();
    let config = global.path().join("gitconfig");
    std::fs::write(
        &config,
        "[user]\n\tname = Grace\n\temail = grace@example.com\n",
    )
    .unwrap();

    let mut git = env.command("git");
    git.env("GIT_CONFIG_GLOBAL", &config)
        .args(["var", "GIT_AUTHOR_IDENT"]);
    let ident = crate::common::run(git);
    assert!(
        ident.stdout.starts_with("Grace <grace@example.com>"),
        "git takes the identity from GIT_CONFIG_GLOBAL: {ident}"
    );

    let mut quorum = env.quorum(["run", PROMPT, "--dir", path_str(dir.path()), "--json"]);
    quorum.env("GIT_CONFIG_GLOBAL", &config);
    let run = Session::from_output(crate::common::run(quorum));
    run.assert_succeeded();
    assert_eq!(
        env.git(dir.path(), &["log", "-1", "--format=%an <%ae>"])
            .trim(),
        "Grace <grace@example.com>"
    );
}
