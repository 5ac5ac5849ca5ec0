//! `quorum db verify`: checks DIR's state db against its seal
//! (`store/seal.rs`) without opening it with sled, so the db stays byte for
//! byte as it was: every file as quorum closed it, or, after a crash or
//! without a seal, a copy that opens and holds every durable event. Exit 0
//! when intact, 2 when corrupt (docs/commands.md), 4 while a session runs.

use crate::cli::args::{DbCommand, Global};
use crate::cli::exit::{self, Failure};
use crate::workspace::state_dir::StateDir;

/// Runs a `db` subcommand and returns the exit code. Errors: no state in
/// DIR (exit 2), a corrupt db (exit 2, naming the file), a db that is not
/// quorum's or a newer quorum's (exit 1), DIR in use (exit 4).
pub fn run(global: &Global, command: DbCommand) -> Result<i32, Failure> {
    match command {
        DbCommand::Verify => {
            let dir = crate::cli::exit::target_dir(global)?;
            let location = StateDir::location(&dir, global.state_dir.as_deref());
            if !location.join("db").exists() {
                return Err(Failure::usage(format!(
                    "{} has no state db (no session ran there; see --dir, --state-dir)",
                    dir.display()
                )));
            }
            // DIR's lock: no session writes while the db is checked.
            let state = StateDir::open(&location)?;
            let db = state.db_path();
            crate::store::seal::verify(&db).map_err(crate::cli::exit::store_failure)?;
            crate::outln!("the state db {} is intact", db.display());
            Ok(exit::OK)
        }
    }
}
