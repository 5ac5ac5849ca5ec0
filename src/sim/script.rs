//! Offline scripts: canned replies per agent and phase, replayed by the offline
//! provider before it falls back to its built-in answers. The format is
//! documented in `docs/offline-script.md`:
//!
//! ```toml
//! [[reply]]
//! agent = "backend"        # optional filters; all given ones must match
//! phase = "implement"
//! kind = "implement"       # a task kind (requirements, plan, compare, ballot, chair,
//!                          # breakdown, implement, tests, repair, review)
//! task = "server"          # substring of the task id; `=review`: exactly that id
//! text = "..."             # the reply (or `error`; neither: the built-in
//!                          # reply, paced by delay_ms / latency_ms)
//! times = 1                # uses before the entry is spent; 0 = unlimited
//! delay_ms = 0             # pause before each streamed chunk
//! latency_ms = 0           # pause before the first chunk (a model thinking)
//! fill = { marker = "@BIG@", bytes = 52428800 }   # `marker` in text → that many bytes
//! # error = { status = 503, message = "overloaded", retry_after_ms = 10 }
//! # error = { kind = "connection", message = "reset by peer" }
//! ```
//!
//! Entries are tried in file order; the first that matches and is not spent is
//! used. The script's state (uses left) belongs to one provider instance.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use crate::llm::{CallMeta, LlmError};

/// A script that cannot be loaded; the message names the file and the entry.
#[derive(Debug, thiserror::Error)]
#[error("offline script {path}: {message}")]
pub struct ScriptError {
    /// The script file.
    pub path: PathBuf,
    /// What is wrong (TOML errors name the line).
    pub message: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawError {
    status: Option<u16>,
    kind: Option<String>,
    #[serde(default)]
    message: String,
    retry_after_ms: Option<u64>,
}

/// Most bytes a `fill` may produce (256 MiB).
pub const MAX_FILL_BYTES: u64 = 256 << 20;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFill {
    marker: String,
    bytes: u64,
    #[serde(default = "fill_line")]
    line: String,
}

fn fill_line() -> String {
    "x".repeat(1023)
}

impl RawFill {
    /// `bytes` bytes of `line` + newline, repeated, the last copy cut short.
    fn expand(&self) -> String {
        let unit = format!("{}\n", self.line);
        let bytes = self.bytes as usize;
        let mut out = unit.repeat(bytes / unit.len() + 1);
        let mut cut = bytes.min(out.len());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReply {
    agent: Option<String>,
    phase: Option<String>,
    kind: Option<String>,
    task: Option<String>,
    text: Option<String>,
    error: Option<RawError>,
    #[serde(default = "one")]
    times: u32,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    latency_ms: u64,
    fill: Option<RawFill>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    #[serde(default, rename = "reply")]
    replies: Vec<RawReply>,
}

/// One reply chosen from the script.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptedReply {
    /// The reply text (empty when `error` is set); `None` for the
    /// built-in reply, paced by the delays.
    pub text: Option<String>,
    /// Pause before each chunk, in milliseconds.
    pub delay_ms: u64,
    /// Pause before the first chunk, in milliseconds.
    pub latency_ms: u64,
    /// A failure to produce instead of a reply.
    pub error: Option<LlmError>,
}

#[derive(Debug)]
struct Entry {
    raw: RawReply,
    error: Option<LlmError>,
}

/// A loaded script and the uses left of each entry.
#[derive(Debug)]
pub struct Script {
    entries: Vec<Entry>,
    used: Mutex<Vec<u32>>,
}

const KINDS: [&str; 10] = [
    "requirements",
    "plan",
    "compare",
    "ballot",
    "chair",
    "breakdown",
    "implement",
    "tests",
    "repair",
    "review",
];

impl Script {
    /// Reads a script file.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScriptError {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Script::parse(&text, path)
    }

    /// Parses script text (`path` is used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<Script, ScriptError> {
        let err = |message: String| ScriptError {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawScript =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let mut entries = Vec::new();
        for (i, reply) in raw.replies.into_iter().enumerate() {
            let n = i + 1;
            if let Some(kind) = &reply.kind
                && !KINDS.contains(&kind.as_str())
            {
                return Err(err(format!(
                    "reply #{n}: unknown kind `{kind}` (one of {})",
                    KINDS.join(", ")
                )));
            }
            let error = match &reply.error {
                None => None,
                Some(e) => Some(match (e.status, e.kind.as_deref()) {
                    (Some(status), None) => LlmError::Status {
                        status,
                        message: e.message.clone(),
                        retry_after: e.retry_after_ms.map(Duration::from_millis),
                        should_retry: None,
                    },
                    (None, Some("connection")) => LlmError::Connection(e.message.clone()),
                    (None, Some("timeout")) => LlmError::Timeout(e.message.clone()),
                    (None, Some("stream")) => LlmError::Stream(e.message.clone()),
                    _ => {
                        return Err(err(format!(
                            "reply #{n}: error needs either `status` or `kind` = connection, timeout or stream"
                        )));
                    }
                }),
            };
            let paced = reply.delay_ms > 0 || reply.latency_ms > 0;
            if error.is_none() && reply.text.is_none() && !paced {
                return Err(err(format!(
                    "reply #{n}: needs `text`, `error`, or a `delay_ms`/`latency_ms` for the built-in reply"
                )));
            }
            if let Some(fill) = &reply.fill {
                if fill.marker.is_empty() || fill.line.is_empty() {
                    return Err(err(format!(
                        "reply #{n}: fill needs a non-empty `marker` and `line`"
                    )));
                }
                if fill.bytes > MAX_FILL_BYTES {
                    return Err(err(format!(
                        "reply #{n}: fill.bytes is over {MAX_FILL_BYTES}"
                    )));
                }
            }
            entries.push(Entry { raw: reply, error });
        }
        let used = Mutex::new(vec![0; entries.len()]);
        Ok(Script { entries, used })
    }

