//! Logging with tracing (docs/design.md §4, "Logs"): a session's logs go to
//! `<state>/logs/` (daily rolling files); commands without a session (and early
//! errors) log to the XDG state directory. Nothing is ever logged to the
//! terminal, so the TUI's screen and the headless stdout stay clean.
//!
//! Filter: `QUORUM_LOG` (tracing-subscriber's env-filter syntax), else `info`,
//! `debug` with `-v`, `trace` with `-vv`.
//!
//! Key values never reach a log file (docs/design.md §6): every line goes through
//! a [`crate::secrets::redact::Redactor`] before it is written. It knows the values of the
//! environment variables named like keys when logging starts (see
//! [`is_key_variable`], the rule exports follow too) and those of the
//! configured providers' `api_key_env`, added by [`redact_in_logs`] when an
//! orchestrator starts. What is logged holds no prompt or reply text in the
//! first place; this catches what slips through (an error message quoting a
//! key, or a path holding one).

use std::io::Write;
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::secrets::is_key_variable;

/// Adds `values` (key values; those under 8 bytes are ignored) to what every
/// later log line is redacted of: the process's registry,
/// [`crate::secrets::redact::register`], which messages cut short are redacted with
/// too.
pub fn redact_in_logs(values: impl IntoIterator<Item = String>) {
    crate::secrets::redact::register(values);
}

fn secrets() -> Option<std::sync::Arc<crate::secrets::redact::Redactor>> {
    crate::secrets::redact::registry()
}

/// The log file's writer behind a [`crate::secrets::redact::Redactor`]: tracing-subscriber's fmt
/// layer formats each event into one buffer and writes it with one
/// `write_all`, so a key is never split across two writes.
#[derive(Clone)]
struct Redacting<W> {
    inner: W,
}

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for Redacting<W> {
    type Writer = Redacting<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Redacting {
            inner: self.inner.make_writer(),
        }
    }
}

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match secrets().filter(|r| !r.is_empty()) {
            None => self.inner.write(buf),
            Some(redactor) => {
                let mut text = String::from_utf8_lossy(buf).into_owned();
                if redactor.text(&mut text) {
                    self.inner.write_all(text.as_bytes())?;
                } else {
                    self.inner.write_all(buf)?;
                }
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The XDG state directory for quorum (`$XDG_STATE_HOME/quorum`, else
/// `~/.local/state/quorum`).
pub fn xdg_state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("quorum"));
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".local/state/quorum"))
}

/// The XDG config directory for quorum (`$XDG_CONFIG_HOME/quorum`).
pub fn xdg_config_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|b| b.config_dir().join("quorum"))
}

/// Starts logging into `dir` (created if needed). Returns the guard that flushes
/// the log on drop, or `None` when the directory cannot be used (logging is then
/// off; that is never a reason to fail a command).
pub fn init(dir: &Path, verbosity: u8) -> Option<WorkerGuard> {
    std::fs::create_dir_all(dir).ok()?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("quorum")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)
        .ok()?;
    redact_in_logs(
        std::env::vars_os()
            .filter(|(name, _)| name.to_str().is_some_and(is_key_variable))
            .filter_map(|(_, value)| value.into_string().ok()),
    );
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let default = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("QUORUM_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting { inner: writer })
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_lose_registered_key_values_and_keep_the_rest() {
        // A value no other test registers; the registry is the process's.
        let key = "sk-logging-test-0123456789abcdef";
        redact_in_logs([key.to_string(), "short".to_string()]);
        let mut out = Redacting { inner: Vec::new() };
        let line = format!("WARN provider error: bad key {key} (short)\n");
        out.write_all(line.as_bytes()).unwrap();
        out.write_all("INFO nothing to hide\n".as_bytes()).unwrap();
        let written = String::from_utf8(out.inner).unwrap();
        assert_eq!(
            written,
            "WARN provider error: bad key [redacted] (short)\nINFO nothing to hide\n"
        );
        // Adding more keeps what was registered before.
        redact_in_logs(["another-key-value-42".to_string()]);
        let mut out = Redacting { inner: Vec::new() };
        out.write_all(format!("{key} another-key-value-42").as_bytes())
            .unwrap();
        assert_eq!(
            String::from_utf8(out.inner).unwrap(),
            "[redacted] [redacted]"
        );
    }
}
