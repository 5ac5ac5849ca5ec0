//! Syntax highlighting for the file preview. syntect parses (its pure-Rust
//! `default-fancy` regexes); the colours come from our theme's `code.*` scopes,
//! not from a syntect colour scheme, so highlighting follows the user's theme
//! and the 16 ANSI colours. The trick: a syntect theme whose "colours" are slot
//! numbers, mapped back to theme styles after highlighting.
//!
//! The syntax set loads lazily (tens of milliseconds), off the UI's first frame:
//! [`warm_up`] starts it on a background thread.

use std::str::FromStr;
use std::sync::OnceLock;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{
    Color, ScopeSelectors, StyleModifier, Theme as SynTheme, ThemeItem, ThemeSettings,
};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

use crate::tui::theme::Theme;

/// Theme scopes by slot number (slot 0 is plain text).
const SLOTS: [(&str, &str); 6] = [
    ("code.keyword", "keyword, storage.type, storage.modifier"),
    ("code.string", "string"),
    ("code.comment", "comment, punctuation.definition.comment"),
    ("code.function", "entity.name.function, support.function"),
    (
        "code.type",
        "entity.name.class, entity.name.type, support.type, support.class",
    ),
    ("code.number", "constant.numeric, constant.language"),
];

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn slot_theme() -> &'static SynTheme {
    static THEME: OnceLock<SynTheme> = OnceLock::new();
    THEME.get_or_init(|| {
        let scopes = SLOTS
            .iter()
            .enumerate()
            .filter_map(|(i, (_, selector))| {
                Some(ThemeItem {
                    scope: ScopeSelectors::from_str(selector).ok()?,
                    style: StyleModifier {
                        foreground: Some(Color {
                            r: i as u8 + 1,
                            g: 0,
                            b: 0,
                            a: 255,
                        }),
                        background: None,
                        font_style: None,
                    },
                })
            })
            .collect();
        SynTheme {
            name: Some("quorum-slots".into()),
            author: None,
            settings: ThemeSettings {
                foreground: Some(Color {
                    r: 0,
                    g: 0,
                    b: 0,
                    a: 255,
                }),
                ..ThemeSettings::default()
            },
            scopes,
        }
    })
}

/// Loads the syntax set on a background thread, so the first preview is quick.
pub fn warm_up() {
    std::thread::spawn(|| {
        let _ = syntaxes();
        let _ = slot_theme();
    });
}

/// Highlights `text` as the file `path` (by extension; plain text when unknown).
pub fn highlight(path: &str, text: &str, theme: &Theme) -> Vec<Line<'static>> {
    let set = syntaxes();
    let ext = path.rsplit('.').next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or(path);
    let syntax = set
        .find_syntax_by_extension(ext)
        .or_else(|| set.find_syntax_by_extension(name))
        .unwrap_or_else(|| set.find_syntax_plain_text());
    let styles: Vec<Style> = std::iter::once(theme.style("ui.text"))
        .chain(SLOTS.iter().map(|(scope, _)| theme.style(scope)))
        .collect();
    let mut h = HighlightLines::new(syntax, slot_theme());
    let mut lines = Vec::new();
    for line in LinesWithEndings::from(text) {
        let spans = match h.highlight_line(line, set) {
            Ok(ranges) => ranges
                .into_iter()
                .map(|(style, piece)| {
                    let slot = style.foreground.r as usize;
                    let piece = piece.trim_end_matches(['\n', '\r']).replace('\t', "    ");
                    Span::styled(piece, styles.get(slot).copied().unwrap_or_default())
                })
                .collect(),
            Err(_) => vec![Span::raw(
                line.trim_end_matches(['\n', '\r']).replace('\t', "    "),
            )],
        };
        lines.push(Line::from(spans));
    }
    lines
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn python_keywords_strings_and_comments_get_theme_styles() {
        let theme = Theme::default();
        let lines = highlight("a.py", "def f():\n    return \"x\"  # note\n", &theme);
        assert_eq!(lines.len(), 2);
        let style_of = |needle: &str| {
            lines
                .iter()
                .flat_map(|l| l.spans.iter())
                .find(|s| s.content.contains(needle))
                .map(|s| s.style)
                .unwrap()
        };
        assert_eq!(style_of("def"), theme.style("code.keyword"));
        assert_eq!(style_of("x"), theme.style("code.string"));
        assert_eq!(style_of("note"), theme.style("code.comment"));
        let text: String = lines[1].spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "    return \"x\"  # note");
    }

    #[test]
    fn unknown_files_are_plain_text() {
        let theme = Theme::default();
        let lines = highlight("LICENSE", "MIT\n", &theme);
        assert_eq!(lines[0].spans[0].style, theme.style("ui.text"));
    }
}
