//! The command line's arguments (docs/design.md §5, "CLI"), with clap's derive API. Global options
//! are accepted before or after the subcommand (`global = true`). A prompt that
//! equals a subcommand's name is given after `--`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// quorum: a team of LLM agents turns one prompt into a working, committed project.
#[derive(Debug, Parser)]
#[command(
    name = "quorum",
    version,
    about = "A team of LLM agents turns one prompt into a working, committed software project.",
    long_about = None,
    after_help = "Without a subcommand, quorum opens the TUI in DIR; with a PROMPT it starts at once.\nExit codes: 0 succeeded, 1 failed, 2 usage or config error or a corrupt state db, 3 interrupted/cancelled/paused, 4 DIR in use."
)]
pub struct Cli {
    /// The prompt: starts a session in the TUI at once (words are joined with spaces).
    #[arg(value_name = "PROMPT")]
    pub prompt: Vec<String>,

    /// The prompt's words given after `--` (`quorum -- 'sesions list'`),
    /// which are never taken for a mistyped subcommand ([`Cli::mistyped_subcommand`]).
    #[arg(value_name = "PROMPT", last = true, hide = true)]
    pub escaped: Vec<String>,

    /// Options every command accepts (`--config`, `--dir`, `--offline`, …), before or after
    /// the subcommand.
    #[command(flatten)]
    pub global: Global,

    /// The subcommand; `None` opens the TUI in DIR (starting at once when `prompt` is given).
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The TUI's prompt: the words before `--` and after it, in order.
    pub fn prompt_words(&self) -> Vec<String> {
        self.prompt.iter().chain(&self.escaped).cloned().collect()
    }

    /// The usage error for a prompt whose first word looks like a mistyped
    /// subcommand (`quorum sesions list`), naming the subcommand and how to
    /// give the words as a prompt after all (docs/commands.md, "A prompt
    /// that looks like a command"); `None` when a subcommand was given, the
    /// prompt is empty or began after `--`, or its first word starts with
    /// an upper-case letter (a sentence).
    ///
    /// "Looks like": at most one edit away from a subcommand's name of up to
    /// six letters, at most two from a longer name (edits of the optimal
    /// string alignment distance, `strsim::osa_distance`: an insertion, a
    /// deletion, a substitution or a swap of two neighbours). Longer names
    /// allow more, so that a short English word (`fun`, `ask`) is not taken
    /// for `run` or `ask`'s neighbours too often.
    pub fn mistyped_subcommand(&self) -> Option<String> {
        use clap::CommandFactory as _;
        if self.command.is_some() {
            return None;
        }
        let word = self.prompt.first()?;
        if word.chars().next().is_none_or(|c| !c.is_lowercase()) || word.chars().count() < 2 {
            return None;
        }
        let command = Cli::command();
        let (name, _) = command
            .get_subcommands()
            .map(|sub| sub.get_name())
            .map(|name| (name, strsim::osa_distance(word, name)))
            .filter(|(name, distance)| *distance <= if name.len() <= 6 { 1 } else { 2 })
            .min_by_key(|(_, distance)| *distance)?;
        Some(format!(
            "`{word}` is not a command: did you mean `{name}`? To use it as a prompt: quorum -- {}",
            shell_quote(&self.prompt_words().join(" "))
        ))
    }
}

/// A prompt's words joined with spaces, trimmed (`quorum run build it`
/// asks for "build it"); empty when there are none.
pub(crate) fn joined(words: &[String]) -> String {
    words.join(" ").trim().to_string()
}

