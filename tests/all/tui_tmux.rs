//! End to end in a real terminal: the TUI under tmux at fixed sizes, driven with
//! `send-keys`, read with `capture-pane` (polled until the expected text shows,
//! never fixed sleeps). Each test runs its own tmux server on a private socket,
//! killed when the test ends, pass or fail.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::common::{Env, bin, path_str, poll};

/// What the shell runs after quorum: its exit code, then whether the terminal
/// is in canonical mode (`icanon`) or still raw (`-icanon`), then a pause so the
/// pane stays readable.
pub const AFTER: &str = "echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 120";

/// Longest wait for one screen state.
/// (An upper bound only: on a loaded 2-core machine one session step that runs
/// the generated tests can take far longer than usual.)
pub const WAIT: Duration = Duration::from_secs(180);

/// A tmux server of our own, with one session; killed on drop.
pub struct Tmux {
    socket: String,
    env: Env,
    /// DIR, whose server (started by the TUI) is stopped on drop.
    dir: std::path::PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Tmux {
    /// Starts `command` in a detached session of `w`x`h` in `dir`.
    pub fn start(env: Env, dir: &Path, w: u16, h: u16, command: &str) -> Tmux {
        let socket = format!(
            "quorum-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let tmux = Tmux {
            socket,
            env,
            dir: dir.to_path_buf(),
        };
        let out = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "q",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .args(["-c", path_str(dir), command])
            .output()
            .expect("tmux runs (install it: .ci/run does)");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    pub fn cmd(&self) -> Command {
        let mut cmd = self.env.command("tmux");
        cmd.env("TERM", "xterm-256color")
            .args(["-L", &self.socket, "-f", "/dev/null"]);
        cmd
    }

    /// The visible screen, with its SGR escape sequences (colours, bold…).
    pub fn screen_escaped(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-e", "-t", "q"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "q"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen contains `text`; returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            poll(WAIT, text, || {
                last = self.screen();
                last.contains(text).then(|| last.clone())
            })
        }));
        match found {
            Ok(screen) => screen,
            Err(_) => panic!("timed out waiting for {text:?}; the screen was:\n{last}"),
        }
    }

    /// Waits until the screen no longer contains `text` (an overlay closed);
    /// returns the screen.
    pub fn wait_gone(&self, text: &str) -> String {
        poll(WAIT, text, || {
            let screen = self.screen();
            (!screen.contains(text)).then_some(screen)
        })
    }

    /// Sends keys by name (`Enter`, `Right`, `C-c`) or literal text with `literal`.
    pub fn keys(&self, keys: &str, literal: bool) {
        let mut cmd = self.cmd();
        cmd.args(["send-keys", "-t", "q"]);
        if literal {
            cmd.arg("-l");
        }
        let out = cmd.arg(keys).output().expect("tmux send-keys");
        assert!(out.status.success());
    }

    /// Waits for `exit` (the shell's `EXIT=N` line) and checks the terminal is
    /// back to normal: the alternate screen left, canonical mode (raw mode off).
    pub fn assert_restored(&self, exit: &str) -> String {
        let screen = self.wait_for(exit);
        assert!(
            !screen.contains("╭ Prompt"),
            "the alternate screen was left:\n{screen}"
        );
        let screen = self.wait_for("icanon");
        assert!(
            screen.lines().any(|l| l.trim() == "icanon"),
            "the terminal is back in canonical mode (raw mode off):\n{screen}"
        );
        screen
    }

    /// Kills the terminal (the tmux server): quorum gets its hangup. The
    /// server it started stays (stopped on drop).
    pub fn kill_terminal(&self) {
        let out = self
            .cmd()
            .arg("kill-server")
            .output()
            .expect("tmux kill-server");
        assert!(out.status.success());
    }

    pub fn resize(&self, w: u16, h: u16) {
        let out = self
            .cmd()
            .args([
                "resize-window",
                "-t",
                "q",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .output()
            .expect("tmux resize-window");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
        // The TUI detached at the hangup: its server (and session) would
        // wait for a person; stop it.
        let _ = self
            .env
            .quorum(["serve", "--stop", "--quiet", "--dir"])
            .arg(&self.dir)
            .output();
    }
}

/// The whole interactive session of acceptance 3 at one size: all panes show,
/// the run waits at resolve, the tie is settled and the majority accepted with
/// the keyboard, a file is previewed, `C` commits, `q` leaves a clean shell.
fn interactive_session(w: u16, h: u16) {
    let env = Env::new();
    let dir = crate::common::tempdir();
    let command = format!("{} 'Build a CLI todo app'; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), w, h, &command);

    let screen = t.wait_for("waiting for the person to confirm");
    for pane in [
        "Prompt",
        "Agents",
        "Transcript",
        "offline (simulated)",
        "resolve",
    ] {
        assert!(screen.contains(pane), "{pane} missing:\n{screen}");
    }
    for agent in ["pm", "backend", "frontend", "qa", "security"] {
        assert!(screen.contains(agent), "agent {agent} missing:\n{screen}");
    }
    assert!(t.screen().contains("2 conflicts open") || t.screen().contains("press c"));

    t.keys("c", true);
    let screen = t.wait_for("Tie: choose");
    assert!(
        screen.contains("Storage engine") && screen.contains("API style"),
        "{screen}"
    );
    assert!(screen.contains("tie 2–2"), "{screen}");
    // The tie: move to the second option and decide.
    t.keys("Right", false);
    t.keys("Enter", false);
    t.wait_for("sqlite (you)");
    // The majority: accept the vote results.
    t.keys("a", true);
    t.wait_for("rest (vote)");
    t.wait_for("ready to deliver");

    t.keys("f", true);
    t.wait_for("Commit");
    // The last file is todo/store.py; preview it.
    t.keys("G", true);
    t.keys("Enter", false);
    let screen = t.wait_for("import sqlite3");
    assert!(screen.contains("store.py"), "{screen}");

    t.keys("C", true);
    let screen = t.wait_for("committed ");
    assert!(
        screen.contains("session succeeded") || screen.contains("committed"),
        "{screen}"
    );

    t.keys("q", true);
    t.assert_restored("EXIT=0");

    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let log = git(&["log", "--format=%B%x00"]);
    assert_eq!(log.matches('\0').count(), 1, "one commit:\n{log}");
    assert!(log.contains("Quorum-Session: "), "{log}");
    assert!(log.contains("Quorum-Provider: offline"), "{log}");
    assert!(
        log.contains("Storage engine: sqlite (decided by the person)"),
        "{log}"
    );
    assert!(log.contains("API style: rest (vote 3–1)"), "{log}");
    assert_eq!(git(&["status", "--porcelain"]), "");
}

#[test]
fn the_tui_runs_a_whole_session_at_80x24() {
    interactive_session(80, 24);
}

#[test]
fn a_tiny_terminal_gets_a_message_and_recovers_and_ctrl_c_twice_quits() {
    let env = Env::new();
    let dir = crate::common::tempdir();
    let command = format!("{}; echo EXIT=$?; sleep 120", bin());
    let t = Tmux::start(env, dir.path(), 80, 24, &command);
    t.wait_for("ready");
    t.resize(30, 10);
    let screen = t.wait_for("40x12)");
    assert!(screen.contains("terminal too small"), "{screen}");
    t.resize(80, 24);
    t.wait_for("What should the team build?");
    // A pasted multi-line prompt is not submitted at its first newline.
    let mut paste = t.cmd();
    paste.args(["set-buffer", "-b", "p", "Build a tiny\nnotes app"]);
    assert!(paste.output().unwrap().status.success());
    let mut put = t.cmd();
    put.args(["paste-buffer", "-p", "-b", "p", "-t", "q"]);
    assert!(put.output().unwrap().status.success());
    let screen = t.wait_for("notes app");
    assert!(screen.contains("Build a tiny"), "{screen}");
    assert!(
        !screen.contains("session "),
        "the paste started nothing:\n{screen}"
    );
    t.keys("C-c", false);
    t.wait_for("EXIT=0");
    // Nothing ran: no session was started, so no commit and no repo.
    assert!(!dir.path().join(".git").exists());
}

#[test]
fn a_panic_restores_the_terminal() {
    let env = Env::new();
    let dir = crate::common::tempdir();
    // The test binary is a debug build, where QUORUM_DEBUG_PANIC panics after
    // the first frame.
    let command = format!("QUORUM_DEBUG_PANIC=1 {}; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), 80, 24, &command);
    let screen = t.assert_restored("EXIT=101");
    assert!(
        screen.contains("deliberate panic"),
        "the panic message is readable:\n{screen}"
    );
}

/// The status bar's rows: the screen's rows below the last pane's bottom
/// border (the bar grows when a message or the hints need more than a row).
fn status_rows(screen: &str) -> String {
    let rows: Vec<&str> = screen.lines().collect();
    let last = rows
        .iter()
        .rposition(|r| r.trim_start().starts_with('╰'))
        .unwrap_or(0);
    rows[last + 1..].join("\n")
}

/// Issue 18, acceptance 7 at one size: `?` at start opens the help (the
/// prompt takes no keys yet); `C commit` is offered only in the files view,
/// where `C` commits; rejecting a file changes the commit message's prefill.
fn hints_help_and_prefill(w: u16, h: u16) {
    let env = Env::new();
    let dir = crate::common::tempdir();
    let command = format!("{}; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), w, h, &command);
    t.wait_for("write the prompt");
    t.keys("?", true);
    // (The overlay's title may be on screen before the rest of its frame:
    // wait for a row of its body.)
    let screen = t.wait_for("outside an editor");
    assert!(screen.contains("keys —"), "{screen}");
    // (Each Escape is waited out: tmux reads Escape and a key right after
    // it as Alt and that key.)
    t.keys("Escape", false);
    t.wait_gone("keys —");
    // Typing starts the prompt.
    t.keys("Build a CLI todo app", true);
    t.keys("Enter", false);
    let screen = t.wait_for("waiting for the person to confirm");
    assert!(!screen.contains("C commit"), "{w}x{h}:\n{screen}");
    t.keys("c", true);
    let screen = t.wait_for("Tie: choose");
    assert!(!screen.contains("C commit"), "{w}x{h}:\n{screen}");
    t.keys("Right", false);
    t.keys("Enter", false);
    t.wait_for("sqlite (you)");
    t.keys("a", true);
    t.wait_for("rest (vote)");
    t.wait_for("ready to deliver");
    // On the conflicts screen and the main screen, C commits nothing: the
    // way to the files is named instead.
    let screen = t.wait_for("f reviews the files and commits them");
    assert!(!screen.contains("C commit"), "{w}x{h}:\n{screen}");
    t.keys("C", true);
    t.keys("Escape", false);
    t.wait_gone("╭ Conflicts");
    let screen = t.wait_for("f reviews the files and commits them");
    assert!(!screen.contains("C commit"), "{w}x{h}:\n{screen}");
    assert!(!screen.contains("committed"), "{screen}");

    // The files view offers C.
    t.keys("f", true);
    let screen = t.wait_for("[✓] + .gitignore");
    assert!(
        status_rows(&screen).contains("C commit"),
        "{w}x{h}:\n{screen}"
    );
    // The prefill before and after rejecting the first file.
    t.keys("m", true);
    let before = t.wait_for("commit message — Enter saves");
    assert!(!before.contains("left out of this commit"), "{before}");
    t.keys("Escape", false);
    t.wait_gone("commit message — Enter saves");
    t.keys("Space", false);
    t.wait_for("[ ] + .gitignore");
    t.keys("m", true);
    t.wait_for("commit message — Enter saves");
    let after = t.wait_for("left out of this commit");
    assert!(after.contains(".gitignore"), "{after}");
    t.keys("Escape", false);
    t.wait_gone("commit message — Enter saves");
    t.keys("C", true);
    t.wait_for("committed ");
    t.keys("q", true);
    t.assert_restored("EXIT=0");
    let out = Command::new("git")
        .arg("-C")
        .arg(dir.path())
        .args(["log", "--format=%B"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("left out of this commit: .gitignore"), "{log}");
}

#[test]
fn help_at_start_the_commit_hint_only_where_c_commits_and_the_prefill_after_a_reject() {
    hints_help_and_prefill(80, 24);
    hints_help_and_prefill(120, 40);
}

/// `Ctrl-C` on a running session asks; `n` keeps it; a second `Ctrl-C`
/// cancels it; quitting then prints how to resume it, on the shell's screen.
fn ctrl_c_asks(w: u16, h: u16) {
    let env = Env::new();
    let dir = crate::common::tempdir();
    let command = format!("{} 'Build a CLI todo app'; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), w, h, &command);
    t.wait_for("waiting for the person to confirm");
    t.keys("C-c", false);
    t.wait_for("Cancel it?");
    t.keys("n", true);
    t.wait_for("2 conflicts open");
    assert!(!t.screen().contains("Cancel it?"));
    t.keys("C-c", false);
    t.wait_for("Cancel it?");
    t.keys("C-c", false);
    t.wait_for("session cancelled");
    t.keys("q", true);
    let screen = t.assert_restored("EXIT=");
    assert!(
        screen.contains("; resume it with: quorum resume "),
        "{w}x{h}:\n{screen}"
    );
}

#[test]
fn ctrl_c_on_a_running_session_asks_and_quitting_names_quorum_resume() {
    ctrl_c_asks(80, 24);
    ctrl_c_asks(120, 40);
}

/// The scripted team's refine asks two questions: both are announced, the
/// second once the first is answered, and each is reached with `A`.
fn two_questions(w: u16, h: u16) {
    let env = Env::new();
    let dir = crate::common::tempdir();
    crate::common::write_scripted(
        dir.path(),
        &crate::common::read_fixture("scripts/team.toml"),
        "",
    );
    let command = format!("{} 'Build a URL shortener'; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), w, h, &command);
    let screen = t.wait_for("question 1 of 2 waits");
    assert!(screen.contains("A answer"), "{w}x{h}:\n{screen}");
    t.keys("A", true);
    t.wait_for("question 1 of 2: Which port");
    t.keys("8080", true);
    t.keys("Enter", false);
    let screen = t.wait_for("question 2 of 2 waits");
    assert!(screen.contains("authentication"), "{w}x{h}:\n{screen}");
    t.keys("A", true);
    t.wait_for("question 2 of 2: Does the first version");
    t.keys("Enter", false);
    t.wait_for("every question is answered");
    t.keys("C-c", false);
    t.wait_for("Cancel it?");
    t.keys("C-c", false);
    t.wait_for("session cancelled");
    t.keys("q", true);
    t.assert_restored("EXIT=");
}

#[test]
fn the_second_question_is_announced_after_the_first_is_answered() {
    two_questions(80, 24);
    two_questions(120, 40);
}

/// A headless run that failed at delivery (it refused to overwrite a file
/// in DIR) says `quorum resume ID`; in the TUI the session opens at deliver,
/// shows why it failed, and commits the accepted files, the existing file
/// left as it was.
fn failed_delivered_from_the_tui(w: u16, h: u16) {
    let env = Env::new();
    let dir = crate::common::tempdir();
    // A committed file the team also writes: headless fails without
    // --allow-overwrite (uncommitted work would stop it resumable instead).
    std::fs::write(dir.path().join("README.md"), "# Mine\n").unwrap();
    env.git(dir.path(), &["init", "-q"]);
    env.git(dir.path(), &["add", "README.md"]);
    env.git(
        dir.path(),
        &[
            "-c",
            "user.name=P",
            "-c",
            "user.email=p@example.com",
            "commit",
            "-qm",
            "mine",
        ],
    );
    let failed = crate::common::run(env.quorum([
        "run",
        "Build a CLI todo app",
        "--dir",
        path_str(dir.path()),
    ]));
    assert_ne!(failed.code, 0, "{failed}");
    assert!(failed.stderr.contains("quorum resume"), "{failed}");

    let command = format!("{} resume; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), w, h, &command);
    t.wait_for("had failed");
    t.keys("f", true);
    let screen = t.wait_for("it had failed");
    assert!(status_rows(&screen).contains("C commit"), "{screen}");
    t.wait_for("[ ] ~ README.md");
    t.keys("C", true);
    t.wait_for("committed ");
    // The commit shows at once; the session ends just after it.
    t.wait_for("succeeded");
    t.keys("q", true);
    t.assert_restored("EXIT=0");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
        "# Mine\n"
    );
    let out = Command::new("git")
        .arg("-C")
        .arg(dir.path())
        .args(["log", "--format=%B%x00"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        log.matches('\0').count(),
        2,
        "the person's and one more:\n{log}"
    );
    assert_eq!(log.matches("Quorum-Session:").count(), 1, "{log}");
}

#[test]
fn a_failed_session_is_delivered_from_the_tui() {
    failed_delivered_from_the_tui(80, 24);
    failed_delivered_from_the_tui(120, 40);
}

/// A pasted end marker (`ESC[201~` inside the pasted text) does not end the
/// paste: the rest of it, newline included, lands in the prompt and nothing
/// starts.
#[test]
fn a_pasted_end_marker_does_not_end_the_paste_early() {
    let env = Env::new();
    let dir = crate::common::tempdir();
    let command = format!("{}; echo EXIT=$?; sleep 120", bin());
    let t = Tmux::start(env, dir.path(), 80, 24, &command);
    t.wait_for("write the prompt");
    let mut paste = t.cmd();
    paste.args(["set-buffer", "-b", "p", "Build a tiny\x1b[201~\rnotes app"]);
    assert!(paste.output().unwrap().status.success());
    let mut put = t.cmd();
    put.args(["paste-buffer", "-p", "-b", "p", "-t", "q"]);
    assert!(put.output().unwrap().status.success());
    let screen = t.wait_for("notes app");
    assert!(screen.contains("│Build a tiny"), "{screen}");
    assert!(
        screen.contains("│notes app"),
        "the newline stayed one:\n{screen}"
    );
    // Still the prompt, with its keys: nothing was submitted.
    assert!(
        screen.contains("· ready"),
        "the paste started nothing:\n{screen}"
    );
    assert!(screen.contains("enter submit"), "{screen}");
    t.keys("C-c", false);
    t.wait_for("EXIT=0");
    assert!(!dir.path().join(".git").exists(), "no session ran");
}

/// Issue 21 at 80x24, from outside: in a repository with an `AGENTS.md`, the
/// prompt editor's lower border shows the cost estimate while the prompt is
/// typed (the scripted offline team costs nothing), and once the session
/// starts the status bar names the instruction file the agents follow.
#[test]
fn an_existing_repository_shows_the_estimate_then_the_instructions_at_80x24() {
    let env = Env::new();
    let dir = crate::common::tempdir();
    let d = dir.path();
    crate::common::write(
        d,
        "AGENTS.md",
        "Use tabs.\nRun `make check` before committing.\n",
    );
    crate::common::write(
        d,
        "src/lib.rs",
        "pub fn parse_config(text: &str) -> Option<u32> {\n\ttext.trim().parse().ok()\n}\n",
    );
    // The planners' built-in plans, streamed slowly: the status bar's
    // message stays up while the plan phase runs.
    crate::common::write_scripted(
        d,
        "[[reply]]\nphase = \"plan\"\ndelay_ms = 5\ntimes = 0\n",
        "",
    );
    let command = format!("{}; {AFTER}", bin());
    let t = Tmux::start(env, d, 80, 24, &command);
    t.wait_for("write the prompt");
    let screen = t.screen();
    assert!(!screen.contains("no cost"), "nothing typed yet:\n{screen}");
    t.keys("make parse_config accept hex", true);
    let screen = t.wait_for("offline team: no cost");
    let border = screen
        .lines()
        .find(|l| l.contains("offline team: no cost"))
        .unwrap();
    assert!(border.trim_start().starts_with('╰'), "{screen}");
    t.keys("Enter", false);
    let screen = t.wait_for("the project's instructions: AGENTS.md");
    assert!(
        !screen.contains("no cost"),
        "a running session hides the estimate:\n{screen}"
    );
}
