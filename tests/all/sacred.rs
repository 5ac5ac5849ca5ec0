//! Issue 18, "the person's files are sacred": uncommitted work in DIR is never
//! overwritten, whatever `--allow-overwrite` says, and a fault at delivery (a
//! full disk, a read-only DIR) leaves DIR as it was, with no temporary file,
//! and the session resumable: `quorum resume --headless` then commits once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{
    Env, Output, PROMPT, Session, check_event, path_str, run, tempdir, tree, write,
};

/// Every path under `dir` with its content (`None` for a directory), but
/// `.quorum/`: with the state directory elsewhere (`--state-dir`), DIR still
/// holds quorum's lock there (docs/commands.md, exit 4), which is not the
/// person's.
fn snapshot(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    tree(dir)
        .into_iter()
        .filter(|p| p != ".quorum" && !p.starts_with(".quorum/"))
        .map(|p| {
            let at = dir.join(&p);
            let content = if at.is_dir() {
                None
            } else {
                Some(std::fs::read(&at).unwrap())
            };
            (p, content)
        })
        .collect()
}

/// The events a `resume --json` printed, each validated by the schema.
fn resumed_events(out: &Output) -> Vec<Value> {
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    events.iter().for_each(check_event);
    assert_eq!(events[0]["type"], "session_resumed", "{out}");
    events
}

/// The commits of DIR's repository that carry the session's trailer.
fn commits_of(env: &Env, d: &Path, session: &str) -> usize {
    env.git(d, &["log", "--format=%H%n%B%x00"])
        .split('\0')
        .filter(|c| c.contains(&format!("Quorum-Session: {session}")))
        .count()
}

