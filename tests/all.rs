//! The one integration test binary (docs/style.md: "one integration binary"). It
//! runs the built `quorum` binary in temporary directories with a hermetic
//! environment (no provider keys, no git identity, temp HOME and XDG dirs) and
//! validates every JSON line the binary prints against
//! `assets/events.schema.json`.
//!
//! Modules live in `tests/all/` and are declared with `#[path]`, so that cargo
//! does not build each one as its own test binary. More modules will be added
//! here (e.g. `#[path = "all/tui_tmux.rs"] mod tui_tmux;` for the tmux
//! end-to-end tests of the TUI).

#![allow(clippy::unwrap_used, clippy::expect_used)]
// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "all/common.rs"]
mod common;

#[path = "all/acceptance.rs"]
mod acceptance;
#[path = "all/bad_input.rs"]
mod bad_input;
#[path = "all/bounded.rs"]
mod bounded;
#[path = "all/cli_hygiene.rs"]
mod cli_hygiene;
#[path = "all/commands.rs"]
mod commands;
#[path = "all/corrupt_db.rs"]
mod corrupt_db;
#[path = "all/delivery.rs"]
mod delivery;
#[path = "all/demo.rs"]
mod demo;
#[path = "all/durability.rs"]
mod durability;
#[path = "all/edits.rs"]
mod edits;
#[path = "all/fake_llm.rs"]
mod fake_llm;
#[path = "all/hostile_text.rs"]
mod hostile_text;
#[path = "all/jail.rs"]
mod jail;
#[path = "all/layering.rs"]
mod layering;
#[path = "all/models.rs"]
mod models;
#[path = "all/notify.rs"]
mod notify;
#[path = "all/orchestration.rs"]
mod orchestration;
#[path = "all/orchestrator.rs"]
mod orchestrator;
#[path = "all/perf.rs"]
mod perf;
#[path = "all/prefix_cache.rs"]
mod prefix_cache;
#[path = "all/progress.rs"]
mod progress;
#[path = "all/providers.rs"]
mod providers;
#[path = "all/real_model.rs"]
mod real_model;
#[path = "all/regressions.rs"]
mod regressions;
#[path = "all/replay.rs"]
mod replay;
#[path = "all/repo_map.rs"]
mod repo_map;
#[path = "all/resume.rs"]
mod resume;
#[path = "all/running.rs"]
mod running;
#[path = "all/sacred.rs"]
mod sacred;
#[path = "all/sandbox.rs"]
mod sandbox;
#[path = "all/schema.rs"]
mod schema;
#[path = "all/scripts.rs"]
mod scripts;
#[path = "all/secrets.rs"]
mod secrets;
#[path = "all/server.rs"]
mod server;
#[path = "all/stream_latency.rs"]
mod stream_latency;
#[path = "all/test_gate.rs"]
mod test_gate;
#[path = "all/tui_flow.rs"]
mod tui_flow;
#[path = "all/tui_perf.rs"]
mod tui_perf;
#[path = "all/tui_queries.rs"]
mod tui_queries;
#[path = "all/tui_tmux.rs"]
mod tui_tmux;
