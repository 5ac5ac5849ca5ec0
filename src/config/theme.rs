//! Colour themes, helix-style: owns the theme file format, the four built-in
//! themes (`themes/*.toml`, compiled in), the list of scopes the UI styles
//! ([`SCOPES`]) and the lookup from a dotted scope to a ratatui [`Style`].
//!
//! A theme file maps scopes to styles:
//!
//! ```toml
//! inherits = "default"                 # optional; missing keys fall back to it
//! "ui.border"            = { fg = "muted" }
//! "ui.border.focused"    = { fg = "accent", modifiers = ["bold"] }
//! "agent.status.running" = "cyan"      # a bare string is the fg colour
//! [palette]                            # last: it captures every key after it
//! muted = "darkgray"
//! accent = "blue"
//! ```
//!
//! Colours are ANSI names, `default` (the terminal's own colour,
//! [`Color::Reset`]), `#rrggbb`, or names from the theme's palette. Lookup
//! falls back through dotted prefixes: `agent.status.running`, then
//! `agent.status`, then `agent`, then [`Style::default`]. `themes/README.md`
//! documents the format for users.

mod depth;

pub use self::depth::{ColorDepth, adapt_style, nearest_16, nearest_256};

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

/// Every scope the UI uses. A theme key must be one of these, or a dotted
/// prefix of one (e.g. `agent.status`, which then styles every status that
/// has no style of its own); any other key is an "unknown scope" error.
pub const SCOPES: &[&str] = &[
    "ui.background",
    "ui.text",
    "ui.text.dim",
    "ui.border",
    "ui.border.focused",
    "ui.title",
    "ui.statusbar",
    "ui.statusbar.offline",
    "ui.statusbar.key",
    "ui.statusbar.hint",
    "ui.statusbar.alert",
    "ui.statusbar.error",
    "ui.hint.key",
    "ui.hint.text",
    "ui.selection",
    "ui.tab",
    "ui.tab.active",
    "ui.cursor",
    "ui.popup",
    "ui.popup.border",
    "ui.popup.title",
    "ui.error",
    "ui.warning",
    "ui.success",
    "ui.info",
    "ui.search.match",
    "ui.gauge",
    "ui.scrollbar",
    "agent.name",
    "agent.status.idle",
    "agent.status.queued",
    "agent.status.running",
    "agent.status.retrying",
    "agent.status.paused",
    "agent.status.done",
    "agent.status.failed",
    "agent.status.cancelled",
    "transcript.agent",
    "transcript.text",
    "transcript.note",
    "transcript.error",
    "transcript.retry",
    "transcript.prompt",
    "transcript.code",
    "conflict.open",
    "conflict.decided",
    "conflict.tie",
    "conflict.option",
    "conflict.option.selected",
    "conflict.position",
    "ballot.option",
    "ballot.abstained",
    "tally.bar",
    "file.new",
    "file.modified",
    "file.refused",
    "file.rejected",
    "file.accepted",
    "file.finding",
    "diff.plus",
    "diff.minus",
    "diff.context",
    "diff.header",
    "phase.done",
    "phase.current",
    "phase.pending",
    "finding.info",
    "finding.low",
    "finding.medium",
    "finding.high",
    "finding.critical",
    "code.keyword",
    "code.string",
    "code.comment",
    "code.function",
    "code.type",
    "code.number",
];

/// The modifier names a theme may use, in the order the docs list them.
const MODIFIERS: [(&str, Modifier); 9] = [
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("slow_blink", Modifier::SLOW_BLINK),
    ("rapid_blink", Modifier::RAPID_BLINK),
    ("reversed", Modifier::REVERSED),
    ("hidden", Modifier::HIDDEN),
    ("crossed_out", Modifier::CROSSED_OUT),
];

/// The fields a style table may have.
const STYLE_FIELDS: [&str; 3] = ["fg", "bg", "modifiers"];

/// How many `inherits` links a theme may follow before it is taken as a cycle.
const MAX_INHERITS_DEPTH: usize = 8;

const DEFAULT_TOML: &str = include_str!("../../themes/default.toml");
const LIGHT_TOML: &str = include_str!("../../themes/light.toml");
const HIGH_CONTRAST_TOML: &str = include_str!("../../themes/high-contrast.toml");
const MONO_TOML: &str = include_str!("../../themes/mono.toml");

