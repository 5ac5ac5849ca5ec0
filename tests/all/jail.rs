//! The jail around setup and test runs (docs/sandbox.md; issue 17,
//! acceptance 1 and 8), through the library's real entry point
//! `quorum::workspace::sandbox::run_sandboxed` and the `quorum` binary:
//! a hostile generated suite that reads the key through `/proc`, reads
//! `$HOME` and the target's `.git`, plants a git hook, writes outside its
//! tree and in `/tmp`, connects to a unix socket and a tmux server of this
//! test's; a fork bomb; allocators. As this user and — when the tests run as
//! root — again as `nobody`, by running this test binary's own test under
//! `setpriv`. Where user namespaces are disabled (simulated with
//! `user.max_user_namespaces = 0` inside a user namespace of `unshare`), runs
//! are refused without `--allow-unconfined-tests` and `doctor` says why.

use std::io::ErrorKind;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use quorum::protocol::TestStatus;
use quorum::workspace::sandbox::{self, Limits, Policy};

use crate::common::{Env, path_str, run, tempdir, write};

/// The environment variable name and value of the fake provider key this
/// test process holds (never passed to a run: only /proc could show it).
const KEY_VAR: &str = "QUORUM_JAIL_TEST_OPENAI_API_KEY";

fn key() -> String {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let value = format!("sk-jail-{}", uuid::Uuid::new_v4().simple());
        // SAFETY: set once, before any run reads the environment; no other
        // test of this binary reads this variable.
        unsafe { std::env::set_var(KEY_VAR, &value) };
        value
    })
    .clone()
}

/// Pids (other than ours) whose command line holds `marker`.
fn carriers(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if pid != me && String::from_utf8_lossy(&cmdline).contains(marker) {
            found.push(pid);
        }
    }
    found
}

/// A target directory like a session's: DIR with a git repository, its state
/// directory and the session's scratch tree in it.
struct Layout {
    _root: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
    state: PathBuf,
    tree: PathBuf,
}

