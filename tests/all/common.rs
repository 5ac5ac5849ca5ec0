//! Helpers shared by the integration suite: a hermetic environment per test,
//! running the `quorum` binary (and git, python) with a bounded wait, and the one
//! schema validator that every JSON line obtained from the binary goes through.
//!
//! Invariants the helpers keep for every test:
//! * each child runs with a cleared environment plus an allowlist, so no provider
//!   key variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, …) ever reaches it;
//! * HOME, XDG_CONFIG_HOME and XDG_STATE_HOME point into the test's own temp dir,
//!   and git sees no global or system config (`GIT_CONFIG_GLOBAL=/dev/null`,
//!   `GIT_CONFIG_NOSYSTEM=1`, and an empty HOME for libgit2, which reads
//!   `$HOME/.gitconfig` and ignores `GIT_CONFIG_GLOBAL`): a clean CI machine;
//! * every wait is bounded; a hung child is killed and the test fails with its output;
//! * every JSON line parsed from the binary's stdout is validated against
//!   `assets/events.schema.json` ([`check_event`]); event streams are also checked
//!   for a gapless `seq` from 1 and a single `session` ([`parse_stream`]).

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The prompt of the acceptance criteria.
pub const PROMPT: &str = "Build a URL shortener REST API with tests";

/// The nine phases of the default workflow, in order.
pub const PHASES: [&str; 9] = [
    "refine",
    "plan",
    "compare",
    "vote",
    "resolve",
    "implement",
    "test",
    "review",
    "deliver",
];

/// The default voters (and planners).
pub const VOTERS: [&str; 4] = ["backend", "frontend", "qa", "security"];

/// Longest a single child process may run (an offline session takes ~1–2 s).
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Variables a child keeps from the test process; everything else is dropped
/// (`env_clear`), provider keys included. PYENV_* keep a pyenv `python3` shim
/// working with the temporary HOME.
const KEEP: [&str; 7] = [
    "PATH",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "TZ",
];

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_quorum")
}

/// A file under `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A file of the project (docs, assets).
pub fn project_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A fresh temporary directory.
pub fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("quorum-it-")
        .tempdir()
        .unwrap()
}

/// A test's hermetic environment: its own HOME and XDG directories.
pub struct Env {
    root: TempDir,
}

impl Env {
    pub fn new() -> Env {
        let root = tempdir();
        for sub in ["home", "config", "state"] {
            std::fs::create_dir(root.path().join(sub)).unwrap();
        }
        Env { root }
    }

    /// `$XDG_STATE_HOME` of the children.
    pub fn state_home(&self) -> PathBuf {
        self.root.path().join("state")
    }

    /// Any program, with the hermetic environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for var in KEEP {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
        // A pyenv installed under the real HOME stays reachable.
        if std::env::var_os("PYENV_ROOT").is_none()
            && let Some(home) = std::env::var_os("HOME")
        {
            let pyenv = Path::new(&home).join(".pyenv");
            if pyenv.is_dir() {
                cmd.env("PYENV_ROOT", pyenv);
            }
        }
        cmd.env("HOME", self.root.path().join("home"))
            .env("XDG_CONFIG_HOME", self.root.path().join("config"))
            .env("XDG_STATE_HOME", self.state_home())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// The quorum binary with `args`.
    pub fn quorum<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.command(bin());
        cmd.args(args);
        cmd
    }

    /// Runs git in `dir`; panics unless it succeeds. Returns stdout.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_output(dir, args);
        assert_eq!(out.code, 0, "git {args:?} in {}: {out}", dir.display());
        out.stdout
    }

    /// Adds everything in `dir` and commits it as the person (a fixed name
    /// and address); panics unless git succeeds.
    pub fn commit_all(&self, dir: &Path, message: &str) {
        self.git(dir, &["add", "-A"]);
        self.git(
            dir,
            &[
                "-c",
                "user.name=Person",
                "-c",
                "user.email=person@example.invalid",
                "commit",
                "-q",
                "-m",
                message,
            ],
        );
    }

    /// Runs git in `dir` and returns whatever happened.
    pub fn git_output(&self, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = self.command("git");
        cmd.arg("-C").arg(dir).args(args);
        run(cmd)
    }

    /// `quorum run PROMPT --dir DIR --json` plus `extra`; validates every line.
    pub fn run_json(&self, dir: &Path, extra: &[&str]) -> Session {
        let mut args: Vec<&str> = vec!["run", PROMPT, "--dir", path_str(dir), "--json"];
        args.extend_from_slice(extra);
        Session::from_output(run(self.quorum(args)))
    }

    /// `quorum sessions show ID --json`: the stored events, validated.
    pub fn stored_events(&self, dir: &Path, id: &str) -> Vec<Value> {
        let out = run(self.quorum(["sessions", "show", id, "--json", "--dir", path_str(dir)]));
        assert_eq!(out.code, 0, "sessions show: {out}");
        parse_stream(&out.stdout).durable
    }
}