/// `text` as one single-quoted shell word (`'` written as `'\''`).
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Options every command accepts, before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Config file (default: DIR/quorum.toml, then $XDG_CONFIG_HOME/quorum/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Target directory (default: the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// State directory (default: DIR/.quorum).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Theme: default, light, high-contrast or mono.
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Use the built-in offline (simulated) provider for every agent.
    #[arg(long, global = true)]
    pub offline: bool,

    /// Run the setup step (installing each component's dependencies) without
    /// the network, for vendored dependencies (`[test] setup_network = false`).
    #[arg(long, global = true)]
    pub no_setup_network: bool,

    /// Run model-written setup and tests even where the sandbox cannot confine
    /// them to the scratch tree (no user namespaces; `quorum doctor` says why).
    /// Without it such runs are refused (docs/sandbox.md).
    #[arg(long, global = true)]
    pub allow_unconfined_tests: bool,

    /// More log detail (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less output on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// What `--json` prints (the headless runner's choice, defined there).
pub use crate::headless::JsonMode;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a session headless: progress on stderr, result on stdout.
    Run(RunArgs),
    /// Continue an interrupted, cancelled or paused session from the db (TUI, or `--headless`).
    Resume(ResumeArgs),
    /// One streamed completion outside any session: text to stdout, usage to stderr.
    Ask(AskArgs),
    /// List, show, export, remove or push the sessions of DIR.
    Sessions {
        /// Which `sessions` action: `list`, `show ID`, `export ID`, `rm ID` or `push ID`.
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Check DIR's state db: `verify` it against its seal, without changing it.
    Db {
        /// Which `db` action: `verify`.
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Revert a session's commit with a new commit (never a reset).
    Undo {
        /// Session id or unique prefix (default: the newest session with a commit not yet undone).
        session: Option<String>,
    },
    /// Show or replace the notes each agent keeps for DIR across sessions.
    Memory {
        /// The agent (default: every agent's notes, under a heading each).
        agent: Option<String>,
        /// Replace the agent's notes with FILE's text (`-`: stdin).
        #[arg(
            long,
            value_name = "FILE",
            requires = "agent",
            conflicts_with = "clear"
        )]
        set: Option<PathBuf>,
        /// Delete the agent's notes.
        #[arg(long, requires = "agent")]
        clear: bool,
    },
    /// Write a commented quorum.toml (every provider kind, the default roster).
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Write the user config ($XDG_CONFIG_HOME/quorum/config.toml) instead of DIR/quorum.toml.
        #[arg(long, conflicts_with = "config")]
        user: bool,
    },
    /// Check the config, keys, providers, git, sandbox, the stack tools and DIR's components, terminal and state directory.
    Doctor {
        /// One JSON object on stdout instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff) to stdout: `quorum man > quorum.1`.
    Man,
    /// DIR's server: it owns DIR's state and runs its sessions for every
    /// client (`quorum` starts it on demand; sessions go on when the terminal closes).
    Serve(ServeArgs),
    /// Attach to the session on DIR's server: the TUI, or its events as JSON lines.
    Attach(AttachArgs),
}

/// `quorum serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve in this process (for systemd and tests) instead of starting a background server.
    #[arg(long, conflicts_with = "stop")]
    pub foreground: bool,

    /// Stop DIR's server: the running session ends as when its TUI quits (resumable).
    #[arg(long)]
    pub stop: bool,

    /// Seconds the server waits without clients and without a running session before it exits.
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_exit: u64,
}

/// `quorum attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The session's id or unique prefix (default: the one on DIR's server).
    #[arg(value_name = "SESSION")]
    pub session: Option<String>,

    /// One JSON object per event on stdout, as `quorum run --json`, until the
    /// session ends; `--json=tokens` adds token deltas.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "events", value_name = "tokens")]
    pub json: Option<JsonMode>,

    /// With --json: start at this event (its `seq`); earlier ones are not printed.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "json")]
    pub from_seq: u64,
}

/// Shells `quorum completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// GNU Bash: `source <(quorum completions bash)`.
    Bash,
    /// Z shell: save as `_quorum` in a directory of `$fpath`.
    Zsh,
    /// fish: save as `~/.config/fish/completions/quorum.fish`.
    Fish,
}

/// What `sessions export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A readable Markdown report.
    Md,
    /// The full stored record as one JSON document.
    Json,
    /// The generated project as a .tar.gz archive.
    Tar,
}

/// `quorum run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The prompt (words are joined with spaces).
    #[arg(value_name = "PROMPT", required = true)]
    pub prompt: Vec<String>,

    /// Workflow file (default: the built-in nine phases).
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<PathBuf>,

    /// One JSON object per line on stdout; `--json=tokens` adds token deltas.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "events", value_name = "tokens")]
    pub json: Option<JsonMode>,

    /// Write the files into DIR but make no commit.
    #[arg(long, conflicts_with = "dry_run")]
    pub no_commit: bool,

    /// Start the session on DIR's server (started if none runs), print its id and return;
    /// `quorum attach` follows it.
    #[arg(long, conflicts_with_all = ["json", "dry_run"])]
    pub detach: bool,

    /// Run through review; write nothing into DIR; print the staged files and their diff.
    #[arg(long)]
    pub dry_run: bool,

    /// Answers to the refine phase's questions: a TOML table `id = "answer"`.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,

    /// Overwrite existing files in DIR that quorum did not write in this session.
    #[arg(long)]
    pub allow_overwrite: bool,

    /// Deliver and commit files that the secret scan flags (private keys,
    /// access keys, `.env` values); without it such files stop the delivery.
    #[arg(long)]
    pub allow_secrets: bool,

    /// Print the session's estimated calls, tokens and cost (a low–high
    /// range; with `--json` one JSON object) and exit without starting it.
    #[arg(long, conflicts_with_all = ["detach", "dry_run", "no_commit"])]
    pub estimate: bool,
}

