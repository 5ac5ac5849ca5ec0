//! Follow-up features the simulated team can add to a project it generated
//! ([`Feature`]), what a prompt asks for, and each feature's template
//! variables.

use super::names::{listed, tokenize};
use super::template::{
    FEATURE_CLEAR, FEATURE_COUNT, FEATURE_SEARCH, FEATURE_SLOTS, FIRST_FEATURE_RPC_ID,
    MAX_PYTHON_LINE, english_list, python_dict, section, substitute,
};

/// A change a follow-up session can make to an existing project.
///
/// Each feature touches the store, the HTTP API (REST or JSON-RPC), the
/// command line, the README and the tests of all three; see
/// [`render_with`](super::render_with). Variants are ordered as they are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Delete every record at once: `Store.clear() -> int` (how many were
    /// deleted); REST `DELETE /PLURAL` -> 200 `{"deleted": n}`; RPC method
    /// `clear`; CLI `clear`.
    Clear,
    /// Count the records: `Store.count() -> int`; REST `GET /PLURAL/count`
    /// -> 200 `{"count": n}`; RPC method `count`; CLI `count`.
    Count,
    /// Case-insensitive substring search on the record's field:
    /// `Store.search(text) -> list`; REST `GET /PLURAL?q=TEXT`; RPC method
    /// `search` with `{"text": ...}`; CLI `search TEXT`.
    Search,
}

/// Prompt words that ask for each feature (whitespace-separated). Two-word
/// phrases are joined with `+`.
pub(super) const FEATURE_KEYWORDS: [(Feature, &str); 3] = [
    (
        Feature::Clear,
        "clear cleared clearing clears delete deleted deletes deleting deletion purge purged \
         purges purging removal remove removed removes removing wipe wiped wipes wiping",
    ),
    (
        Feature::Count,
        "count counted counting counts how+many statistics stats total totals",
    ),
    (
        Feature::Search,
        "filter filtered filtering filters find finding finds look+up lookup lookups queries \
         query querying search searchable searched searches searching",
    ),
];

impl Feature {
    /// Every feature, in order.
    pub const ALL: [Feature; 3] = [Feature::Clear, Feature::Count, Feature::Search];

    /// The features a prompt asks for, deduplicated and sorted; empty when
    /// none match.
    ///
    /// Matches whole words of the lowercased prompt (and a few of their
    /// forms): delete, remove, clear, purge, wipe ask for
    /// [`Feature::Clear`]; count, stats, statistics, total, "how many" for
    /// [`Feature::Count`]; search, find, filter, query, lookup, "look up"
    /// for [`Feature::Search`]. `"search and delete"` gives
    /// `[Clear, Search]`; `"make it faster"` gives `[]`.
    pub fn from_prompt(prompt: &str) -> Vec<Feature> {
        let words = tokenize(prompt);
        let pairs: Vec<String> = words
            .windows(2)
            .map(|pair| format!("{}+{}", pair[0], pair[1]))
            .collect();
        let mut found: Vec<Feature> = FEATURE_KEYWORDS
            .iter()
            .filter(|(_, keywords)| {
                words
                    .iter()
                    .chain(&pairs)
                    .any(|word| listed(keywords, word))
            })
            .map(|(feature, _)| *feature)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The feature's id, which is also its store method, RPC method and CLI
    /// command: `"clear"`, `"count"` or `"search"`.
    pub fn id(self) -> &'static str {
        match self {
            Feature::Clear => "clear",
            Feature::Count => "count",
            Feature::Search => "search",
        }
    }

    /// One line for READMEs and summaries, e.g. `"clear: delete every
    /// record at once and report how many were deleted"`.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::Clear => "clear: delete every record at once and report how many were deleted",
            Feature::Count => "count: report how many records there are",
            Feature::Search => {
                "search: list the records whose main field contains a text, ignoring case"
            }
        }
    }

    /// The line of `PKG/store.py` that shows a project has this feature.
    pub(super) fn marker(self) -> &'static str {
        match self {
            Feature::Clear => "\n    def clear(self):\n",
            Feature::Count => "\n    def count(self):\n",
            Feature::Search => "\n    def search(self, text):\n",
        }
    }

    /// The feature's template: `@@ SLOT` sections, one per slot it fills.
    pub(super) fn template(self) -> &'static str {
        match self {
            Feature::Clear => FEATURE_CLEAR,
            Feature::Count => FEATURE_COUNT,
            Feature::Search => FEATURE_SEARCH,
        }
    }
}

/// The placeholder values `features` (sorted, without repetitions) decide,
/// given the plain name variables `vars`: inline lists that grow with the
/// features, then one block per slot in [`FEATURE_SLOTS`] (empty when no
/// feature fills it).
pub(super) fn feature_variables(
    vars: &[(&'static str, String)],
    features: &[Feature],
) -> Vec<(&'static str, String)> {
    let has = |feature: Feature| features.contains(&feature);
    let ids: Vec<&str> = features.iter().map(|feature| feature.id()).collect();
    let store_methods: Vec<&str> = ["create", "get", "list", "delete"]
        .into_iter()
        .chain(ids.iter().copied())
        .collect();
    let cli_commands: Vec<&str> = ["add", "list", "show", "remove"]
        .into_iter()
        .chain(ids.iter().copied())
        .chain(["serve"])
        .collect();
    let (verbs, allow) = if has(Feature::Clear) {
        ("GET, POST or DELETE", "GET, POST, DELETE")
    } else {
        ("GET or POST", "GET, POST")
    };
    let arguments = format!("405, f\"use {verbs} on {{ENDPOINT}}\", ((\"Allow\", \"{allow}\"),)");
    let mut rest_collection_405 = format!("            raise ApiError({arguments})");
    if rest_collection_405.len() > MAX_PYTHON_LINE {
        rest_collection_405 =
            format!("            raise ApiError(\n                {arguments}\n            )");
    }
    let readme_features = if features.is_empty() {
        String::new()
    } else {
        let lines: String = features
            .iter()
            .map(|feature| format!("- {}\n", feature.describe()))
            .collect();
        format!("\n## Follow-up features\n\n{lines}")
    };
    let mut out: Vec<(&'static str, String)> = vec![
        (
            "url_parse_names",
            String::from(if has(Feature::Search) {
                "parse_qs, urlsplit"
            } else {
                "urlsplit"
            }),
        ),
        ("rest_allow", String::from(allow)),
        ("rest_collection_405", rest_collection_405),
        ("store_methods", store_methods.join(", ")),
        ("rpc_method_list", english_list(&store_methods)),
        ("rpc_methods", python_dict("METHODS", &store_methods)),
        ("cli_commands", python_dict("COMMANDS", &cli_commands)),
        ("readme_features", readme_features),
    ];
    let per_feature: Vec<Vec<(&'static str, String)>> = features
        .iter()
        .enumerate()
        .map(|(index, _)| {
            let mut local = vars.to_vec();
            local.push(("rpc_id", (FIRST_FEATURE_RPC_ID + index).to_string()));
            local
        })
        .collect();
    for slot in FEATURE_SLOTS {
        let value: String = features
            .iter()
            .zip(&per_feature)
            .map(|(feature, local)| substitute(section(feature.template(), slot), local))
            .collect();
        out.push((slot, value));
    }
    out
}
