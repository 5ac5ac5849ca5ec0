//! The one rule for cutting streamed text into transcript lines, shared by
//! whoever assembles lines from token deltas: the TUI (its partial lines,
//! shown before their durable copies arrive) and the orchestrator (which
//! makes the durable [`TranscriptLine`](super::TranscriptLine)s). Both must
//! cut the same text the same way, or the TUI's streamed lines would not
//! match the lines that settle them.
//!
//! The orchestrator's side (`orchestrator/actor.rs`, `on_call`'s `Delta`
//! arm) still cuts with `rfind('\n')` and `str::lines`, which is the same
//! rule; it can call [`complete_lines`] once that file is edited next.

/// Splits streamed `text` at its last newline: the complete lines before it
/// (each without its `\n`, and without a `\r` before it) and the unfinished
/// rest after it. Text without a newline has no complete line and is all
/// rest; text ending in a newline has an empty rest.
pub fn complete_lines(text: &str) -> (Vec<&str>, &str) {
    match text.rfind('\n') {
        Some(cut) => {
            let lines = text[..cut]
                .split('\n')
                .map(|line| line.strip_suffix('\r').unwrap_or(line))
                .collect();
            (lines, &text[cut + 1..])
        }
        None => (Vec::new(), text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_its_last_newline() {
        assert_eq!(complete_lines("abc"), (vec![], "abc"));
        assert_eq!(complete_lines(""), (vec![], ""));
        assert_eq!(complete_lines("a\n"), (vec!["a"], ""));
        assert_eq!(complete_lines("a\n\nb\nc"), (vec!["a", "", "b"], "c"));
        assert_eq!(complete_lines("\n"), (vec![""], ""));
    }

    #[test]
    fn carriage_returns_before_newlines_are_dropped() {
        assert_eq!(complete_lines("a\r\nb\r\nc\r"), (vec!["a", "b"], "c\r"));
    }

    #[test]
    fn the_rule_matches_str_lines_on_the_complete_part() {
        // The orchestrator cuts with `str::lines` on the text up to and
        // including the last newline: the same lines.
        for text in ["x\ny\n", "x\r\n\r\ny\nrest", "\n\n", "only"] {
            let (lines, _) = complete_lines(text);
            let cut = text.rfind('\n').map_or(0, |c| c + 1);
            let by_lines: Vec<&str> = text[..cut].lines().collect();
            assert_eq!(lines, by_lines, "{text:?}");
        }
    }
}
