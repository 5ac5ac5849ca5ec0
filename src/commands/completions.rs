//! `quorum completions bash|zsh|fish` (clap_complete) and `quorum man`
//! (clap_mangen plus hand-written sections): both are generated from the one
//! clap definition in `cli/args.rs`, so they always match the binary.
//!
//! The man page is printed by a command rather than generated at build time:
//! it then describes exactly the installed binary, costs no build script (which
//! would compile clap a second time for the host on every build), and packagers
//! get it the way ripgrep offers its own: `quorum man > quorum.1`.

use std::io::Write as _;

use clap::CommandFactory as _;

use crate::cli::args::{Cli, Shell};
use crate::cli::exit;

/// Prints the completion script for `shell` to stdout; returns the exit code.
pub fn completions(shell: Shell) -> i32 {
    let mut cmd = Cli::command();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(generator, &mut cmd, "quorum", &mut out);
    write_stdout(&out)
}

/// Prints the man page (roff) to stdout; returns the exit code.
pub fn man() -> i32 {
    match man_page() {
        Ok(page) => write_stdout(&page),
        Err(e) => {
            crate::errln!("quorum: cannot render the man page: {e}");
            exit::FAILED
        }
    }
}

fn write_stdout(bytes: &[u8]) -> i32 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => exit::OK,
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            crate::errln!("quorum: cannot write to stdout: {e}");
            exit::FAILED
        }
    }
}

/// Escapes text for roff: backslashes, hyphens, and control characters at the
/// start of a line.
fn esc(text: &str) -> String {
    text.replace('\\', "\\e")
        .replace('-', "\\-")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An argument as a `.TP` tag: `\fB\-\-format\fR \fIFORMAT\fR`.
fn arg_tag(arg: &clap::Arg) -> String {
    let mut names = Vec::new();
    if let Some(s) = arg.get_short() {
        names.push(format!("\\fB\\-{s}\\fR"));
    }
    if let Some(l) = arg.get_long() {
        names.push(format!("\\fB\\-\\-{}\\fR", esc(l)));
    }
    let values: Vec<String> = arg
        .get_value_names()
        .map(|v| v.iter().map(|n| format!("\\fI{}\\fR", esc(n))).collect())
        .unwrap_or_default();
    let takes_value = arg.get_action().takes_values();
    if names.is_empty() {
        // A positional argument.
        let name = values.first().cloned().unwrap_or_else(|| {
            format!("\\fI{}\\fR", esc(&arg.get_id().to_string().to_uppercase()))
        });
        return name;
    }
    let mut tag = names.join(", ");
    if takes_value {
        let value = values.first().cloned().unwrap_or_else(|| {
            format!("\\fI{}\\fR", esc(&arg.get_id().to_string().to_uppercase()))
        });
        let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        match (optional, arg.is_require_equals_set()) {
            (true, _) => tag.push_str(&format!("[={value}]")),
            (false, true) => tag.push_str(&format!("={value}")),
            (false, false) => tag.push_str(&format!(" {value}")),
        }
    }
    tag
}

/// One command's usage, description and own (non-global) options, as a `.SS`.
fn command_section(out: &mut String, path: &str, cmd: &mut clap::Command) {
    let usage = cmd.render_usage().to_string();
    let usage = usage.trim_start_matches("Usage:").trim();
    out.push_str(&format!(".SS \"{}\"\n", esc(path)));
    out.push_str(&format!(".B {}\n.PP\n", esc(usage)));
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        out.push_str(&format!("{}\n", esc(&about.to_string())));
    }
    for arg in cmd.get_arguments() {
        if arg.is_hide_set() || arg.is_global_set() {
            continue;
        }
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        out.push_str(&format!(".TP\n{}\n", arg_tag(arg)));
        if let Some(help) = arg.get_long_help().or_else(|| arg.get_help()) {
            out.push_str(&format!("{}\n", esc(&help.to_string())));
        }
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        if !values.is_empty() && !matches!(arg.get_action(), clap::ArgAction::SetTrue) {
            out.push_str(&format!(".br\nValues: {}.\n", esc(&values.join(", "))));
        }
    }
}

