//! The `quorum` binary: parse the command line, run, exit with the code of
//! DESIGN.md §5. Everything else lives in the library.

use clap::Parser;

fn main() {
    let cli = quorum::cli::Cli::parse();
    std::process::exit(quorum::app::main(cli));
}