/// Why a theme could not be loaded. Every message names the theme and the
/// offending key, value or name, and the line in the theme file where known.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// No built-in theme has this name.
    #[error("unknown theme `{name}`; the built-in themes are: {}", builtin_list())]
    UnknownTheme {
        /// The name that was asked for.
        name: String,
    },
    /// The file is not valid TOML.
    #[error("theme `{theme}`: invalid TOML{}: {message}", at_line(*.line))]
    Toml {
        /// The theme being loaded.
        theme: String,
        /// The 1-based line toml points at, if it gives one.
        line: Option<usize>,
        /// toml's description of the problem.
        message: String,
    },
    /// A key that is not in [`SCOPES`] (nor a prefix of a scope there).
    #[error(
        "theme `{theme}`, line {line}: unknown scope `{scope}`{} (themes/README.md lists the scopes)",
        style_field_hint(.scope)
    )]
    UnknownScope {
        /// The theme being loaded.
        theme: String,
        /// The 1-based line of the key.
        line: usize,
        /// The key as written (dotted).
        scope: String,
    },
    /// A colour that is neither an ANSI name, `default`, `#rrggbb` nor a
    /// palette name.
    #[error(
        "theme `{theme}`, line {line}: `{key}`: unknown colour `{value}` (expected an ANSI colour name, `default`, `#rrggbb` or a palette name)"
    )]
    UnknownColor {
        /// The theme being loaded.
        theme: String,
        /// The 1-based line of the value.
        line: usize,
        /// The scope or palette key the colour belongs to.
        key: String,
        /// The colour as written.
        value: String,
    },
    /// A value starting with `#` that is not exactly `#rrggbb`.
    #[error("theme `{theme}`, line {line}: `{key}`: bad hex colour `{value}` (expected `#rrggbb`)")]
    BadHex {
        /// The theme being loaded.
        theme: String,
        /// The 1-based line of the value.
        line: usize,
        /// The scope or palette key the colour belongs to.
        key: String,
        /// The colour as written.
        value: String,
    },
    /// A modifier name not in the documented list.
    #[error(
        "theme `{theme}`, line {line}: `{key}`: unknown modifier `{value}` (expected one of: {})",
        modifier_list()
    )]
    UnknownModifier {
        /// The theme being loaded.
        theme: String,
        /// The 1-based line of the modifier.
        line: usize,
        /// The scope the modifier belongs to.
        key: String,
        /// The modifier as written.
        value: String,
    },
    /// A value of the wrong shape (e.g. a number where a colour goes, or a
    /// style table with a field other than `fg`, `bg` or `modifiers`).
    #[error("theme `{theme}`, line {line}: `{key}`: {problem}")]
    InvalidValue {
        /// The theme being loaded.
        theme: String,
        /// The 1-based line of the value.
        line: usize,
        /// The key whose value is wrong.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `inherits` names a theme that is not built in.
    #[error(
        "theme `{theme}`, line {line}: `inherits` names unknown theme `{parent}`; the built-in themes are: {}",
        builtin_list()
    )]
    UnknownParent {
        /// The theme being loaded.
        theme: String,
        /// The 1-based line of the `inherits` value.
        line: usize,
        /// The name given to `inherits`.
        parent: String,
    },
    /// The `inherits` chain is longer than any sane theme needs (a cycle).
    #[error(
        "theme `{theme}`: `inherits` chain is more than {MAX_INHERITS_DEPTH} themes deep (a cycle?)"
    )]
    InheritsTooDeep {
        /// The theme being loaded.
        theme: String,
    },
}

fn builtin_list() -> String {
    Theme::BUILTIN.join(", ")
}

fn modifier_list() -> String {
    MODIFIERS.map(|(name, _)| name).join(", ")
}

/// For `[ui.title]` + `fgg = "red"` (read as scope `ui.title.fgg`): the
/// author probably meant a style field.
fn style_field_hint(scope: &str) -> String {
    match scope.rsplit_once('.') {
        Some((parent, field)) if SCOPES.contains(&parent) => format!(
            "; or, if `{parent}` is a style table, `{field}` is not one of its fields (fg, bg, modifiers)"
        ),
        _ => String::new(),
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|line| format!(" at line {line}"))
        .unwrap_or_default()
}

/// A loaded theme: its name and every scope it styles, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    name: String,
    styles: BTreeMap<String, Style>,
}

impl Default for Theme {
    /// The built-in `default` theme. Never panics: if the compiled-in file
    /// failed to parse (a test proves it does not), this is an empty theme
    /// in which every scope is [`Style::default`].
    fn default() -> Self {
        Self::builtin("default").unwrap_or_else(|_| Self {
            name: "default".to_owned(),
            styles: BTreeMap::new(),
        })
    }
}