fn layout() -> Layout {
    let root = tempdir();
    let path = root.path().to_path_buf();
    let dir = path.join("project");
    let state = dir.join(".quorum");
    let tree = state.join("work").join("S1");
    std::fs::create_dir_all(&tree).unwrap();
    let git = Command::new("git")
        .args(["init", "-q"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(git.success());
    write(&dir, "NOTES.md", "the person's uncommitted notes\n");
    Layout {
        _root: root,
        root: path,
        dir,
        state,
        tree,
    }
}

/// The dotfiles of this user's real `$HOME` (files only), which no run may see.
fn home_dotfiles() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return Vec::new();
    };
    std::fs::read_dir(&home)
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// The hostile suite: prints `LEAK:<what>` for every escape that worked.
fn hostile_command(
    l: &Layout,
    secret_home: &Path,
    socket: &Path,
    tmux: &Path,
    mark: &str,
) -> String {
    let mut dotfiles = String::new();
    for file in home_dotfiles() {
        dotfiles.push_str(&format!(
            "test -r '{0}' && echo 'LEAK:home {0}'\n",
            file.display()
        ));
    }
    format!(
        r#": {mark}
for f in /proc/[0-9]*/environ /proc/$PPID/environ; do tr '\0' '\n' < "$f"; done > environ.txt 2>/dev/null
ls /proc | grep -c '^[0-9]' > pids.txt
cat '{home}/.ssh/id_rsa' 2>/dev/null && echo LEAK:ssh
{dotfiles}cat '{dir}/.git/config' 2>/dev/null && echo LEAK:git-config
cat '{dir}/NOTES.md' 2>/dev/null && echo LEAK:notes
mkdir -p '{dir}/.git/hooks' 2>/dev/null; echo 'touch pwned' > '{dir}/.git/hooks/pre-commit' 2>/dev/null && echo LEAK:hook
echo x > '{dir}/outside.txt' 2>/dev/null && echo LEAK:outside
echo x > '{state}/outside.txt' 2>/dev/null && echo LEAK:state
echo x > '/tmp/quorum-jail-{mark}' && echo wrote-private-tmp
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("LEAK:socket")' '{socket}' 2>/dev/null
tmux -S '{tmux}' new-window 'touch {root}/tmux-pwned' 2>/dev/null && echo LEAK:tmux
echo 'Ran 1 test in 0.0s'; echo OK
"#,
        home = secret_home.display(),
        dir = l.dir.display(),
        state = l.state.display(),
        socket = socket.display(),
        tmux = tmux.display(),
        root = l.root.display(),
    )
}

/// The suite reaches nothing outside its tree, as whatever user runs it.
async fn hostile_suite_is_contained() {
    let key = key();
    let l = layout();
    let mark = format!("quorum-jail-{}", uuid::Uuid::new_v4().simple());
    // A home with a private key, hidden like $HOME.
    let secret_home = l.root.join("home");
    write(
        &secret_home,
        ".ssh/id_rsa",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    );
    // A unix socket and a tmux server of this test's, outside the tree.
    let socket = l.root.join("app.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let tmux = l.root.join("tmux.sock");
    let tmux_up = Command::new("tmux")
        .arg("-S")
        .arg(&tmux)
        .args(["new-session", "-d", "sleep 120"])
        .status()
        .is_ok_and(|s| s.success());

    let mut policy = Policy::for_session(&l.tree, &l.dir, &l.state, false);
    policy.hide.push(secret_home.clone());
    let out = sandbox::run_sandboxed(
        &l.tree,
        &hostile_command(&l, &secret_home, &socket, &tmux, &mark),
        &Limits::for_timeout(Duration::from_secs(60)),
        &[KEY_VAR.to_string()],
        &policy,
    )
    .await;
    if tmux_up {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&tmux)
            .arg("kill-server")
            .status();
    }

    assert_eq!(out.status, TestStatus::Passed, "{}", out.output);
    assert!(!out.output.contains("LEAK:"), "{}", out.output);
    // The reads ran and saw only the jail's processes, without the key.
    let environ = std::fs::read_to_string(l.tree.join("environ.txt")).unwrap();
    assert!(environ.contains("PATH="), "the suite read /proc: {environ}");
    assert!(!environ.contains(&key), "the key reached the suite");
    let pids: u32 = std::fs::read_to_string(l.tree.join("pids.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        pids < 10,
        "a private /proc shows the jail's few processes, not {pids}"
    );
    // Nothing was left outside the tree.
    assert!(!l.dir.join(".git/hooks/pre-commit").exists());
    assert!(!l.dir.join("outside.txt").exists());
    assert!(!l.state.join("outside.txt").exists());
    assert!(out.output.contains("wrote-private-tmp"), "{}", out.output);
    assert!(!Path::new(&format!("/tmp/quorum-jail-{mark}")).exists());
    assert!(!l.root.join("tmux-pwned").exists());
    assert_eq!(
        listener.accept().map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "the suite connected to the socket"
    );
    // What confined it is reported.
    assert!(out.isolation.filesystem, "{:?}", out.isolation);
    for ns in ["user", "mount", "pid", "ipc", "net"] {
        assert!(
            out.isolation.namespaces.iter().any(|n| n == ns),
            "{:?}",
            out.isolation
        );
    }
    assert!(out.network_isolated);
    assert!(carriers(&mark).is_empty(), "every descendant is gone");
}

/// A fork bomb stops at the process bound, and nothing of it outlives the run.
async fn fork_bomb_is_contained() {
    let l = layout();
    let mark = format!("quorum-bomb-{}", uuid::Uuid::new_v4().simple());
    let limits = Limits {
        extra_processes: 64,
        ..Limits::for_timeout(Duration::from_secs(4))
    };
    let sampler_mark = mark.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_sampler = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut most = 0;
        while !stop_sampler.load(std::sync::atomic::Ordering::Relaxed) {
            most = most.max(carriers(&sampler_mark).len());
            std::thread::sleep(Duration::from_millis(20));
        }
        most
    });
    let out = sandbox::run_sandboxed(
        &l.tree,
        &format!(": {mark}; bomb() {{ bomb | bomb & }}; bomb; sleep 60"),
        &limits,
        &[],
        &Policy::for_session(&l.tree, &l.dir, &l.state, false),
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let most = sampler.join().unwrap();
    // The bound was hit: forks were refused (the shell says so; its own
    // last fork may fail too, so the run may end before its timeout).
    assert!(
        out.output.to_lowercase().contains("fork"),
        "{:?}: {}",
        out.status,
        out.output
    );
    assert_ne!(out.status, TestStatus::Passed);
    // The bound: what the isolation report names (a cgroup's pids.max or
    // RLIMIT_NPROC in the user namespace), plus the jail's init and shell.
    assert!(
        out.isolation.processes.contains("=64"),
        "{:?}",
        out.isolation
    );
    assert!(most <= 64 + 4, "{most} processes at once");
    assert!(carriers(&mark).is_empty(), "the bomb outlived the run");
}

/// Three 1.5 GB allocators fail at the per-process bound; where a cgroup
/// bounds the tree, three 600 MB ones cannot all hold their memory at once.
async fn allocators_are_contained() {
    let l = layout();
    let mark = format!("quorum-alloc-{}", uuid::Uuid::new_v4().simple());
    let alloc = |mb: u32| {
        format!(
            "import sys, time\nb = bytearray({mb} << 20)\nprint('held', flush=True)\ntime.sleep(5)\nprint('kept', flush=True)\n"
        )
    };
    write(&l.tree, "big.py", &alloc(1536));
    write(&l.tree, "mid.py", &alloc(600));
    let limits = Limits {
        memory_bytes: 1 << 30,
        ..Limits::for_timeout(Duration::from_secs(60))
    };
    let policy = Policy::for_session(&l.tree, &l.dir, &l.state, false);
    let three = |script: &str| {
        format!(": {mark}; for i in 1 2 3; do python3 {script} & done; wait; echo done")
    };
    let out = sandbox::run_sandboxed(&l.tree, &three("big.py"), &limits, &[], &policy).await;
    assert!(out.output.contains("done"), "{}", out.output);
    assert_eq!(out.output.matches("held").count(), 0, "{}", out.output);
    assert_eq!(
        out.output.matches("MemoryError").count(),
        3,
        "{}",
        out.output
    );
    if out.isolation.memory.contains("cgroup") {
        let out = sandbox::run_sandboxed(&l.tree, &three("mid.py"), &limits, &[], &policy).await;
        assert!(out.output.contains("done"), "{}", out.output);
        assert!(out.output.matches("kept").count() <= 1, "{}", out.output);
    }
    assert!(carriers(&mark).is_empty());
}

#[tokio::test]
async fn a_hostile_suite_reaches_nothing_outside_its_tree() {
    hostile_suite_is_contained().await;
    fork_bomb_is_contained().await;
    allocators_are_contained().await;
}

/// As root, the same test again as `nobody` (unprivileged user namespaces,
/// no cgroup): this test binary runs the test above under `setpriv`.
#[test]
fn as_a_normal_user_too() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // The test above ran as this normal user already.
        assert_ne!(unsafe { libc::geteuid() }, 0);
        return;
    }
    let scratch = tempdir();
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(
        scratch.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(scratch.path())
        .status()
        .unwrap();
    assert!(chown.success());
    // A copy of this test binary that `nobody` can execute wherever the
    // checkout lives (under /root, say).
    let me = scratch.path().join("all");
    std::fs::copy(std::env::current_exe().unwrap(), &me).unwrap();
    std::fs::set_permissions(&me, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = run({
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&me)
            .args([
                "--exact",
                "jail::a_hostile_suite_reaches_nothing_outside_its_tree",
                "--test-threads=1",
            ])
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("TMPDIR", "/tmp")
            .env("LANG", "C.UTF-8");
        cmd
    });
    assert_eq!(out.code, 0, "as nobody: {out}");
    assert!(out.stdout.contains("1 passed"), "as nobody: {out}");
}

