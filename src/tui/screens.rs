//! The full-screen views, one module each with its state, its keys and its
//! drawing: the main screen (prompt, agents, transcript), conflicts and
//! voting, files, metrics, history. Each draws into the body area below the
//! header (and, but for the main screen, below the prompt and agents on tall
//! terminals); [`App::on_action`](super::app::App::on_action) hands each
//! screen its own actions.

pub mod conflicts;
pub mod files;
pub mod history;
pub mod main;
pub mod metrics;
