//! End to end in tmux, by keys only (issue 5, acceptance 2): the whole flow
//! at 120x40 — type a prompt, watch the queues, settle a tie, override a vote,
//! reject a file, preview and diff another, edit one in `$EDITOR`, edit the
//! commit message, commit, check `git log`, quit — then resizes through
//! 200x60, 80x24, 20x5 and a resize storm, Ctrl-Z and `fg` from a real shell,
//! `NO_COLOR`, and SIGTERM.

use std::process::Command;

use crate::common::{Env, bin, tempdir};
use crate::tui_tmux::{AFTER, Tmux};

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_whole_flow_by_keys_at_120x40() {
    let env = Env::new();
    let dir = tempdir();
    an_existing_committed_readme(dir.path());
    let command = a_hand_editor_command(dir.path());
    let t = Tmux::start(env, dir.path(), 120, 40, &command);

    type_a_prompt_and_watch_the_queues(&t);
    settle_the_tie_and_override_the_majority(&t);
    reject_preview_diff_and_edit_files(&t);
    let sha = edit_the_message_and_commit(&t, dir.path());
    the_git_log_holds_the_decisions_and_files(dir.path(), &sha);
}

/// Step: an existing, committed README.md that the team's project also writes.
fn an_existing_committed_readme(dir: &std::path::Path) {
    // An existing, committed file that the team's project also writes: its
    // change is a diff (uncommitted work would never be overwritten).
    std::fs::write(dir.join("README.md"), "# My notes\n").unwrap();
    git(dir, &["init", "-q"]);
    git(dir, &["add", "README.md"]);
    git(
        dir,
        &[
            "-c",
            "user.name=P",
            "-c",
            "user.email=p@example.com",
            "commit",
            "-qm",
            "notes",
        ],
    );
}

/// Step: the "editor" appends a line to the file it is given; returns the
/// shell command that runs quorum with it.
fn a_hand_editor_command(dir: &std::path::Path) -> String {
    // The "editor": appends a line to the file it is given, as a person would.
    let editor = dir.join(".editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'Edited by hand.\\n' >> \"$1\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("EDITOR={} {}; {AFTER}", editor.display(), bin())
}

/// Step: type a prompt and start; every agent's queue row shows its state, task and queue.
fn type_a_prompt_and_watch_the_queues(t: &Tmux) {
    // Type a prompt and start.
    t.wait_for("What should the team build?");
    t.keys("Build a CLI todo app", true);
    t.keys("Enter", false);
    // Watch the queues: every agent's row shows its state, task and queue.
    let screen = t.wait_for("waiting for the person to confirm");
    for agent in ["pm", "backend", "frontend", "qa", "security"] {
        let row = screen
            .lines()
            .find(|l| l.contains(&format!("│{agent:<9} ")))
            .unwrap_or_else(|| panic!("no queue row for {agent}:\n{screen}"));
        assert!(
            row.contains("done") && row.contains("queued"),
            "{agent}'s row shows state and queue: {row}"
        );
    }
}

/// Step: on the conflicts screen, settle the tie and override the majority with a note.
fn settle_the_tie_and_override_the_majority(t: &Tmux) {
    // Conflicts: settle the tie, override the majority with a note.
    t.keys("c", true);
    let screen = t.wait_for("Tie: choose");
    assert!(screen.contains("tie 2–2"), "{screen}");
    t.keys("Right", false);
    t.keys("Enter", false);
    t.wait_for("sqlite (you)");
    t.keys("n", true);
    t.wait_for("Majority: rest");
    t.keys("Right", false);
    t.keys("o", true);
    t.wait_for("override api with rpc");
    t.keys("one endpoint to validate", true);
    t.keys("Enter", false);
    let screen = t.wait_for("rpc (you)");
    assert!(
        screen.contains("note: one endpoint to validate"),
        "{screen}"
    );
    t.wait_for("ready to deliver");
}

/// Step: on the files screen, reject one file, preview and diff another, edit it.
fn reject_preview_diff_and_edit_files(t: &Tmux) {
    // Files: reject one, preview and diff another, edit it.
    t.keys("f", true);
    t.wait_for("[✓] + .gitignore");
    t.keys("Space", false);
    t.wait_for("[ ] + .gitignore");
    t.keys("j", true);
    t.keys("Enter", false);
    t.wait_for("1 # Todo");
    t.keys("d", true);
    let screen = t.wait_for("-# My notes");
    assert!(screen.contains("diff README.md"), "{screen}");
    assert!(screen.contains("+# Todo"), "{screen}");
    // README.md changes an existing file: it starts rejected; the edit accepts it.
    assert!(screen.contains("[ ] ~ README.md"), "{screen}");
    t.keys("e", true);
    t.wait_for("your edit is staged and accepted");
    t.wait_for("[✓] ~ README.md");
}

/// Step: edit the commit message, commit, quit; the session index names the
/// commit. Returns the commit's sha as the screen showed it.
fn edit_the_message_and_commit(t: &Tmux, dir: &std::path::Path) -> String {
    // The commit message, then the commit.
    t.keys("m", true);
    t.wait_for("commit message — Enter saves");
    t.keys("M-Enter", false);
    t.keys("Checked in the TUI.", true);
    t.keys("Enter", false);
    t.keys("C", true);
    t.wait_for("committed ");
    // The commit shows at once; the session ends just after it.
    let screen = t.wait_for("· succeeded");
    let sha = screen
        .split("committed ")
        .filter_map(|rest| rest.split_whitespace().next())
        .find(|word| word.len() >= 7 && word.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_default()
        .to_string();
    t.keys("q", true);
    t.assert_restored("EXIT=0");
    // The TUI let the db go cleanly: `sessions list` can read the index alone.
    let listed = quorum::store::index::read(&dir.join(".quorum/db"))
        .expect("the TUI closed the session index");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].commit.as_deref(), Some(sha.as_str()));
    sha
}

