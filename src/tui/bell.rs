//! The TUI's side of a notice (docs/tui.md, "Notifications"): when the session
//! starts waiting for the person or ends ([`crate::protocol::notice::Watch`]),
//! the terminal's bell (BEL) and a desktop notification through the terminal,
//! OSC 9 and OSC 777 (`notify`), which iTerm2, kitty, WezTerm, foot and
//! Windows Terminal show (each knows one or both) — and, when this process
//! hosts the orchestrator, the person's `[notify] command` ([`crate::notify`]).
//!
//! The bytes wait in [`Notifier`] until the next frame is written, and are
//! written after it ([`Notifier::write_to`]), so that they never land inside
//! a frame's escape sequences. Inside tmux (`$TMUX` set) each OSC goes through
//! tmux's passthrough (`ESC P tmux; … ESC \`, every ESC inside doubled), which
//! tmux forwards to the outer terminal when its `allow-passthrough` option is
//! on; the BEL is sent plainly (tmux handles it itself: `bell-action`).
//! `NO_COLOR` (set and not empty) and `notify = false` silence the bell and the
//! OSC sequences; `notify = false` also the command.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::config::NotifySettings;
use crate::protocol::Event;
use crate::protocol::notice::{Notice, Watch};

/// The terminal's bell.
const BEL: &str = "\x07";

/// How the TUI calls the person, and the bytes waiting for the next frame.
pub struct Notifier {
    /// The fold that says when the session needs the person.
    watch: Watch,
    /// What is written to the terminal.
    style: Style,
    /// The person's command, when this process runs it.
    command: Option<String>,
    /// DIR: where the command runs, and its `QUORUM_DIR`.
    dir: PathBuf,
    /// Bytes for the terminal, written after the next frame.
    pending: Vec<u8>,
}

/// What a notice writes to the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// The bell (BEL).
    pub bell: bool,
    /// OSC 9 and OSC 777.
    pub desktop: bool,
    /// Inside tmux: each OSC wrapped in tmux's passthrough.
    pub tmux: bool,
}

impl Style {
    /// From `[notify]` and the environment (`env` looks variables up):
    /// nothing with `notify = false` or a non-empty `NO_COLOR`; the
    /// passthrough with `TMUX` set.
    pub fn new(settings: &NotifySettings, env: &dyn Fn(&str) -> Option<String>) -> Style {
        let quiet = !settings.enabled || env("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            bell: settings.bell && !quiet,
            desktop: settings.desktop && !quiet,
            tmux: env("TMUX").is_some_and(|v| !v.is_empty()),
        }
    }
}

impl Notifier {
    /// A notifier for a TUI in `dir`: `confirm_decisions` as `[ui]` says (the
    /// session then waits at resolve for every open conflict);
    /// `run_command`: this process hosts the orchestrator, so it runs the
    /// person's command (a TUI that is a server's client does not).
    pub fn new(
        settings: &NotifySettings,
        confirm_decisions: bool,
        run_command: bool,
        dir: PathBuf,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Notifier {
        Notifier {
            watch: Watch::new(true, confirm_decisions),
            style: Style::new(settings, env),
            command: settings
                .command()
                .filter(|_| run_command)
                .map(str::to_string),
            dir,
            pending: Vec::new(),
        }
    }

    /// Takes one orchestrator event: each notice it gives queues its bytes
    /// for the next frame and runs the command (which is not waited for).
    pub fn take(&mut self, event: &Event) {
        for notice in self.watch.take(event) {
            tracing::info!(
                reason = notice.reason.as_str(),
                session = %notice.session,
                "the session needs the person"
            );
            self.pending.extend(bytes(&notice, self.style));
            if let Some(command) = &self.command {
                // The reaper thread ends by itself (at most 30 s).
                drop(crate::notify::run_command(command, &notice, &self.dir));
            }
        }
    }

    /// Whether bytes wait for the next frame.
    pub fn pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes the waiting bytes to `out` (the terminal, after a frame) and
    /// flushes it.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        out.write_all(&self.pending)?;
        self.pending.clear();
        out.flush()
    }
}

/// The bytes of `notice` in `style`: BEL, then `ESC ] 9 ; quorum: SUMMARY BEL`
/// and `ESC ] 777 ; notify ; quorum ; SUMMARY BEL`, each OSC in tmux's
/// passthrough when `style.tmux`. Empty when the style writes nothing.
pub fn bytes(notice: &Notice, style: Style) -> Vec<u8> {
    let mut out = String::new();
    if style.bell {
        out.push_str(BEL);
    }
    if style.desktop {
        let text = osc_text(&notice.summary);
        for osc in [
            format!("\x1b]9;quorum: {text}{BEL}"),
            format!("\x1b]777;notify;quorum;{text}{BEL}"),
        ] {
            if style.tmux {
                out.push_str("\x1bPtmux;");
                out.push_str(&osc.replace('\x1b', "\x1b\x1b"));
                out.push_str("\x1b\\");
            } else {
                out.push_str(&osc);
            }
        }
    }
    out.into_bytes()
}

