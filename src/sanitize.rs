//! The one sanitiser for text that leaves quorum toward a terminal or a
//! document (docs/troubleshooting.md, "Model text on your terminal"). Model
//! and project text is hostile input: an escape sequence in a finding can set
//! the clipboard (OSC 52) or the window title (OSC 0), clear the screen
//! (CSI 2J), and a bidi override can make a line read differently than it is.
//!
//! Two treatments, one table of what is dangerous ([`needs_escape`]):
//!
//! * [`text`], [`line`] and [`json`] show every dangerous character
//!   **visibly**, as `cat -v` does, so nothing is silently dropped: a C0
//!   control `U+00XX` is `^` followed by the character `XX + 0x40` (ESC is
//!   `^[`, BEL `^G`, CR `^M`), DEL is `^?`, a C1 control `U+0080`–`U+009F` is
//!   `M-` followed by the C0 form of `XX - 0x80` (8-bit CSI `U+009B` is
//!   `M-^[`), and a bidi control (U+061C, U+200E, U+200F, U+202A–U+202E,
//!   U+2066–U+2069) is `<U+202E>`. Once its ESC (or 8-bit introducer) is shown
//!   as text, a whole escape sequence is inert: `ESC ] 52 ; c ; aGk= BEL`
//!   becomes `^[]52;c;aGk=^G`.
//! * [`strip_line`] removes whole escape sequences (CSI, OSC, DCS, SOS, PM,
//!   APC and their 8-bit forms) and the controls: for test runners' output,
//!   whose colours are expected and whose lines quorum parses.
//!
//! Everything is per `char` on `&str`; nothing here panics, and the visible
//! forms return the input borrowed (no allocation) when it is already clean.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The bidi controls: ALM (U+061C), LRM and RLM (U+200E, U+200F), the
/// embeddings and overrides (U+202A–U+202E) and the isolates
/// (U+2066–U+2069), per Unicode's UAX #9 §2.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `c` is shown in a visible form by [`text`]: every C0 control but
/// tab and newline, DEL, every C1 control and every bidi control.
pub fn needs_escape(c: char) -> bool {
    (c < ' ' && c != '\n' && c != '\t') || ('\x7f'..='\u{9f}').contains(&c) || is_bidi_control(c)
}

/// Appends the visible form of `c` (one of [`needs_escape`]'s characters;
/// any other is appended as is).
fn push_visible(out: &mut String, c: char) {
    let code = u32::from(c);
    match code {
        0x00..=0x1f => {
            out.push('^');
            out.push(char::from(b'@' + code as u8));
        }
        0x7f => out.push_str("^?"),
        0x80..=0x9f => {
            out.push_str("M-");
            push_visible(out, char::from(code as u8 - 0x80));
        }
        _ if is_bidi_control(c) => {
            let _ = write!(out, "<U+{code:04X}>");
        }
        _ => out.push(c),
    }
}

/// Shared by [`text`] and [`line`]: `escape(c)` says which characters are
/// replaced by their visible form; with `crlf`, a CR just before a LF is
/// dropped (CRLF line ends are line ends).
fn visible<'a>(input: &'a str, escape: impl Fn(char) -> bool, crlf: bool) -> Cow<'a, str> {
    let first = input.char_indices().find(|&(_, c)| escape(c));
    let Some((at, _)) = first else {
        return Cow::Borrowed(input);
    };
    let mut out = String::with_capacity(input.len() + 16);
    out.push_str(&input[..at]);
    let mut chars = input[at..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && crlf && chars.peek() == Some(&'\n') {
            continue;
        }
        if escape(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `input`, multi-line, safe for a terminal or a document: newlines and tabs
/// stay, a CRLF line end becomes a newline, every other control and every
/// bidi control is shown visibly (see the module doc for the notation).
/// Borrowed when nothing needed changing.
///
/// `text("a\x1b[2Jb\r\nc")` → `"a^[[2Jb\nc"`.
pub fn text(input: &str) -> Cow<'_, str> {
    visible(input, needs_escape, true)
}

/// [`text`] for a one-line context (a table row, a status line): a newline
/// is shown as `^J` too (and a CR as `^M`), a tab stays. Borrowed when
/// nothing needed changing.
pub fn line(input: &str) -> Cow<'_, str> {
    visible(input, |c| c == '\n' || needs_escape(c), false)
}