/// `quorum resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Session id or unique prefix (default: the newest session of DIR that
    /// did not succeed or fail).
    #[arg(value_name = "SESSION")]
    pub session: Option<String>,

    /// Continue without the TUI: progress on stderr, result on stdout, as `quorum run`.
    #[arg(long)]
    pub headless: bool,

    /// With --headless: one JSON object per line on stdout (the new events;
    /// their seqs continue the stored log); `--json=tokens` adds token deltas.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "events", value_name = "tokens", requires = "headless")]
    pub json: Option<JsonMode>,

    /// With --headless: overwrite existing files in DIR that quorum did not write in this session.
    #[arg(long, requires = "headless")]
    pub allow_overwrite: bool,

    /// With --headless: commit even when the secret scan flags an accepted file.
    #[arg(long, requires = "headless")]
    pub allow_secrets: bool,
}

/// `quorum ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question (words are joined with spaces).
    #[arg(value_name = "PROMPT", required = true)]
    pub prompt: Vec<String>,

    /// Ask this agent (its role prompt, model and fallbacks; default: the first
    /// agent of the roster).
    #[arg(long, conflicts_with_all = ["provider", "model"])]
    pub agent: Option<String>,

    /// Ask this provider (a `[providers.NAME]` table) directly.
    #[arg(long, requires = "model")]
    pub provider: Option<String>,

    /// The model to ask on `--provider`.
    #[arg(long, requires = "provider")]
    pub model: Option<String>,

    /// Write the reply's bytes as they came, control characters and escape
    /// sequences included, when stdout is not a terminal (a pipe or a file);
    /// on a terminal the reply is always sanitised.
    #[arg(long)]
    pub raw: bool,
}

/// `quorum db`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Check the state db against its seal (every file as quorum closed it,
    /// every durable event present); exit 0 when intact, 2 when corrupt.
    Verify,
}