/// `text` as an OSC field: no control character (C0, DEL, C1: one would end
/// or break the sequence) and no bidi control, and `;` (OSC 777's field
/// separator) as `,`. The summary is clean already (`protocol::notice`); this
/// holds whatever text it is given.
fn osc_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !crate::sanitize::is_bidi_control(*c))
        .map(|c| if c == ';' { ',' } else { c })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::notice::Reason;
    use crate::protocol::{EventBody, LoggedEvent, SessionId, SessionStatus};

    fn notice(summary: &str) -> Notice {
        Notice {
            session: SessionId::parse("0123456789ab").unwrap(),
            reason: Reason::Finished,
            summary: summary.into(),
        }
    }

    const ALL: Style = Style {
        bell: true,
        desktop: true,
        tmux: false,
    };

    #[test]
    fn a_notice_is_a_bell_and_osc_9_and_777() {
        let got = bytes(&notice("session succeeded — Build it"), ALL);
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "\x07\x1b]9;quorum: session succeeded — Build it\x07\
             \x1b]777;notify;quorum;session succeeded — Build it\x07"
        );
        let bell_only = Style {
            desktop: false,
            ..ALL
        };
        assert_eq!(bytes(&notice("x"), bell_only), b"\x07");
        let desktop_only = Style { bell: false, ..ALL };
        // No bell: the BELs left end the two OSC sequences.
        let got = bytes(&notice("x"), desktop_only);
        assert!(got.starts_with(b"\x1b]9;"), "{got:?}");
        assert_eq!(got.iter().filter(|b| **b == b'\x07').count(), 2);
    }

    #[test]
    fn inside_tmux_each_osc_goes_through_the_passthrough_and_the_bell_does_not() {
        let tmux = Style { tmux: true, ..ALL };
        let got = String::from_utf8(bytes(&notice("done"), tmux)).unwrap();
        assert_eq!(
            got,
            "\x07\x1bPtmux;\x1b\x1b]9;quorum: done\x07\x1b\\\
             \x1bPtmux;\x1b\x1b]777;notify;quorum;done\x07\x1b\\"
        );
    }

    #[test]
    fn hostile_text_cannot_break_out_of_the_sequence() {
        let got = bytes(&notice("a\x1b]52;c;aGk=\x07b\u{9c}c\u{202e}d;e\nf"), ALL);
        let text = String::from_utf8(got).unwrap();
        assert_eq!(
            text,
            "\x07\x1b]9;quorum: a]52,c,aGk=bcd,ef\x07\
             \x1b]777;notify;quorum;a]52,c,aGk=bcd,ef\x07"
        );
        // One ESC per OSC, one BEL to end each and the bell.
        assert_eq!(text.matches('\x1b').count(), 2);
        assert_eq!(text.matches('\x07').count(), 3);
    }

    #[test]
    fn no_color_and_notify_false_silence_the_terminal() {
        let on = NotifySettings::default();
        let env_none = |_: &str| None;
        assert_eq!(Style::new(&on, &env_none), ALL);
        let no_color = |k: &str| (k == "NO_COLOR").then(|| "1".to_string());
        let s = Style::new(&on, &no_color);
        assert!(!s.bell && !s.desktop);
        // An empty NO_COLOR is not set (no-color.org).
        let empty = |k: &str| (k == "NO_COLOR").then(String::new);
        assert_eq!(Style::new(&on, &empty), ALL);
        let off = NotifySettings {
            enabled: false,
            ..NotifySettings::default()
        };
        let s = Style::new(&off, &env_none);
        assert!(!s.bell && !s.desktop);
        assert!(bytes(&notice("x"), s).is_empty());
        let tmux = |k: &str| (k == "TMUX").then(|| "/tmp/tmux-1/default,1,0".to_string());
        assert!(Style::new(&on, &tmux).tmux);
    }

    #[test]
    fn the_bytes_wait_for_the_frame_and_are_written_once() {
        let mut n = Notifier::new(
            &NotifySettings::default(),
            true,
            false,
            PathBuf::from("/tmp"),
            &|_| None,
        );
        let logged = |seq, body| {
            Event::Logged(LoggedEvent {
                v: 1,
                seq,
                session: SessionId::parse("0123456789ab").unwrap(),
                at: String::new(),
                body,
            })
        };
        n.take(&logged(
            1,
            EventBody::SessionStarted {
                prompt: "Build it".into(),
                dir: "/tmp".into(),
                workflow: "default".into(),
                agents: vec![],
            },
        ));
        assert!(!n.pending());
        n.take(&logged(
            2,
            EventBody::SessionFinished {
                status: SessionStatus::Succeeded,
                tokens_in: 0,
                tokens_out: 0,
                cost_usd: 0.0,
            },
        ));
        assert!(n.pending());
        let mut out = Vec::new();
        n.write_to(&mut out).unwrap();
        assert_eq!(out, bytes(&notice("session succeeded — Build it"), ALL));
        let mut again = Vec::new();
        n.write_to(&mut again).unwrap();
        assert!(again.is_empty() && !n.pending());
    }
}