/// Step: git log holds the person's commit, then one with the decisions, the
/// message edit and the files (the rejected one left out).
fn the_git_log_holds_the_decisions_and_files(dir: &std::path::Path, sha: &str) {
    // git log: the person's commit, then one with the decisions, the message
    // edit, the files.
    let log = git(dir, &["log", "--format=%H%n%B%x00"]);
    assert_eq!(log.matches('\0').count(), 2, "two commits:\n{log}");
    assert!(log.starts_with(&sha[..sha.len().min(12)]), "{sha}\n{log}");
    for line in [
        "Storage engine: sqlite (decided by the person)",
        "API style: rpc (decided by the person)",
        "Checked in the TUI.",
        "Quorum-Provider: offline",
    ] {
        assert!(log.contains(line), "{line} missing:\n{log}");
    }
    let files = git(dir, &["show", "--name-only", "--format=", "HEAD"]);
    assert!(
        !files.lines().any(|f| f == ".gitignore"),
        "rejected:\n{files}"
    );
    assert!(files.lines().any(|f| f == "README.md"), "{files}");
    let readme = git(dir, &["show", "HEAD:README.md"]);
    assert!(readme.ends_with("Edited by hand.\n"), "{readme}");
    assert!(
        !dir.join(".gitignore").exists(),
        "the rejected file is not written"
    );
}

