//! The test-command sandbox (docs/design.md §6, issue 6 acceptance 3), through its
//! real entry points `quorum::workspace::sandbox::{run_tests, run_sandboxed}`:
//! a generated suite that double-forks a `setsid()` grandchild, one that
//! allocates without bound, and one that connects to a listener this test
//! owns on 127.0.0.1. Survivors are looked for in `/proc` by a marker unique
//! to each test in their command line, and killed by the test in any case.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use quorum::protocol::TestStatus;
use quorum::workspace::sandbox::{self, Limits, Policy};

use crate::common::{tempdir, write};

/// A marker no other process on the machine carries.
fn marker(what: &str) -> String {
    format!("quorum-sandbox-{what}-{}", uuid::Uuid::new_v4().simple())
}

/// Pids (other than ours) whose command line holds `marker`.
fn carriers(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        // A zombie has an empty command line and is no survivor.
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            found.push(pid);
        }
    }
    found
}

/// Kills whatever carries `marker` (cleanup, whatever the assertions said)
/// and returns what was found.
fn survivors(marker: &str) -> Vec<i32> {
    let found = carriers(marker);
    for pid in &found {
        // SAFETY: kill(2) on a pid that carries this test's unique marker.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    found
}

/// Removes leftovers on drop, so a failed assertion leaves no process behind.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        survivors(&self.0);
    }
}

const FORK: &str = r#"
import os, sys, time
pid = os.fork()
if pid == 0:
    if os.fork() == 0:
        os.setsid()
        with open("grandchild.pid", "w") as f:
            f.write(str(os.getpid()))
        time.sleep(3600)
    os._exit(0)
os.waitpid(pid, 0)
while not os.path.exists("grandchild.pid"):
    time.sleep(0.01)
print("Ran 1 test in 0.0s\n\nOK")
"#;

async fn grandchild_is_killed(dir: &Path, mark: &str, command: &str, timeout: Duration) {
    let out = sandbox::run_tests(dir, command, timeout, &[]).await;
    let grandchild: i32 = std::fs::read_to_string(dir.join("grandchild.pid"))
        .unwrap_or_else(|e| panic!("the grandchild did not start ({e}): {}", out.output))
        .trim()
        .parse()
        .unwrap();
    // The grandchild carries the marker in its command line (a fork keeps
    // it); its pid is one of the jail's PID namespace, not ours.
    assert!(grandchild > 0);
    let left = survivors(mark);
    assert!(left.is_empty(), "survivors {left:?}: {}", out.output);
    if timeout < Duration::from_secs(60) {
        assert_eq!(out.status, TestStatus::Timeout, "{}", out.output);
    } else {
        assert_eq!(out.status, TestStatus::Passed, "{}", out.output);
    }
}

#[tokio::test]
async fn a_setsid_grandchild_is_killed_when_the_suite_ends_and_at_the_timeout() {
    let dir = tempdir();
    write(dir.path(), "fork.py", FORK);

    // The suite ends at once, leaving a grandchild that left its session.
    let mark = marker("setsid");
    let _cleanup = Cleanup(mark.clone());
    grandchild_is_killed(
        dir.path(),
        &mark,
        &format!("python3 fork.py {mark}"),
        Duration::from_secs(120),
    )
    .await;

    // The suite hangs after forking: the timeout stops it, grandchild included.
    std::fs::remove_file(dir.path().join("grandchild.pid")).unwrap();
    let mark = marker("setsid-timeout");
    let _cleanup = Cleanup(mark.clone());
    let started = Instant::now();
    grandchild_is_killed(
        dir.path(),
        &mark,
        &format!("python3 fork.py {mark} && sleep 3600"),
        Duration::from_secs(2),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "stopped near its 2 s limit, not after the sleep"
    );
}

