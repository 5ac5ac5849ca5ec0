//! `quorum resume`: continues an interrupted, cancelled or paused session
//! from the db (docs/design.md §5), in the TUI ([`super::tui`]) or
//! `--headless` ([`crate::headless`]). The stored session's own workflow is
//! used; the config and providers are today's.

use crate::cli::args::{Global, ResumeArgs};
use crate::cli::exit::Failure;
use crate::cli::setup::{open_state, prepare, spawn};
use crate::protocol::Op;
use crate::workspace::state_dir::StateDir;

/// `quorum resume`: the stored session's own workflow is used (the actor
/// loads it from the db); the config and providers are today's.
///
/// Errors: exit 2 when DIR holds no quorum state or `prepare` refuses;
/// those of `open_state` and of the TUI.
pub async fn run(global: &Global, args: ResumeArgs) -> Result<i32, Failure> {
    let prepared = prepare(global, None)?;
    let location = StateDir::location(&prepared.dir, global.state_dir.as_deref());
    StateDir::check(&location)?;
    let db = location.join("db");
    if !db.exists() {
        return Err(Failure::usage(format!(
            "no session to resume: {} holds no quorum state ({} does not exist)",
            prepared.dir.display(),
            db.display()
        )));
    }
    if !args.headless {
        return super::tui::run_with(global, prepared, None, Some(args.session)).await;
    }
    let (state, store, _guard) = open_state(&prepared.dir, global)?;
    tracing::info!(dir = %prepared.dir.display(), "headless resume");
    let handle = spawn(&prepared, &state, store);
    let output = crate::headless::Output {
        json: args.json,
        quiet: global.quiet,
        phases: prepared.workflow.phases.len(),
        notify: crate::notify::NotifyCommand::from_settings(
            &prepared.settings.notify,
            &prepared.dir,
        ),
    };
    let begin = Op::Resume {
        session: args.session,
        interactive: false,
        allow_overwrite: args.allow_overwrite,
        allow_secrets: args.allow_secrets,
    };
    Ok(crate::headless::run(
        handle.into_channels(),
        crate::headless::Begin::Op(begin),
        output,
    )
    .await)
}
