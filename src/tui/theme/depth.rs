//! Colour depth: what the terminal can show (detected from `NO_COLOR`,
//! `COLORTERM` and `TERM`), and a theme adapted to it. `#rrggbb` colours become
//! the nearest of the xterm 256-colour palette, or of the 16 ANSI colours; with
//! `NO_COLOR` every colour is dropped and a style that had a background colour
//! is drawn reversed instead, so selections and highlights stay visible.

use ratatui::style::{Color, Modifier, Style};

use super::Theme;

/// How many colours the terminal shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorDepth {
    /// None: `NO_COLOR` is set (<https://no-color.org>), or `TERM=dumb`.
    NoColor,
    /// The 16 ANSI colours (the safe default).
    Ansi16,
    /// The xterm 256-colour palette (`TERM=*-256color`).
    Ansi256,
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    TrueColor,
}

impl ColorDepth {
    /// Detects the depth from environment variables, looked up through `env`:
    /// a non-empty `NO_COLOR` wins, then `COLORTERM`, then `TERM`.
    pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> ColorDepth {
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorDepth::NoColor;
        }
        let term = env("TERM").unwrap_or_default();
        if term == "dumb" {
            return ColorDepth::NoColor;
        }
        let colorterm = env("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return ColorDepth::TrueColor;
        }
        if term.contains("256color") || term.contains("direct") {
            return ColorDepth::Ansi256;
        }
        ColorDepth::Ansi16
    }

    /// The depth's name, as the docs and logs say it.
    pub fn as_str(self) -> &'static str {
        match self {
            ColorDepth::NoColor => "no colour",
            ColorDepth::Ansi16 => "16 colours",
            ColorDepth::Ansi256 => "256 colours",
            ColorDepth::TrueColor => "truecolor",
        }
    }
}

/// The xterm defaults of the 16 ANSI colours, for nearest-colour matching.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// The levels of the xterm 6x6x6 colour cube.
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs();
    // Weighted towards green, as the eye is (a cheap "redmean").
    2 * d(a.0, b.0).pow(2) + 4 * d(a.1, b.1).pow(2) + 3 * d(a.2, b.2).pow(2)
}

