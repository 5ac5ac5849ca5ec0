//! The live progress display of a headless run on a terminal (`quorum run`
//! with stderr a terminal): permanent lines scroll up and one status line
//! (phase, running tasks, counts, tokens, a spinner) is redrawn in place.

use super::*;

/// Frames of the spinner.
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// The live display: permanent lines scroll up, one status line stays at the
/// bottom and is redrawn in place (`\r`, erase line). Generic over the writer
/// so that tests can read what a terminal would get.
pub struct Live<W: std::io::Write> {
    out: W,
    width: usize,
    phases: usize,
    frame: usize,
    started: std::time::Instant,
    phase: Option<(usize, String)>,
    running: Vec<(String, String)>,
    done: usize,
    failed: usize,
    tokens: u64,
    drawn: bool,
}

impl<W: std::io::Write> Live<W> {
    /// A display `width` columns wide for a workflow of `phases` phases.
    pub fn new(out: W, width: usize, phases: usize) -> Live<W> {
        Live {
            out,
            width: width.max(20),
            phases,
            frame: 0,
            started: std::time::Instant::now(),
            phase: None,
            running: Vec::new(),
            done: 0,
            failed: 0,
            tokens: 0,
            drawn: false,
        }
    }

    fn clear(&mut self) {
        if self.drawn {
            let _ = write!(self.out, "\r\x1b[2K");
            self.drawn = false;
        }
    }

    /// The status line, at most `width - 1` characters.
    pub fn status(&self) -> String {
        let mut parts = Vec::new();
        match &self.phase {
            Some((n, name)) if self.phases > 0 => {
                parts.push(format!("phase {n}/{} {name}", self.phases));
            }
            Some((n, name)) => parts.push(format!("phase {n} {name}")),
            None => parts.push("starting".to_string()),
        }
        if !self.running.is_empty() {
            let names: Vec<String> = self
                .running
                .iter()
                .map(|(task, agent)| format!("{agent} {task}"))
                .collect();
            parts.push(format!("running: {}", names.join(", ")));
        }
        parts.push(format!("{} done", self.done));
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.tokens > 0 {
            parts.push(format!("{} tok", self.tokens));
        }
        let secs = self.started.elapsed().as_secs();
        parts.push(format!("{}:{:02}", secs / 60, secs % 60));
        let line = format!(
            "{} {}",
            SPINNER[self.frame % SPINNER.len()],
            parts.join(" · ")
        );
        // Phase, task and agent names come from the workflow and the model.
        let line = crate::sanitize::line(&line).into_owned();
        let max = self.width - 1;
        if line.chars().count() > max {
            let mut cut: String = line.chars().take(max - 1).collect();
            cut.push('…');
            cut
        } else {
            line
        }
    }

    fn draw(&mut self) {
        self.clear();
        let status = self.status();
        let _ = write!(self.out, "{status}");
        let _ = self.out.flush();
        self.drawn = true;
    }

    /// Prints a permanent line above the status line.
    pub fn line(&mut self, text: &str) {
        self.clear();
        let _ = writeln!(self.out, "{}", crate::sanitize::text(text));
        self.draw();
    }

    /// Takes an event into the status line, and prints its line if it has one.
    pub fn event(&mut self, event: &LoggedEvent) {
        match &event.body {
            EventBody::PhaseStarted { phase, .. } => {
                let n = self.phase.as_ref().map_or(1, |(n, _)| n + 1);
                self.phase = Some((n, phase.clone()));
            }
            EventBody::TaskStarted { task, agent, .. } => {
                self.running.retain(|(t, _)| t != task);
                self.running.push((task.clone(), agent.clone()));
            }
            EventBody::TaskFinished {
                task,
                tokens_in,
                tokens_out,
                ..
            } => {
                self.running.retain(|(t, _)| t != task);
                self.done += 1;
                self.tokens += tokens_in + tokens_out;
            }
            EventBody::TaskFailed { task, .. } => {
                self.running.retain(|(t, _)| t != task);
                self.failed += 1;
            }
            EventBody::TaskPaused { task, .. }
            | EventBody::TaskCancelled { task, .. }
            | EventBody::TaskRetrying { task, .. } => {
                self.running.retain(|(t, _)| t != task);
            }
            _ => {}
        }
        match describe(event) {
            Some(line) => self.line(&line),
            None => self.draw(),
        }
    }

    /// Advances the spinner.
    pub fn tick(&mut self) {
        self.frame += 1;
        self.draw();
    }

    /// Erases the status line, leaving only the permanent lines.
    pub fn finish(&mut self) {
        self.clear();
        let _ = self.out.flush();
    }

    /// The writer (for tests).
    pub fn into_inner(self) -> W {
        self.out
    }
}