/// A path as `&str` (temp paths are UTF-8).
pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// What a finished child produced.
pub struct Output {
    /// Exit code; -1 when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(6000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Spawns `cmd` with piped output.
pub fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `cmd` to its end within [`TIMEOUT`].
pub fn run(cmd: Command) -> Output {
    wait(spawn(cmd), TIMEOUT)
}

/// Waits for `child` at most `timeout`, reading its output meanwhile; kills it
/// and panics (with what it printed) when it takes longer.
pub fn wait(mut child: Child, timeout: Duration) -> Output {
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = Output {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        status.is_some(),
        "killed after {timeout:?} without finishing: {output}"
    );
    output
}

/// A running child whose stdout is read line by line as it comes.
pub struct Streaming {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Streaming {
    /// Spawns `cmd`.
    pub fn start(cmd: Command) -> Streaming {
        let mut child = spawn(cmd);
        let stdout = child.stdout.take().unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut buf = String::new();
            let _ = stderr_pipe.read_to_string(&mut buf);
            buf
        });
        Streaming {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits at most `timeout` for a stdout line that is JSON and satisfies `want`.
    pub fn wait_for(&mut self, timeout: Duration, what: &str, want: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = serde_json::from_str::<Value>(&line).is_ok_and(|v| want(&v));
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "no line with {what} within {timeout:?} ({e}); stdout so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Waits at most `timeout` for the child to end and returns all it printed.
    pub fn finish(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The reader thread ends at EOF, which closes the channel.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        let mut stdout = self.seen.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        let output = Output {
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout,
            stderr: self.stderr.join().unwrap(),
        };
        assert!(
            status.is_some(),
            "killed after {timeout:?} without finishing: {output}"
        );
        output
    }
}

/// Polls `probe` every 10 ms until it returns `Some`, at most `timeout`.
pub fn poll<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The compiled event schema, built once for the whole suite.
pub fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema())
            .unwrap()
    })
}

/// `assets/events.schema.json`, parsed.
pub fn schema() -> Value {
    serde_json::from_str(include_str!("../../assets/events.schema.json")).unwrap()
}

/// The schema's complaints about `value` (empty when valid).
pub fn schema_errors(value: &Value) -> Vec<String> {
    validator()
        .iter_errors(value)
        .map(|e| format!("{e} (at `{}`)", e.instance_path))
        .collect()
}

/// Panics unless `value` is valid against the event schema. Every JSON line the
/// suite obtains from the binary goes through here.
pub fn check_event(value: &Value) {
    let errors = schema_errors(value);
    assert!(
        errors.is_empty(),
        "event does not match assets/events.schema.json:\n  {}\nevent: {value}",
        errors.join("\n  ")
    );
}

/// The lines of a `--json` stdout, validated.
pub struct Stream {
    /// Durable events, in order.
    pub durable: Vec<Value>,
    /// `token` lines (only with `--json=tokens`), in order.
    pub tokens: Vec<Value>,
}

