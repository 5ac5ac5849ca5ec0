//! The terminal: entering and leaving the TUI's mode (raw, alternate screen,
//! bracketed paste, mouse capture when asked), exactly once per entry whatever
//! the exit path (drop, panic hook, suspend); suspending to the shell (Ctrl-Z)
//! and coming back; running `$EDITOR` on a file in between; and a writer that
//! counts the bytes sent to the terminal, so that the cost of a streamed token
//! on a slow SSH link can be measured. Frames are written by
//! [`super::screen::Screen`], which scrolls the transcript's rows in place
//! instead of rewriting them.

use std::io::{self, Stdout, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::backend::CrosstermBackend;
use ratatui::{Frame, Terminal};

use super::screen::{Drawn, Rendered, Screen};

/// A writer that counts every byte written through it.
#[derive(Debug)]
pub struct CountingWriter<W> {
    inner: W,
    count: Arc<AtomicU64>,
    /// The start of a character split across two writes (at most 2 bytes).
    pending: Vec<u8>,
}

/// `bytes` (after `pending`, the start of a character the last write ended
/// in) without the UTF-8 encodings of the bidi controls
/// ([`crate::sanitize::is_bidi_control`]); a trailing prefix of one is left in
/// `pending` for the next write. ratatui's buffer already drops C0 and C1
/// controls; bidi controls are format characters it keeps, and one in model
/// text would reorder what the terminal shows (docs/troubleshooting.md, "Model
/// text on your terminal"). They are zero-width, so dropping them moves no
/// cell. quorum's own escape sequences are 7-bit and never contain them.
fn without_bidi(pending: &mut Vec<u8>, bytes: &[u8]) -> Vec<u8> {
    let mut all = std::mem::take(pending);
    all.extend_from_slice(bytes);
    let mut out = Vec::with_capacity(all.len());
    let mut i = 0;
    while i < all.len() {
        let rest = &all[i..];
        let bidi = match rest {
            [0xD8, 0x9C, ..] => 2,
            [0xE2, 0x80, 0x8E | 0x8F | 0xAA..=0xAE, ..] => 3,
            [0xE2, 0x81, 0xA6..=0xA9, ..] => 3,
            _ => 0,
        };
        if bidi > 0 {
            i += bidi;
            continue;
        }
        // A possible start of one, cut by the end of this write.
        if matches!(rest, [0xD8] | [0xE2] | [0xE2, 0x80] | [0xE2, 0x81]) {
            pending.extend_from_slice(rest);
            break;
        }
        out.push(all[i]);
        i += 1;
    }
    out
}

impl<W> CountingWriter<W> {
    /// Wraps `inner`; the count starts at 0.
    pub fn new(inner: W) -> Self {
        CountingWriter {
            inner,
            count: Arc::new(AtomicU64::new(0)),
            pending: Vec::new(),
        }
    }

    /// A handle on the count of bytes written so far.
    pub fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.count)
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let clean = without_bidi(&mut self.pending, buf);
        self.inner.write_all(&clean)?;
        self.count.fetch_add(clean.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let held = std::mem::take(&mut self.pending);
            self.inner.write_all(&held)?;
            self.count.fetch_add(held.len() as u64, Ordering::Relaxed);
        }
        self.inner.flush()
    }
}

/// Whether the terminal is in the TUI's mode (raw, alternate screen). It mirrors
/// the terminal's own state, which is process-wide, so that it is restored
/// exactly once: leaving the alternate screen twice would move the cursor back
/// to where it was on entry, and the shell would then overwrite whatever was
/// printed since (a panic's message, say).
static TUI_MODE: AtomicBool = AtomicBool::new(false);
/// Whether mouse capture is on (so that it is turned off on the way out).
static MOUSE: AtomicBool = AtomicBool::new(false);

/// Leaves the TUI's mode if the terminal is in it; harmless otherwise.
pub fn restore() {
    if TUI_MODE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let mut out = io::stdout();
        if MOUSE.load(Ordering::SeqCst) {
            let _ = execute!(out, DisableMouseCapture);
        }
        let _ = execute!(
            out,
            DisableBracketedPaste,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
    }
}

fn enter_mode(mouse: bool) -> io::Result<()> {
    enable_raw_mode()?;
    TUI_MODE.store(true, Ordering::SeqCst);
    MOUSE.store(mouse, Ordering::SeqCst);
    let mut stdout = io::stdout();
    let entered = execute!(stdout, EnterAlternateScreen, EnableBracketedPaste).and_then(|_| {
        if mouse {
            execute!(stdout, EnableMouseCapture)
        } else {
            Ok(())
        }
    });
    if let Err(e) = entered {
        restore();
        return Err(e);
    }
    Ok(())
}

/// The terminal in the TUI's mode; restores it when dropped (and from the
/// panic hook).
pub struct TerminalGuard {
    /// The ratatui terminal, writing through a [`CountingWriter`].
    pub terminal: Terminal<CrosstermBackend<CountingWriter<Stdout>>>,
    /// What the terminal shows; draws the frames.
    pub screen: Screen,
    bytes: Arc<AtomicU64>,
    mouse: bool,
}

