//! Runs the test command on generated code (DESIGN.md §6): in the scratch tree,
//! with a timeout, rlimits, an environment scrubbed of provider keys, no network
//! where the OS allows it (a fresh network namespace with only loopback, as root),
//! in its own session and process group, every member of which is killed at the
//! end.
//!
//! Also here: choosing the test command for a tree (`auto`) and reading passed and
//! failed counts out of the common runners' reports.

use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::protocol::TestStatus;

/// Most bytes of test output kept (head and tail are kept when it is longer).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// Variables passed through to the test command; everything else is dropped.
const ENV_ALLOW: [&str; 16] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SHELL",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "GOPATH",
    "GOCACHE",
    "PYENV_ROOT",
    "PYENV_VERSION",
];

/// What a test run produced (stored with the session's state, serde).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TestOutcome {
    /// passed, failed, timeout or error.
    pub status: TestStatus,
    /// Tests that passed, as the runner reported them (0 when unknown).
    pub passed: u32,
    /// Tests that failed or errored.
    pub failed: u32,
    /// Names of failing tests, as the runner printed them.
    pub failures: Vec<String>,
    /// Combined stdout and stderr, trimmed to [`MAX_OUTPUT_BYTES`].
    pub output: String,
    /// Wall time.
    pub duration: Duration,
    /// `false` when the OS did not allow a private network namespace.
    pub network_isolated: bool,
}

/// Picks a test command for the files of a tree: Cargo.toml → `cargo test`,
/// go.mod → `go test ./...`, package.json → `npm test`, a Python project
/// (pyproject.toml, setup.cfg, a `tests/` directory or `test_*.py` files) →
/// `python3 -m pytest` when pytest is installed, else
/// `python3 -m unittest discover -v`. `None` when nothing looks testable.
/// Whether pytest is installed is probed once per process (see
/// [`pytest_installed`]).
pub fn detect_command(paths: &[String]) -> Option<String> {
    detect_command_with(paths, pytest_installed)
}

/// [`detect_command`] with the pytest probe supplied by the caller; the
/// probe is called only for Python trees.
pub fn detect_command_with(paths: &[String], pytest: impl FnOnce() -> bool) -> Option<String> {
    let has = |name: &str| paths.iter().any(|p| p == name);
    if has("Cargo.toml") {
        return Some("cargo test".into());
    }
    if has("go.mod") {
        return Some("go test ./...".into());
    }
    if has("package.json") {
        return Some("npm test".into());
    }
    let python_tests = paths.iter().any(|p| {
        let file = p.rsplit('/').next().unwrap_or(p);
        p.ends_with(".py")
            && (file.starts_with("test_") || file.ends_with("_test.py") || p.starts_with("tests/"))
    });
    let python = python_tests || has("pyproject.toml") || has("setup.cfg");
    if !python {
        return None;
    }
    Some(if pytest() {
        "python3 -m pytest".into()
    } else {
        "python3 -m unittest discover -v".into()
    })
}

/// Whether a project path (relative, `/`-separated) holds tests: under a
/// `tests/` or `test/` directory, or named like `test_x.py`, `x_test.py`,
/// `x_test.go`, `x.test.js` or `x.spec.ts`.
pub fn is_test_path(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("tests/")
        || path.starts_with("test/")
        || path.contains("/tests/")
        || (file.starts_with("test_") && file.ends_with(".py"))
        || file.ends_with("_test.py")
        || file.ends_with("_test.go")
        || [".test.", ".spec."].iter().any(|m| file.contains(m))
}