impl Theme {
    /// The names of the built-in themes; the first is the default.
    pub const BUILTIN: [&'static str; 4] = ["default", "light", "high-contrast", "mono"];

    /// A built-in theme by name.
    ///
    /// # Errors
    ///
    /// [`ThemeError::UnknownTheme`], naming the unknown theme and listing the
    /// valid names.
    pub fn builtin(name: &str) -> Result<Theme, ThemeError> {
        let text = builtin_text(name).ok_or_else(|| ThemeError::UnknownTheme {
            name: name.to_owned(),
        })?;
        Self::from_toml(name, text)
    }

    /// Parses a theme file's text. `inherits`, if present, names a built-in
    /// theme whose styles and palette this one extends. Errors name the
    /// offending key or value and the line it is on.
    ///
    /// # Errors
    ///
    /// A [`ThemeError`] for invalid TOML, an unknown scope, colour, modifier
    /// or `inherits` theme, a bad `#rrggbb`, or a value of the wrong shape.
    pub fn from_toml(name: &str, text: &str) -> Result<Theme, ThemeError> {
        let raw = RawTheme::parse(name, text, 0)?;
        let styles = raw
            .styles
            .iter()
            .map(|(scope, style)| (scope.clone(), style.resolve(&raw.palette)))
            .collect();
        Ok(Theme {
            name: name.to_owned(),
            styles,
        })
    }

    /// The theme's name (for a built-in, one of [`Theme::BUILTIN`]).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The style for a dotted scope, falling back through its prefixes:
    /// `a.b.c`, then `a.b`, then `a`, then [`Style::default`].
    #[must_use]
    pub fn style(&self, scope: &str) -> Style {
        let mut scope = scope;
        loop {
            if let Some(style) = self.styles.get(scope) {
                return *style;
            }
            match scope.rfind('.') {
                Some(dot) => scope = &scope[..dot],
                None => return Style::default(),
            }
        }
    }
}

/// Whether `key` may appear in a theme: a scope in [`SCOPES`] or a dotted
/// prefix of one.
#[must_use]
pub fn is_known_scope(key: &str) -> bool {
    SCOPES.iter().any(|scope| {
        scope
            .strip_prefix(key)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

fn builtin_text(name: &str) -> Option<&'static str> {
    match name {
        "default" => Some(DEFAULT_TOML),
        "light" => Some(LIGHT_TOML),
        "high-contrast" => Some(HIGH_CONTRAST_TOML),
        "mono" => Some(MONO_TOML),
        _ => None,
    }
}

/// A colour as written in a style, resolved against the final palette only
/// once the whole `inherits` chain is merged, so that a child theme's
/// palette recolours its parent's styles.
#[derive(Debug, Clone)]
enum ColorRef {
    /// `#rrggbb`: not subject to the palette.
    Fixed(Color),
    /// A palette name or an ANSI name / `default` (a palette may redefine
    /// those, as in helix).
    Named(String),
}

#[derive(Debug, Clone, Default)]
struct RawStyle {
    fg: Option<ColorRef>,
    bg: Option<ColorRef>,
    modifiers: Modifier,
}

impl RawStyle {
    fn resolve(&self, palette: &BTreeMap<String, Color>) -> Style {
        let resolve = |color: &ColorRef| match color {
            ColorRef::Fixed(color) => Some(*color),
            // Every name was checked against the palette that was in force
            // where it was written, and palettes only grow down the chain,
            // so `None` cannot happen.
            ColorRef::Named(name) => palette.get(name).copied().or_else(|| ansi_color(name)),
        };
        let mut style = Style::default().add_modifier(self.modifiers);
        style.fg = self.fg.as_ref().and_then(resolve);
        style.bg = self.bg.as_ref().and_then(resolve);
        style
    }
}

/// A theme file merged with its `inherits` chain, before colour resolution.
#[derive(Debug, Default)]
struct RawTheme {
    palette: BTreeMap<String, Color>,
    styles: BTreeMap<String, RawStyle>,
}

/// Parsing state for one theme file.
struct Parser<'a> {
    theme: &'a str,
    text: &'a str,
}

impl RawTheme {
    fn parse(theme: &str, text: &str, depth: usize) -> Result<RawTheme, ThemeError> {
        if depth > MAX_INHERITS_DEPTH {
            return Err(ThemeError::InheritsTooDeep {
                theme: theme.to_owned(),
            });
        }
        let parser = Parser { theme, text };
        let table = DeTable::parse(text).map_err(|err| ThemeError::Toml {
            theme: theme.to_owned(),
            line: err.span().map(|span| parser.line(span.start)),
            message: err.message().trim().to_owned(),
        })?;
        let table = table.get_ref();

        // The parent first: its palette is in force for this file's styles.
        let mut raw = match table.get("inherits") {
            Some(value) => {
                let line = parser.line(value.span().start);
                let Some(parent) = value.get_ref().as_str() else {
                    return Err(parser.invalid(
                        line,
                        "inherits",
                        "expected a theme name (a string)",
                    ));
                };
                let text = builtin_text(parent).ok_or_else(|| ThemeError::UnknownParent {
                    theme: theme.to_owned(),
                    line,
                    parent: parent.to_owned(),
                })?;
                RawTheme::parse(parent, text, depth + 1)?
            }
            None => RawTheme::default(),
        };

        if let Some(palette) = table.get("palette") {
            let line = parser.line(palette.span().start);
            let Some(palette) = palette.get_ref().as_table() else {
                return Err(parser.invalid(line, "palette", "expected a table of colours"));
            };
            for (key, value) in palette {
                let name: &str = key.get_ref();
                let color = parser.fixed_color(&format!("palette.{name}"), value)?;
                raw.palette.insert(name.to_owned(), color);
            }
        }

        for (key, value) in table {
            let key_str: &str = key.get_ref();
            if key_str == "inherits" || key_str == "palette" {
                continue;
            }
            parser.scope(key_str, key, value, &raw.palette, &mut raw.styles)?;
        }
        Ok(raw)
    }
}

impl Parser<'_> {
    /// The 1-based line of a byte offset into the text.
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text
            .as_bytes()
            .iter()
            .take(end)
            .filter(|byte| **byte == b'\n')
            .count()
            + 1
    }