impl TerminalGuard {
    /// Enters the TUI's mode (with mouse capture when `mouse`) and installs a
    /// panic hook that restores the terminal before the panic is reported.
    pub fn enter(mouse: bool) -> io::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enter_mode(mouse)?;
        let writer = CountingWriter::new(io::stdout());
        let bytes = writer.counter();
        let terminal = match Terminal::new(CrosstermBackend::new(writer)) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(TerminalGuard {
            terminal,
            screen: Screen::new(),
            bytes,
            mouse,
        })
    }

    /// Draws a frame ([`Screen::draw`]): `render` reports the rows that may
    /// scroll in place and the cursor.
    pub fn draw(&mut self, render: impl FnOnce(&mut Frame) -> Rendered) -> io::Result<Drawn> {
        self.screen.draw(&mut self.terminal, render)
    }

    /// Bytes written to the terminal so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Leaves the TUI's mode for a while (the shell or an editor takes the
    /// terminal); [`TerminalGuard::resume`] comes back.
    pub fn leave(&mut self) {
        restore();
    }

    /// Comes back after [`TerminalGuard::leave`] or a stop from outside:
    /// re-enters the TUI's mode and forgets what the screen held, so that the
    /// next frame is drawn whole.
    pub fn resume(&mut self) -> io::Result<()> {
        if !TUI_MODE.load(Ordering::SeqCst) {
            enter_mode(self.mouse)?;
        }
        self.repaint()
    }

    /// Forgets what the screen holds, so that the next frame clears it and
    /// is drawn whole. Unlike `Terminal::clear` it asks the terminal nothing
    /// (no cursor-position round trip, which a slow link may not answer in
    /// time).
    pub fn repaint(&mut self) -> io::Result<()> {
        self.screen.forget();
        Ok(())
    }

    /// Suspends the process like Ctrl-Z in a shell: the terminal is restored,
    /// the process stops (SIGTSTP) until the shell continues it (`fg`), and the
    /// TUI's mode comes back.
    pub fn suspend(&mut self) -> io::Result<()> {
        self.leave();
        #[cfg(unix)]
        {
            // SAFETY: raise only sends a signal to this process; SIGTSTP keeps
            // its default action (stop), as no handler is installed for it.
            unsafe {
                libc::raise(libc::SIGTSTP);
            }
        }
        self.resume()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// The editor to run: `$VISUAL`, then `$EDITOR`, then `vi`.
pub fn editor_command(env: &dyn Fn(&str) -> Option<String>) -> String {
    env("VISUAL")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| env("EDITOR").filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string())
}

/// A temporary copy of a staged file for the editor: in a fresh private
/// directory, under the file's own name (so that the editor picks the right
/// syntax). Removed when dropped.
pub struct TempCopy {
    dir: std::path::PathBuf,
    /// The file the editor opens.
    pub path: std::path::PathBuf,
}

impl TempCopy {
    /// Writes `content` to a new temporary file named like `rel_path`'s file name.
    pub fn new(rel_path: &str, content: &str) -> io::Result<TempCopy> {
        let name = Path::new(rel_path)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "file".into());
        let dir = std::env::temp_dir().join(format!(
            "quorum-edit-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        Ok(TempCopy { dir, path })
    }

    /// The file's content now.
    pub fn read(&self) -> io::Result<String> {
        std::fs::read_to_string(&self.path)
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `editor` (a shell command line, like `$EDITOR` may be: `code -w`) on
/// `file` with the terminal, and waits for it. Errors name the editor.
pub async fn run_editor(editor: &str, file: &Path) -> Result<(), String> {
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("quorum-editor")
        .arg(file)
        .status()
        .await
        .map_err(|e| format!("cannot run `{editor}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{editor}` exited with {status}; nothing was sent"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_never_reach_the_terminal_even_split_across_writes() {
        let hostile = "a\u{202e}b\u{2066}c\u{061c}d\u{200f}e — ok ü";
        for cut in 0..hostile.len() {
            let mut w = CountingWriter::new(Vec::new());
            let (head, tail) = hostile.as_bytes().split_at(cut);
            w.write_all(head).unwrap();
            w.write_all(tail).unwrap();
            w.flush().unwrap();
            assert_eq!(
                String::from_utf8(w.inner).unwrap(),
                "abcde — ok ü",
                "cut at {cut}"
            );
        }
        // quorum's own escape sequences pass unchanged.
        let mut w = CountingWriter::new(Vec::new());
        w.write_all(b"\x1b[2J\x1b]0;quorum\x07").unwrap();
        assert_eq!(w.inner, b"\x1b[2J\x1b]0;quorum\x07");
    }

    #[test]
    fn the_counting_writer_counts_what_passes() {
        let mut w = CountingWriter::new(Vec::new());
        let counter = w.counter();
        w.write_all(b"hello").unwrap();
        let word = "wörld";
        write!(w, " {word}").unwrap();
        assert_eq!(counter.load(Ordering::Relaxed), 12);
        assert_eq!(w.inner, "hello wörld".as_bytes());
    }

    #[test]
    fn the_editor_is_visual_then_editor_then_vi() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(editor_command(&env(&[])), "vi");
        assert_eq!(editor_command(&env(&[("EDITOR", "nano")])), "nano");
        assert_eq!(
            editor_command(&env(&[("EDITOR", "nano"), ("VISUAL", "code -w")])),
            "code -w"
        );
        assert_eq!(
            editor_command(&env(&[("VISUAL", " "), ("EDITOR", "ed")])),
            "ed"
        );
    }

    #[tokio::test]
    async fn the_editor_edits_a_private_copy_that_is_removed_after() {
        let copy = TempCopy::new("todo/store.py", "x = 1\n").unwrap();
        assert_eq!(copy.path.file_name().unwrap(), "store.py");
        run_editor("sed -i 's/1/2/'", &copy.path).await.unwrap();
        assert_eq!(copy.read().unwrap(), "x = 2\n");
        let err = run_editor("false", &copy.path).await.unwrap_err();
        assert!(err.contains("`false` exited"), "{err}");
        let dir = copy.path.parent().unwrap().to_path_buf();
        drop(copy);
        assert!(!dir.exists());
    }
}
