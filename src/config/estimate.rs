//! The cost estimate before a session starts (issue 21; docs/commands.md,
//! "quorum run --estimate"): from the workflow's phases and agents, the
//! prompt's size, the project the agents will be shown and the configured
//! models' prices ([`super::pricing`]), a range (low–high) of calls, input
//! and output tokens and US dollars. A pure function: the CLI and the TUI
//! call it as the prompt is typed.
//!
//! The calls per phase kind, and what each costs, are assumptions stated in
//! [`ASSUMPTIONS`] and the `*_CALL` constants; the per-call token counts were
//! read off the two recorded real-model sessions
//! (`tests/fixtures/recordings/`, README there): the smallest and largest
//! request (bytes / 4) and reply of each kind, without the project map, which
//! is added per call. Prompt caching is not counted (the high end is the
//! price of every token uncached), nor validation retries.

use std::collections::BTreeSet;

use serde::Serialize;

use super::workflow::{PhaseKind, Workflow};
use super::{ProviderKind, Settings};

/// A low–high range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Range<T> {
    /// The low end.
    pub low: T,
    /// The high end.
    pub high: T,
}

/// What a session is expected to cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// Model calls.
    pub calls: Range<u64>,
    /// Input (prompt) tokens, over all calls.
    pub input_tokens: Range<u64>,
    /// Output (reply) tokens, over all calls.
    pub output_tokens: Range<u64>,
    /// US dollars for the priced models' calls (calls on the offline provider
    /// cost nothing), rounded to 1/100 of a cent.
    pub usd: Range<f64>,
    /// Models with calls but no price (`[pricing."MODEL"]` would price
    /// them): their calls are not in `usd`.
    pub unpriced: Vec<String>,
    /// Every call goes to the built-in offline team: nothing is bought.
    pub offline: bool,
}

/// One call's tokens: (input without the project and the prompt, output),
/// each low–high.
#[derive(Clone, Copy, Debug)]
struct Call {
    input: (u64, u64),
    output: (u64, u64),
}

/// Refine: the requirements (recorded: 432–433 in, 874–964 out).
const REQUIREMENTS_CALL: Call = Call {
    input: (420, 450),
    output: (850, 1000),
};
/// One technical plan (recorded: 1,531–1,717 in, 831–1,441 out).
const PLAN_CALL: Call = Call {
    input: (1500, 1750),
    output: (800, 1450),
};
/// Compare, without the plans (recorded: 6,076–7,428 in with four plans,
/// 4–1,041 out).
const COMPARE_CALL: Call = Call {
    input: (1000, 1500),
    output: (50, 1100),
};
/// One ballot (recorded: 1,372–1,557 in, 50–79 out).
const BALLOT_CALL: Call = Call {
    input: (1350, 1600),
    output: (50, 100),
};
/// The breakdown, without the plans (recorded: 6,089–7,424 in, 1,041–1,947 out).
const BREAKDOWN_CALL: Call = Call {
    input: (1000, 1500),
    output: (1000, 2000),
};
/// One implementation task (recorded: 1,710–2,132 in, 848–2,792 out).
const IMPLEMENT_CALL: Call = Call {
    input: (1700, 2200),
    output: (850, 2800),
};
/// The tests, without the staged code (recorded: 7,813–11,832 in, 4,338–9,494 out).
const TESTS_CALL: Call = Call {
    input: (1500, 2000),
    output: (4300, 9500),
};
/// The review, without the staged files (recorded: 21,737 in, 702 out).
const REVIEW_CALL: Call = Call {
    input: (1500, 2000),
    output: (300, 1000),
};
/// One repair (recorded: 6,320–6,494 in, 115–1,573 out).
const REPAIR_CALL: Call = Call {
    input: (6300, 6500),
    output: (100, 1600),
};

/// The session's shape, low–high: conflicts the plans disagree on (each
/// gets one ballot per voter; recorded: 0 and 2), implementation tasks
/// (recorded: 3 and 6), and repair calls per repair round (the high end runs
/// every round of `test.max_repair_rounds`, plus one for the review's
/// findings; recorded: 1 and 2). Ties at resolve and validation retries are
/// not counted.
pub const ASSUMPTIONS: Assumptions = Assumptions {
    conflicts: (0, 3),
    tasks: (3, 6),
    repairs_per_round: (0, 1),
};

/// See [`ASSUMPTIONS`].
#[derive(Clone, Copy, Debug)]
pub struct Assumptions {
    /// Conflicts voted on, low–high.
    pub conflicts: (u64, u64),
    /// Implementation tasks, low–high.
    pub tasks: (u64, u64),
    /// Repair calls per round, low–high.
    pub repairs_per_round: (u64, u64),
}

/// Tokens of `text` for the estimate: 4 bytes per token, rounded up.
pub fn tokens_of(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// The running sums, and which agent's model is priced how.
struct Sums<'a> {
    settings: &'a Settings,
    out: Estimate,
    unpriced: BTreeSet<String>,
    calls_on_offline: u64,
}