#[test]
fn resizing_through_200x60_80x24_20x5_and_a_storm_never_crashes() {
    let env = Env::new();
    let dir = tempdir();
    let command = format!("{} 'Build a CLI todo app'; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), 80, 24, &command);
    t.wait_for("waiting for the person to confirm");
    t.resize(200, 60);
    t.wait_for("phase 5/9 resolve");
    t.resize(80, 24);
    t.wait_for("5/9 resolve");
    t.resize(20, 5);
    t.wait_for("40x12)");
    t.resize(80, 24);
    t.wait_for("╭ Prompt");
    // A storm: forty sizes in a row, without waiting for any frame.
    for i in 0..40u16 {
        t.resize(1 + (i * 37) % 200, 1 + (i * 23) % 60);
    }
    t.resize(200, 60);
    t.wait_for("phase 5/9 resolve");
    t.resize(80, 24);
    let screen = t.wait_for("╭ Prompt");
    assert!(screen.contains("Transcript"), "{screen}");
    // Still alive and answering keys: quit asks while the session waits.
    t.keys("q", true);
    t.wait_for("Stop it and quit?");
    t.keys("y", true);
    t.assert_restored("EXIT=3");
}

#[test]
fn ctrl_z_suspends_to_the_shell_and_fg_brings_the_tui_back() {
    let env = Env::new();
    let dir = tempdir();
    let t = Tmux::start(
        env,
        dir.path(),
        100,
        30,
        "PS1='sh$ ' bash --norc --noprofile -i",
    );
    t.wait_for("sh$");
    // Alone on its line: bash would run the rest of a list at once on Ctrl-Z.
    t.keys(bin(), true);
    t.keys("Enter", false);
    t.wait_for("What should the team build?");
    t.keys("Build a", true);
    t.keys("C-z", false);
    let screen = t.wait_for("Stopped");
    assert!(
        !screen.contains("╭ Prompt"),
        "the shell has the screen:\n{screen}"
    );
    // The terminal is back in canonical mode while quorum is stopped.
    t.keys("stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'", true);
    t.keys("Enter", false);
    let screen = t.wait_for("icanon\n");
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "raw mode is off while suspended:\n{screen}"
    );
    t.keys("fg", true);
    t.keys("Enter", false);
    // The TUI comes back whole, with what was typed before.
    let screen = t.wait_for("╭ Prompt");
    assert!(screen.contains("Build a"), "{screen}");
    t.keys(" todo app", true);
    t.wait_for("Build a todo app");
    t.keys("C-c", false);
    t.wait_for("sh$");
    t.keys("echo EXIT=$?", true);
    t.keys("Enter", false);
    t.wait_for("EXIT=0");
}

/// The SGR parameters of `screen` that set a colour (30–38, 40–48, 90–107).
fn colour_codes(screen: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for part in screen.split("\x1b[").skip(1) {
        let Some(params) = part.split('m').next() else {
            continue;
        };
        if !params.bytes().all(|b| b.is_ascii_digit() || b == b';') {
            continue;
        }
        let mut it = params.split(';');
        while let Some(p) = it.next() {
            let n: u32 = p.parse().unwrap_or(0);
            let colour = matches!(n, 30..=37 | 40..=47 | 90..=97 | 100..=107);
            if n == 38 || n == 48 {
                codes.push(params.to_string());
                // Skip the colour's own parameters.
                let _ = it.next();
                let _ = it.next();
            } else if colour {
                codes.push(params.to_string());
            }
        }
    }
    codes
}

