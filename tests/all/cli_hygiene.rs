//! Issue 18, "CLI hygiene" and the errors of item 9 (acceptance 4, first
//! half, and 8): a mistyped subcommand is refused with the fix and creates
//! nothing; a closed output pipe and SIGHUP end a headless session as an
//! interruption (exit 3, resumable), never a panic; `ask --provider P
//! --model M` needs no roster; a config of only `[ui]`/`[keys]` keeps the
//! offline team; every config problem is named with its line, bytes that are
//! not UTF-8 included; `doctor` checks the theme.

use std::io::BufRead as _;
use std::path::Path;

use serde_json::Value;

use crate::common::{
    Env, Output, PROMPT, Streaming, TIMEOUT, path_str, run, tempdir, tree, wait, write,
};
use crate::fake_llm::{FakeLlm, Format, Listener, read_request, write_status};

/// The sessions of DIR (`sessions list --json`): exactly one, its id and status.
fn only_session(env: &Env, dir: &Path) -> (String, String) {
    let out = run(env.quorum(["sessions", "list", "--json", "--dir", path_str(dir)]));
    assert_eq!(out.code, 0, "sessions list: {out}");
    let list: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(list.len(), 1, "one session: {out}");
    (
        list[0]["id"].as_str().unwrap().to_string(),
        list[0]["status"].as_str().unwrap_or("").to_string(),
    )
}

/// Checks that DIR's one session is `interrupted`, then resumes it headless
/// on the offline team and checks that it finishes.
fn interrupted_then_resumed(env: &Env, dir: &Path) {
    let (id, status) = only_session(env, dir);
    assert_eq!(status, "interrupted", "session {id}");
    let plain = run(env.quorum(["sessions", "list", "--dir", path_str(dir)]));
    assert!(plain.stdout.contains("interrupted"), "{plain}");
    let resumed = run(env.quorum([
        "resume",
        "--headless",
        "--offline",
        "--json",
        "--dir",
        path_str(dir),
    ]));
    assert_eq!(resumed.code, 0, "resume finishes it: {resumed}");
    let last: Value = serde_json::from_str(resumed.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "session_finished", "{resumed}");
    assert_eq!(last["status"], "succeeded", "{resumed}");
    assert_eq!(only_session(env, dir).1, "succeeded");
}

/// Runs quorum with `args` and checks a refusal: exit `code`, every `names`
/// on stderr, DIR unchanged and no `.quorum/` in it.
fn refused(env: &Env, dir: &Path, args: &[&str], code: i32, names: &[&str]) -> Output {
    let before = tree(dir);
    let out = run(env.quorum(args));
    assert_eq!(out.code, code, "{out}");
    for name in names {
        assert!(
            out.stderr.contains(name),
            "stderr should name `{name}`: {out}"
        );
    }
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(!dir.join(".quorum").exists(), "no .quorum/ left behind");
    assert_eq!(tree(dir), before, "nothing created in DIR");
    out
}

#[test]
fn a_mistyped_subcommand_exits_2_with_the_fix_and_creates_nothing() {
    let env = Env::new();
    let dir = tempdir();
    // As typed, in the current directory.
    let before = tree(dir.path());
    let mut cmd = env.quorum(["sesions", "list"]);
    cmd.current_dir(dir.path());
    let out = run(cmd);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("did you mean `sessions`?"), "{out}");
    assert!(
        out.stderr
            .contains("To use it as a prompt: quorum -- 'sesions list'"),
        "{out}"
    );
    assert_eq!(out.stdout, "", "{out}");
    assert!(!dir.path().join(".quorum").exists());
    assert_eq!(tree(dir.path()), before, "no file (no log) in DIR");
    // With global options around it, and another command's typo.
    let d = path_str(dir.path());
    refused(
        &env,
        dir.path(),
        &["--offline", "sesions", "list", "--dir", d],
        2,
        &["did you mean `sessions`?"],
    );
    refused(
        &env,
        dir.path(),
        &["doctr", "--dir", d],
        2,
        &["did you mean `doctor`?", "quorum -- 'doctr'"],
    );
}