/// A serialized JSON document (serde_json's output) made safe for a
/// terminal: serde_json escapes C0 controls but writes DEL, C1 and bidi
/// controls raw; each becomes its `\uXXXX` escape, which decodes to the same
/// string, so the document's value is unchanged. Outside strings, JSON text
/// is ASCII without controls, so only string contents change. Borrowed when
/// nothing needed changing.
pub fn json(input: &str) -> Cow<'_, str> {
    let dangerous = |c: char| ('\x7f'..='\u{9f}').contains(&c) || is_bidi_control(c);
    let Some(at) = input.find(dangerous) else {
        return Cow::Borrowed(input);
    };
    let mut out = String::with_capacity(input.len() + 16);
    out.push_str(&input[..at]);
    for c in input[at..].chars() {
        if dangerous(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line without ANSI/VT escape sequences (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL|ESC \`, DCS/SOS/PM/APC strings, other `ESC x`, and their
/// 8-bit C1 forms), C0 controls except tab (tab → space; so also CR and LF),
/// DEL, C1 controls and the bidi controls of [`is_bidi_control`]; trailing
/// whitespace trimmed. For test runners' output, whose colours are expected
/// and whose lines are parsed; model text shown to people goes through
/// [`text`] instead. An escape sequence left open at the end swallows the rest
/// of `input`.
pub fn strip_line(input: &str) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Text,
        Esc,
        Csi,
        Nf,
        Str,
        StrEsc,
    }
    let mut out = String::with_capacity(input.len());
    let mut state = State::Text;
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        let mut consumed = true;
        state = match state {
            State::Text => match c {
                '\x1b' => State::Esc,
                '\u{9b}' => State::Csi,
                '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => State::Str,
                '\t' => {
                    out.push(' ');
                    State::Text
                }
                c if c < ' ' || ('\x7f'..='\u{9f}').contains(&c) => State::Text,
                c if is_bidi_control(c) => State::Text,
                c => {
                    out.push(c);
                    State::Text
                }
            },
            State::Esc => match c {
                '[' => State::Csi,
                ']' | 'P' | 'X' | '^' | '_' => State::Str,
                '\x1b' => State::Esc,
                ' '..='/' => State::Nf,
                '0'..='~' => State::Text,
                _ => {
                    consumed = false;
                    State::Text
                }
            },
            State::Csi => match c {
                ' '..='?' => State::Csi,
                '@'..='~' => State::Text,
                _ => {
                    consumed = false;
                    State::Text
                }
            },
            State::Nf => match c {
                ' '..='/' => State::Nf,
                '0'..='~' => State::Text,
                _ => {
                    consumed = false;
                    State::Text
                }
            },
            State::Str => match c {
                '\x07' | '\u{9c}' => State::Text,
                '\x1b' => State::StrEsc,
                _ => State::Str,
            },
            State::StrEsc => match c {
                '\\' => State::Text,
                _ => {
                    consumed = false;
                    State::Esc
                }
            },
        };
        if consumed {
            chars.next();
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// Whether `text` holds none of the bytes a terminal acts on: ESC, BEL, any
/// other C0 control but tab and newline, DEL, a C1 control or a bidi
/// control. What [`text`]'s output always satisfies.
pub fn is_clean(text: &str) -> bool {
    !text.chars().any(needs_escape)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "a\x1b]52;c;aGk=\x07b\x1b]0;pwned\x07c\x1b[2Jd\u{9b}31me\x07\x07\x07f\u{202e}g";

    #[test]
    fn text_shows_controls_and_escapes_visibly_like_cat_v() {
        assert_eq!(
            text(HOSTILE),
            "a^[]52;c;aGk=^Gb^[]0;pwned^Gc^[[2JdM-^[31me^G^G^Gf<U+202E>g"
        );
        assert!(is_clean(&text(HOSTILE)));
        assert!(!is_clean(HOSTILE));
        // Every C0, DEL and C1 has a printable form without controls.
        for code in (0u32..0x20).chain(0x7f..0xa0) {
            let c = char::from_u32(code).unwrap();
            let shown = text(&c.to_string()).into_owned();
            assert!(is_clean(&shown), "{code:#x} → {shown:?}");
            if c != '\n' && c != '\t' {
                assert!(
                    shown.is_ascii() && shown.len() >= 2,
                    "{code:#x} → {shown:?}"
                );
            }
        }
        assert_eq!(text("\0\x7f\u{85}\r"), "^@^?M-^E^M");
        for bidi in ['\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{2069}'] {
            assert!(text(&bidi.to_string()).starts_with("<U+"), "{bidi:?}");
        }
    }

    #[test]
    fn text_keeps_lines_tabs_and_ordinary_unicode_and_borrows_clean_input() {
        let clean = "line one\n\tindented ✓ é 日本 ❯\nlast";
        assert!(matches!(text(clean), Cow::Borrowed(_)));
        assert!(matches!(line("a\tb"), Cow::Borrowed(_)));
        assert!(matches!(json(r#"{"a":"é\n"}"#), Cow::Borrowed(_)));
        assert_eq!(text(clean), clean);
        // CRLF line ends are line ends; a lone CR could overwrite a line.
        assert_eq!(text("a\r\nb\rc"), "a\nb^Mc");
        // Multi-line text stays multi-line, each line cleaned.
        assert_eq!(text("x\x1b[31m\ny\u{202e}"), "x^[[31m\ny<U+202E>");
    }

    #[test]
    fn line_shows_newlines_too() {
        assert_eq!(line("a\nb\r\nc\td"), "a^Jb^M^Jc\td");
        assert!(is_clean(&line(HOSTILE)) && !line(HOSTILE).contains('\n'));
    }

    #[test]
    fn json_escapes_c1_and_bidi_and_keeps_the_value() {
        let value = serde_json::json!({ "text": HOSTILE, "k\u{202e}": "\u{7f}" });
        let raw = serde_json::to_string(&value).unwrap();
        assert!(!is_clean(&raw));
        let safe = json(&raw);
        assert!(is_clean(&safe), "{safe}");
        assert!(
            safe.contains("\\u009b") && safe.contains("\\u202e"),
            "{safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn strip_line_removes_whole_sequences() {
        assert_eq!(strip_line("\x1b]52;c;ZXZpbA==\x07safe"), "safe");
        assert_eq!(strip_line("\x1b[2Jcleared"), "cleared");
        assert_eq!(strip_line("x\u{9b}31my\u{85}z\x7f\x00\r"), "xyz");
        assert_eq!(strip_line("a\u{200f}b\u{061c}c"), "abc");
        assert_eq!(strip_line(HOSTILE), "abcdefg");
    }

    proptest::proptest! {
        #[test]
        fn any_text_comes_out_clean_and_printable_input_unchanged(s in ".*", p in "[ -~\n\t]*") {
            proptest::prop_assert!(is_clean(&text(&s)));
            proptest::prop_assert!(is_clean(&line(&s)));
            proptest::prop_assert!(is_clean(&strip_line(&s)));
            proptest::prop_assert_eq!(text(&p), p.as_str());
        }
    }
}