/// The stored status of `session`, from `sessions list --json`.
fn listed_status(env: &Env, d: &Path, extra: &[&str], session: &str) -> String {
    let mut args = vec!["sessions", "list", "--json", "--dir", path_str(d)];
    args.extend_from_slice(extra);
    let out = run(env.quorum(args));
    assert_eq!(out.code, 0, "{out}");
    out.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["id"] == session)
        .map(|r| r["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("{session} not listed: {out}"))
}

/// Acceptance 1: an uncommitted edit to a file the agents also write (the
/// offline team writes README.md and .gitignore) is refused even with
/// `--allow-overwrite`, named, and left byte for byte; once committed, the
/// resumed session overwrites it and its old content is in HEAD~1.
#[test]
fn uncommitted_edits_are_never_overwritten_even_with_allow_overwrite() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    write(d, "README.md", "# My project\n");
    env.git(d, &["init", "-q"]);
    env.commit_all(d, "my project");
    // An edit that is in no commit, and a file git does not track.
    let edit = "# My project\n\nAn edit in no commit: do not lose it.\n";
    std::fs::write(d.join("README.md"), edit).unwrap();
    let untracked = "secret-notes/\n";
    write(d, ".gitignore", untracked);
    let before = snapshot(d);

    let refused = env.run_json(d, &["--allow-overwrite"]);
    assert_eq!(refused.out.code, 3, "resumable: {}", refused.out);
    assert_eq!(refused.status(), "awaiting_delivery");
    let message = refused.one("error")["message"]
        .as_str()
        .unwrap()
        .to_string();
    for named in ["README.md", ".gitignore", "uncommitted", "Commit or stash"] {
        assert!(message.contains(named), "{named} in: {message}");
    }
    assert!(
        !message.contains("Rerun with --allow-overwrite"),
        "the flag is not the way for uncommitted work: {message}"
    );
    assert!(
        message.contains(&format!("quorum resume {}", refused.id())),
        "{message}"
    );
    assert!(
        refused.out.stderr.contains("Commit or stash"),
        "stderr says it too under --json: {}",
        refused.out
    );
    assert!(refused.of("commit_created").is_empty());
    // Byte for byte as it was: the edit, the untracked file, no temporary file.
    let after: BTreeMap<_, _> = snapshot(d)
        .into_iter()
        .filter(|(p, _)| p != ".quorum" && !p.starts_with(".quorum/"))
        .collect();
    let before: BTreeMap<_, _> = before
        .into_iter()
        .filter(|(p, _)| p != ".quorum" && !p.starts_with(".quorum/"))
        .collect();
    assert_eq!(after, before);
    assert_eq!(std::fs::read_to_string(d.join("README.md")).unwrap(), edit);
    assert_eq!(env.git(d, &["rev-list", "--count", "HEAD"]), "1\n");

    // Committed, the same files are the flag's to overwrite.
    env.commit_all(d, "my edit");
    let resumed = run(env.quorum(["resume", "--headless", "--json", "--dir", path_str(d)]));
    assert_eq!(resumed.code, 0, "{resumed}");
    let stream = resumed_events(&resumed);
    let commit = stream
        .iter()
        .find(|e| e["type"] == "commit_created")
        .unwrap_or_else(|| panic!("a commit: {resumed}"));
    assert!(
        commit["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "README.md"),
        "{commit}"
    );
    let now = std::fs::read_to_string(d.join("README.md")).unwrap();
    assert_ne!(now, edit);
    assert_eq!(env.git(d, &["show", "HEAD:README.md"]), now);
    assert_eq!(env.git(d, &["show", "HEAD~1:README.md"]), edit);
    assert_eq!(env.git(d, &["show", "HEAD~1:.gitignore"]), untracked);
    assert_eq!(commits_of(&env, d, refused.id()), 1);
    assert_eq!(env.git(d, &["status", "--porcelain"]), "");
}

/// How a test makes delivery fail, and how it undoes that.
enum Fault {
    /// DIR is a 32 KiB tmpfs in this thread's own mount namespace.
    Full,
    /// DIR is mode 0555 (for root: run without CAP_DAC_OVERRIDE).
    ReadOnly,
}

/// Mounts a 32 KiB tmpfs at `d` in a private mount namespace of this test's
/// thread (the quorum children inherit it; nothing leaks to the machine or to
/// the other tests). `false` when the OS does not allow it.
fn mount_small_tmpfs(d: &Path) -> bool {
    use std::ffi::CString;
    let target = CString::new(path_str(d)).unwrap();
    let tmpfs = CString::new("tmpfs").unwrap();
    let size = CString::new("size=32k").unwrap();
    let root = CString::new("/").unwrap();
    // SAFETY: plain syscalls with NUL-terminated strings; unshare affects this
    // thread only.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return false;
        }
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return false;
        }
        libc::mount(
            tmpfs.as_ptr(),
            target.as_ptr(),
            tmpfs.as_ptr(),
            0,
            size.as_ptr().cast(),
        ) == 0
    }
}