const DESCRIPTION: &str = r#".SH DESCRIPTION
A team of LLM agents \(em project manager (chair), backend, frontend, QA and
security \(em turns one prompt into a working, committed software project in the
target directory DIR.
Without a subcommand,
.B quorum
opens its full\-screen terminal UI in DIR (starting at once when a PROMPT is given);
.B quorum run
does the same headless, with progress on stderr and the result (or, with
\fB\-\-json\fR, one JSON event per line) on stdout.
.PP
A session goes through nine phases: refine, plan, compare, vote, resolve,
implement, test, review and deliver. Generated files are staged in the state
database and a scratch tree, tested in a sandbox, and written into DIR only at
deliver, as one git commit whose message ends with the trailer
\fBQuorum\-Session:\fR \fIID\fR.
.PP
Without any config file, and with \fB\-\-offline\fR, every agent runs on the
built\-in deterministic provider, labelled "offline (simulated)".
Global options are accepted before or after the subcommand.
A prompt that equals a subcommand's name is given after \fB\-\-\fR.
"#;

const TAIL: &str = r#".SH EXIT STATUS
.TP
.B 0
succeeded
.TP
.B 1
failed (for \fBdoctor\fR: a required check failed)
.TP
.B 2
usage or config error, or a corrupt state db (\fBquorum db verify\fR); the message names the problem
.TP
.B 3
interrupted, cancelled or paused (resumable)
.TP
.B 4
DIR's state is in use by another quorum (its pid is named)
.SH ENVIRONMENT
.TP
.B QUORUM_LOG
Log filter (tracing's env\-filter syntax, e.g. \fBdebug\fR); default \fBinfo\fR,
\fB\-v\fR debug, \fB\-vv\fR trace.
.TP
.B XDG_CONFIG_HOME
The user config is \fI$XDG_CONFIG_HOME/quorum/config.toml\fR (default \fI~/.config\fR).
.TP
.B XDG_STATE_HOME
Logs of commands without a session (\fBinit\fR, \fBdoctor\fR, early errors) go to
\fI$XDG_STATE_HOME/quorum/\fR (default \fI~/.local/state\fR).
.TP
.B OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, ...
Provider keys, read only from the variables a provider names with
\fBapi_key_env\fR. They never reach the state db, logs, transcripts, exports or commits,
nor the environment of a test run.
.TP
.B NO_COLOR
Honoured by the TUI's themes; also silences the bell and the desktop
notifications (OSC 9, OSC 777) the TUI sends when a session waits for you.
.TP
.B TMUX
Inside tmux, the desktop notifications go through tmux's passthrough.
.TP
.B QUORUM_SESSION, QUORUM_REASON, QUORUM_SUMMARY, QUORUM_DIR
Set for the \fB[notify] command\fR of the user config: the session's id, why
it needs you (question, conflict, budget, delivery, finished), one line saying
what waits, and DIR.
.SH FILES
.TP
.I DIR/quorum.toml
The project's config; \fBquorum init\fR writes a commented one.
.TP
.I $XDG_CONFIG_HOME/quorum/config.toml
The user config, used when DIR has none.
.TP
.I DIR/.quorum/
State: the sled database, scratch trees (\fIwork/SESSION/\fR), session logs
(\fIlogs/\fR, daily, 14 kept) and a lock; it carries a \fI.gitignore\fR of \fB*\fR.
\fB\-\-state\-dir\fR puts it elsewhere.
.SH EXAMPLES
.TP
.B quorum run """Build a URL shortener REST API with tests""" \-\-dir /tmp/shortener
Headless session on the offline provider (with no config file).
.TP
.B quorum init && quorum doctor
Write a commented config, then check it.
.TP
.B quorum sessions export ID \-\-format md > report.md
A readable report of a session.
.TP
.B quorum sessions export ID \-\-format tar \-o project.tar.gz
The generated project as an archive.
.TP
.B quorum undo
Revert the newest session's commit with a new commit.
.TP
.B source <(quorum completions bash)
Completions for the running bash.
.SH SEE ALSO
.BR git (1)
"#;

/// The whole man page: the top command's synopsis and global options from
/// clap_mangen, every subcommand (and `sessions` action) with its own options,
/// then exit status, environment, files and examples.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone())
        .section("1")
        .manual("quorum manual")
        .source(format!("quorum {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    page.extend_from_slice(DESCRIPTION.as_bytes());
    man.render_options_section(&mut page)?;
    let mut commands = String::from(".SH COMMANDS\n");
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let Some(sub) = cmd.find_subcommand_mut(&name) else {
            continue;
        };
        let actions: Vec<String> = sub
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .map(|s| s.get_name().to_string())
            .collect();
        if actions.is_empty() {
            command_section(&mut commands, &format!("quorum {name}"), sub);
        }
        for action in actions {
            if let Some(inner) = sub.find_subcommand_mut(&action) {
                command_section(&mut commands, &format!("quorum {name} {action}"), inner);
            }
        }
    }
    page.extend_from_slice(commands.as_bytes());
    page.extend_from_slice(TAIL.as_bytes());
    man.render_version_section(&mut page)?;
    Ok(page)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_names_every_command_and_escapes_roff() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.contains("\n.TH quorum 1 "), "{}", &page[..200]);
        for needle in [
            ".SS \"quorum run\"",
            ".SS \"quorum sessions export\"",
            ".SS \"quorum sessions push\"",
            ".SS \"quorum doctor\"",
            ".SS \"quorum init\"",
            ".SS \"quorum undo\"",
            ".SS \"quorum completions\"",
            "\\fB\\-\\-format\\fR \\fIFORMAT\\fR",
            ".br\nValues: md, json, tar.",
            "\\fB\\-\\-json\\fR[=\\fItokens\\fR]",
            ".SH EXIT STATUS",
        ] {
            assert!(page.contains(needle), "no `{needle}` in the page");
        }
        // No line starts with a stray control character from help text.
        for line in page.lines() {
            assert!(!line.starts_with('\''), "{line}");
        }
        assert_eq!(esc(".x\n'y - z\\"), "\\&.x\n\\&'y \\- z\\e");
    }
}
