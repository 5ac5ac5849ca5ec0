//! The headless runner's progress for people (issue 8): plain lines when stderr
//! is a file or a pipe (acceptance 5: `quorum run … >out 2>err` leaves no
//! terminal control sequence in either file), and a live status line (phase,
//! running tasks, spinner) under the same lines when stderr is a terminal,
//! erased at the end. The terminal case runs under tmux on a private socket.

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::common::{
    Env, PHASES, PROMPT, bin, offline_config_with_script, path_str, poll, read_fixture, tempdir,
    wait, write,
};

#[test]
fn redirected_output_holds_no_control_sequences() {
    let env = Env::new();
    let dir = tempdir();
    let files = tempdir();
    let (out_path, err_path) = (files.path().join("out"), files.path().join("err"));
    let mut cmd = env.quorum(["run", PROMPT, "--dir", path_str(dir.path())]);
    // A terminal type that supports everything, so only the redirection decides.
    cmd.env("TERM", "xterm-256color")
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()));
    let output = wait(cmd.spawn().unwrap(), crate::common::TIMEOUT);
    assert_eq!(output.code, 0, "{output}");
    let out = std::fs::read(&out_path).unwrap();
    let err = std::fs::read(&err_path).unwrap();
    for (name, bytes) in [("stdout", &out), ("stderr", &err)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !bytes.contains(&0x1b) && !bytes.contains(&b'\r'),
            "{name} holds a control sequence:\n{text:?}"
        );
    }
    let err = String::from_utf8(err).unwrap();
    for phase in PHASES {
        assert!(
            err.contains(&format!("▸ {phase}\n")),
            "no {phase} line:\n{err}"
        );
    }
    assert!(err.ends_with("session succeeded\n"), "{err}");
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with("committed ") && out.ends_with("file(s)\n"),
        "{out}"
    );
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A tmux server on a private socket with one session; killed on drop.
struct Pane {
    socket: String,
    env: Env,
}

impl Pane {
    fn tmux(&self) -> std::process::Command {
        let mut cmd = self.env.command("tmux");
        cmd.env("TERM", "xterm-256color")
            .args(["-L", &self.socket, "-f", "/dev/null"]);
        cmd
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            poll(Duration::from_secs(90), what, || {
                last = self.screen();
                want(&last).then(|| last.clone())
            })
        }));
        found.unwrap_or_else(|_| panic!("timed out waiting for {what}; the screen was:\n{last}"))
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

#[test]
fn a_terminal_gets_a_live_status_line_that_is_erased_at_the_end() {
    let env = Env::new();
    let dir = tempdir();
    // The refine reply streams slowly, so the status line is on screen a while.
    write(
        dir.path(),
        "quorum.toml",
        &offline_config_with_script("slow.toml"),
    );
    write(
        dir.path(),
        "slow.toml",
        &read_fixture("scripts/slow_refine.toml"),
    );
    let socket = format!(
        "quorum-progress-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let pane = Pane { socket, env };
    let command = format!(
        "{} run '{PROMPT}' --dir {}; echo EXIT=$?; sleep 120",
        bin(),
        path_str(dir.path())
    );
    let out = pane
        .tmux()
        .args(["new-session", "-d", "-s", "p", "-x", "100", "-y", "40"])
        .arg(&command)
        .output()
        .expect("tmux runs (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let during = pane.wait_for("the status line", |s| {
        s.contains("phase 1/9 refine") && s.contains("running: pm refine")
    });
    let status = during
        .lines()
        .find(|l| l.contains("phase 1/9 refine"))
        .unwrap();
    assert!(
        ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
            .iter()
            .any(|c| status.starts_with(*c)),
        "a spinner leads the status line: {status:?}"
    );
    assert!(status.chars().count() < 100, "fits the width: {status:?}");

    let end = pane.wait_for("EXIT=", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
    assert!(end.contains("session succeeded"), "{end}");
    assert!(end.contains("committed "), "{end}");
    assert!(
        !end.contains(" done · "),
        "the status line is erased at the end:\n{end}"
    );
    // Each permanent line appears once: the status line never overwrote one.
    assert_eq!(end.matches("▸ refine").count(), 1, "{end}");
    assert_eq!(end.matches("session succeeded").count(), 1, "{end}");
}
