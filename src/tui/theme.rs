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
    "transcript.reasoning",
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
mod tests;
