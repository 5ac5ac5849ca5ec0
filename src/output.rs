//! Writing to stdout and stderr without ever panicking (docs/troubleshooting.md,
//! "Output to a closed pipe"). `println!` and `eprintln!` panic when the
//! stream is gone (`quorum run … 2>&1 | head -1`: "failed printing to stderr:
//! Broken pipe", exit 101); quorum writes through [`outln!`](crate::outln),
//! [`out!`](crate::out) and [`errln!`](crate::errln) instead, which drop a
//! line that cannot be written and remember a closed pipe ([`pipe_closed`]),
//! so that a running headless session ends as an interruption (exit 3,
//! resumable) instead of a crash.
//!
//! Rust's runtime ignores SIGPIPE, so a write to a pipe without a reader
//! fails with `EPIPE` (`ErrorKind::BrokenPipe`) instead of killing the
//! process; that error is what is remembered here.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout or stderr failed because nobody reads it.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// `true` once a write through this module (or [`Stderr`]) found its pipe
/// closed (`EPIPE`); it stays `true` for the life of the process.
pub fn pipe_closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// Remembers a closed pipe in `result`, which it returns.
pub fn note<T>(result: std::io::Result<T>) -> std::io::Result<T> {
    if let Err(e) = &result
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        CLOSED.store(true, Ordering::SeqCst);
    }
    result
}

/// Writes `args` (and a newline when `newline`) to stdout and flushes;
/// errors are returned, a closed pipe also remembered ([`pipe_closed`]).
pub fn stdout(args: std::fmt::Arguments<'_>, newline: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    note(
        out.write_fmt(args)
            .and_then(|()| {
                if newline {
                    out.write_all(b"\n")
                } else {
                    Ok(())
                }
            })
            .and_then(|()| out.flush()),
    )
}

/// Writes `args` and a newline to stderr; errors are returned, a closed pipe
/// also remembered ([`pipe_closed`]).
pub fn stderr(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    note(
        err.write_fmt(args)
            .and_then(|()| err.write_all(b"\n"))
            .and_then(|()| err.flush()),
    )
}

/// Writes raw bytes to stdout and flushes; errors are returned, a closed
/// pipe also remembered ([`pipe_closed`]).
pub fn stdout_bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    note(out.write_all(bytes).and_then(|()| out.flush()))
}

/// A [`std::io::Write`] on stderr that remembers a closed pipe
/// ([`pipe_closed`]); for writers that draw in place (the headless live
/// status line).
#[derive(Debug, Default)]
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        note(std::io::stderr().write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        note(std::io::stderr().flush())
    }
}

/// `println!` that never panics: the line goes to stdout, or nowhere when
/// stdout cannot be written (a closed pipe is remembered,
/// [`output::pipe_closed`](crate::output::pipe_closed)).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        let _ = $crate::output::stdout(format_args!($($arg)*), true);
    }};
}

/// `print!` that never panics (see [`outln!`](crate::outln)).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = $crate::output::stdout(format_args!($($arg)*), false);
    }};
}

/// `eprintln!` that never panics: the line goes to stderr, or nowhere when
/// stderr cannot be written (a closed pipe is remembered,
/// [`output::pipe_closed`](crate::output::pipe_closed)).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        let _ = $crate::output::stderr(format_args!($($arg)*));
    }};
}
