//! The `quorum` binary: parse the command line, run, exit with the code of
//! docs/design.md §5. Everything else lives in the library.

use clap::Parser;

fn main() {
    // No process of the same user (a test run among them) may read quorum's
    // memory or environment, which hold the provider keys (docs/sandbox.md).
    quorum::workspace::sandbox::protect_self();
    let cli = quorum::cli::Cli::parse();
    std::process::exit(quorum::commands::run(cli));
}
