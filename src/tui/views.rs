//! The full-screen views, one module each: conflicts and voting, files,
//! metrics, history. Each draws into the body area below the header (and
//! below the prompt and agents on tall terminals), reading the [`App`] only.

mod conflicts;
mod files;
mod history;
mod metrics;

pub use self::conflicts::draw_conflicts;
pub use self::files::draw_files;
pub use self::history::draw_history;
pub use self::metrics::{draw_metrics, draw_timeline};

use ratatui::text::Line;
use ratatui::widgets::Block;

use super::app::App;
use crate::protocol::DecidedBy;

fn block<'a>(app: &App, title: &'a str, focused: bool) -> Block<'a> {
    super::view::pane(
        app,
        Line::styled(title, app.theme.style("ui.title")),
        focused,
    )
}

fn by_label(by: DecidedBy) -> &'static str {
    match by {
        DecidedBy::Vote => "vote",
        DecidedBy::Chair => "chair",
        DecidedBy::Human => "you",
    }
}
