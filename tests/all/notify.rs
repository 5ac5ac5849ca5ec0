//! Issue 20, acceptance 5: a call when the person is needed. The TUI runs in a
//! real terminal (tmux), and every byte it writes to its pty is captured
//! (`tmux pipe-pane`, opened before quorum starts): the bell and OSC 9/777
//! are written when the session starts waiting at resolve, when it waits at
//! deliver and when it ends; the `[notify] command` runs with the documented
//! variables; `NO_COLOR` and `notify = false` leave no bell and no OSC.

use std::path::{Path, PathBuf};

use crate::common::{Env, bin, path_str, poll, tempdir};
use crate::tui_tmux::{AFTER, Tmux, WAIT};

const PROMPT: &str = "Build a CLI todo app";

/// A TUI session under tmux whose pty output is captured from its first byte.
struct Captured {
    tmux: Tmux,
    capture: PathBuf,
}

impl Captured {
    /// Runs `quorum ARGS 'Build a CLI todo app'` in `dir` with `vars` (a
    /// shell prefix such as `env -u TMUX`), once the capture is open: the
    /// shell waits for a marker file that is made only then.
    fn start(env: Env, dir: &Path, work: &Path, vars: &str, args: &str) -> Captured {
        let go = work.join("go");
        let command = format!(
            "while [ ! -e {go} ]; do sleep 0.05; done; {vars} {bin} {args} '{PROMPT}'; {AFTER}",
            go = path_str(&go),
            bin = bin(),
        );
        let tmux = Tmux::start(env, dir, 100, 30, &command);
        let capture = work.join("pty.bin");
        let out = tmux
            .cmd()
            .args(["pipe-pane", "-o", "-t", "q"])
            .arg(format!("cat > {}", path_str(&capture)))
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux pipe-pane");
        // The pipe is open once its file exists.
        poll(WAIT, "the capture file", || capture.exists().then_some(()));
        std::fs::write(&go, "").unwrap();
        Captured { tmux, capture }
    }

