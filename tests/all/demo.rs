//! The offline (simulated) team says what it is (issue 18, acceptance 3):
//! before it starts, in the generated README and the commit message; and a
//! prompt for what its demo is not ends the session `demo` (exit 1) unless
//! the person asked for the demo with `--offline`.

use crate::common::{Env, Session, path_str, run, tempdir};

const PROMPT: &str = "Rust CLI that counts words in files";

fn session(env: &Env, extra: &[&str]) -> (tempfile::TempDir, Session) {
    let dir = tempdir();
    let mut args = vec!["run", PROMPT, "--dir", path_str(dir.path()), "--json"];
    args.extend_from_slice(extra);
    let session = Session::from_output(run(env.quorum(args)));
    (dir, session)
}

fn commit_message(env: &Env, dir: &std::path::Path) -> String {
    env.git(dir, &["log", "-1", "--format=%B"])
}

#[test]
fn without_a_provider_a_prompt_the_demo_does_not_build_ends_demo() {
    let env = Env::new();
    let (dir, s) = session(&env, &[]);
    assert_eq!(s.status(), "demo", "{}", s.out);
    assert_eq!(s.out.code, 1, "{}", s.out);
    assert!(
        s.out.stderr.contains("offline (simulated) team"),
        "{}",
        s.out
    );
    assert!(s.out.stderr.contains("quorum init"), "{}", s.out);
    assert!(s.out.stderr.contains("it asks for Rust"), "{}", s.out);
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(readme.contains("offline (simulated) team"), "{readme}");
    assert!(readme.contains("whatever the prompt"), "{readme}");
    let message = commit_message(&env, dir.path());
    assert!(message.contains("offline (simulated) team"), "{message}");
    assert!(
        message.contains("The request was not built (it asks for Rust)"),
        "{message}"
    );

    // Plain output says it too.
    let dir = tempdir();
    let out = run(env.quorum(["run", PROMPT, "--dir", path_str(dir.path())]));
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("session demo"), "{out}");
    assert!(
        out.stderr.contains("not what the prompt asked for"),
        "{out}"
    );
}

#[test]
fn with_offline_the_demo_is_what_was_asked_for() {
    let env = Env::new();
    let (dir, s) = session(&env, &["--offline"]);
    assert_eq!(s.status(), "succeeded", "{}", s.out);
    assert_eq!(s.out.code, 0, "{}", s.out);
    // The person asked for the demo: no notice, but the commit still says
    // what it built.
    assert!(!s.out.stderr.contains("it asks for Rust"), "{}", s.out);
    let message = commit_message(&env, dir.path());
    assert!(message.contains("offline (simulated) team"), "{message}");
    assert!(!message.contains("not built"), "{message}");
}

#[test]
fn a_prompt_the_demo_builds_succeeds_and_still_says_it_is_the_demo() {
    let env = Env::new();
    let dir = tempdir();
    let s = Session::from_output(run(env.quorum([
        "run",
        "Build a URL shortener REST API with tests",
        "--dir",
        path_str(dir.path()),
        "--json",
    ])));
    assert_eq!(s.status(), "succeeded", "{}", s.out);
    assert!(
        s.out.stderr.contains("offline (simulated) team"),
        "{}",
        s.out
    );
    assert!(!s.out.stderr.contains("it asks for"), "{}", s.out);
}