impl Sums<'_> {
    /// Adds `count` (low, high) calls of `call` by `agent`, each with `extra`
    /// (low, high) input tokens on top of its own.
    fn add(&mut self, agent: &str, call: Call, count: (u64, u64), extra: (u64, u64)) {
        let input = (
            count.0 * (call.input.0 + extra.0),
            count.1 * (call.input.1 + extra.1),
        );
        let output = (count.0 * call.output.0, count.1 * call.output.1);
        self.out.calls.low += count.0;
        self.out.calls.high += count.1;
        self.out.input_tokens.low += input.0;
        self.out.input_tokens.high += input.1;
        self.out.output_tokens.low += output.0;
        self.out.output_tokens.high += output.1;
        let Some(spec) = self.settings.agents.iter().find(|a| a.name == agent) else {
            return;
        };
        let model = &spec.model;
        let offline = self
            .settings
            .providers
            .get(&model.provider)
            .is_some_and(|p| p.kind == ProviderKind::Offline);
        if offline {
            self.calls_on_offline += count.1;
            return;
        }
        match self.settings.pricing.lookup(&model.model) {
            Some(price) => {
                self.out.usd.low +=
                    (input.0 as f64 * price.input + output.0 as f64 * price.output) / 1e6;
                self.out.usd.high +=
                    (input.1 as f64 * price.input + output.1 as f64 * price.output) / 1e6;
            }
            None if count.1 > 0 => {
                self.unpriced.insert(model.model.clone());
            }
            None => {}
        }
    }
}

/// The estimate for a session of `workflow` with `settings`' agents and
/// prices, on `prompt`, where the agents are shown a project of
/// `project_tokens` (the project map as sent: 0 for an empty directory).
pub fn estimate(
    settings: &Settings,
    workflow: &Workflow,
    prompt: &str,
    project_tokens: u64,
) -> Estimate {
    let shared = tokens_of(prompt) + project_tokens;
    let mut sums = Sums {
        settings,
        out: Estimate::default(),
        unpriced: BTreeSet::new(),
        calls_on_offline: 0,
    };
    let a = ASSUMPTIONS;
    let rounds = u64::from(settings.test.max_repair_rounds);
    // Material later calls are shown: the plans, the staged code, the tests.
    let mut plans = (0, 0);
    let mut staged = (0, 0);
    let mut tests = (0, 0);
    let both = |n: u64| (n, n);
    for phase in &workflow.phases {
        let first = phase.agents.first().map(String::as_str).unwrap_or("");
        match phase.kind {
            PhaseKind::Single => sums.add(first, REQUIREMENTS_CALL, (1, 1), both(shared)),
            PhaseKind::FanOut => {
                for agent in &phase.agents {
                    sums.add(agent, PLAN_CALL, (1, 1), both(shared));
                    plans.0 += PLAN_CALL.output.0;
                    plans.1 += PLAN_CALL.output.1;
                }
            }
            PhaseKind::Compare => {
                let extra = (shared + plans.0, shared + plans.1);
                sums.add(first, COMPARE_CALL, (1, 1), extra);
            }
            PhaseKind::Vote => {
                for agent in &phase.agents {
                    // A ballot shows the voter's own plan, not the project.
                    let extra = (
                        tokens_of(prompt) + PLAN_CALL.output.0,
                        tokens_of(prompt) + PLAN_CALL.output.1,
                    );
                    sums.add(agent, BALLOT_CALL, a.conflicts, extra);
                }
            }
            PhaseKind::Resolve | PhaseKind::Deliver => {}
            PhaseKind::Tasks => {
                let extra = (shared + plans.0, shared + plans.1);
                sums.add(first, BREAKDOWN_CALL, (1, 1), extra);
                let owners: Vec<&str> = match phase.agents.get(1..) {
                    Some(rest) if !rest.is_empty() => rest.iter().map(String::as_str).collect(),
                    _ => vec![first],
                };
                for (i, owner) in owners.iter().enumerate() {
                    let share = |n: u64| {
                        n / owners.len() as u64 + u64::from((i as u64) < n % owners.len() as u64)
                    };
                    sums.add(
                        owner,
                        IMPLEMENT_CALL,
                        (share(a.tasks.0), share(a.tasks.1)),
                        both(shared),
                    );
                }
                staged.0 += a.tasks.0 * IMPLEMENT_CALL.output.0;
                staged.1 += a.tasks.1 * IMPLEMENT_CALL.output.1;
            }
            PhaseKind::Test => {
                sums.add(
                    first,
                    TESTS_CALL,
                    (1, 1),
                    (shared + staged.0, shared + staged.1),
                );
                tests = TESTS_CALL.output;
                let repairs = (
                    rounds * a.repairs_per_round.0,
                    rounds * a.repairs_per_round.1,
                );
                sums.add(first, REPAIR_CALL, repairs, both(shared));
            }
            PhaseKind::Review => {
                let extra = (shared + staged.0 + tests.0, shared + staged.1 + tests.1);
                sums.add(first, REVIEW_CALL, (1, 1), extra);
                sums.add(first, REPAIR_CALL, (0, a.repairs_per_round.1), both(shared));
            }
        }
    }
    let mut out = sums.out;
    let cents = |usd: f64| (usd * 10_000.0).round() / 10_000.0;
    out.usd = Range {
        low: cents(out.usd.low),
        high: cents(out.usd.high),
    };
    out.unpriced = sums.unpriced.into_iter().collect();
    out.offline = out.calls.high > 0 && sums.calls_on_offline == out.calls.high;
    out
}