    fn invalid(&self, line: usize, key: &str, problem: &str) -> ThemeError {
        ThemeError::InvalidValue {
            theme: self.theme.to_owned(),
            line,
            key: key.to_owned(),
            problem: problem.to_owned(),
        }
    }

    /// One top-level (or, for unquoted dotted keys, nested) entry.
    fn scope(
        &self,
        scope: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
        palette: &BTreeMap<String, Color>,
        styles: &mut BTreeMap<String, RawStyle>,
    ) -> Result<(), ThemeError> {
        if let DeValue::Table(table) = value.get_ref() {
            // `ui.border = ...` without quotes is a nested table in TOML;
            // a table none of whose keys is a style field is read that way.
            let is_nested = !table.is_empty()
                && !table
                    .keys()
                    .any(|field| STYLE_FIELDS.contains(&field.get_ref().as_ref()));
            if is_nested {
                for (sub_key, sub_value) in table {
                    let sub_scope = format!("{scope}.{}", sub_key.get_ref());
                    self.scope(&sub_scope, sub_key, sub_value, palette, styles)?;
                }
                return Ok(());
            }
        }
        if !is_known_scope(scope) {
            return Err(ThemeError::UnknownScope {
                theme: self.theme.to_owned(),
                line: self.line(key.span().start),
                scope: scope.to_owned(),
            });
        }
        let style = self.style(scope, value, palette)?;
        styles.insert(scope.to_owned(), style);
        Ok(())
    }

    /// A style: a bare colour string (the fg) or a table of fg/bg/modifiers.
    fn style(
        &self,
        scope: &str,
        value: &Spanned<DeValue<'_>>,
        palette: &BTreeMap<String, Color>,
    ) -> Result<RawStyle, ThemeError> {
        let line = self.line(value.span().start);
        match value.get_ref() {
            DeValue::String(_) => Ok(RawStyle {
                fg: Some(self.color_ref(scope, value, palette)?),
                ..RawStyle::default()
            }),
            DeValue::Table(table) => {
                let mut style = RawStyle::default();
                for (field, field_value) in table {
                    match field.get_ref().as_ref() {
                        "fg" => style.fg = Some(self.color_ref(scope, field_value, palette)?),
                        "bg" => style.bg = Some(self.color_ref(scope, field_value, palette)?),
                        "modifiers" => style.modifiers = self.modifiers(scope, field_value)?,
                        other => {
                            return Err(self.invalid(
                                self.line(field.span().start),
                                scope,
                                &format!(
                                    "unknown style field `{other}` (expected fg, bg or modifiers)"
                                ),
                            ));
                        }
                    }
                }
                Ok(style)
            }
            other => Err(self.invalid(
                line,
                scope,
                &format!(
                    "expected a colour string or a table of fg, bg and modifiers, found {}",
                    other.type_str()
                ),
            )),
        }
    }