#[test]
fn no_color_draws_without_colours_and_colour_terminals_get_them() {
    let env = Env::new();
    let dir = tempdir();
    let command = format!("env -u NO_COLOR {} 'Build a CLI todo app'; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), 100, 30, &command);
    t.wait_for("waiting for the person to confirm");
    let coloured = colour_codes(&t.screen_escaped());
    assert!(!coloured.is_empty(), "a colour terminal gets colours");
    // Ctrl-C asks, a second cancels the session, a third quits.
    t.keys("C-c", false);
    t.wait_for("Cancel it?");
    t.keys("C-c", false);
    t.wait_for("session cancelled");
    t.keys("C-c", false);
    t.wait_for("EXIT=");

    let env = Env::new();
    let dir = tempdir();
    let command = format!("NO_COLOR=1 {} 'Build a CLI todo app'; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), 100, 30, &command);
    t.wait_for("waiting for the person to confirm");
    let screen = t.screen_escaped();
    assert_eq!(colour_codes(&screen), Vec::<String>::new(), "{screen:?}");
    // Meaning survives without colour: the bar and the offline label are reversed.
    let reversed = screen
        .split("\x1b[")
        .skip(1)
        .filter_map(|part| part.split('m').next())
        .any(|params| params.split(';').any(|p| p == "7"));
    assert!(reversed, "{screen:?}");
    // Ctrl-C asks, a second cancels the session, a third quits.
    t.keys("C-c", false);
    t.wait_for("Cancel it?");
    t.keys("C-c", false);
    t.wait_for("session cancelled");
    t.keys("C-c", false);
    t.wait_for("EXIT=");
}

#[test]
fn sigterm_interrupts_the_session_and_restores_the_terminal() {
    let env = Env::new();
    let dir = tempdir();
    // A shell writes its pid, then execs quorum: the pid is quorum's, so the
    // test signals quorum alone.
    let pid_file = dir.path().join(".pid");
    let command = format!(
        "sh -c 'echo $$ > {pid}; exec {bin} \"Build a CLI todo app\"'; {AFTER}",
        pid = pid_file.display(),
        bin = bin()
    );
    let t = Tmux::start(env, dir.path(), 100, 30, &command);
    t.wait_for("waiting for the person to confirm");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Interrupted (resumable) is exit code 3.
    t.assert_restored("EXIT=3");
}

/// Issue 4's controls by keys: `P` pauses and resumes the whole session (the
/// header says `‖ paused`), and an agent's memory is opened from the palette
/// and edited in `$EDITOR` (a script here), then read back with `quorum memory`.
#[test]
fn pause_resume_and_an_agents_memory_edited_in_the_editor_by_keys() {
    let env = Env::new();
    let dir = tempdir();
    let editor = dir.path().join(".editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'Prefer SQLite; keep argparse.\\n' >> \"$1\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let command = format!(
        "EDITOR={} {} 'Build a CLI todo app'; {AFTER}",
        editor.display(),
        bin()
    );
    let t = Tmux::start(env, dir.path(), 100, 30, &command);
    t.wait_for("waiting for the person to confirm");

    t.keys("P", true);
    t.wait_for("‖ paused");
    t.keys("P", true);
    crate::common::poll(crate::tui_tmux::WAIT, "the pause flag to go", || {
        let screen = t.screen();
        (!screen.contains("‖ paused")).then_some(screen)
    });

    t.keys(":", true);
    t.keys("memory: backend", true);
    t.wait_for("memory: backend ");
    t.keys("Enter", false);
    t.wait_for("its notes for this DIR");
    t.wait_for("0 of 4096 bytes");
    t.keys("e", true);
    // The stored notes (the size shows once the save is confirmed).
    let screen = t.wait_for("30 of 4096 bytes");
    assert!(screen.contains("Prefer SQLite; keep argparse."), "{screen}");
    // Esc closes the overlay; `q` only after it is gone (an Esc and a key
    // arriving together read as Alt and that key).
    t.keys("Escape", false);
    crate::common::poll(crate::tui_tmux::WAIT, "the memory overlay to close", || {
        let screen = t.screen();
        (!screen.contains("its notes for this DIR")).then_some(screen)
    });
    t.keys("q", true);
    t.wait_for("Stop it and quit?");
    t.keys("y", true);
    t.assert_restored("EXIT=3");

    let out = crate::common::run(Env::new().quorum([
        "memory",
        "backend",
        "--dir",
        crate::common::path_str(dir.path()),
    ]));
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "Prefer SQLite; keep argparse.\n");
}

#[test]
fn a_crashed_session_resumes_in_the_tui_and_commits_from_there() {
    let env = Env::new();
    let dir = tempdir();
    let mut crash = env.quorum([
        "run",
        "Build a CLI todo app",
        "--dir",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    crash.env("QUORUM_CRASH_AFTER_SEQ", "60");
    let crashed = crate::common::run(crash);
    assert_eq!(crashed.code, -1, "killed by its crash hook: {crashed}");
    let stored = crashed.stdout.lines().count();

    let command = format!("{} resume; {AFTER}", bin());
    let t = Tmux::start(env, dir.path(), 120, 40, &command);
    // The stored session is shown as it was, then goes on to deliver.
    t.wait_for("resuming session");
    let screen = t.wait_for("ready to deliver");
    assert!(screen.contains("Build a CLI todo app"), "{screen}");
    // The files staged before the crash are there to review.
    t.keys("f", true);
    t.wait_for("[✓] + README.md");
    t.keys("C", true);
    t.wait_for("committed ");
    t.keys("q", true);
    t.assert_restored("EXIT=0");
    let log = git(dir.path(), &["log", "--format=%B%x00"]);
    assert_eq!(log.matches('\0').count(), 1, "one commit:\n{log}");
    assert!(log.contains("Quorum-Session: "), "{log}");
    assert!(stored > 0, "the crashed run had printed events");
}