/// `1,234`: thousands separated by commas.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Estimate {
    /// The one line people read: calls, tokens and dollars as ranges, the
    /// unpriced models named; for the offline team, that it costs nothing.
    pub fn line(&self) -> String {
        if self.offline {
            return "estimate: the built-in offline (simulated) team costs nothing: no model is called".to_string();
        }
        let mut line = format!(
            "estimate: {}–{} calls, {}–{} input and {}–{} output tokens, ${:.2}–${:.2}",
            self.calls.low,
            self.calls.high,
            grouped(self.input_tokens.low),
            grouped(self.input_tokens.high),
            grouped(self.output_tokens.low),
            grouped(self.output_tokens.high),
            self.usd.low,
            self.usd.high,
        );
        if !self.unpriced.is_empty() {
            line.push_str(&format!(
                " (not counted: no price for {})",
                self.unpriced.join(", ")
            ));
        }
        line
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> Settings {
        Settings::from_toml(
            toml,
            std::path::Path::new("/tmp/quorum.toml"),
            false,
            &|_| Some("k".into()),
        )
        .unwrap()
    }

    fn workflow() -> Workflow {
        Workflow::default_for(&settings_names()).unwrap()
    }

    fn settings_names() -> Vec<String> {
        ["pm", "backend", "frontend", "qa", "security"]
            .map(String::from)
            .to_vec()
    }

    fn on(model: &str) -> String {
        let mut toml = "[providers.p]\nkind = \"openai\"\napi_key_env = \"K\"\n".to_string();
        for agent in settings_names() {
            toml.push_str(&format!(
                "[agents.{agent}]\nprovider = \"p\"\nmodel = \"{model}\"\n"
            ));
        }
        toml
    }

    #[test]
    fn the_default_workflow_on_one_priced_model() {
        let s = settings(&(on("m") + "[pricing.\"m\"]\ninput = 1.0\noutput = 10.0\n"));
        let e = estimate(&s, &workflow(), &"p".repeat(400), 0);
        // refine 1, plans 4, compare 1, ballots 4 × (0–3), breakdown 1,
        // tasks 3–6, tests 1, repairs 0–2, review 1, its repair 0–1.
        assert_eq!(e.calls, Range { low: 12, high: 30 });
        // Low: 520 + 4·1,600 + (1,100 + 3,200) + 0 + (1,100 + 3,200)
        // + 3·1,800 + (1,600 + 2,550) + 0 + (1,600 + 2,550 + 4,300).
        assert_eq!(e.input_tokens.low, 33_520);
        assert_eq!(
            e.output_tokens.low,
            850 + 4 * 800 + 50 + 1000 + 3 * 850 + 4300 + 300
        );
        let usd_low = (e.input_tokens.low as f64 + 10.0 * e.output_tokens.low as f64) / 1e6;
        assert!((e.usd.low - usd_low).abs() < 1e-4, "{e:?}");
        assert!(e.usd.high > 3.0 * e.usd.low, "{e:?}");
        assert!(e.unpriced.is_empty() && !e.offline);
        assert!(
            e.line().starts_with("estimate: 12–30 calls, 33,520–"),
            "{}",
            e.line()
        );
    }

    #[test]
    fn a_project_is_paid_for_in_every_call_but_the_ballots() {
        let s = settings(&on("gpt-4o"));
        let empty = estimate(&s, &workflow(), "p", 0);
        let big = estimate(&s, &workflow(), "p", 10_000);
        // Low: 12 calls, none of them a ballot; high: 30 calls, 12 ballots.
        assert_eq!(big.input_tokens.low - empty.input_tokens.low, 12 * 10_000);
        assert_eq!(big.input_tokens.high - empty.input_tokens.high, 18 * 10_000);
        assert!(
            big.usd.low > empty.usd.low,
            "gpt-4o is in the built-in prices"
        );
    }

    #[test]
    fn unpriced_models_are_named_and_the_offline_team_costs_nothing() {
        let s = settings(&on("house-model"));
        let e = estimate(&s, &workflow(), "p", 0);
        assert_eq!(e.unpriced, ["house-model"]);
        assert_eq!(
            e.usd,
            Range {
                low: 0.0,
                high: 0.0
            }
        );
        assert!(
            e.line()
                .ends_with("(not counted: no price for house-model)"),
            "{}",
            e.line()
        );
        let offline = Settings::offline_defaults();
        let e = estimate(&offline, &workflow(), "p", 0);
        assert!(e.offline && e.unpriced.is_empty(), "{e:?}");
        assert!(e.line().contains("costs nothing"), "{}", e.line());
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(999), "999");
    }
}