    fn modifiers(&self, scope: &str, value: &Spanned<DeValue<'_>>) -> Result<Modifier, ThemeError> {
        let line = self.line(value.span().start);
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.invalid(line, scope, "`modifiers` must be a list of modifier names"));
        };
        let mut modifiers = Modifier::empty();
        for item in items {
            let line = self.line(item.span().start);
            let Some(name) = item.get_ref().as_str() else {
                return Err(self.invalid(
                    line,
                    scope,
                    "`modifiers` must be a list of modifier names",
                ));
            };
            let Some(modifier) = modifier(name) else {
                return Err(ThemeError::UnknownModifier {
                    theme: self.theme.to_owned(),
                    line,
                    key: scope.to_owned(),
                    value: name.to_owned(),
                });
            };
            modifiers |= modifier;
        }
        Ok(modifiers)
    }

    /// A colour in a style: hex, or a name that the palette or the ANSI
    /// list knows (resolved later, see [`ColorRef`]).
    fn color_ref(
        &self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        palette: &BTreeMap<String, Color>,
    ) -> Result<ColorRef, ThemeError> {
        let line = self.line(value.span().start);
        let Some(text) = value.get_ref().as_str() else {
            return Err(self.invalid(line, key, "expected a colour (a string)"));
        };
        if text.starts_with('#') {
            return self.hex(key, text, line).map(ColorRef::Fixed);
        }
        if palette.contains_key(text) || ansi_color(text).is_some() {
            return Ok(ColorRef::Named(text.to_owned()));
        }
        Err(self.unknown_color(key, text, line))
    }

    /// A palette value: an ANSI name, `default` or hex (not another palette
    /// name).
    fn fixed_color(&self, key: &str, value: &Spanned<DeValue<'_>>) -> Result<Color, ThemeError> {
        let line = self.line(value.span().start);
        let Some(text) = value.get_ref().as_str() else {
            return Err(self.invalid(line, key, "expected a colour (a string)"));
        };
        if text.starts_with('#') {
            return self.hex(key, text, line);
        }
        ansi_color(text).ok_or_else(|| self.unknown_color(key, text, line))
    }

    fn hex(&self, key: &str, text: &str, line: usize) -> Result<Color, ThemeError> {
        parse_hex(text).ok_or_else(|| ThemeError::BadHex {
            theme: self.theme.to_owned(),
            line,
            key: key.to_owned(),
            value: text.to_owned(),
        })
    }

    fn unknown_color(&self, key: &str, text: &str, line: usize) -> ThemeError {
        ThemeError::UnknownColor {
            theme: self.theme.to_owned(),
            line,
            key: key.to_owned(),
            value: text.to_owned(),
        }
    }
}

fn modifier(name: &str) -> Option<Modifier> {
    MODIFIERS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, modifier)| *modifier)
}

/// `#rrggbb` (exactly six hex digits).
fn parse_hex(text: &str) -> Option<Color> {
    let digits = text.strip_prefix('#')?;
    if digits.len() != 6 || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |at: usize| u8::from_str_radix(digits.get(at..at + 2)?, 16).ok();
    Some(Color::Rgb(channel(0)?, channel(2)?, channel(4)?))
}