    /// Everything quorum (and the shell after it) wrote to the pty so far.
    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.capture).unwrap_or_default()
    }

    /// Waits until the captured output holds `want`.
    fn wait_for_bytes(&self, want: &str) {
        let mut last = Vec::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            poll(WAIT, want, || {
                last = self.bytes();
                contains(&last, want.as_bytes()).then_some(())
            })
        }));
        if found.is_err() {
            panic!(
                "the pty never got {want:?}; the screen:\n{}\nthe notification bytes seen: {:?}",
                self.tmux.screen(),
                notification_bytes(&last)
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The OSC 9 / 777 sequences in `bytes`, as text, and how many BELs.
fn notification_bytes(bytes: &[u8]) -> (Vec<String>, usize) {
    let text = String::from_utf8_lossy(bytes);
    let oscs = text
        .split('\x1b')
        .filter(|s| s.starts_with("]9;") || s.starts_with("]777;"))
        .map(|s| s.chars().take(160).collect())
        .collect();
    (oscs, bytes.iter().filter(|b| **b == 0x07).count())
}

/// The bell and both OSC sequences of one notice, as the TUI writes them
/// outside tmux's passthrough.
fn notice(summary: &str) -> String {
    format!("\x07\x1b]9;quorum: {summary}\x07\x1b]777;notify;quorum;{summary}\x07")
}

/// A `--config` file in `work` with `text`.
fn config(work: &Path, text: &str) -> PathBuf {
    let path = work.join("notify.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The notify command's runs, as it wrote them: one map of its `QUORUM_`
/// variables per run, in order.
fn runs(file: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.split("---\n")
        .filter(|run| !run.trim().is_empty())
        .map(|run| {
            run.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The command of the tests: its variables, then a separator, appended to
/// `file` (outside DIR, which the session commits).
fn command_writing_to(file: &Path) -> String {
    format!(
        "[notify]\ncommand = \"env | grep ^QUORUM_ | sort >> {f}; echo --- >> {f}\"\n",
        f = path_str(file)
    )
}

#[test]
fn the_tui_calls_the_person_at_resolve_at_deliver_and_at_the_end() {
    let env = Env::new();
    let dir = tempdir();
    let work = tempdir();
    let notified = work.path().join("notified.txt");
    let cfg = config(work.path(), &command_writing_to(&notified));
    // Outside tmux's passthrough, with colours: plain OSC sequences.
    let args = format!("--config {}", path_str(&cfg));
    let t = Captured::start(
        env,
        dir.path(),
        work.path(),
        "env -u TMUX -u NO_COLOR",
        &args,
    );

    t.tmux.wait_for("waiting for the person to confirm");
    t.wait_for_bytes(&notice(&format!(
        "2 conflicts wait for your decision — {PROMPT}"
    )));
    // Decide the tie, accept the majority: the session waits at deliver.
    t.tmux.keys("c", true);
    t.tmux.wait_for("Tie: choose");
    t.tmux.keys("Right", false);
    t.tmux.keys("Enter", false);
    t.tmux.wait_for("sqlite (you)");
    t.tmux.keys("a", true);
    t.tmux.wait_for("ready to deliver");
    t.wait_for_bytes(&notice(&format!(
        "ready to deliver: the files wait for your commit — {PROMPT}"
    )));
    t.tmux.keys("f", true);
    t.tmux.wait_for("Commit");
    t.tmux.keys("C", true);
    t.tmux.wait_for("committed ");
    t.wait_for_bytes(&notice(&format!("session succeeded — {PROMPT}")));
    t.tmux.keys("q", true);
    t.tmux.assert_restored("EXIT=0");

    // Three notices, each rung once: three bells and six OSC sequences.
    let (oscs, bells) = notification_bytes(&t.bytes());
    assert_eq!(oscs.len(), 6, "{oscs:#?}");
    assert_eq!(bells, 3 + 6, "three bells and six OSC ends: {oscs:#?}");

    // The command ran once per notice, in DIR, with the documented variables.
    let got = poll(WAIT, "three runs of the notify command", || {
        let r = runs(&notified);
        (r.len() == 3).then_some(r)
    });
    let reasons: Vec<&str> = got.iter().map(|r| r["QUORUM_REASON"].as_str()).collect();
    assert_eq!(reasons, ["conflict", "delivery", "finished"]);
    let session = &got[0]["QUORUM_SESSION"];
    assert_eq!(session.len(), 12, "{got:?}");
    assert!(session.bytes().all(|b| b.is_ascii_hexdigit()), "{got:?}");
    let log = std::process::Command::new("git")
        .arg("-C")
        .arg(dir.path())
        .args(["log", "--format=%B"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(log.contains(&format!("Quorum-Session: {session}")), "{log}");
    let dir_shown = dir.path().canonicalize().unwrap();
    for run in &got {
        assert_eq!(&run["QUORUM_SESSION"], session);
        assert_eq!(run["QUORUM_DIR"], dir_shown.display().to_string());
        assert_eq!(run.len(), 4, "only the four variables: {run:?}");
    }
    assert_eq!(
        got[2]["QUORUM_SUMMARY"],
        format!("session succeeded — {PROMPT}")
    );
}

/// Runs a session to its wait at resolve, cancels it (which ends it: a
/// `finished` notice), quits, and returns what the pty got.
fn to_resolve_and_cancel(t: &Captured) -> Vec<u8> {
    t.tmux.wait_for("waiting for the person to confirm");
    t.tmux.keys("C-c", false);
    t.tmux.wait_for("Cancel it?");
    t.tmux.keys("C-c", false);
    t.tmux.wait_for("session cancelled");
    t.tmux.keys("q", true);
    t.tmux.assert_restored("EXIT=");
    t.bytes()
}

#[test]
fn no_color_and_notify_false_leave_no_bell_and_no_osc() {
    // NO_COLOR (the suite's environment sets NO_COLOR=1) silences the
    // terminal; the person's command still runs.
    let env = Env::new();
    let dir = tempdir();
    let work = tempdir();
    let notified = work.path().join("notified.txt");
    let cfg = config(work.path(), &command_writing_to(&notified));
    let args = format!("--config {}", path_str(&cfg));
    let t = Captured::start(env, dir.path(), work.path(), "NO_COLOR=1", &args);
    let bytes = to_resolve_and_cancel(&t);
    assert_eq!(
        notification_bytes(&bytes),
        (vec![], 0),
        "NO_COLOR: no bell, no OSC"
    );
    let got = poll(WAIT, "two runs of the notify command", || {
        let r = runs(&notified);
        (r.len() == 2).then_some(r)
    });
    assert_eq!(got[0]["QUORUM_REASON"], "conflict");
    assert_eq!(got[1]["QUORUM_REASON"], "finished");
    assert_eq!(
        got[1]["QUORUM_SUMMARY"],
        format!("session cancelled — {PROMPT}")
    );

    // `notify = false`, with colours on: nothing either.
    let env = Env::new();
    let dir = tempdir();
    let work = tempdir();
    let cfg = config(work.path(), "notify = false\n");
    let args = format!("--config {}", path_str(&cfg));
    let t = Captured::start(
        env,
        dir.path(),
        work.path(),
        "env -u TMUX -u NO_COLOR",
        &args,
    );
    let bytes = to_resolve_and_cancel(&t);
    assert_eq!(
        notification_bytes(&bytes),
        (vec![], 0),
        "notify = false: no bell, no OSC"
    );
}

#[test]
fn headless_runs_the_command_once_at_the_end_and_waits_for_it() {
    let env = Env::new();
    let dir = tempdir();
    let work = tempdir();
    let notified = work.path().join("notified.txt");
    let cfg = config(work.path(), &command_writing_to(&notified));
    let session = env.run_json(dir.path(), &["--config", path_str(&cfg)]);
    session.assert_succeeded();
    // `quorum run` waited for the command before it exited: no polling.
    let got = runs(&notified);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["QUORUM_REASON"], "finished");
    assert_eq!(got[0]["QUORUM_SESSION"], session.id());
    assert_eq!(
        got[0]["QUORUM_SUMMARY"],
        format!("session succeeded — {}", crate::common::PROMPT)
    );

    // In DIR/quorum.toml the command is refused: it may come with a
    // repository (exit 2, naming the line and where it belongs).
    crate::common::write(dir.path(), "quorum.toml", &command_writing_to(&notified));
    let out = crate::common::run(env.quorum(["run", "x", "--dir", path_str(dir.path())]));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("line 2: notify.command is not read from DIR/quorum.toml"),
        "{out}"
    );
    assert_eq!(runs(&notified).len(), 1, "nothing ran");
}