#[tokio::test]
async fn a_cancelled_run_leaves_no_process() {
    let dir = tempdir();
    write(dir.path(), "fork.py", FORK);
    let mark = marker("cancel");
    let _cleanup = Cleanup(mark.clone());
    let command = format!("python3 fork.py {mark} && sleep 3600");
    let run = sandbox::run_tests(dir.path(), &command, Duration::from_secs(600), &[]);
    // Dropping the run (as a cancelled session does) stops it.
    let dropped = tokio::time::timeout(Duration::from_secs(3), run).await;
    assert!(dropped.is_err(), "the run should still be going");
    let grandchild: i32 = std::fs::read_to_string(dir.path().join("grandchild.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The supervisor sees its lifeline hang up and kills the tree.
    // (The grandchild carries the marker in its command line; its pid is
    // one of the jail's PID namespace.)
    assert!(grandchild > 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !carriers(&mark).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = survivors(&mark);
    assert!(left.is_empty(), "survivors after cancel: {left:?}");
}

#[tokio::test]
async fn unbounded_allocation_stops_at_the_memory_limit() {
    let dir = tempdir();
    let mark = marker("alloc");
    let _cleanup = Cleanup(mark.clone());
    // Bounded at 4 GiB in case the limit did not apply, so that a failure
    // does not take the machine with it.
    write(
        dir.path(),
        "alloc.py",
        "chunks = []\nfor _ in range(256):\n    chunks.append(bytearray(16 << 20))\nprint('UNBOUNDED: allocated 4 GiB')\n",
    );
    let limits = Limits {
        memory_bytes: 256 << 20,
        ..Limits::for_timeout(Duration::from_secs(120))
    };
    let out = sandbox::run_sandboxed(
        dir.path(),
        &format!("python3 alloc.py {mark}"),
        &limits,
        &[],
        &Policy::default(),
    )
    .await;
    // No runner summary: whatever the exit, never passed.
    assert_ne!(out.status, TestStatus::Passed, "{}", out.output);
    assert!(out.output.contains("MemoryError"), "{}", out.output);
    assert!(!out.output.contains("UNBOUNDED"), "{}", out.output);
    assert!(survivors(&mark).is_empty());
}

#[tokio::test]
async fn a_cpu_bound_suite_is_killed_at_its_timeout() {
    let dir = tempdir();
    let mark = marker("spin");
    let _cleanup = Cleanup(mark.clone());
    let out = sandbox::run_tests(
        dir.path(),
        &format!("while :; do :; done # {mark}"),
        Duration::from_secs(1),
        &[],
    )
    .await;
    assert_eq!(out.status, TestStatus::Timeout, "{}", out.output);
    assert!(survivors(&mark).is_empty());
}

/// A listener on 127.0.0.1 that counts the connections it accepts within
/// `window`, then stops by itself.
fn listener(window: Duration) -> (u16, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + window;
        let mut accepted = 0;
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    accepted += 1;
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
                    let _ = stream.read(&mut [0u8; 16]);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        accepted
    });
    (port, handle)
}

fn connect_command(port: u16, mark: &str) -> String {
    format!(
        "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); print('CONNECTED')\" {mark}"
    )
}

#[tokio::test]
async fn the_suite_cannot_reach_a_listener_on_this_machine() {
    let dir = tempdir();
    let mark = marker("net");
    let _cleanup = Cleanup(mark.clone());
    let (port, accepted) = listener(Duration::from_secs(8));
    let out = sandbox::run_tests(
        dir.path(),
        &connect_command(port, &mark),
        Duration::from_secs(60),
        &[],
    )
    .await;
    let accepted = accepted.join().unwrap();
    if sandbox::can_isolate_network() {
        assert!(out.network_isolated);
        // No runner summary: whatever the exit, never passed.
        assert_ne!(out.status, TestStatus::Passed, "{}", out.output);
        assert!(!out.output.contains("CONNECTED"), "{}", out.output);
        assert!(out.output.contains("refused"), "{}", out.output);
        assert_eq!(accepted, 0, "the listener saw a connection");
    } else {
        // This machine cannot isolate: the report says so.
        assert!(!out.network_isolated);
        assert!(
            out.output.contains("network not isolated"),
            "{}",
            out.output
        );
    }
    assert!(survivors(&mark).is_empty());
}

#[tokio::test]
async fn without_isolation_the_report_says_network_not_isolated() {
    // The control experiment: with isolation off, the same suite connects,
    // and the report says that the network was not isolated.
    let dir = tempdir();
    let mark = marker("net-open");
    let _cleanup = Cleanup(mark.clone());
    let (port, accepted) = listener(Duration::from_secs(8));
    let limits = Limits {
        isolate_network: false,
        ..Limits::for_timeout(Duration::from_secs(60))
    };
    let out = sandbox::run_sandboxed(
        dir.path(),
        &connect_command(port, &mark),
        &limits,
        &[],
        &Policy::default(),
    )
    .await;
    assert!(!out.network_isolated);
    assert!(
        out.output.starts_with(sandbox::NETWORK_NOT_ISOLATED),
        "{}",
        out.output
    );
    assert!(
        sandbox::NETWORK_NOT_ISOLATED.contains("network not isolated"),
        "the documented wording"
    );
    // The command prints no runner summary: it ran, and executed no test.
    assert_eq!(out.status, TestStatus::NoTests, "{}", out.output);
    assert!(out.output.contains("CONNECTED"), "{}", out.output);
    assert_eq!(accepted.join().unwrap(), 1);
    assert!(survivors(&mark).is_empty());
}

#[tokio::test]
async fn provider_keys_never_reach_the_suite() {
    let dir = tempdir();
    // Variables the test process holds are not passed on, keys least of all:
    // the suite sees only the allowlist.
    let out = sandbox::run_tests(
        dir.path(),
        "env; echo 'Ran 1 test in 0s'; echo OK",
        Duration::from_secs(30),
        &["OPENAI_API_KEY".to_string()],
    )
    .await;
    assert_eq!(out.status, TestStatus::Passed, "{}", out.output);
    for line in out.output.lines().filter(|l| l.contains('=')) {
        let name = line.split('=').next().unwrap();
        assert!(
            !["KEY", "TOKEN", "SECRET", "PASSWORD"]
                .iter()
                .any(|s| name.to_ascii_uppercase().contains(s)),
            "{line}"
        );
    }
}
