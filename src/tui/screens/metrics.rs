//! The metrics view (`M`): a tokens-per-second sparkline per agent, the cost
//! per agent as a bar chart (against the agent's budget when it has one; once
//! a prompt cache was used, each agent's cache reads and writes, `600r 100w`,
//! and a last row with the session's cache-hit share and totals), and
//! the phase timeline (when each phase ran, for how long, retries marked ↻),
//! all from [`Metrics`], itself folded from the session's events.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Paragraph, Sparkline};

use crate::tui::app::App;
use crate::tui::metrics::Metrics;
use crate::tui::widgets::{block, tokens};

/// "42s", "3m 07s", "1h 02m".
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{:.1}s", secs.max(0.0)),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The metrics view of the current session.
pub fn draw_metrics(app: &App, frame: &mut Frame, area: Rect) {
    let m = &app.screens.metrics;
    let rates_h = (app.agents.len() as u16 + 2).min(area.height / 2).max(3);
    let [rates_area, lower] =
        Layout::vertical([Constraint::Length(rates_h), Constraint::Min(3)]).areas(area);
    draw_rates(app, m, frame, rates_area);
    let [cost_area, timeline_area] = if lower.width >= 70 {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(lower)
    } else {
        let cost_h = (app.agents.len() as u16 + 2).min(lower.height / 2);
        Layout::vertical([Constraint::Length(cost_h), Constraint::Min(3)]).areas(lower)
    };
    draw_costs(app, m, frame, cost_area);
    let phases: Vec<String> = app.about.phases.iter().map(|(n, _)| n.clone()).collect();
    draw_timeline(app, m, &phases, frame, timeline_area);
}

fn draw_rates(app: &App, m: &Metrics, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let b = block(
        &app.theme,
        " Tokens per second (≈ 4 characters a token) ",
        false,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    if inner.width < 12 || inner.height == 0 {
        return;
    }
    let now = m.now.floor() as u64;
    let peak = m
        .agents
        .values()
        .map(|s| s.peak())
        .max()
        .unwrap_or(0)
        .max(1);
    let tail_w: u16 = if inner.width >= 60 { 23 } else { 9 };
    for (i, agent) in app.agents.iter().enumerate().take(inner.height as usize) {
        let y = inner.y + i as u16;
        let stats = m.agents.get(&agent.name).cloned().unwrap_or_default();
        let name_w = 10.min(inner.width);
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!("{:<9} ", agent.name),
                theme.style("agent.name"),
            )),
            Rect::new(inner.x, y, name_w, 1),
        );
        let spark_w = inner.width.saturating_sub(name_w + tail_w);
        let data = stats.rates(now, spark_w as usize);
        frame.render_widget(
            Sparkline::default()
                .data(&data)
                .max(peak)
                .style(theme.style("ui.gauge")),
            Rect::new(inner.x + name_w, y, spark_w, 1),
        );
        let current = data.last().copied().unwrap_or(0);
        let tail = if tail_w >= 23 {
            format!(" now {current:>4}/s peak {:>4}/s", stats.peak())
        } else {
            format!(" {:>5}/s", stats.peak())
        };
        frame.render_widget(
            Paragraph::new(Span::styled(tail, theme.style("ui.text.dim"))),
            Rect::new(inner.x + name_w + spark_w, y, tail_w.min(inner.width), 1),
        );
    }
}

fn draw_costs(app: &App, m: &Metrics, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let budgeted = app.agents.iter().any(|a| a.budget_usd.is_some());
    let title = if budgeted {
        " Cost per agent · against budget "
    } else {
        " Cost per agent "
    };
    let b = block(&app.theme, title, false);
    let mut inner = b.inner(area);
    frame.render_widget(b, area);
    if inner.width < 12 || inner.height == 0 {
        return;
    }
    // Once a prompt cache was used: the session's cache-hit share and its
    // reads and writes on the pane's last row, under the bars.
    let (read, write) = m
        .agents
        .values()
        .fold((0, 0), |(r, w), s| (r + s.cache_read, w + s.cache_write));
    if read + write > 0 && inner.height > app.agents.len() as u16 {
        inner.height -= 1;
        let text = format!(
            "cache hits {:.0}% · {} read (r) · {} written (w)",
            100.0 * m.cache_share(),
            tokens(read),
            tokens(write)
        );
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.style("ui.text.dim"))),
            Rect::new(inner.x, inner.y + inner.height, inner.width, 1),
        );
    }
    // The bars' texts are ASCII: ratatui 0.30's horizontal bar places the
    // part of a text longer than its bar by bytes, not columns.
    let bars: Vec<Bar> = app
        .agents
        .iter()
        .map(|agent| {
            let stats = m.agents.get(&agent.name).cloned().unwrap_or_default();
            let cost = stats.cost_usd;
            let mut tok = format!("{} tok", tokens(stats.tokens_in + stats.tokens_out));
            // Prompt-cache reads and writes (parts of the input tokens).
            if stats.cache_read + stats.cache_write > 0 {
                tok.push_str(&format!(
                    ", {}r {}w",
                    tokens(stats.cache_read),
                    tokens(stats.cache_write)
                ));
            }
            let (value, text) = match agent.budget_usd.filter(|b| *b > 0.0) {
                Some(budget) => (
                    ((cost / budget) * 1000.0).round() as u64,
                    format!(
                        "${cost:.3}/${budget:.2} ({:.0}%), {tok}",
                        100.0 * cost / budget
                    ),
                ),
                // Bars are shares of a budget: an agent without one has no bar.
                None if budgeted => (0, format!("${cost:.3} (no budget), {tok}")),
                None => (
                    (cost * 1_000_000.0).round() as u64,
                    format!("${cost:.3}, {tok}"),
                ),
            };
            let over = agent.budget_usd.is_some_and(|b| cost >= b);
            Bar::default()
                .value(value)
                .label(Line::from(agent.name.clone()))
                .text_value(text)
                .style(theme.style(if over { "ui.error" } else { "tally.bar" }))
                .value_style(theme.style("ui.text"))
        })
        .collect();
    let max = if budgeted {
        1000
    } else {
        m.agents
            .values()
            .map(|s| (s.cost_usd * 1_000_000.0).round() as u64)
            .max()
            .unwrap_or(0)
    };
    let chart = BarChart::default()
        .direction(Direction::Horizontal)
        .bar_width(1)
        .bar_gap(0)
        .max(max.max(1))
        .label_style(theme.style("agent.name"))
        .data(BarGroup::default().bars(&bars));
    frame.render_widget(chart, inner);
}