/// The 16 ANSI colours and `default`, by ratatui's names (`gray` is ANSI 7,
/// `darkgray` ANSI 8) or helix's (`light-gray` is ANSI 7); case, `-`, `_`
/// and spaces are ignored and `grey` is `gray`.
fn ansi_color(name: &str) -> Option<Color> {
    let folded: String = name
        .chars()
        .filter(|ch| !matches!(ch, '-' | '_' | ' '))
        .map(|ch| ch.to_ascii_lowercase())
        .collect();
    let color = match folded.replace("grey", "gray").as_str() {
        "default" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "lightgray" => Color::Gray,
        "darkgray" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        _ => return None,
    };
    Some(color)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn load(text: &str) -> Theme {
        Theme::from_toml("test", text).unwrap()
    }

    fn error(text: &str) -> String {
        Theme::from_toml("test", text).unwrap_err().to_string()
    }

    fn all_builtins() -> Vec<Theme> {
        Theme::BUILTIN
            .iter()
            .map(|name| Theme::builtin(name).unwrap_or_else(|err| panic!("{name}: {err}")))
            .collect()
    }

    #[test]
    fn every_builtin_theme_loads_with_only_known_scopes_and_colours() {
        // `from_toml` fails on any unknown scope, colour, palette reference,
        // modifier or shape, so loading each built-in is the check.
        for theme in all_builtins() {
            assert!(Theme::BUILTIN.contains(&theme.name()));
            for key in theme.styles.keys() {
                assert!(is_known_scope(key), "{}: {key}", theme.name());
            }
        }
        // And the check itself bites on a built-in's own text.
        let broken = DEFAULT_TOML.replacen("[palette]", "\"ui.bordr\" = \"red\"\n[palette]", 1);
        assert!(error(&broken).contains("ui.bordr"));
    }

    #[test]
    fn default_theme_styles_every_scope_explicitly() {
        let theme = Theme::builtin("default").unwrap();
        for scope in SCOPES {
            assert!(theme.styles.contains_key(*scope), "default lacks `{scope}`");
        }
        let mono = Theme::builtin("mono").unwrap();
        for scope in SCOPES {
            assert!(mono.styles.contains_key(*scope), "mono lacks `{scope}`");
        }
    }

    #[test]
    fn default_impl_is_the_builtin_default() {
        let theme = Theme::default();
        assert_eq!(theme.name(), "default");
        assert_eq!(theme, Theme::builtin("default").unwrap());
        assert!(!theme.styles.is_empty());
    }

    #[test]
    fn default_theme_uses_only_ansi_colours_or_reset() {
        let theme = Theme::builtin("default").unwrap();
        for (scope, style) in &theme.styles {
            for color in [style.fg, style.bg].into_iter().flatten() {
                assert!(
                    !matches!(color, Color::Rgb(..) | Color::Indexed(_)),
                    "`{scope}` uses {color:?}"
                );
            }
        }
    }

    #[test]
    fn light_and_high_contrast_use_only_ansi_colours_too() {
        for name in ["light", "high-contrast"] {
            let theme = Theme::builtin(name).unwrap();
            for scope in SCOPES {
                let style = theme.style(scope);
                for color in [style.fg, style.bg].into_iter().flatten() {
                    assert!(
                        !matches!(color, Color::Rgb(..) | Color::Indexed(_)),
                        "{name}: `{scope}` uses {color:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn light_recolours_default_through_the_palette() {
        let default = Theme::builtin("default").unwrap();
        let light = Theme::builtin("light").unwrap();
        // Inherited style, recoloured by light's palette.
        assert_eq!(
            default.style("ui.border.focused").fg,
            Some(Color::LightBlue)
        );
        assert_eq!(light.style("ui.border.focused").fg, Some(Color::Blue));
        assert_eq!(
            light.style("ui.border.focused").add_modifier,
            default.style("ui.border.focused").add_modifier
        );
        // No bright colours (unreadable on white) anywhere in light.
        for scope in SCOPES {
            let style = light.style(scope);
            for color in [style.fg, style.bg].into_iter().flatten() {
                assert!(
                    !matches!(
                        color,
                        Color::LightRed
                            | Color::LightGreen
                            | Color::LightYellow
                            | Color::LightBlue
                            | Color::LightMagenta
                            | Color::LightCyan
                    ),
                    "light: `{scope}` uses {color:?}"
                );
            }
        }
    }

    #[test]
    fn high_contrast_reverses_the_selection_and_bolds() {
        let theme = Theme::builtin("high-contrast").unwrap();
        assert!(
            theme
                .style("ui.selection")
                .add_modifier
                .contains(Modifier::REVERSED)
        );
        assert!(
            theme
                .style("conflict.option.selected")
                .add_modifier
                .contains(Modifier::REVERSED)
        );
        assert!(
            theme
                .style("ui.border.focused")
                .add_modifier
                .contains(Modifier::BOLD)
        );
        assert!(
            theme
                .style("agent.status.failed")
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn mono_has_no_colour_and_distinguishes_by_modifiers() {
        let theme = Theme::builtin("mono").unwrap();
        assert!(!MONO_TOML.contains("inherits"));
        let scopes = SCOPES
            .iter()
            .copied()
            .chain(theme.styles.keys().map(String::as_str));
        for scope in scopes {
            let style = theme.style(scope);
            for color in [style.fg, style.bg] {
                assert!(
                    matches!(color, None | Some(Color::Reset)),
                    "mono: `{scope}` has colour {color:?}"
                );
            }
        }
        let text = theme.style("ui.text");
        for scope in [
            "ui.selection",
            "agent.status.failed",
            "conflict.option.selected",
        ] {
            let style = theme.style(scope);
            assert_ne!(style, text, "mono: `{scope}` looks like plain text");
            assert!(
                !style.add_modifier.is_empty(),
                "mono: `{scope}` has no modifier"
            );
        }
        assert_ne!(
            theme.style("conflict.option.selected"),
            theme.style("conflict.option")
        );
        assert!(
            theme
                .style("ui.selection")
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }

    #[test]
    fn lookup_falls_back_through_prefixes() {
        let theme = load(
            r#"
            "agent" = "red"
            "agent.status" = "green"
            "agent.status.running" = "cyan"
            "#,
        );
        assert_eq!(theme.style("agent.status.running").fg, Some(Color::Cyan));
        assert_eq!(theme.style("agent.status.failed").fg, Some(Color::Green));
        assert_eq!(theme.style("agent.name").fg, Some(Color::Red));
        assert_eq!(
            theme.style("agent.status.running.extra").fg,
            Some(Color::Cyan)
        );
        assert_eq!(theme.style("ui.text"), Style::default());
        assert_eq!(theme.style(""), Style::default());
    }

    #[test]
    fn palette_names_resolve_and_may_come_after_use() {
        let theme = load(
            r##"
            "ui.border" = { fg = "accent", bg = "base" }
            "ui.text" = "accent"
            [palette]
            accent = "blue"
            base = "#102030"
            "##,
        );
        assert_eq!(theme.style("ui.border").fg, Some(Color::Blue));
        assert_eq!(
            theme.style("ui.border").bg,
            Some(Color::Rgb(0x10, 0x20, 0x30))
        );
        assert_eq!(theme.style("ui.text").fg, Some(Color::Blue));
    }

    #[test]
    fn palette_may_redefine_an_ansi_name() {
        let theme = load(
            r##"
            "ui.error" = "red"
            [palette]
            red = "#ff0000"
            "##,
        );
        assert_eq!(theme.style("ui.error").fg, Some(Color::Rgb(255, 0, 0)));
    }

    #[test]
    fn hex_colours_and_modifiers() {
        let theme = load(
            r##""ui.title" = { fg = "#A0b1C2", modifiers = ["bold", "underlined", "crossed_out"] }"##,
        );
        let style = theme.style("ui.title");
        assert_eq!(style.fg, Some(Color::Rgb(0xa0, 0xb1, 0xc2)));
        assert_eq!(style.bg, None);
        assert_eq!(
            style.add_modifier,
            Modifier::BOLD | Modifier::UNDERLINED | Modifier::CROSSED_OUT
        );
    }

    #[test]
    fn default_is_reset() {
        let theme = load(r#""ui.background" = { fg = "default", bg = "default" }"#);
        assert_eq!(theme.style("ui.background").fg, Some(Color::Reset));
        assert_eq!(theme.style("ui.background").bg, Some(Color::Reset));
    }

    #[test]
    fn ansi_and_helix_colour_names() {
        assert_eq!(ansi_color("light-red"), Some(Color::LightRed));
        assert_eq!(ansi_color("lightred"), Some(Color::LightRed));
        assert_eq!(ansi_color("light-gray"), Some(Color::Gray));
        assert_eq!(ansi_color("gray"), Some(Color::Gray));
        assert_eq!(ansi_color("grey"), Some(Color::Gray));
        assert_eq!(ansi_color("darkgray"), Some(Color::DarkGray));
        assert_eq!(ansi_color("dark-gray"), Some(Color::DarkGray));
        assert_eq!(ansi_color("white"), Some(Color::White));
        assert_eq!(ansi_color("default"), Some(Color::Reset));
        assert_eq!(ansi_color("purple"), None);
        assert_eq!(ansi_color("reset"), None);
    }

    #[test]
    fn unquoted_dotted_keys_are_read_as_scopes() {
        let theme = load(
            r#"
            ui.border = "red"
            [agent.status]
            failed = { fg = "red", modifiers = ["bold"] }
            "#,
        );
        assert_eq!(theme.style("ui.border").fg, Some(Color::Red));
        assert_eq!(theme.style("agent.status.failed").fg, Some(Color::Red));
        assert!(error("[ui]\nbordr = \"red\"\n").contains("unknown scope `ui.bordr`"));
    }

    #[test]
    fn prefixes_of_scopes_are_valid_keys_but_not_other_words() {
        assert!(is_known_scope("agent.status"));
        assert!(is_known_scope("agent"));
        assert!(is_known_scope("agent.status.failed"));
        assert!(!is_known_scope("agent.stat"));
        assert!(!is_known_scope("agent.status.failed.more"));
        assert!(!is_known_scope(""));
    }

    #[test]
    fn inherits_merges_keys_and_palette() {
        let theme = Theme::from_toml(
            "mine",
            r##"
            inherits = "default"
            "ui.border" = { fg = "#010203" }
            [palette]
            accent = "magenta"
            "##,
        )
        .unwrap();
        let default = Theme::default();
        assert_eq!(theme.name(), "mine");
        // Overridden key.
        assert_eq!(theme.style("ui.border").fg, Some(Color::Rgb(1, 2, 3)));
        // Key from the parent, untouched.
        assert_eq!(theme.style("diff.plus"), default.style("diff.plus"));
        // Key from the parent, recoloured by the child's palette.
        assert_eq!(theme.style("ui.border.focused").fg, Some(Color::Magenta));
        // The child can use the parent's palette names.
        let theme =
            Theme::from_toml("mine", "inherits = \"default\"\n\"ui.text\" = \"accent\"\n").unwrap();
        assert_eq!(
            theme.style("ui.text").fg,
            default.style("ui.border.focused").fg
        );
    }

    #[test]
    fn inherits_unknown_theme_is_an_error() {
        let message = error("inherits = \"nope\"\n");
        assert!(message.contains("`nope`"), "{message}");
        assert!(
            message.contains("default, light, high-contrast, mono"),
            "{message}"
        );
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn unknown_scope_error_names_scope_and_line() {
        let message = error("\"ui.text\" = \"red\"\n\"ui.bordr\" = \"red\"\n");
        assert!(message.contains("unknown scope `ui.bordr`"), "{message}");
        assert!(message.contains("line 2"), "{message}");
        assert!(message.contains("`test`"), "{message}");
    }

    #[test]
    fn unknown_colour_error_names_colour_and_key() {
        let message = error("\n\"ui.border\" = { fg = \"purple\" }\n");
        assert!(message.contains("unknown colour `purple`"), "{message}");
        assert!(message.contains("`ui.border`"), "{message}");
        assert!(message.contains("line 2"), "{message}");
        // In the palette too, and a palette name cannot point at another.
        let message = error("[palette]\na = \"blue\"\nb = \"a\"\n");
        assert!(message.contains("unknown colour `a`"), "{message}");
        assert!(message.contains("`palette.b`"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn unknown_modifier_error_names_modifier() {
        let message = error("\"ui.title\" = { modifiers = [\"bold\", \"blinky\"] }\n");
        assert!(message.contains("unknown modifier `blinky`"), "{message}");
        assert!(message.contains("`ui.title`"), "{message}");
        assert!(message.contains("crossed_out"), "{message}");
    }

    #[test]
    fn bad_hex_error_names_value() {
        for bad in ["#12345", "#1234567", "#12345g", "#"] {
            let message = error(&format!("\"ui.title\" = \"{bad}\"\n"));
            assert!(
                message.contains(&format!("bad hex colour `{bad}`")),
                "{message}"
            );
            assert!(message.contains("`ui.title`"), "{message}");
        }
        let message = error("[palette]\nx = \"#abc\"\n");
        assert!(message.contains("bad hex colour `#abc`"), "{message}");
    }

    #[test]
    fn unknown_theme_name_error_lists_valid_names() {
        let message = Theme::builtin("solarized").unwrap_err().to_string();
        assert!(message.contains("`solarized`"), "{message}");
        for name in Theme::BUILTIN {
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn shape_errors_name_the_key() {
        let message = error("\"ui.title\" = 3\n");
        assert!(message.contains("`ui.title`"), "{message}");
        assert!(message.contains("integer"), "{message}");
        let message = error("\"ui.title\" = { fg = \"red\", fgg = \"blue\" }\n");
        assert!(message.contains("unknown style field `fgg`"), "{message}");
        // With no valid field at all, the table reads as nested scopes.
        let message = error("\"ui.title\" = { fgg = \"blue\" }\n");
        assert!(
            message.contains("unknown scope `ui.title.fgg`"),
            "{message}"
        );
        assert!(
            message.contains("`fgg` is not one of its fields"),
            "{message}"
        );
        let message = error("\"ui.title\" = { modifiers = \"bold\" }\n");
        assert!(message.contains("`ui.title`"), "{message}");
        assert!(message.contains("list"), "{message}");
        let message = error("inherits = 1\n");
        assert!(message.contains("`inherits`"), "{message}");
        let message = error("palette = \"red\"\n");
        assert!(message.contains("`palette`"), "{message}");
    }

    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../../themes/README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let len = readme[start..].find("```").unwrap();
        let theme = load(&readme[start..start + len]);
        assert_eq!(
            theme.style("ui.border.focused").fg,
            Some(Color::Rgb(0x5f, 0x87, 0xff))
        );
        assert_eq!(theme.style("agent.status.running").fg, Some(Color::Cyan));
        assert_eq!(theme.style("ui.text"), Style::default());
    }

    #[test]
    fn readme_lists_every_scope() {
        let readme = include_str!("../../themes/README.md");
        for scope in SCOPES {
            assert!(
                readme.contains(&format!("| `{scope}` |")),
                "README lacks `{scope}`"
            );
        }
    }

    #[test]
    fn invalid_toml_reports_the_line() {
        let message = error("\"ui.title\" = \"red\"\n\"ui.text\" = \n");
        assert!(message.contains("invalid TOML at line 2"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}