/// `quorum run x 2>&1 | head -1`, made deterministic: stdout and stderr share
/// one pipe, the first model call waits until the test has read the first
/// line and closed the pipe; the next progress line then finds no reader.
#[test]
fn a_closed_output_pipe_interrupts_the_session_without_a_panic_and_resume_finishes_it() {
    let env = Env::new();
    let root = tempdir();
    let d = root.path().join("p");
    std::fs::create_dir(&d).unwrap();
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate);
    let server = Listener::start(move |mut stream| {
        if read_request(&mut stream).is_none() {
            return;
        }
        // Bounded: the test opens the gate (or drops it) well before.
        let _ = gate.lock().unwrap().recv_timeout(TIMEOUT);
        write_status(&mut stream, Format::OpenAi, 503, &[], "busy");
    });
    let agents: String = ["pm", "backend", "frontend", "qa", "security"]
        .iter()
        .map(|a| format!("[agents.{a}]\nmodel = \"m\"\n"))
        .collect();
    write(
        &d,
        "quorum.toml",
        &format!(
            "[providers.fake]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nbackoff_ms = 10000\n{agents}",
            server.url()
        ),
    );
    let (reader, writer) = std::io::pipe().unwrap();
    let mut cmd = env.quorum(["run", PROMPT, "--dir", path_str(&d)]);
    cmd.stdout(writer.try_clone().unwrap()).stderr(writer);
    let child = cmd.spawn().unwrap();
    // The parent's copies of the write end go, as in a shell pipeline.
    drop(cmd);
    let mut reader = std::io::BufReader::new(reader);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("quorum: session "), "{first:?}");
    // `head -1` exits: the pipe has no reader any more.
    drop(reader);
    go.send(()).unwrap();
    drop(go);
    let out = wait(child, TIMEOUT);
    assert_eq!(out.code, 3, "an interruption, not a panic (101)");
    drop(server);
    interrupted_then_resumed(&env, &d);
}

/// The literal pipeline through `sh -c`: quorum's own exit code is kept in a
/// file, the rest of the session after `head` is gone is not read by anyone.
#[test]
fn quorum_run_into_head_ends_without_a_panic() {
    let env = Env::new();
    let root = tempdir();
    let d = root.path().join("p");
    let code_file = root.path().join("code");
    let mut cmd = env.command("sh");
    cmd.arg("-c")
        .arg(r#"{ "$0" run "$1" --offline --dir "$2"; echo $? > "$3"; } 2>&1 | head -1"#)
        .arg(crate::common::bin())
        .arg(PROMPT)
        .arg(&d)
        .arg(&code_file);
    let out = run(cmd);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    assert!(out.stdout.starts_with("quorum: session "), "{out}");
    let code: i32 = std::fs::read_to_string(&code_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(code, 101, "no panic");
    // An offline session lasts seconds, `head` leaves at once: the session
    // is interrupted; should it ever have finished first, it succeeded.
    match code {
        3 => interrupted_then_resumed(&env, &d),
        0 => assert_eq!(only_session(&env, &d).1, "succeeded"),
        other => panic!("quorum exited {other}"),
    }
}

#[test]
fn sighup_interrupts_a_headless_session_with_exit_3_and_resume_finishes_it() {
    let env = Env::new();
    let root = tempdir();
    let d = root.path().join("p");
    let mut session =
        Streaming::start(env.quorum(["run", PROMPT, "--offline", "--json", "--dir", path_str(&d)]));
    session.wait_for(TIMEOUT, "phase_started", |v| v["type"] == "phase_started");
    let pid = libc::pid_t::try_from(session.pid()).unwrap();
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let out = session.finish(TIMEOUT);
    assert_eq!(
        out.code, 3,
        "SIGHUP is an interruption, not death by 129: {out}"
    );
    assert!(!out.stderr.contains("panicked"), "{out}");
    let last: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "session_finished", "{out}");
    assert_eq!(last["status"], "interrupted", "{out}");
    interrupted_then_resumed(&env, &d);
}

#[test]
fn ask_with_a_provider_and_model_needs_no_roster() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let server = FakeLlm::start();
    server.reply_with("pong");
    write(
        dir.path(),
        "quorum.toml",
        &format!(
            "[providers.fake]\nkind = \"openai\"\nbase_url = \"{}/v1\"\n[providers.sim]\nkind = \"offline\"\n",
            server.url()
        ),
    );
    let out = run(env.quorum([
        "ask",
        "--provider",
        "fake",
        "--model",
        "m",
        "ping",
        "--dir",
        d,
    ]));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout.trim(), "pong", "{out}");
    assert_eq!(server.received().len(), 1);
    assert!(!dir.path().join(".quorum").exists());
    // Without them, the roster is needed: the message says how to name it,
    // or to ask the provider directly.
    refused(
        &env,
        dir.path(),
        &["ask", "ping", "--dir", d],
        2,
        &["agents.pm.provider is not set", "--provider P --model M"],
    );
}

