//! The built-in offline demo's scope (docs/offline-script.md): the demo team
//! builds one Python JSON API and command line keeping one kind of record,
//! whatever the prompt, and [`unbuilt`] says when a prompt asks for something
//! else, so that the frontends (`quorum run`, the TUI) and the session's
//! README and commit say so plainly. The prompt's words are read as the
//! simulated team (`sim/project/names.rs`) reads them, with [`tokenize`].

/// Whether `word` is one of the whitespace-separated words in `list`.
pub fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|entry| entry == word)
}

/// Languages the offline team's demo (Python) is not, as prompt words, with
/// the name said back: `(words, name)`. Ambiguous short words (`go`, `c`, `r`,
/// `js`) count only in a phrase (`in go`, `go cli`).
pub const OTHER_LANGUAGES: [(&str, &str); 24] = [
    ("rust rustlang cargo", "Rust"),
    ("golang", "Go"),
    (
        "in+go go+cli go+program go+service go+module go+server",
        "Go",
    ),
    ("javascript nodejs node+js deno", "JavaScript"),
    ("typescript", "TypeScript"),
    ("java", "Java"),
    ("kotlin", "Kotlin"),
    ("scala", "Scala"),
    ("csharp dotnet", "C#"),
    ("cpp cplusplus", "C++"),
    ("in+c c+program c+library", "C"),
    ("ruby rails", "Ruby"),
    ("php laravel", "PHP"),
    ("swift swiftui", "Swift"),
    ("haskell", "Haskell"),
    ("elixir phoenix", "Elixir"),
    ("erlang", "Erlang"),
    ("clojure", "Clojure"),
    ("lua", "Lua"),
    ("perl", "Perl"),
    ("zig", "Zig"),
    ("dart flutter", "Dart"),
    ("ocaml", "OCaml"),
    ("julia", "Julia"),
];

/// Kinds of program the demo (a JSON API and command line keeping one kind
/// of record) is not, as prompt words, with what is said back.
pub const OTHER_KINDS: [(&str, &str); 12] = [
    (
        "react vue angular svelte nextjs frontend front+end",
        "a web frontend",
    ),
    (
        "website webpage web+page html css landing+page",
        "a website",
    ),
    ("gui desktop+app tkinter qt gtk electron", "a desktop GUI"),
    ("mobile ios android iphone", "a mobile app"),
    ("game games pong tetris snake chess", "a game"),
    ("compiler interpreter", "a compiler or interpreter"),
    (
        "operating+system os+kernel device+driver firmware",
        "systems software",
    ),
    (
        "neural+network machine+learning classifier model+training",
        "machine learning",
    ),
    ("browser+extension chrome+extension", "a browser extension"),
    (
        "wc word+count word+counter counts+words count+words",
        "a word counter",
    ),
    ("scraper crawler scrape scraping", "a web scraper"),
    ("chatbot discord+bot slack+bot telegram+bot", "a chat bot"),
];

/// Why `prompt` asks for what the offline team's demo is not, if it does: the
/// demo is a Python JSON API and command line that keeps one kind of record,
/// whatever the prompt. `"Rust CLI that counts words in files"` gives
/// `Some("it asks for Rust")`; `"Build a URL shortener REST API with
/// tests"` gives `None`. Deterministic; whole words (and two-word phrases)
/// of the lowercased prompt, with `c++` and `c#` read before splitting.
pub fn unbuilt(prompt: &str) -> Option<String> {
    let lowered = prompt.to_lowercase();
    let spelled = lowered.replace("c++", " cpp ").replace("c#", " csharp ");
    let words = tokenize(&spelled);
    let pairs: Vec<String> = words
        .windows(2)
        .map(|pair| format!("{}+{}", pair[0], pair[1]))
        .collect();
    let said = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(keys, _)| words.iter().chain(&pairs).any(|w| listed(keys, w)))
            .map(|(_, name)| *name)
    };
    if let Some(language) = said(&OTHER_LANGUAGES) {
        return Some(format!("it asks for {language}"));
    }
    said(&OTHER_KINDS).map(|kind| format!("it asks for {kind}"))
}

/// Lowercases `prompt` and splits it into words of letters and digits,
/// without apostrophes, with "to do" joined into "todo".
pub fn tokenize(prompt: &str) -> Vec<String> {
    let lowered: String = prompt
        .to_lowercase()
        .chars()
        .filter(|c| *c != '\'' && *c != '\u{2019}')
        .collect();
    let raw: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let mut words = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        if raw[index] == "to" && raw.get(index + 1) == Some(&"do") {
            words.push(String::from("todo"));
            index += 2;
        } else {
            words.push(raw[index].to_owned());
            index += 1;
        }
    }
    words
}