fn remount_larger(d: &Path) {
    use std::ffi::CString;
    let target = CString::new(path_str(d)).unwrap();
    let size = CString::new("size=16m").unwrap();
    // SAFETY: as in mount_small_tmpfs.
    let done = unsafe {
        libc::mount(
            std::ptr::null(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT,
            size.as_ptr().cast(),
        )
    };
    assert_eq!(done, 0, "remount: {}", std::io::Error::last_os_error());
}

fn unmount(d: &Path) {
    let target = std::ffi::CString::new(path_str(d)).unwrap();
    // SAFETY: as in mount_small_tmpfs.
    unsafe {
        libc::umount2(target.as_ptr(), libc::MNT_DETACH);
    }
}

/// For root, whom mode bits do not stop: the child runs without
/// CAP_DAC_OVERRIDE (dropped from its bounding set, so that exec does not
/// give it back).
fn without_dac_override(cmd: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    // SAFETY: prctl is async-signal-safe; nothing else runs in the hook.
    unsafe {
        cmd.pre_exec(|| {
            // CAP_DAC_OVERRIDE is capability 1 (capabilities(7)).
            if libc::prctl(libc::PR_CAPBSET_DROP, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Acceptance 2: a fault at delivery leaves DIR as it was, no temporary file,
/// the session `awaiting_delivery` with exit 3 and a one-line message naming
/// the file and the OS error; once the fault is gone, `resume --headless`
/// commits once.
fn a_fault_at_delivery_leaves_dir_as_it_was(wanted: Fault) {
    let env = Env::new();
    let root = tempdir();
    let d = root.path().join("p");
    std::fs::create_dir(&d).unwrap();
    // The state directory lives elsewhere: only delivery meets the fault.
    let state = root.path().join("state");
    let state_arg = ["--state-dir", path_str(&state)];
    let fault = match wanted {
        Fault::Full if mount_small_tmpfs(&d) => Fault::Full,
        _ => Fault::ReadOnly,
    };
    write(&d, "notes.txt", "the person's notes\n");
    if let Fault::ReadOnly = fault {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let before = snapshot(&d);

    let mut cmd = env.quorum(["run", PROMPT, "--dir", path_str(&d), "--json"]);
    cmd.args(state_arg);
    if let Fault::ReadOnly = fault {
        without_dac_override(&mut cmd);
    }
    let stopped = Session::from_output(run(cmd));
    assert_eq!(stopped.out.code, 3, "resumable: {}", stopped.out);
    assert_eq!(stopped.status(), "awaiting_delivery");
    assert!(stopped.of("commit_created").is_empty());
    let message = stopped.one("error")["message"]
        .as_str()
        .unwrap()
        .to_string();
    let os_error = match fault {
        Fault::Full => "No space left on device (os error 28)",
        Fault::ReadOnly => "Permission denied (os error 13)",
    };
    assert!(message.contains(os_error), "{message}");
    assert!(message.contains(path_str(&d)), "names the path: {message}");
    assert!(
        message.contains(&format!("quorum resume {}", stopped.id())),
        "{message}"
    );
    assert!(
        !message.contains("Os {") && !message.contains("kind:") && !message.contains(".tmp"),
        "no debug text, no temporary name: {message}"
    );
    let line = stopped
        .out
        .stderr
        .lines()
        .find(|l| l.contains(os_error))
        .unwrap_or_else(|| panic!("one line on stderr: {}", stopped.out));
    assert!(line.starts_with("quorum: "), "{line}");
    // DIR as it was: no file, no directory, no temporary file.
    assert_eq!(snapshot(&d), before);
    assert_eq!(
        listed_status(&env, &d, &state_arg, stopped.id()),
        "awaiting_delivery"
    );

    // The fault is gone: the resumed session delivers and commits once.
    match fault {
        Fault::Full => remount_larger(&d),
        Fault::ReadOnly => {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let mut resume = env.quorum(["resume", "--headless", "--json", "--dir", path_str(&d)]);
    resume.args(state_arg);
    let resumed = run(resume);
    assert_eq!(resumed.code, 0, "{resumed}");
    let stream = resumed_events(&resumed);
    let commits: Vec<&Value> = stream
        .iter()
        .filter(|e| e["type"] == "commit_created")
        .collect();
    assert_eq!(commits.len(), 1, "{resumed}");
    assert_eq!(commits_of(&env, &d, stopped.id()), 1);
    assert_eq!(env.git(&d, &["rev-list", "--count", "HEAD"]), "1\n");
    assert!(
        tree(&d).iter().all(|p| !p.contains(".quorum-")),
        "no temporary file: {:?}",
        tree(&d)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("notes.txt")).unwrap(),
        "the person's notes\n"
    );
    assert_eq!(
        listed_status(&env, &d, &state_arg, stopped.id()),
        "succeeded"
    );
    if let Fault::Full = fault {
        unmount(&d);
    }
}

#[test]
fn a_full_disk_at_delivery_leaves_dir_as_it_was_and_resume_commits_once() {
    a_fault_at_delivery_leaves_dir_as_it_was(Fault::Full);
}

#[test]
fn a_read_only_dir_at_delivery_leaves_it_as_it_was_and_resume_commits_once() {
    a_fault_at_delivery_leaves_dir_as_it_was(Fault::ReadOnly);
}

/// Waits (bounded) for the first event `pick` accepts.
async fn until<T>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<quorum::protocol::Event>,
    what: &str,
    mut pick: impl FnMut(&quorum::protocol::Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("the orchestrator stopped before {what}"));
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

/// Interactively (the TUI's `Op::Commit`), a file with uncommitted changes
/// that the person accepted is refused with the same list, nothing is
/// written, and the session stays at deliver: once the edit is committed,
/// the commit goes through and the old content is in HEAD~1 (docs/tui.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_commit_never_overwrites_uncommitted_work() {
    use quorum::protocol::{Event, EventBody, Op, SessionOptions};
    use std::sync::Arc;
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    write(d, "README.md", "# Todo\n");
    env.git(d, &["init", "-q"]);
    env.commit_all(d, "my project");
    let edit = "# Todo\n\nMy uncommitted edit.\n";
    std::fs::write(d.join("README.md"), edit).unwrap();

    let settings = Arc::new(quorum::config::Settings::offline_defaults());
    let state = quorum::workspace::state_dir::StateDir::open(
        &quorum::workspace::state_dir::StateDir::location(d, None),
    )
    .unwrap();
    let store = quorum::store::Store::open(&state.db_path()).unwrap();
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    let handle = quorum::orchestrator::spawn(quorum::orchestrator::Parts {
        workflow: quorum::config::workflow::Workflow::default_for(&roster).unwrap(),
        providers: quorum::orchestrator::providers::build_providers(&settings).unwrap(),
        settings,
        store,
        workspace: quorum::workspace::Workspace::new(d, state.root()),
    });
    let mut rx = handle.subscribe();
    handle.send(Op::Start {
        prompt: "Build a CLI todo app".into(),
        options: SessionOptions {
            interactive: true,
            ..SessionOptions::default()
        },
    });
    until(&mut rx, "resolve", |e| match e {
        Event::Logged(l) => {
            matches!(&l.body, EventBody::PhaseStarted { phase, .. } if phase == "resolve")
                .then_some(())
        }
        _ => None,
    })
    .await;
    handle.send(Op::AcceptVotes);
    handle.send(Op::Pick {
        conflict: "storage".into(),
        option: "json-file".into(),
    });
    until(&mut rx, "deliver", |e| {
        matches!(e, Event::DeliveryReady { .. }).then_some(())
    })
    .await;
    handle.send(Op::SetFileAccepted {
        path: "README.md".into(),
        accepted: true,
    });
    handle.send(Op::Commit {
        message: None,
        allow_secrets: false,
    });
    let reason = until(&mut rx, "the refusal", |e| match e {
        Event::Rejected { op, reason } if op == "commit" => Some(reason.clone()),
        Event::Logged(l) if matches!(l.body, EventBody::CommitCreated { .. }) => {
            panic!("committed over uncommitted work")
        }
        _ => None,
    })
    .await;
    for named in [
        "README.md",
        "uncommitted",
        "Commit or stash",
        "commit again",
    ] {
        assert!(reason.contains(named), "{named} in: {reason}");
    }
    assert_eq!(std::fs::read_to_string(d.join("README.md")).unwrap(), edit);
    assert!(
        tree(d).iter().all(|p| !p.contains(".quorum-")),
        "nothing was written: {:?}",
        tree(d)
    );

    // Committed by the person, the same commit goes through.
    env.commit_all(d, "my edit");
    handle.send(Op::Commit {
        message: None,
        allow_secrets: false,
    });
    let files = until(&mut rx, "the commit", |e| match e {
        Event::Logged(l) => match &l.body {
            EventBody::CommitCreated { files, .. } => Some(files.clone()),
            _ => None,
        },
        Event::Rejected { reason, .. } => panic!("refused again: {reason}"),
        _ => None,
    })
    .await;
    assert!(files.contains(&"README.md".to_string()), "{files:?}");
    handle.send(Op::Shutdown);
    until(&mut rx, "closed", |e| (e == &Event::Closed).then_some(())).await;
    handle.join().await;
    assert_eq!(env.git(d, &["show", "HEAD~1:README.md"]), edit);
    assert_ne!(std::fs::read_to_string(d.join("README.md")).unwrap(), edit);
}
