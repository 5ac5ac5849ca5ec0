//! The theme tests: every built-in theme loads, lookups fall back through
//! prefixes, and every mistake in a theme file is an error naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    let readme = include_str!("../../../themes/README.md");
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
    let readme = include_str!("../../../themes/README.md");
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