/// Whether `python3 -m pytest --version` succeeds on this machine (probed
/// once per process; `false` when python3 itself is missing).
pub fn pytest_installed() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| {
        std::process::Command::new("python3")
            .args(["-m", "pytest", "--version"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Reads passed/failed counts and failing test names from a runner's output
/// (unittest, pytest, cargo test, go test). Returns `(passed, failed, names)`.
pub fn parse_report(output: &str) -> (u32, u32, Vec<String>) {
    let mut passed = 0u32;
    let mut failed = 0u32;
    let mut names = Vec::new();
    let mut unittest_ran = None;
    let mut unittest_bad = 0u32;
    let mut unittest_skipped = 0u32;
    for line in output.lines() {
        let line = line.trim();
        // unittest: "Ran 12 tests in 0.01s", "FAILED (failures=1, errors=2, skipped=1)", "OK (skipped=1)"
        if let Some(rest) = line.strip_prefix("Ran ") {
            unittest_ran = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u32>().ok());
        }
        if line.starts_with("FAILED (") || line.starts_with("OK (") {
            for part in line.trim_end_matches(')').split(['(', ',']) {
                let part = part.trim();
                let count = |key: &str| {
                    part.strip_prefix(key)
                        .and_then(|n| n.parse::<u32>().ok())
                        .unwrap_or(0)
                };
                unittest_bad += count("failures=") + count("errors=");
                unittest_skipped += count("skipped=");
            }
        }
        for prefix in ["FAIL: ", "ERROR: "] {
            if let Some(name) = line.strip_prefix(prefix) {
                names.push(name.to_string());
            }
        }
        // pytest short summary: "FAILED tests/test_x.py::test_y - AssertionError"
        for prefix in ["FAILED ", "ERROR "] {
            if let Some(rest) = line.strip_prefix(prefix)
                && rest.contains("::")
            {
                let name = rest.split(" - ").next().unwrap_or(rest).trim();
                names.push(name.to_string());
            }
        }
        // pytest summary: "==== 3 failed, 10 passed in 0.12s ===="
        if line.starts_with('=') && line.contains(" in ") {
            let body = line.trim_matches('=').trim();
            for part in body.split(',') {
                let mut words = part.split_whitespace();
                if let (Some(n), Some(what)) = (words.next(), words.next())
                    && let Ok(n) = n.parse::<u32>()
                {
                    match what {
                        "passed" => passed += n,
                        "failed" | "error" | "errors" => failed += n,
                        _ => {}
                    }
                }
            }
        }
        // cargo: "test result: FAILED. 5 passed; 1 failed; 0 ignored; ..."
        if let Some(rest) = line.strip_prefix("test result: ") {
            for part in rest.split(';') {
                let words: Vec<&str> = part.split_whitespace().collect();
                let n = |i: usize| words.get(i).and_then(|w| w.parse::<u32>().ok());
                for (i, w) in words.iter().enumerate() {
                    if *w == "passed" && i > 0 {
                        passed += n(i - 1).unwrap_or(0);
                    }
                    if *w == "failed" && i > 0 {
                        failed += n(i - 1).unwrap_or(0);
                    }
                }
            }
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            names.push(name.to_string());
        }
        // go: "--- PASS: TestX (0.00s)" / "--- FAIL: TestY (0.00s)"
        if line.starts_with("--- PASS: ") {
            passed += 1;
        }
        if let Some(rest) = line.strip_prefix("--- FAIL: ") {
            failed += 1;
            names.push(rest.split_whitespace().next().unwrap_or(rest).to_string());
        }
    }
    if let Some(ran) = unittest_ran {
        let bad = unittest_bad.min(ran);
        passed += ran - bad - unittest_skipped.min(ran - bad);
        failed += bad;
    }
    (passed, failed, names)
}

/// Whether this process may give test runs a private network namespace
/// (probed once by starting `true` in one).
pub fn can_isolate_network() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| {
        let mut cmd = std::process::Command::new("true");
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: the closure only makes async-signal-safe system calls.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::unshare(libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            return false;
        }
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// Brings the loopback interface up inside a fresh network namespace, so tests
/// can still listen on 127.0.0.1. Async-signal-safe (a socket and two ioctls).
#[cfg(target_os = "linux")]
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain system calls on a zeroed ifreq whose name we fill in.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut result = Ok(());
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            result = Err(std::io::Error::last_os_error());
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
                result = Err(std::io::Error::last_os_error());
            }
        }
        libc::close(fd);
        result
    }
}

/// Reads a pipe to its end (an absent pipe reads as empty).
async fn read_all<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut buf).await;
    }
    buf
}