/// The phase timeline of `m`: one row per phase of `phases` (the workflow's
/// order; phases that never started are shown pending), a bar from its start
/// to its end on a shared time axis, ↻ where a task retried, and its duration.
pub fn draw_timeline(app: &App, m: &Metrics, phases: &[String], frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let title = format!(" Phases · {} ", duration(m.span()));
    let b = block(&app.theme, &title, false);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    if inner.width < 16 || inner.height == 0 {
        return;
    }
    let name_w = 10usize;
    let dur_w = 8usize;
    let bar_w = (inner.width as usize).saturating_sub(name_w + dur_w).max(1);
    let span = m.span().max(1.0);
    let col = |t: f64| {
        ((t / span) * bar_w as f64)
            .floor()
            .clamp(0.0, bar_w as f64 - 1.0) as usize
    };
    let mut names: Vec<&str> = phases.iter().map(String::as_str).collect();
    for p in &m.phases {
        if !names.contains(&p.name.as_str()) {
            names.push(&p.name);
        }
    }
    let mut lines = Vec::new();
    for name in names.iter().take(inner.height as usize) {
        let label: String = name.chars().take(name_w - 1).collect();
        let mut spans = vec![Span::styled(
            format!("{label:<w$} ", w = name_w - 1),
            theme.style("ui.text"),
        )];
        // The last run of a phase that ran more than once (a re-test) is shown.
        match m.phases.iter().rev().find(|p| p.name == *name) {
            None => {
                spans.push(Span::styled(
                    "·".repeat(bar_w),
                    theme.style("phase.pending"),
                ));
                spans.push(Span::styled(
                    format!("{:>w$}", "–", w = dur_w),
                    theme.style("ui.text.dim"),
                ));
            }
            Some(p) => {
                let end = p.end.unwrap_or(m.now);
                let (x0, x1) = (col(p.start), col(end).max(col(p.start)));
                let mut cells: Vec<(char, &str)> = vec![(' ', "ui.text"); bar_w];
                let scope = if p.end.is_some() {
                    "phase.done"
                } else {
                    "phase.current"
                };
                for cell in cells.iter_mut().take(x1 + 1).skip(x0) {
                    *cell = ('█', scope);
                }
                for r in &p.retries {
                    if let Some(cell) = cells.get_mut(col(*r)) {
                        *cell = ('↻', "transcript.retry");
                    }
                }
                // Runs of one style become one span.
                let mut run = String::new();
                let mut run_scope = cells.first().map(|c| c.1).unwrap_or("ui.text");
                for (ch, s) in cells {
                    if s != run_scope {
                        spans.push(Span::styled(
                            std::mem::take(&mut run),
                            theme.style(run_scope),
                        ));
                        run_scope = s;
                    }
                    run.push(ch);
                }
                spans.push(Span::styled(run, theme.style(run_scope)));
                let retries = if p.retries.is_empty() {
                    String::new()
                } else {
                    format!("↻{}", p.retries.len())
                };
                spans.push(Span::styled(
                    format!(
                        "{:>w$}",
                        format!("{retries} {}", duration(end - p.start)),
                        w = dur_w
                    ),
                    theme.style("ui.text.dim"),
                ));
            }
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(2.5), "2.5s");
        assert_eq!(duration(187.0), "3m 07s");
        assert_eq!(duration(3720.0), "1h 02m");
        assert_eq!(duration(-1.0), "0.0s");
    }
}