    /// The first matching, unspent reply for a call, marking one use.
    pub fn take(&self, meta: &CallMeta) -> Option<ScriptedReply> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        for (i, entry) in self.entries.iter().enumerate() {
            let r = &entry.raw;
            let matches = r.agent.as_deref().is_none_or(|a| a == meta.agent)
                && r.phase.as_deref().is_none_or(|p| p == meta.phase)
                && r.kind.as_deref().is_none_or(|k| k == meta.kind.as_str())
                && r.task.as_deref().is_none_or(|t| match t.strip_prefix('=') {
                    Some(exact) => meta.task == exact,
                    None => meta.task.contains(t),
                });
            let spent = r.times != 0 && used[i] >= r.times;
            if matches && !spent {
                used[i] += 1;
                let text = match (&r.text, &r.fill) {
                    (Some(text), Some(fill)) => Some(text.replace(&fill.marker, &fill.expand())),
                    (text, _) => text.clone(),
                };
                return Some(ScriptedReply {
                    text,
                    delay_ms: r.delay_ms,
                    latency_ms: r.latency_ms,
                    error: entry.error.clone(),
                });
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::TaskKind;

    fn meta(agent: &str, phase: &str, task: &str) -> CallMeta {
        CallMeta {
            agent: agent.into(),
            role: agent.into(),
            phase: phase.into(),
            task: task.into(),
            kind: TaskKind::Implement,
            inputs: None,
        }
    }

    #[test]
    fn entries_match_in_order_and_are_spent() {
        let script = Script::parse(
            r#"
[[reply]]
agent = "backend"
phase = "implement"
error = { status = 503, message = "overloaded" }
[[reply]]
agent = "backend"
task = "server"
text = "second"
times = 0
"#,
            Path::new("s.toml"),
        )
        .unwrap();
        let m = meta("backend", "implement", "impl.server");
        let first = script.take(&m).unwrap();
        assert!(matches!(
            first.error,
            Some(LlmError::Status { status: 503, .. })
        ));
        assert_eq!(script.take(&m).unwrap().text.as_deref(), Some("second"));
        assert_eq!(script.take(&m).unwrap().text.as_deref(), Some("second"));
        assert!(
            script
                .take(&meta("qa", "implement", "impl.server"))
                .is_none()
        );
    }

    #[test]
    fn a_task_filter_with_an_equals_sign_matches_the_whole_id_only() {
        let script = Script::parse(
            "[[reply]]\ntask = \"=review\"\ntext = \"first review\"\ntimes = 0\n",
            Path::new("s.toml"),
        )
        .unwrap();
        assert_eq!(
            script
                .take(&meta("security", "review", "review"))
                .unwrap()
                .text
                .as_deref(),
            Some("first review")
        );
        assert!(
            script
                .take(&meta("security", "review", "review.2"))
                .is_none()
        );
        assert!(
            script
                .take(&meta("backend", "review", "review.fix1.backend"))
                .is_none()
        );
    }

    #[test]
    fn a_fill_expands_to_exactly_its_bytes() {
        let script = Script::parse(
            "[[reply]]\ntext = \"<@F@>\"\nfill = { marker = \"@F@\", bytes = 10, line = \"abc\" }\n",
            Path::new("s.toml"),
        )
        .unwrap();
        let reply = script.take(&meta("a", "p", "t")).unwrap();
        assert_eq!(reply.text.as_deref(), Some("<abc\nabc\nab>"));
        let big = Script::parse(
            "[[reply]]\ntext = \"@F@\"\nfill = { marker = \"@F@\", bytes = 3000000 }\n",
            Path::new("s.toml"),
        )
        .unwrap();
        let text = big.take(&meta("a", "p", "t")).unwrap().text.unwrap();
        assert_eq!(text.len(), 3_000_000);
        assert!(
            text.lines()
                .all(|l| l.len() <= 1023 && l.bytes().all(|b| b == b'x'))
        );
        let e = Script::parse(
            "[[reply]]\ntext = \"x\"\nfill = { marker = \"m\", bytes = 999999999999 }\n",
            Path::new("s.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("fill.bytes"), "{e}");
    }

    #[test]
    fn an_entry_with_only_a_pace_keeps_the_built_in_reply() {
        let script = Script::parse(
            "[[reply]]\nphase = \"plan\"\ndelay_ms = 20\ntimes = 0\n",
            Path::new("s.toml"),
        )
        .unwrap();
        let reply = script.take(&meta("qa", "plan", "plan.qa")).unwrap();
        assert_eq!(reply.text, None);
        assert_eq!(reply.delay_ms, 20);
        let e = Script::parse("[[reply]]\nphase = \"plan\"\n", Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("delay_ms"), "{e}");
    }

    #[test]
    fn bad_scripts_name_the_entry() {
        let e = Script::parse("[[reply]]\nagent = \"x\"\n", Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("reply #1"), "{e}");
        let e = Script::parse(
            "[[reply]]\nkind = \"vote\"\ntext = \"\"\n",
            Path::new("s.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("`vote`"), "{e}");
        let e = Script::parse("[[reply]]\nagnet = 1\n", Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("agnet"), "{e}");
    }
}