/// Keeps the head and tail of long output.
fn trim_output(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= MAX_OUTPUT_BYTES {
        return text.into_owned();
    }
    let half = MAX_OUTPUT_BYTES / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!(
        "{}\n[… {} bytes of output omitted …]\n{}",
        &text[..head_end],
        tail_start - head_end,
        &text[tail_start..]
    )
}

/// Runs `command` with `sh -c` in `cwd` under the sandbox rules. `scrub` names
/// extra environment variables to drop (the configured provider key variables;
/// they are never passed anyway, as only the allowlisted variables are).
///
/// Never fails: a command that cannot start gives [`TestStatus::Error`] with the
/// reason in `output`.
pub async fn run_tests(
    cwd: &Path,
    command: &str,
    timeout: Duration,
    scrub: &[String],
) -> TestOutcome {
    let started = Instant::now();
    let isolate = can_isolate_network();
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in std::env::vars_os() {
        let name = key.to_string_lossy();
        let secret = ["KEY", "TOKEN", "SECRET", "PASSWORD"]
            .iter()
            .any(|s| name.to_ascii_uppercase().contains(s));
        if ENV_ALLOW.contains(&name.as_ref()) && !secret && !scrub.iter().any(|s| s == &name) {
            cmd.env(&key, value);
        }
    }
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    cmd.env("CI", "1");
    let cpu_seconds = timeout.as_secs().saturating_add(5);
    #[cfg(unix)]
    {
        // SAFETY: the closure only makes async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let limit = |resource, value: u64| {
                    let rl = libc::rlimit {
                        rlim_cur: value as libc::rlim_t,
                        rlim_max: value as libc::rlim_t,
                    };
                    libc::setrlimit(resource, &rl);
                };
                limit(libc::RLIMIT_CPU, cpu_seconds);
                limit(libc::RLIMIT_FSIZE, 256 * 1024 * 1024);
                limit(libc::RLIMIT_CORE, 0);
                #[cfg(target_os = "linux")]
                if isolate {
                    if libc::unshare(libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    loopback_up()?;
                }
                Ok(())
            });
        }
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return TestOutcome {
                status: TestStatus::Error,
                passed: 0,
                failed: 0,
                failures: Vec::new(),
                output: format!("cannot start `{command}`: {e}"),
                duration: started.elapsed(),
                network_isolated: isolate,
            };
        }
    };
    let pgid = child.id().map(|pid| pid as i32);
    let out_task = tokio::spawn(read_all(child.stdout.take()));
    let err_task = tokio::spawn(read_all(child.stderr.take()));
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    // Kill whatever is left of the process group, on every path: stragglers would
    // otherwise keep running and hold the output pipes open.
    #[cfg(unix)]
    if let Some(pgid) = pgid {
        // SAFETY: signalling a process group we created.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
    let _ = child.kill().await;
    let grace = Duration::from_secs(2);
    let mut all = tokio::time::timeout(grace, out_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    all.extend(
        tokio::time::timeout(grace, err_task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
    );
    let output = trim_output(&all);
    match waited {
        Ok(status) => {
            let (passed, failed, failures) = parse_report(&output);
            let ok = status.map(|s| s.success()).unwrap_or(false);
            TestOutcome {
                status: if ok {
                    TestStatus::Passed
                } else {
                    TestStatus::Failed
                },
                passed,
                failed: if !ok && failed == 0 { 1 } else { failed },
                failures,
                output,
                duration: started.elapsed(),
                network_isolated: isolate,
            }
        }
        Err(_) => TestOutcome {
            status: TestStatus::Timeout,
            passed: 0,
            failed: 0,
            failures: Vec::new(),
            output: format!(
                "{output}\n`{command}` timed out after {} s",
                timeout.as_secs()
            ),
            duration: started.elapsed(),
            network_isolated: isolate,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn unittest_reports_are_counted() {
        let ok = "test_a (t.T) ... ok\n\n----------------------------------------------------------------------\nRan 12 tests in 0.01s\n\nOK\n";
        assert_eq!(parse_report(ok), (12, 0, vec![]));
        let bad = "======================================================================\nFAIL: test_b (tests.test_x.T.test_b)\n----\nRan 5 tests in 0.1s\n\nFAILED (failures=1, errors=1, skipped=1)\n";
        let (p, f, names) = parse_report(bad);
        assert_eq!((p, f), (2, 2));
        assert_eq!(names, vec!["test_b (tests.test_x.T.test_b)".to_string()]);
    }

    #[test]
    fn pytest_cargo_and_go_reports_are_counted() {
        assert_eq!(
            parse_report("===== 2 failed, 10 passed in 0.12s =====").0,
            10
        );
        assert_eq!(
            parse_report("===== 2 failed, 10 passed in 0.12s =====").1,
            2
        );
        let cargo =
            "---- t::b stdout ----\ntest result: FAILED. 5 passed; 1 failed; 0 ignored; 0 measured";
        assert_eq!(parse_report(cargo), (5, 1, vec!["t::b".to_string()]));
        let go = "--- PASS: TestA (0.00s)\n--- FAIL: TestB (0.00s)\n";
        assert_eq!(parse_report(go), (1, 1, vec!["TestB".to_string()]));
    }

    #[test]
    fn commands_are_detected_from_the_tree() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let never = || -> bool { panic!("pytest probed for a non-Python tree") };
        let with = |v: &[&str], pytest: bool| detect_command_with(&p(v), || pytest);
        assert_eq!(
            detect_command_with(&p(&["Cargo.toml", "src/lib.rs"]), never).as_deref(),
            Some("cargo test")
        );
        assert_eq!(
            detect_command_with(&p(&["go.mod", "main.go"]), never).as_deref(),
            Some("go test ./...")
        );
        assert_eq!(
            detect_command_with(&p(&["package.json", "index.js"]), never).as_deref(),
            Some("npm test")
        );
        assert_eq!(
            with(&["app/x.py", "tests/test_x.py"], false).as_deref(),
            Some("python3 -m unittest discover -v")
        );
        assert_eq!(
            with(&["app/x.py", "tests/test_x.py"], true).as_deref(),
            Some("python3 -m pytest")
        );
        for marker in ["pyproject.toml", "setup.cfg", "tests/conftest.py"] {
            assert_eq!(
                with(&[marker, "pkg/core.py"], true).as_deref(),
                Some("python3 -m pytest"),
                "{marker}"
            );
        }
        assert_eq!(
            detect_command_with(&p(&["README.md", "pkg/core.py"]), || true),
            None
        );
    }

    #[test]
    fn pytest_reports_are_counted_with_names() {
        let out = "tests/test_a.py .F.\n\
                   =========================== short test summary info ============================\n\
                   FAILED tests/test_a.py::test_delete - AssertionError: 404 != 204\n\
                   ========================= 1 failed, 2 passed in 0.05s ==========================\n";
        assert_eq!(
            parse_report(out),
            (2, 1, vec!["tests/test_a.py::test_delete".to_string()])
        );
    }

    #[tokio::test]
    async fn runs_are_scrubbed_timed_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("QUORUM_TEST_FAKE_API_KEY", "sk-secret") };
        let out = run_tests(
            dir.path(),
            "echo \"key=${QUORUM_TEST_FAKE_API_KEY:-none}\"; echo 'Ran 3 tests in 0s'; echo OK",
            Duration::from_secs(10),
            &[],
        )
        .await;
        assert_eq!(out.status, TestStatus::Passed);
        assert!(out.output.contains("key=none"), "{}", out.output);
        assert_eq!(out.passed, 3);

        let out = run_tests(dir.path(), "exit 3", Duration::from_secs(10), &[]).await;
        assert_eq!(out.status, TestStatus::Failed);
        assert_eq!(out.failed, 1);

        let out = run_tests(dir.path(), "sleep 30", Duration::from_millis(300), &[]).await;
        assert_eq!(out.status, TestStatus::Timeout);
        assert!(out.duration < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn background_children_are_killed_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("alive");
        let cmd = format!("(sleep 1; touch {}) & echo started", marker.display());
        let out = run_tests(dir.path(), &cmd, Duration::from_secs(10), &[]).await;
        assert_eq!(out.status, TestStatus::Passed);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!marker.exists(), "the background child outlived the run");
    }
}