/// `quorum sessions`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List the sessions of DIR, newest first.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one session: its summary and its events.
    Show {
        /// Session id, or a unique prefix of it.
        id: String,
        /// The stored events as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Export one session: a Markdown report, the full JSON record, or the project as .tar.gz.
    Export {
        /// Session id, or a unique prefix of it.
        id: String,
        /// md (report), json (full record) or tar (the generated project, gzipped).
        #[arg(long, value_enum, default_value = "md")]
        format: ExportFormat,
        /// Write to FILE instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Remove one session from the state db (its commit and files stay).
    Rm {
        /// Session id, or a unique prefix of it.
        id: String,
    },
    /// Push a session's commit to a git remote (never forced).
    Push {
        /// Session id, or a unique prefix of it.
        id: String,
        /// The remote (default: `[git] remote` of the config, else `origin`).
        #[arg(long, value_name = "NAME")]
        remote: Option<String>,
        /// The remote branch (default: the current branch, which must hold the commit).
        #[arg(long, value_name = "NAME")]
        branch: Option<String>,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn a_prompt_s_words_join_with_spaces_and_lose_their_ends_blanks() {
        let words = |w: &[&str]| w.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            joined(&words(&["build", "a todo", "app"])),
            "build a todo app"
        );
        assert_eq!(joined(&words(&[" build", "it "])), "build it");
        assert_eq!(joined(&words(&["", " "])), "");
        assert_eq!(joined(&[]), "");
    }

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand_and_json_needs_equals() {
        let cli = Cli::try_parse_from([
            "quorum",
            "run",
            "build it",
            "--dir",
            "/tmp/x",
            "--json=tokens",
            "--offline",
        ])
        .unwrap();
        assert_eq!(
            cli.global.dir.as_deref(),
            Some(std::path::Path::new("/tmp/x"))
        );
        assert!(cli.global.offline);
        let Some(Command::Run(run)) = cli.command else {
            panic!("run")
        };
        assert_eq!(run.json, Some(JsonMode::Tokens));
        assert_eq!(run.prompt, vec!["build it".to_string()]);

        let cli = Cli::try_parse_from(["quorum", "run", "--json", "a", "b"]).unwrap();
        let Some(Command::Run(run)) = cli.command else {
            panic!("run")
        };
        assert_eq!(run.json, Some(JsonMode::Events));
        assert_eq!(run.prompt, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn a_global_option_before_the_subcommand_keeps_the_subcommand() {
        // docs/design.md §5: global options go before or after the subcommand.
        let cli = Cli::try_parse_from(["quorum", "--dir", "/x", "sessions", "list"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Sessions { .. })),
            "{cli:?}"
        );
        assert_eq!(cli.global.dir.as_deref(), Some(std::path::Path::new("/x")));
        let cli = Cli::try_parse_from(["quorum", "--offline", "run", "build it"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Run(_))), "{cli:?}");
        assert!(cli.prompt.is_empty());
        // Once the prompt has begun, a subcommand's name is just a word of it.
        let cli = Cli::try_parse_from(["quorum", "--offline", "Build", "run", "it"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.prompt.join(" "), "Build run it");
    }

    #[test]
    fn a_bare_prompt_opens_the_tui_and_subcommand_names_need_dashes() {
        let cli = Cli::try_parse_from(["quorum", "Build", "a", "todo", "app"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.prompt.join(" "), "Build a todo app");
        let cli = Cli::try_parse_from(["quorum", "--", "run"]).unwrap();
        assert_eq!(cli.prompt_words(), vec!["run".to_string()]);
        assert!(Cli::try_parse_from(["quorum", "--frobnicate"]).is_err());
    }

    #[test]
    fn a_first_word_near_a_subcommand_is_a_typo_unless_after_dashes() {
        let typo = |args: &[&str]| {
            let mut all = vec!["quorum"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).unwrap().mistyped_subcommand()
        };
        let message = typo(&["sesions", "list"]).unwrap();
        assert!(message.contains("did you mean `sessions`?"), "{message}");
        assert!(
            message.contains("To use it as a prompt: quorum -- 'sesions list'"),
            "{message}"
        );
        for (word, name) in [
            ("rnu", "run"),
            ("resmue", "resume"),
            ("doctr", "doctor"),
            ("sesions", "sessions"),
            ("complections", "completions"),
            ("memroy", "memory"),
        ] {
            let message = typo(&[word, "x"]).unwrap();
            assert!(message.contains(&format!("`{name}`")), "{word}: {message}");
        }
        // Global options before it do not hide it.
        assert!(typo(&["--offline", "--dir", "/x", "sesions", "list"]).is_some());
        // Quotes in the prompt are quoted for the shell.
        let message = typo(&["sesions", "it's"]).unwrap();
        assert!(
            message.ends_with("quorum -- 'sesions it'\\''s'"),
            "{message}"
        );
        // A prompt: after `--`, a sentence, or words far from every name.
        assert_eq!(typo(&["--", "sesions", "list"]), None);
        assert_eq!(typo(&["Build", "a", "todo", "app"]), None);
        assert_eq!(typo(&["Sessions", "manager"]), None);
        assert_eq!(typo(&["build", "a", "todo", "app"]), None);
        assert_eq!(typo(&["add", "a", "login", "page"]), None);
        assert_eq!(typo(&["rename", "the", "files"]), None);
        assert_eq!(typo(&["sessions", "list"]), None, "a real subcommand");
        // The words after `--` join the prompt.
        let cli = Cli::try_parse_from(["quorum", "make", "--", "run", "it"]).unwrap();
        assert_eq!(cli.prompt_words().join(" "), "make run it");
        assert_eq!(cli.mistyped_subcommand(), None);
    }

    #[test]
    fn the_ecosystem_commands_parse_with_global_options_anywhere() {
        let cli = Cli::try_parse_from([
            "quorum", "sessions", "export", "3f2a", "--format", "tar", "-o", "p.tgz", "--dir", "/d",
        ])
        .unwrap();
        let Some(Command::Sessions {
            command: SessionsCommand::Export { id, format, output },
        }) = cli.command
        else {
            panic!("export")
        };
        assert_eq!((id.as_str(), format), ("3f2a", ExportFormat::Tar));
        assert_eq!(output.as_deref(), Some(std::path::Path::new("p.tgz")));
        assert_eq!(cli.global.dir.as_deref(), Some(std::path::Path::new("/d")));

        let cli = Cli::try_parse_from(["quorum", "sessions", "export", "3f2a"]).unwrap();
        let Some(Command::Sessions {
            command: SessionsCommand::Export { format, .. },
        }) = cli.command
        else {
            panic!("export")
        };
        assert_eq!(format, ExportFormat::Md, "md is the default");

        let cli = Cli::try_parse_from(["quorum", "undo"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Undo { session: None })));
        let cli = Cli::try_parse_from(["quorum", "--offline", "init", "--force"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Init {
                force: true,
                user: false
            })
        ));
        assert!(Cli::try_parse_from(["quorum", "init", "--user", "--config", "x.toml"]).is_err());
        let cli = Cli::try_parse_from(["quorum", "completions", "fish"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Completions { shell: Shell::Fish })
        ));
        assert!(Cli::try_parse_from(["quorum", "completions", "tcsh"]).is_err());
        let cli = Cli::try_parse_from([
            "quorum", "sessions", "push", "3f2a", "--remote", "backup", "--branch", "x",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Sessions {
                command: SessionsCommand::Push { .. }
            })
        ));
        // A prompt that equals one of the new commands' names goes after `--`.
        let cli = Cli::try_parse_from(["quorum", "--", "doctor"]).unwrap();
        assert_eq!(cli.prompt_words(), vec!["doctor".to_string()]);
    }
}
