//! Logging with tracing (DESIGN.md §4, "Logs"): a session's logs go to
//! `<state>/logs/` (daily rolling files); commands without a session (and early
//! errors) log to the XDG state directory. Nothing is ever logged to the
//! terminal, so the TUI's screen and the headless stdout stay clean.
//!
//! Filter: `QUORUM_LOG` (tracing-subscriber's env-filter syntax), else `info`,
//! `debug` with `-v`, `trace` with `-vv`.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

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
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let default = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("QUORUM_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}