/// Where the kernel cannot confine (user namespaces disabled), runs are
/// refused without `--allow-unconfined-tests`, `doctor` says why, and with the
/// flag the session runs its tests unconfined and says so.
#[test]
fn without_user_namespaces_runs_are_refused_unless_allowed() {
    let env = Env::new();
    // quorum inside a user namespace whose nested user namespaces are
    // disabled: the jail's clone fails as on a kernel that forbids them.
    let disabled = |args: &[&str]| {
        let mut cmd = env.command("unshare");
        cmd.args(["--user", "--map-root-user", "sh", "-c"])
            .arg("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"")
            .arg("sh")
            .arg(crate::common::bin())
            .args(args);
        run(cmd)
    };
    let dir = tempdir();
    let doctor = disabled(&["doctor", "--dir", path_str(dir.path())]);
    let line = doctor
        .stdout
        .lines()
        .find(|l| l.contains(" jail "))
        .unwrap_or_else(|| panic!("doctor names the jail: {doctor}"))
        .to_string();
    assert!(line.contains("FAIL"), "{line}");
    assert!(line.contains("cannot be confined"), "{line}");
    assert!(line.contains("--allow-unconfined-tests"), "{line}");

    // Headless refuses at once, before any model is called.
    let refused = disabled(&[
        "run",
        "a word counter",
        "--dir",
        path_str(dir.path()),
        "--offline",
        "--json",
    ]);
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused.stderr.contains("--allow-unconfined-tests"),
        "{refused}"
    );
    assert!(refused.stderr.contains("nothing was started"), "{refused}");
    assert!(refused.stdout.is_empty(), "no session started: {refused}");
    assert!(!dir.path().join(".quorum").exists(), "{refused}");

    let dir = tempdir();
    let allowed = disabled(&[
        "run",
        "a word counter",
        "--dir",
        path_str(dir.path()),
        "--offline",
        "--json",
        "--allow-unconfined-tests",
    ]);
    assert_eq!(allowed.code, 0, "{allowed}");
    let test_run = allowed
        .stdout
        .lines()
        .find(|l| l.contains("\"type\":\"test_run\""))
        .unwrap_or_else(|| panic!("a test run: {allowed}"));
    assert!(test_run.contains("\"filesystem\":false"), "{test_run}");
}

/// Every confined run's event says what confined it.
#[test]
fn the_isolation_is_in_every_test_event_and_the_decision_record() {
    let env = Env::new();
    let dir = tempdir();
    let out = run(env.quorum([
        "run",
        "a word counter",
        "--dir",
        path_str(dir.path()),
        "--offline",
        "--json",
    ]));
    assert_eq!(out.code, 0, "{out}");
    let runs: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("\"type\":\"test_run\"") || l.contains("\"type\":\"setup_run\""))
        .collect();
    assert!(!runs.is_empty(), "{out}");
    for line in runs {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        crate::common::check_event(&event);
        assert_eq!(event["isolation"]["filesystem"], true, "{line}");
    }
    let decisions = std::fs::read_to_string(dir.path().join("docs/DECISIONS.md")).unwrap();
    assert!(
        decisions.contains("Sandbox: namespaces user+mount+pid"),
        "{decisions}"
    );
}
