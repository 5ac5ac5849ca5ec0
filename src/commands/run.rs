//! `quorum run`: a session headless (docs/design.md §5, "CLI"), progress on
//! stderr and the result on stdout, or one JSON line per event with
//! `--json` ([`crate::headless`]). Everything is validated before anything
//! is created (`crate::cli::setup::prepare`), and a session whose
//! workflow runs model-written code is refused at once when this machine
//! cannot confine it (`refuse_unconfined`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::args::{Global, RunArgs, joined};
use crate::cli::connect::connect_or_start;
use crate::cli::exit::Failure;
use crate::cli::setup::{Prepared, open_state, prepare, spawn};
use crate::config::Settings;
use crate::protocol::{Op, SessionOptions};
use crate::server::client::OnShutdown;

/// The line that says what the offline (simulated) team is.
pub const DEMO_NOTICE: &str = "quorum: offline (simulated) team: it builds its demo item service, whatever the prompt; configure a provider for real work — `quorum init`";

/// Runs `quorum run` and returns the session's exit code.
///
/// Errors: exit 2 for an empty prompt, unreadable `--answers` or anything
/// `prepare` refuses; exit 1 when the tests could not be confined
/// (`refuse_unconfined`); those of `open_state`.
pub async fn run(global: &Global, args: RunArgs) -> Result<i32, Failure> {
    let prompt = joined(&args.prompt);
    if prompt.is_empty() {
        return Err(Failure::usage("the prompt is empty: say what to build"));
    }
    let answers = match &args.answers {
        Some(path) => read_answers(path)?,
        None => BTreeMap::new(),
    };
    let prepared = prepare(global, args.workflow.as_deref())?;
    if args.estimate {
        print_estimate(global, &prepared, &prompt, args.json.is_some());
        return Ok(crate::cli::exit::OK);
    }
    refuse_unconfined(&prepared)?;
    if args.detach {
        let options = SessionOptions {
            interactive: false,
            no_commit: args.no_commit,
            dry_run: false,
            allow_overwrite: args.allow_overwrite,
            allow_secrets: args.allow_secrets,
            answers,
            allow_unconfined: global.allow_unconfined_tests,
            unbuilt: demo_notice(global, &prepared.settings, &prompt),
        };
        return detach(global, &prepared, Op::Start { prompt, options }).await;
    }
    let (state, store, _guard) = open_state(&prepared.dir, global)?;
    tracing::info!(dir = %prepared.dir.display(), "headless session");
    let handle = spawn(&prepared, &state, store);
    let unbuilt = demo_notice(global, &prepared.settings, &prompt);
    let options = SessionOptions {
        interactive: false,
        no_commit: args.no_commit,
        dry_run: args.dry_run,
        allow_overwrite: args.allow_overwrite,
        allow_secrets: args.allow_secrets,
        answers,
        allow_unconfined: global.allow_unconfined_tests,
        unbuilt,
    };
    let output = crate::headless::Output {
        json: args.json,
        quiet: global.quiet,
        phases: prepared.workflow.phases.len(),
        notify: crate::notify::NotifyCommand::from_settings(
            &prepared.settings.notify,
            &prepared.dir,
        ),
    };
    Ok(crate::headless::run(
        handle.into_channels(),
        crate::headless::Begin::Op(Op::Start { prompt, options }),
        output,
    )
    .await)
}

/// `quorum run --estimate`: the session's estimate
/// ([`crate::config::estimate`]) for the prompt and DIR's project as the
/// agents would be shown it, one line (or with `--json` one JSON object) on
/// stdout; nothing is started or written.
fn print_estimate(global: &Global, prepared: &Prepared, prompt: &str, json: bool) {
    let state =
        crate::workspace::state_dir::StateDir::location(&prepared.dir, global.state_dir.as_deref());
    let workspace = crate::workspace::Workspace::new(&prepared.dir, &state);
    let project_tokens = workspace.shown_tokens(prepared.settings.session.map_tokens);
    let estimate = crate::config::estimate::estimate(
        &prepared.settings,
        &prepared.workflow,
        prompt,
        project_tokens,
    );
    if json {
        crate::outln!("{}", serde_json::to_string(&estimate).unwrap_or_default());
    } else {
        crate::outln!("{}", estimate.line());
    }
}