/// Parses JSON lines: each must be one JSON object valid against the schema.
/// Durable events must have `seq` 1, 2, 3, … and one `session`; each durable
/// event must also deserialise into `quorum::protocol::LoggedEvent` and serialise
/// back to the same JSON. A `token` line's `seq` repeats the last durable seq.
pub fn parse_stream(stdout: &str) -> Stream {
    let mut stream = Stream {
        durable: Vec::new(),
        tokens: Vec::new(),
    };
    let mut session: Option<String> = None;
    for (n, line) in stdout.lines().enumerate() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line {} is not JSON ({e}): {line}", n + 1));
        assert!(value.is_object(), "line {} is not an object: {line}", n + 1);
        check_event(&value);
        let id = value["session"].as_str().unwrap().to_string();
        match &session {
            None => session = Some(id),
            Some(s) => assert_eq!(s, &id, "line {} has another session: {line}", n + 1),
        }
        let seq = value["seq"].as_u64().unwrap();
        if value["type"] == "token" {
            assert_eq!(
                seq,
                stream.durable.len() as u64,
                "a token line repeats the last durable seq: {line}"
            );
            stream.tokens.push(value);
            continue;
        }
        assert_eq!(
            seq,
            stream.durable.len() as u64 + 1,
            "seq is not gapless from 1 at line {}: {line}",
            n + 1
        );
        let typed: quorum::protocol::LoggedEvent = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("not a LoggedEvent ({e}): {line}"));
        assert_eq!(serde_json::to_value(&typed).unwrap(), value, "round trip");
        stream.durable.push(value);
    }
    stream
}

/// One headless run with `--json`.
pub struct Session {
    pub out: Output,
    /// Durable events.
    pub events: Vec<Value>,
    /// `token` lines.
    pub tokens: Vec<Value>,
}

impl Session {
    pub fn from_output(out: Output) -> Session {
        let stream = parse_stream(&out.stdout);
        Session {
            out,
            events: stream.durable,
            tokens: stream.tokens,
        }
    }

    /// Panics unless the run exited 0 with `session_finished` succeeded.
    pub fn assert_succeeded(&self) -> &Self {
        assert_eq!(self.out.code, 0, "{}", self.out);
        assert_eq!(self.status(), "succeeded", "{}", self.out);
        self
    }

    /// The session id.
    pub fn id(&self) -> &str {
        self.events
            .first()
            .and_then(|e| e["session"].as_str())
            .unwrap_or_else(|| panic!("no events: {}", self.out))
    }

    /// `session_finished.status`.
    pub fn status(&self) -> &str {
        let last = self
            .events
            .last()
            .unwrap_or_else(|| panic!("no events: {}", self.out));
        assert_eq!(
            last["type"], "session_finished",
            "the last event ends the session"
        );
        last["status"].as_str().unwrap()
    }

    /// Events of `kind`.
    pub fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == kind).collect()
    }

    /// The one event of `kind`.
    pub fn one(&self, kind: &str) -> &Value {
        let all = self.of(kind);
        assert_eq!(all.len(), 1, "expected one {kind}: {all:?}");
        all[0]
    }

    /// Index of the first event of `kind` with `field` = `value`.
    pub fn index(&self, kind: &str, field: &str, value: &str) -> usize {
        self.events
            .iter()
            .position(|e| e["type"] == kind && e[field] == value)
            .unwrap_or_else(|| panic!("no {kind} with {field} = {value}"))
    }

    /// Paths of the `file_staged` events, deduplicated and sorted.
    pub fn staged(&self) -> BTreeSet<String> {
        self.of("file_staged")
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Every path under `dir` (files and directories, relative, `/`-separated),
/// without following symlinks.
pub fn tree(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, at: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(at) else {
            return;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel);
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Writes `content` to `dir/name`.
pub fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

/// Reads a fixture as text.
pub fn read_fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

/// Config for DIR's `quorum.toml`: every agent on the offline provider `sim`,
/// replaying `script` (a path relative to DIR).
pub fn offline_config_with_script(script: &str) -> String {
    format!("[providers.sim]\nkind = \"offline\"\nscript = \"{script}\"\n")
}

/// Puts `quorum.toml` (every agent on the scripted offline provider `sim`,
/// plus `extra_config`) and the script into `dir`.
pub fn write_scripted(dir: &Path, script: &str, extra_config: &str) {
    write(dir, "script.toml", script);
    write(
        dir,
        "quorum.toml",
        &(offline_config_with_script("script.toml") + extra_config),
    );
}

/// Runs `quorum run PROMPT --json` in a fresh DIR with an offline script and
/// extra config; returns the environment, DIR and the session.
pub fn run_scripted(
    script: &str,
    extra_config: &str,
    args: &[&str],
) -> (Env, tempfile::TempDir, Session) {
    let env = Env::new();
    let dir = tempdir();
    write_scripted(dir.path(), script, extra_config);
    let mut all = vec!["run", PROMPT, "--dir", path_str(dir.path()), "--json"];
    all.extend_from_slice(args);
    let session = Session::from_output(run(env.quorum(all)));
    (env, dir, session)
}