/// The RGB value of an xterm palette index.
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[i as usize].1,
        16..=231 => {
            let n = i - 16;
            (
                CUBE[(n / 36) as usize],
                CUBE[((n / 6) % 6) as usize],
                CUBE[(n % 6) as usize],
            )
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

/// The nearest xterm 256-palette index (cube or grey ramp; the first 16 are
/// left out, as terminals redefine them).
pub fn nearest_256(rgb: (u8, u8, u8)) -> u8 {
    (16..=255u8)
        .min_by_key(|i| distance(rgb, indexed_rgb(*i)))
        .unwrap_or(16)
}

/// The nearest of the 16 ANSI colours.
pub fn nearest_16(rgb: (u8, u8, u8)) -> Color {
    ANSI16
        .iter()
        .min_by_key(|(_, value)| distance(rgb, *value))
        .map(|(color, _)| *color)
        .unwrap_or(Color::Reset)
}

fn adapt_color(color: Color, depth: ColorDepth) -> Option<Color> {
    match (depth, color) {
        (ColorDepth::NoColor, Color::Reset) => Some(Color::Reset),
        (ColorDepth::NoColor, _) => None,
        (ColorDepth::TrueColor, c) => Some(c),
        (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Some(Color::Indexed(nearest_256((r, g, b)))),
        (ColorDepth::Ansi256, c) => Some(c),
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => Some(nearest_16((r, g, b))),
        (ColorDepth::Ansi16, Color::Indexed(i)) => Some(nearest_16(indexed_rgb(i))),
        (ColorDepth::Ansi16, c) => Some(c),
    }
}

/// One style as a terminal of `depth` can show it.
pub fn adapt_style(style: Style, depth: ColorDepth) -> Style {
    let mut out = style;
    out.fg = style.fg.and_then(|c| adapt_color(c, depth));
    out.bg = style.bg.and_then(|c| adapt_color(c, depth));
    if depth == ColorDepth::NoColor && style.bg.is_some_and(|c| c != Color::Reset) {
        // What a background colour singled out is shown reversed instead.
        out = out.add_modifier(Modifier::REVERSED);
    }
    out
}

impl Theme {
    /// This theme as a terminal of `depth` can show it.
    #[must_use]
    pub fn for_depth(&self, depth: ColorDepth) -> Theme {
        Theme {
            name: self.name.clone(),
            styles: self
                .styles
                .iter()
                .map(|(scope, style)| (scope.clone(), adapt_style(*style, depth)))
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn depth_is_detected_from_the_environment() {
        let d = |vars: &[(&str, &str)]| ColorDepth::detect(&env(vars));
        assert_eq!(d(&[]), ColorDepth::Ansi16);
        assert_eq!(d(&[("TERM", "xterm-256color")]), ColorDepth::Ansi256);
        assert_eq!(
            d(&[("TERM", "xterm-256color"), ("COLORTERM", "truecolor")]),
            ColorDepth::TrueColor
        );
        assert_eq!(d(&[("COLORTERM", "24bit")]), ColorDepth::TrueColor);
        assert_eq!(
            d(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")]),
            ColorDepth::NoColor
        );
        assert_eq!(
            d(&[("NO_COLOR", ""), ("TERM", "screen")]),
            ColorDepth::Ansi16,
            "an empty NO_COLOR does not count"
        );
        assert_eq!(d(&[("TERM", "dumb")]), ColorDepth::NoColor);
    }

    #[test]
    fn rgb_is_downgraded_to_the_nearest_palette_colour() {
        assert_eq!(nearest_256((255, 0, 0)), 196);
        assert_eq!(nearest_256((0, 0, 0)), 16);
        assert_eq!(nearest_256((128, 128, 128)), 244);
        assert_eq!(nearest_256((95, 135, 255)), 69);
        assert_eq!(nearest_16((250, 10, 10)), Color::LightRed);
        assert_eq!(nearest_16((10, 10, 10)), Color::Black);
        assert_eq!(nearest_16((120, 120, 130)), Color::DarkGray);
        assert_eq!(nearest_16((20, 200, 30)), Color::Green);
    }

    #[test]
    fn a_theme_follows_the_depth() {
        let theme = Theme::from_toml(
            "t",
            "\"ui.text\" = \"#ff0000\"\n\"ui.selection\" = { fg = \"black\", bg = \"#5f87ff\", modifiers = [\"bold\"] }\n\"ui.border\" = \"default\"\n",
        )
        .unwrap();
        let true_color = theme.for_depth(ColorDepth::TrueColor);
        assert_eq!(true_color, theme);
        let c256 = theme.for_depth(ColorDepth::Ansi256);
        assert_eq!(c256.style("ui.text").fg, Some(Color::Indexed(196)));
        assert_eq!(c256.style("ui.selection").bg, Some(Color::Indexed(69)));
        let c16 = theme.for_depth(ColorDepth::Ansi16);
        assert_eq!(c16.style("ui.text").fg, Some(Color::LightRed));
        assert_eq!(c16.style("ui.selection").fg, Some(Color::Black));
        assert_eq!(c16.style("ui.selection").bg, Some(Color::LightBlue));
        let none = theme.for_depth(ColorDepth::NoColor);
        assert_eq!(none.style("ui.text"), Style::default());
        let sel = none.style("ui.selection");
        assert_eq!((sel.fg, sel.bg), (None, None));
        assert!(
            sel.add_modifier
                .contains(Modifier::REVERSED | Modifier::BOLD)
        );
        assert_eq!(none.style("ui.border").fg, Some(Color::Reset));
    }

    #[test]
    fn every_builtin_theme_keeps_selections_visible_without_colour() {
        for name in Theme::BUILTIN {
            let theme = Theme::builtin(name).unwrap().for_depth(ColorDepth::NoColor);
            for scope in super::super::SCOPES {
                let s = theme.style(scope);
                for c in [s.fg, s.bg].into_iter().flatten() {
                    assert_eq!(c, Color::Reset, "{name} {scope}");
                }
            }
            let sel = theme.style("ui.selection");
            assert!(
                sel.add_modifier.contains(Modifier::REVERSED),
                "{name}: the selection is reversed"
            );
        }
    }
}