/// `quorum run --detach`: starts the session on DIR's server (started when
/// none runs), prints its id on stdout and returns at once; the session
/// goes on there (`quorum attach ID`).
///
/// Errors: exit 4 when the server already runs a session; exit 1 when the
/// server cannot be reached or closes before the session starts; exit 2
/// for a start it refuses otherwise.
async fn detach(global: &Global, prepared: &Prepared, start: Op) -> Result<i32, Failure> {
    use crate::protocol::{Event, EventBody};
    let Some(connection) = connect_or_start(&prepared.dir, global, true).await? else {
        return Err(Failure::failed(
            "the server's socket path is too long: name a shorter state directory with --state-dir",
        ));
    };
    let mut channels = connection.into_channels(OnShutdown::Detach);
    channels.send(start);
    loop {
        match channels.events.recv().await {
            Some(Event::Logged(e)) if matches!(e.body, EventBody::SessionStarted { .. }) => {
                crate::outln!("{}", e.session);
                if !global.quiet {
                    crate::errln!(
                        "quorum: session {} runs on DIR's server: `quorum attach {}` follows it",
                        e.session,
                        e.session.short()
                    );
                }
                return Ok(crate::cli::exit::OK);
            }
            Some(Event::Rejected { op, reason }) if op == "start" => {
                let code = if reason.contains("already running") {
                    crate::protocol::exit::IN_USE
                } else {
                    crate::protocol::exit::USAGE
                };
                return Err(Failure {
                    code,
                    message: format!(
                        "the server did not start the session: {}",
                        crate::sanitize::line(&reason)
                    ),
                });
            }
            Some(_) => {}
            None => {
                return Err(Failure::failed(
                    "the server closed the connection before the session started",
                ));
            }
        }
    }
}

/// The refine phase's answers of `--answers`: a TOML table `id = "answer"`.
fn read_answers(path: &Path) -> Result<BTreeMap<String, String>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("--answers {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "--answers {}: expected a TOML table of `id = \"answer\"`: {}",
            path.display(),
            e.to_string().trim_end()
        ))
    })
}

/// What the offline (simulated) team is, said on stderr before a headless
/// session starts (unless `--quiet` or `--offline`, which asks for the demo),
/// and why the prompt is not what it builds. Returns that reason when the team runs only because no provider is
/// configured (not `--offline`, which asks for the demo): the session then
/// ends `demo` (docs/offline-script.md, "The demo").
fn demo_notice(global: &Global, settings: &Settings, prompt: &str) -> Option<String> {
    if !settings.offline_demo() {
        return None;
    }
    let unbuilt = crate::config::demo::unbuilt(prompt);
    // With --offline the person asked for the demo: the README and the
    // commit still say what it is.
    if !global.quiet && !global.offline {
        crate::errln!("{DEMO_NOTICE}");
        if let Some(why) = &unbuilt {
            crate::errln!(
                "quorum: the prompt is not what it builds ({why}): you get its Python demo instead"
            );
        }
    }
    unbuilt.filter(|_| !global.offline)
}

/// Refuses a headless session at once, before any model is called, when its
/// workflow runs model-written code (a test phase: setup and tests) and this
/// machine cannot confine it, unless `--allow-unconfined-tests` (exit 1,
/// naming the reason and the flag; docs/sandbox.md). Without this a session
/// would spend its tokens and then stop at the test gate.
fn refuse_unconfined(prepared: &Prepared) -> Result<(), Failure> {
    let runs_code = prepared
        .workflow
        .phases
        .iter()
        .any(|p| p.kind == crate::config::workflow::PhaseKind::Test);
    if !runs_code || prepared.settings.test.allow_unconfined {
        return Ok(());
    }
    match crate::workspace::sandbox::probe() {
        Ok(_) => Ok(()),
        Err(reason) => Err(Failure::failed(format!(
            "{} ({reason}); nothing was started. Rerun with --allow-unconfined-tests to run its setup and tests without the jail, or enable user namespaces (docs/sandbox.md; `quorum doctor` shows why)",
            crate::workspace::sandbox::UNCONFINED_REFUSED
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_a_toml_table_of_strings_and_anything_else_is_exit_2() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "q1 = \"Postgres\"\nq2 = \"no\"\n").unwrap();
        let answers = read_answers(&good).unwrap();
        assert_eq!(answers.get("q1").map(String::as_str), Some("Postgres"));
        assert_eq!(answers.len(), 2);
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "q1 = 3\n").unwrap();
        let failure = read_answers(&bad).unwrap_err();
        assert_eq!(failure.code, crate::cli::exit::USAGE);
        assert!(
            failure.message.contains("expected a TOML table"),
            "{}",
            failure.message
        );
        let failure = read_answers(&dir.path().join("absent.toml")).unwrap_err();
        assert_eq!(failure.code, crate::cli::exit::USAGE);
    }
}