#[test]
fn a_config_of_only_ui_and_keys_keeps_the_offline_team() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    write(
        dir.path(),
        "quorum.toml",
        "[ui]\nmouse = true\n[keys]\n\"files.commit\" = \"ctrl-s\"\n",
    );
    let out = run(env.quorum(["ask", "ping", "--dir", d]));
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("offline"), "{out}");
    let doctor = run(env.quorum(["doctor", "--json", "--dir", d]));
    let report: Value = serde_json::from_str(&doctor.stdout).unwrap();
    let config = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config")
        .unwrap();
    assert_eq!(config["status"], "ok", "{doctor}");
}

#[test]
fn two_config_errors_are_both_reported_with_their_lines_by_run_and_doctor() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    write(
        dir.path(),
        "quorum.toml",
        "[providers.x]\nkind = \"offline\"\nkindd = 1\n[session]\nmax_files = 0\n",
    );
    let names = [
        "quorum.toml",
        "2 problems",
        "line 3: providers.x.kindd: unknown field `kindd`, expected one of `kind`",
        "line 5: session.max_files must be at least 1",
    ];
    refused(&env, dir.path(), &["run", PROMPT, "--dir", d], 2, &names);
    let doctor = run(env.quorum(["doctor", "--dir", d]));
    assert_eq!(doctor.code, 1, "{doctor}");
    for name in names {
        assert!(
            doctor.stdout.contains(name),
            "doctor names `{name}`: {doctor}"
        );
    }
}

#[test]
fn bytes_that_are_not_utf8_in_the_config_are_named_with_their_line() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    std::fs::write(
        dir.path().join("quorum.toml"),
        b"[ui]\nmouse = true # caf\xe9\n".as_slice(),
    )
    .unwrap();
    refused(
        &env,
        dir.path(),
        &["run", PROMPT, "--dir", d],
        2,
        &[
            "quorum.toml",
            "line 2, column 19: byte 0xe9 is not UTF-8",
            "save the file as UTF-8",
        ],
    );
}

#[test]
fn doctor_flags_an_unknown_theme_and_names_the_known_ones() {
    let env = Env::new();
    let dir = tempdir();
    let d = path_str(dir.path());
    let theme = |args: &[&str]| -> Value {
        let mut all = vec!["doctor", "--json", "--dir", d];
        all.extend_from_slice(args);
        let out = run(env.quorum(all));
        let report: Value = serde_json::from_str(&out.stdout).unwrap();
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "theme")
            .unwrap_or_else(|| panic!("a theme check: {out}"))
            .clone();
        if check["status"] == "fail" {
            assert_eq!(out.code, 1, "a failed theme check fails doctor: {out}");
            assert_eq!(report["ok"], false);
        }
        check
    };
    write(dir.path(), "quorum.toml", "[ui]\ntheme = \"solarized\"\n");
    let check = theme(&[]);
    assert_eq!(check["status"], "fail", "{check}");
    assert_eq!(check["required"], true, "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.contains("unknown theme `solarized`"), "{detail}");
    assert!(
        detail.contains("default, light, high-contrast, mono"),
        "{detail}"
    );
    assert!(detail.contains("ui.theme in"), "{detail}");
    // `--theme` is the one the TUI would use.
    assert_eq!(theme(&["--theme", "light"])["status"], "ok");
    let check = theme(&["--theme", "nope"]);
    assert_eq!(check["status"], "fail");
    assert!(
        check["detail"].as_str().unwrap().contains("--theme"),
        "{check}"
    );
    write(dir.path(), "quorum.toml", "[ui]\ntheme = \"mono\"\n");
    assert_eq!(theme(&[])["status"], "ok");
}
