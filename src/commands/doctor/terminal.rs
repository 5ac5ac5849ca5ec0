//! `quorum doctor`'s terminal lines: the colour depth the environment
//! announces and the terminal's size.

use std::io::IsTerminal as _;

use super::{Check, Status};

/// The colour depth the environment announces: `NO_COLOR`, `COLORTERM`, `TERM`.
pub fn colour_depth(env: &dyn Fn(&str) -> Option<String>) -> (Status, String) {
    let term = env("TERM").unwrap_or_default();
    if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return (
            Status::Info,
            "none: NO_COLOR is set (the mono theme fits)".into(),
        );
    }
    if term.is_empty() || term == "dumb" {
        return (
            Status::Warn,
            format!(
                "none: TERM is {}; the TUI needs a terminal that understands colour and cursor moves",
                if term.is_empty() { "unset" } else { "dumb" }
            ),
        );
    }
    let colorterm = env("COLORTERM").unwrap_or_default();
    if colorterm == "truecolor" || colorterm == "24bit" {
        return (
            Status::Ok,
            format!("24-bit (COLORTERM={colorterm}, TERM={term})"),
        );
    }
    if term.contains("256color") {
        return (Status::Ok, format!("256 colours (TERM={term})"));
    }
    (
        Status::Ok,
        format!("16 colours (TERM={term}); the default theme uses these 16"),
    )
}

pub(super) fn terminal_checks() -> Vec<Check> {
    let (status, detail) = colour_depth(&|var| std::env::var(var).ok());
    let mut checks = vec![Check::new("terminal", "colours", status, false, detail)];
    if std::io::stdout().is_terminal() {
        if let Ok((cols, rows)) = crossterm::terminal::size() {
            let (status, note) = if cols < 40 || rows < 12 {
                (Status::Warn, "; the TUI needs 40x12")
            } else {
                (Status::Ok, "")
            };
            checks.push(Check::new(
                "terminal",
                "size",
                status,
                false,
                format!("{cols}x{rows}{note}"),
            ));
        }
    } else {
        checks.push(Check::new(
            "terminal",
            "size",
            Status::Info,
            false,
            "stdout is not a terminal",
        ));
    }
    checks
}
