//! The real Python project the offline (simulated) provider generates.
//!
//! This module owns four things: deriving project [`Names`] from a prompt
//! ([`names_from_prompt`]), the two design decisions the simulated team
//! argues about ([`Storage`] and [`ApiStyle`]), rendering the resulting
//! project ([`render`]) from the template files in
//! `assets/offline/templates/`, which are compiled in with `include_str!`,
//! and follow-up changes to a project that already exists ([`Feature`],
//! [`detect`], [`render_with`]).
//!
//! The generated project is small but real: a standard-library-only Python
//! 3.9+ package with a store, a JSON HTTP API, a command line and unittest
//! suites that pass. Templates use `{{name}}` placeholders; a placeholder
//! alone on a line is a block that is dropped when its value is empty.
//! Rendering is byte-for-byte deterministic.
//!
//! A follow-up session (say "add a count endpoint") reads the existing
//! project back with [`detect`], asks [`Feature::from_prompt`] what to add,
//! and renders the project again with [`render_with`] and the union of the
//! old and new features, which changes only the lines those features need.
//! Each feature has one template, `feature_ID.tmpl`, made of `@@ SLOT`
//! sections; a section is rendered like any template and fills the block
//! placeholder `{{SLOT}}` of the project templates (store methods, routes,
//! commands, README lines, tests). Without features every slot is empty, so
//! [`render_with`] gives exactly what [`render`] always gave.

const README: &str = include_str!("../../../assets/offline/templates/README.md.tmpl");
const README_REST: &str = include_str!("../../../assets/offline/templates/readme_rest.md.tmpl");
const README_RPC: &str = include_str!("../../../assets/offline/templates/readme_rpc.md.tmpl");
const GITIGNORE: &str = include_str!("../../../assets/offline/templates/gitignore.tmpl");
const INIT_PY: &str = include_str!("../../../assets/offline/templates/init.py.tmpl");
const MAIN_PY: &str = include_str!("../../../assets/offline/templates/main.py.tmpl");
const CLI_PY: &str = include_str!("../../../assets/offline/templates/cli.py.tmpl");
const STORE_SQLITE: &str = include_str!("../../../assets/offline/templates/store_sqlite.py.tmpl");
const STORE_JSON: &str = include_str!("../../../assets/offline/templates/store_json.py.tmpl");
const VALIDATE_TEXT: &str = include_str!("../../../assets/offline/templates/validate_text.py.tmpl");
const VALIDATE_URL: &str = include_str!("../../../assets/offline/templates/validate_url.py.tmpl");
const SERVER_REST: &str = include_str!("../../../assets/offline/templates/server_rest.py.tmpl");
const SERVER_RPC: &str = include_str!("../../../assets/offline/templates/server_rpc.py.tmpl");
const TESTS_INIT: &str = include_str!("../../../assets/offline/templates/tests_init.py.tmpl");
const TEST_STORE: &str = include_str!("../../../assets/offline/templates/test_store.py.tmpl");
const TEST_STORE_SQLITE: &str =
    include_str!("../../../assets/offline/templates/test_store_sqlite.py.tmpl");
const TEST_STORE_JSON: &str =
    include_str!("../../../assets/offline/templates/test_store_json.py.tmpl");
const TEST_SERVER_REST: &str =
    include_str!("../../../assets/offline/templates/test_server_rest.py.tmpl");
const TEST_SERVER_RPC: &str =
    include_str!("../../../assets/offline/templates/test_server_rpc.py.tmpl");
const TEST_CLI: &str = include_str!("../../../assets/offline/templates/test_cli.py.tmpl");
const TEST_CLI_REST: &str = include_str!("../../../assets/offline/templates/test_cli_rest.py.tmpl");
const TEST_CLI_RPC: &str = include_str!("../../../assets/offline/templates/test_cli_rpc.py.tmpl");
const FEATURE_CLEAR: &str = include_str!("../../../assets/offline/templates/feature_clear.tmpl");
const FEATURE_COUNT: &str = include_str!("../../../assets/offline/templates/feature_count.tmpl");
const FEATURE_SEARCH: &str = include_str!("../../../assets/offline/templates/feature_search.tmpl");

/// The block placeholders a feature template fills: each `@@ SLOT` section
/// of a feature template is rendered into the `{{SLOT}}` line of the
/// project templates, after the sections of the features before it.
const FEATURE_SLOTS: [&str; 20] = [
    "sqlite_features",
    "json_features",
    "rest_doc",
    "rest_get_collection",
    "rest_collection",
    "rest_routes",
    "rpc_doc",
    "rpc_functions",
    "cli_doc",
    "cli_parsers",
    "cli_functions",
    "readme_cli",
    "readme_rest",
    "readme_rpc",
    "test_store_memory",
    "test_store_file",
    "test_rest",
    "test_rpc_invalid_params",
    "test_rpc",
    "test_cli",
];

/// The first JSON-RPC request id the README examples of features use (the
/// base README uses 1 to 4).
const FIRST_FEATURE_RPC_ID: usize = 5;

/// Longest line the generated Python statements that grow with the features
/// keep on one line before they are wrapped.
const MAX_PYTHON_LINE: usize = 100;

/// Words that say how to build something rather than what it is about
/// (whitespace-separated, sorted).
const STOP_WORDS: &str = "\
    a about add all allow allows an and any api apis app application apps are as at backend \
    based basic be build by can cli code command commandline complete create crud database db \
    design develop do endpoint endpoints for from full generate give handle handles has have \
    how http https i implement in into is it its json just keep keeps let lets line make \
    manage manages managing me minimal my need new of on or our please program project python \
    python3 quick rest restful script server service should simple site small so software some \
    sqlite stdlib system terminal test tested testing tests that the this tiny to tool track \
    tracks unit us use using via want we web webapp website what when where which will with \
    working would write you your";

/// Words shown in upper case in a title (whitespace-separated, sorted).
const ACRONYMS: &str = "\
    ai api cms crm css csv dns faq ftp gps html id ip isbn jwt kpi llm pdf qr rss seo sms sql \
    ssh ui uri url uuid ux vpn xml";

/// Python keywords and standard-library modules (plus a few names every
/// environment has) that a generated package must not shadow
/// (whitespace-separated, sorted).
const RESERVED_PACKAGES: &str = "\
    _ abc aifc and antigravity argparse array as assert ast async asynchat asyncio asyncore \
    atexit audioop await base64 bdb binascii bisect break builtins bz2 calendar case cgi cgitb \
    chunk class cmath cmd code codecs codeop collections colorsys compileall concurrent \
    configparser contextlib contextvars continue copy copyreg cprofile crypt csv ctypes curses \
    dataclasses datetime dbm decimal def del difflib dis distutils doctest elif else email \
    encodings ensurepip enum errno except false faulthandler fcntl filecmp fileinput finally \
    fnmatch for fractions from ftplib functools gc genericpath getopt getpass gettext glob \
    global graphlib grp gzip hashlib heapq hmac html http idlelib if imaplib imghdr imp import \
    importlib in inspect io ipaddress is itertools json keyword lambda lib2to3 linecache \
    locale logging lzma mailbox mailcap marshal match math mimetypes mmap modulefinder msilib \
    msvcrt multiprocessing netrc nis nntplib none nonlocal not nt ntpath nturl2path numbers \
    opcode operator optparse or os ossaudiodev pass pathlib pdb pickle pickletools pip pipes \
    pkg_resources pkgutil platform plistlib poplib posix posixpath pprint profile pstats pty \
    pwd py_compile pyclbr pydoc pydoc_data pyexpat queue quopri raise random re readline \
    reprlib resource return rlcompleter runpy sched secrets select selectors setuptools shelve \
    shlex shutil signal site smtpd smtplib sndhdr socket socketserver spwd sqlite3 sre_compile \
    sre_constants sre_parse ssl stat statistics string stringprep struct subprocess sunau \
    symtable sys sysconfig syslog tabnanny tarfile telnetlib tempfile termios test tests \
    textwrap this threading time timeit tkinter token tokenize tomllib trace traceback \
    tracemalloc true try tty turtle turtledemo types typing unicodedata unittest urllib uu \
    uuid venv warnings wave weakref webbrowser wheel while winreg winsound with wsgiref xdrlib \
    xml xmlrpc yield zipapp zipfile zipimport zlib zoneinfo";

/// Known domains: trigger words, then the resource's singular, plural and field.
const DOMAINS: &[(&[&str], &str, &str, &str)] = &[
    (
        &["shortener", "shorten", "url", "urls", "link", "links"],
        "link",
        "links",
        "url",
    ),
    (
        &["todo", "todos", "task", "tasks"],
        "task",
        "tasks",
        "title",
    ),
    (&["note", "notes"], "note", "notes", "text"),
    (&["bookmark", "bookmarks"], "bookmark", "bookmarks", "url"),
    (
        &["blog", "blogs", "post", "posts"],
        "post",
        "posts",
        "title",
    ),
    (
        &["contact", "contacts", "addressbook"],
        "contact",
        "contacts",
        "name",
    ),
    (
        &["inventory", "product", "products"],
        "product",
        "products",
        "name",
    ),
];

/// Whether `word` is one of the whitespace-separated words in `list`.
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|entry| entry == word)
}

/// At most this many words of the prompt make the title.
const MAX_TITLE_WORDS: usize = 4;
/// At most this many characters make the title.
const MAX_TITLE_CHARS: usize = 60;
/// At most this many bytes make the package name (before any suffix).
const MAX_PACKAGE_LEN: usize = 40;

/// Names derived from the prompt's nouns.
///
/// `title` is human-readable (sentence case, known acronyms upper-cased,
/// may contain non-ASCII letters), e.g. `"URL shortener"`. `package` is an
/// ASCII snake_case Python identifier that shadows no keyword or
/// standard-library module, e.g. `"url_shortener"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// Human-readable project title, e.g. `"URL shortener"`.
    pub title: String,
    /// Python package name, matching `[a-z][a-z0-9_]*`, e.g. `"url_shortener"`.
    pub package: String,
    /// The one kind of record the project keeps.
    pub resource: Resource,
}

/// The one kind of record a generated project keeps.
///
/// All three are lowercase ASCII Python identifiers; records look like
/// `{"id": int, FIELD: str}` and the REST collection is `/PLURAL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// One record, e.g. `"link"`.
    pub singular: String,
    /// The collection, e.g. `"links"`; also the SQL table name.
    pub plural: String,
    /// The record's one text field, e.g. `"url"` (a `"url"` field must be http(s)).
    pub field: String,
}

/// Languages the offline team's demo (Python) is not, as prompt words, with
/// the name said back: `(words, name)`. Ambiguous short words (`go`, `c`, `r`,
/// `js`) count only in a phrase (`in go`, `go cli`).
const OTHER_LANGUAGES: [(&str, &str); 24] = [
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
const OTHER_KINDS: [(&str, &str); 12] = [
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

/// Derives [`Names`] from a free-text prompt, deterministically.
///
/// The prompt is lowercased and split on anything that is not a letter or
/// digit; filler words ("build", "a", "rest", "api", "tests", ...) are
/// dropped. The title is the first run of remaining words (at most four),
/// the package is that run folded to ASCII snake_case, and the first
/// remaining word found in a small table of known domains picks the
/// resource (else `item`/`items`/`name`). With no words left the title is
/// `"Items"` and the package `"app"`.
///
/// `"Build a URL shortener REST API with tests"` gives title
/// `"URL shortener"`, package `"url_shortener"`, resource `link`/`links`/`url`.
pub fn names_from_prompt(prompt: &str) -> Names {
    let words = tokenize(prompt);
    let kept: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|word| !listed(STOP_WORDS, word))
        .collect();
    let phrase = first_phrase(&words);
    let title = if phrase.is_empty() {
        String::from("Items")
    } else {
        title_from(&phrase)
    };
    Names {
        title,
        package: package_from(&phrase),
        resource: resource_from(&kept),
    }
}

/// Lowercases `prompt` and splits it into words of letters and digits,
/// without apostrophes, with "to do" joined into "todo".
fn tokenize(prompt: &str) -> Vec<String> {
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

/// The first run of consecutive non-filler words, capped in words and characters.
fn first_phrase(words: &[String]) -> Vec<String> {
    let run = words
        .iter()
        .skip_while(|word| listed(STOP_WORDS, word))
        .take_while(|word| !listed(STOP_WORDS, word))
        .take(MAX_TITLE_WORDS);
    let mut phrase: Vec<String> = Vec::new();
    let mut chars = 0;
    for word in run {
        let len = word.chars().count();
        if phrase.is_empty() {
            phrase.push(word.chars().take(MAX_TITLE_CHARS).collect());
            chars = len.min(MAX_TITLE_CHARS);
        } else if chars + 1 + len <= MAX_TITLE_CHARS {
            phrase.push(word.clone());
            chars += 1 + len;
        } else {
            break;
        }
    }
    phrase
}

/// Sentence case with known acronyms upper-cased: `["url", "shortener"]` -> `"URL shortener"`.
fn title_from(phrase: &[String]) -> String {
    let cased: Vec<String> = phrase
        .iter()
        .enumerate()
        .map(|(index, word)| {
            if listed(ACRONYMS, word) {
                word.to_uppercase()
            } else if index == 0 {
                capitalize(word)
            } else {
                word.clone()
            }
        })
        .collect();
    cased.join(" ")
}

/// Upper-cases the first character: `"link"` -> `"Link"`.
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A safe Python package name for `phrase`: ASCII snake_case, never empty,
/// never starting with a digit, never a keyword or standard-library module.
fn package_from(phrase: &[String]) -> String {
    let mut package = String::new();
    for word in phrase.iter().map(|word| ascii_fold(word)) {
        if word.is_empty() {
            continue;
        }
        if package.is_empty() {
            package = word.chars().take(MAX_PACKAGE_LEN).collect();
        } else if package.len() + 1 + word.len() <= MAX_PACKAGE_LEN {
            package.push('_');
            package.push_str(&word);
        } else {
            break;
        }
    }
    if package.is_empty() {
        return String::from("app");
    }
    if package.starts_with(|c: char| c.is_ascii_digit()) {
        package.insert_str(0, "app_");
    }
    if listed(RESERVED_PACKAGES, &package) {
        package.push_str("_app");
    }
    package
}

/// Keeps ASCII letters and digits, folds common accented Latin letters
/// (`"café"` -> `"cafe"`) and drops everything else.
fn ascii_fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
            'æ' => "ae",
            'ç' | 'ć' | 'č' => "c",
            'ď' | 'đ' | 'ð' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
            'ğ' => "g",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => "i",
            'ł' => "l",
            'ñ' | 'ń' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
            'œ' => "oe",
            'ř' => "r",
            'ś' | 'š' | 'ş' => "s",
            'ß' => "ss",
            'ť' | 'ţ' => "t",
            'þ' => "th",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
            'ý' | 'ÿ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

/// The resource of the first word (in prompt order) that names a known domain.
fn resource_from(words: &[&str]) -> Resource {
    for (index, word) in words.iter().enumerate() {
        let address_book =
            *word == "address" && matches!(words.get(index + 1), Some(&"book") | Some(&"books"));
        let domain = if address_book {
            DOMAINS
                .iter()
                .find(|(_, singular, _, _)| *singular == "contact")
        } else {
            DOMAINS
                .iter()
                .find(|(triggers, ..)| triggers.contains(word))
        };
        if let Some((_, singular, plural, field)) = domain {
            return Resource {
                singular: (*singular).to_owned(),
                plural: (*plural).to_owned(),
                field: (*field).to_owned(),
            };
        }
    }
    Resource {
        singular: String::from("item"),
        plural: String::from("items"),
        field: String::from("name"),
    }
}

/// Where the generated project keeps its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// A SQLite database through Python's `sqlite3` (default file `PKG.db`).
    Sqlite,
    /// One JSON file rewritten atomically on every change (default file `PKG.json`).
    JsonFile,
}

impl Storage {
    /// Option ids, in the order of the variants: `"sqlite"`, `"json-file"`.
    pub const OPTIONS: [&'static str; 2] = ["sqlite", "json-file"];

    /// The variant for an option id from [`Storage::OPTIONS`], or `None`.
    pub fn from_option(id: &str) -> Option<Storage> {
        match id {
            "sqlite" => Some(Storage::Sqlite),
            "json-file" => Some(Storage::JsonFile),
            _ => None,
        }
    }

    /// This variant's option id, one of [`Storage::OPTIONS`].
    pub fn option(self) -> &'static str {
        match self {
            Storage::Sqlite => Self::OPTIONS[0],
            Storage::JsonFile => Self::OPTIONS[1],
        }
    }
}

/// The shape of the generated project's HTTP API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiStyle {
    /// Resource routes: `GET/POST /PLURAL`, `GET/DELETE /PLURAL/<id>`.
    Rest,
    /// JSON-RPC 2.0 at `POST /rpc` with methods `create`, `get`, `list`, `delete`.
    Rpc,
}

impl ApiStyle {
    /// Option ids, in the order of the variants: `"rest"`, `"rpc"`.
    pub const OPTIONS: [&'static str; 2] = ["rest", "rpc"];

    /// The variant for an option id from [`ApiStyle::OPTIONS`], or `None`.
    pub fn from_option(id: &str) -> Option<ApiStyle> {
        match id {
            "rest" => Some(ApiStyle::Rest),
            "rpc" => Some(ApiStyle::Rpc),
            _ => None,
        }
    }

    /// This variant's option id, one of [`ApiStyle::OPTIONS`].
    pub fn option(self) -> &'static str {
        match self {
            ApiStyle::Rest => Self::OPTIONS[0],
            ApiStyle::Rpc => Self::OPTIONS[1],
        }
    }
}

/// A change a follow-up session can make to an existing project.
///
/// Each feature touches the store, the HTTP API (REST or JSON-RPC), the
/// command line, the README and the tests of all three; see
/// [`render_with`]. Variants are ordered as they are applied.
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
const FEATURE_KEYWORDS: [(Feature, &str); 3] = [
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
    fn marker(self) -> &'static str {
        match self {
            Feature::Clear => "\n    def clear(self):\n",
            Feature::Count => "\n    def count(self):\n",
            Feature::Search => "\n    def search(self, text):\n",
        }
    }

    /// The feature's template: `@@ SLOT` sections, one per slot it fills.
    fn template(self) -> &'static str {
        match self {
            Feature::Clear => FEATURE_CLEAR,
            Feature::Count => FEATURE_COUNT,
            Feature::Search => FEATURE_SEARCH,
        }
    }
}

/// One generated file; `owner` is the agent role that writes it: "pm", "backend", "frontend" or "qa".
///
/// `path` is relative to the project root with `/` separators (e.g.
/// `"url_shortener/store.py"`); `content` is UTF-8 text ending in a newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectFile {
    /// Path relative to the project root, `/`-separated.
    pub path: String,
    /// The role that writes the file: "pm", "backend", "frontend" or "qa".
    pub owner: &'static str,
    /// The whole file.
    pub content: String,
}

/// Renders the whole project for `names` with the chosen decisions.
///
/// Returns 11 files sorted by path: `.gitignore` and `README.md` (pm),
/// `PKG/__init__.py`, `PKG/store.py` and `PKG/server.py` (backend),
/// `PKG/__main__.py` and `PKG/cli.py` (frontend), and `tests/__init__.py`,
/// `tests/test_cli.py`, `tests/test_server.py` and `tests/test_store.py`
/// (qa), where PKG is `names.package`.
/// The output depends only on the arguments. `names` should come from
/// [`names_from_prompt`], which guarantees identifier-safe names.
pub fn render(names: &Names, storage: Storage, api: ApiStyle) -> Vec<ProjectFile> {
    render_with(names, storage, api, &[])
}

/// [`render`] plus the given follow-up [`Feature`]s.
///
/// Returns the same 11 paths with the same owners as [`render`]; each
/// feature extends `PKG/store.py`, `PKG/server.py` (backend), `PKG/cli.py`
/// (frontend), `README.md` (pm) and `tests/test_store.py`,
/// `tests/test_server.py` and `tests/test_cli.py` (qa) with its code, its
/// documentation and its tests. The other four files never change. The
/// order and repetitions of `features` do not matter, and with no features
/// the result is exactly [`render`]'s. So rendering an existing project
/// (see [`detect`]) again with one more feature changes exactly the lines
/// that feature needs.
pub fn render_with(
    names: &Names,
    storage: Storage,
    api: ApiStyle,
    features: &[Feature],
) -> Vec<ProjectFile> {
    let mut features = features.to_vec();
    features.sort_unstable();
    features.dedup();
    let vars = variables(names, storage, api, &features);
    let pkg = &names.package;
    let store = match storage {
        Storage::Sqlite => STORE_SQLITE,
        Storage::JsonFile => STORE_JSON,
    };
    let (server, test_server) = match api {
        ApiStyle::Rest => (SERVER_REST, TEST_SERVER_REST),
        ApiStyle::Rpc => (SERVER_RPC, TEST_SERVER_RPC),
    };
    let file = |path: String, owner: &'static str, template: &str| ProjectFile {
        path,
        owner,
        content: substitute(template, &vars),
    };
    let mut files = vec![
        file(String::from("README.md"), "pm", README),
        file(String::from(".gitignore"), "pm", GITIGNORE),
        file(format!("{pkg}/__init__.py"), "backend", INIT_PY),
        file(format!("{pkg}/store.py"), "backend", store),
        file(format!("{pkg}/server.py"), "backend", server),
        file(format!("{pkg}/cli.py"), "frontend", CLI_PY),
        file(format!("{pkg}/__main__.py"), "frontend", MAIN_PY),
        file(String::from("tests/__init__.py"), "qa", TESTS_INIT),
        file(String::from("tests/test_store.py"), "qa", TEST_STORE),
        file(String::from("tests/test_server.py"), "qa", test_server),
        file(String::from("tests/test_cli.py"), "qa", TEST_CLI),
    ];
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// What an existing project generated by [`render_with`] (or [`render`]) is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    /// The project's names, as [`names_from_prompt`] made them.
    pub names: Names,
    /// Where it keeps its records.
    pub storage: Storage,
    /// The shape of its HTTP API.
    pub api: ApiStyle,
    /// The features it already has, sorted.
    pub features: Vec<Feature>,
}

/// Reads back what an existing generated project is from its files.
///
/// `files` are `(path, content)` pairs, paths relative to the project root
/// with `/` separators. The package is a top-level directory whose name is
/// a Python identifier and which holds `store.py` and `server.py`; the
/// resource's plural, singular and field come from `store.py`'s docstrings,
/// the storage from its imports (`sqlite3`, or `json` with `os.replace`),
/// the API style from the `ENDPOINT` in `server.py` (`"/rpc"` or
/// `"/PLURAL"`), the title from `README.md`'s first line (else
/// `PKG/__init__.py`'s docstring, else the package name), and the features
/// from the methods of the store class (`def clear(self):`,
/// `def count(self):`, `def search(self, text):`).
///
/// Returns `None` when the files are not such a project. A project that
/// was edited by hand may still be detected: compare
/// `render_with(&existing.names, existing.storage, existing.api,
/// &existing.features)` with the files before overwriting them.
pub fn detect(files: &[(String, String)]) -> Option<Existing> {
    let relative = |path: &str| path.trim_start_matches("./").to_owned();
    let content = |wanted: &str| {
        files
            .iter()
            .find(|(path, _)| relative(path) == wanted)
            .map(|(_, content)| content.as_str())
    };
    let mut packages: Vec<String> = files
        .iter()
        .filter_map(|(path, _)| relative(path).strip_suffix("/store.py").map(str::to_owned))
        .filter(|package| is_identifier(package))
        .collect();
    packages.sort_unstable();
    packages.dedup();
    packages.iter().find_map(|package| {
        let store = content(&format!("{package}/store.py"))?;
        let server = content(&format!("{package}/server.py"))?;
        let storage = if store.contains("\nimport sqlite3\n") {
            Storage::Sqlite
        } else if store.contains("\nimport json\n") && store.contains("os.replace(") {
            Storage::JsonFile
        } else {
            return None;
        };
        let plural = store
            .lines()
            .next()?
            .split_once(" storage for ")?
            .1
            .strip_suffix('.')?;
        let (singular, rest) =
            text_after(store, "\"\"\"Store a new ")?.split_once("; return its record ``")?;
        let field = text_after(rest, "{\"id\": int, \"")?.split_once('"')?.0;
        if ![plural, singular, field]
            .iter()
            .all(|name| is_identifier(name))
        {
            return None;
        }
        let api = if server.contains("\nENDPOINT = \"/rpc\"\n") {
            ApiStyle::Rpc
        } else if server.contains(&format!("\nENDPOINT = \"/{plural}\"\n")) {
            ApiStyle::Rest
        } else {
            return None;
        };
        let title = content("README.md")
            .and_then(|readme| readme.lines().next()?.strip_prefix("# "))
            .or_else(|| {
                text_after(content(&format!("{package}/__init__.py"))?, "\"\"\"")?
                    .split_once(": a small JSON API")
                    .map(|(title, _)| title)
            })
            .map(str::trim)
            .filter(|title| !title.is_empty())
            .map_or_else(|| capitalize(&package.replace('_', " ")), str::to_owned);
        Some(Existing {
            names: Names {
                title,
                package: package.clone(),
                resource: Resource {
                    singular: singular.to_owned(),
                    plural: plural.to_owned(),
                    field: field.to_owned(),
                },
            },
            storage,
            api,
            features: Feature::ALL
                .into_iter()
                .filter(|feature| store.contains(feature.marker()))
                .collect(),
        })
    })
}

/// Whether `name` matches `[a-z][a-z0-9_]*`, as generated names do.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The text after the first `marker` in `text`.
fn text_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|start| &text[start + marker.len()..])
}

/// Every placeholder value for one project: plain names first, then what
/// the `features` (sorted, without repetitions) add, then blocks rendered
/// from fragment templates with all of those.
fn variables(
    names: &Names,
    storage: Storage,
    api: ApiStyle,
    features: &[Feature],
) -> Vec<(&'static str, String)> {
    let resource = &names.resource;
    let is_url = resource.field == "url";
    let (default_ext, storage_label) = match storage {
        Storage::Sqlite => (".db", "SQLite"),
        Storage::JsonFile => (".json", "a JSON file"),
    };
    // Search terms for the samples: both match `search_both`; only
    // sample_b matches "SECOND" and the URL-encoded `search_query`.
    let (search_both, search_query) = if is_url {
        (
            String::from("example"),
            String::from("EXAMPLE.ORG%2FSECOND"),
        )
    } else {
        (
            resource.singular.clone(),
            format!("SECOND%20{}", resource.singular.to_ascii_uppercase()),
        )
    };
    let (sample_a, sample_b, invalid_sample) = if is_url {
        (
            String::from("https://example.com/first"),
            String::from("https://example.org/second"),
            String::from("ftp://example.com/file"),
        )
    } else {
        (
            format!("First {}", resource.singular),
            format!("Second {}", resource.singular),
            // A Python escape: the value holds a newline, which is refused.
            String::from("two\\nlines"),
        )
    };
    let mut vars: Vec<(&'static str, String)> = vec![
        ("title", names.title.clone()),
        ("package", names.package.clone()),
        ("PACKAGE_UPPER", names.package.to_ascii_uppercase()),
        ("singular", resource.singular.clone()),
        ("Singular", capitalize(&resource.singular)),
        ("plural", resource.plural.clone()),
        ("Plural", capitalize(&resource.plural)),
        ("field", resource.field.clone()),
        ("sample_a", sample_a),
        ("sample_b", sample_b),
        ("invalid_sample", invalid_sample),
        ("search_both", search_both),
        ("search_query", search_query),
        ("data_ext", String::from(default_ext)),
        ("default_file", format!("{}{default_ext}", names.package)),
        ("storage_label", String::from(storage_label)),
        (
            "api_label",
            String::from(match api {
                ApiStyle::Rest => "REST",
                ApiStyle::Rpc => "JSON-RPC 2.0",
            }),
        ),
        (
            "validate_imports",
            String::from(if is_url {
                "from urllib.parse import urlsplit"
            } else {
                ""
            }),
        ),
    ];
    vars.extend(feature_variables(&vars, features));
    let blocks: [(&'static str, &str); 7] = [
        (
            "validate_fn",
            if is_url { VALIDATE_URL } else { VALIDATE_TEXT },
        ),
        (
            "storage_tests",
            match storage {
                Storage::Sqlite => TEST_STORE_SQLITE,
                Storage::JsonFile => TEST_STORE_JSON,
            },
        ),
        (
            "storage_decision",
            match storage {
                Storage::Sqlite => {
                    "SQLite through the standard `sqlite3` module, one `{{plural}}` table in \
                     `{{default_file}}`: transactional, safe to share between threads, and ids \
                     are never reused."
                }
                Storage::JsonFile => {
                    "one JSON file, `{{default_file}}`, rewritten atomically (temporary file + \
                     `os.replace`) on every change: human-readable and needs no database."
                }
            },
        ),
        (
            "data_ignores",
            match storage {
                Storage::Sqlite => {
                    "/{{default_file}}\n/{{default_file}}-journal\n/{{default_file}}-wal\n/{{default_file}}-shm"
                }
                Storage::JsonFile => "/{{default_file}}\n/.{{default_file}}.*.tmp",
            },
        ),
        (
            "api_decision",
            match api {
                ApiStyle::Rest => {
                    "REST, one resource at `/{{plural}}` with plain HTTP status codes \
                     (201, 204, 400, 404, 405) and `{\"error\": \"...\"}` bodies."
                }
                ApiStyle::Rpc => {
                    "JSON-RPC 2.0 at `POST /rpc` with the methods {{rpc_method_list}}: one \
                     endpoint, standard error codes plus -32001 for an unknown id."
                }
            },
        ),
        (
            "readme_api",
            match api {
                ApiStyle::Rest => README_REST,
                ApiStyle::Rpc => README_RPC,
            },
        ),
        (
            "cli_fetch_all",
            match api {
                ApiStyle::Rest => TEST_CLI_REST,
                ApiStyle::Rpc => TEST_CLI_RPC,
            },
        ),
    ];
    let rendered: Vec<(&'static str, String)> = blocks
        .iter()
        .map(|(name, template)| (*name, substitute(template, &vars)))
        .collect();
    vars.extend(rendered);
    vars
}

/// The placeholder values `features` (sorted, without repetitions) decide,
/// given the plain name variables `vars`: inline lists that grow with the
/// features, then one block per slot in [`FEATURE_SLOTS`] (empty when no
/// feature fills it).
fn feature_variables(
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

/// The section `@@ slot` of a feature template: the lines after that
/// marker up to the next `@@ ` line, leading blank lines kept and trailing
/// ones dropped; empty when the template has no such section.
fn section<'a>(template: &'a str, slot: &str) -> &'a str {
    let mut start = None;
    let mut offset = 0;
    for line in template.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        if let Some(name) = bare.strip_prefix("@@ ") {
            if let Some(begin) = start {
                return trim_trailing_blank_lines(&template[begin..offset]);
            }
            if name == slot {
                start = Some(offset + line.len());
            }
        }
        offset += line.len();
    }
    start.map_or("", |begin| trim_trailing_blank_lines(&template[begin..]))
}

/// `text` without its trailing blank lines, still ending with a newline;
/// empty if it is all blank.
fn trim_trailing_blank_lines(text: &str) -> &str {
    let kept = text.trim_end_matches('\n').len();
    if text[..kept].trim().is_empty() {
        ""
    } else {
        &text[..(kept + 1).min(text.len())]
    }
}

/// The words in backticks, joined with commas and a final "and":
/// `` `a`, `b` and `c` ``.
fn english_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// A Python dictionary `NAME = {"key": _key, ...}` mapping each key to the
/// function of the same name with a leading underscore: on one line if it
/// fits in [`MAX_PYTHON_LINE`] characters, else one entry per line.
fn python_dict(name: &str, keys: &[&str]) -> String {
    let entries: Vec<String> = keys
        .iter()
        .map(|key| format!("\"{key}\": _{key}"))
        .collect();
    let line = format!("{name} = {{{}}}", entries.join(", "));
    if line.len() <= MAX_PYTHON_LINE {
        return line;
    }
    let lines: String = entries
        .iter()
        .map(|entry| format!("    {entry},\n"))
        .collect();
    format!("{name} = {{\n{lines}}}")
}

/// Replaces each `{{name}}` in `template` with its value from `vars`.
///
/// A line holding nothing but a known `{{name}}` is a block: it becomes the
/// value followed by a newline, or disappears when the value is empty.
/// Unknown placeholders are left in place (tests catch them). Values are
/// inserted verbatim, never substituted again.
fn substitute(template: &str, vars: &[(&'static str, String)]) -> String {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    };
    let mut out = String::with_capacity(template.len() + template.len() / 4);
    for line in template.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        let block = bare
            .strip_prefix("{{")
            .and_then(|rest| rest.strip_suffix("}}"))
            .and_then(lookup);
        if let Some(value) = block {
            if !value.is_empty() {
                out.push_str(value);
                if !value.ends_with('\n') {
                    out.push('\n');
                }
            }
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let value = after
                .find("}}")
                .and_then(|end| lookup(&after[..end]).map(|value| (end, value)));
            match value {
                Some((end, value)) => {
                    out.push_str(value);
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    const URL_PROMPT: &str = "Build a URL shortener REST API with tests";
    const TODO_PROMPT: &str = "Build a CLI todo app";
    const ALL_COMBINATIONS: [(Storage, ApiStyle); 4] = [
        (Storage::Sqlite, ApiStyle::Rest),
        (Storage::Sqlite, ApiStyle::Rpc),
        (Storage::JsonFile, ApiStyle::Rest),
        (Storage::JsonFile, ApiStyle::Rpc),
    ];
    const TEMPLATES: [(&str, &str); 25] = [
        ("README.md.tmpl", README),
        ("readme_rest.md.tmpl", README_REST),
        ("readme_rpc.md.tmpl", README_RPC),
        ("gitignore.tmpl", GITIGNORE),
        ("init.py.tmpl", INIT_PY),
        ("main.py.tmpl", MAIN_PY),
        ("cli.py.tmpl", CLI_PY),
        ("store_sqlite.py.tmpl", STORE_SQLITE),
        ("store_json.py.tmpl", STORE_JSON),
        ("validate_text.py.tmpl", VALIDATE_TEXT),
        ("validate_url.py.tmpl", VALIDATE_URL),
        ("server_rest.py.tmpl", SERVER_REST),
        ("server_rpc.py.tmpl", SERVER_RPC),
        ("tests_init.py.tmpl", TESTS_INIT),
        ("test_store.py.tmpl", TEST_STORE),
        ("test_store_sqlite.py.tmpl", TEST_STORE_SQLITE),
        ("test_store_json.py.tmpl", TEST_STORE_JSON),
        ("test_server_rest.py.tmpl", TEST_SERVER_REST),
        ("test_server_rpc.py.tmpl", TEST_SERVER_RPC),
        ("test_cli.py.tmpl", TEST_CLI),
        ("test_cli_rest.py.tmpl", TEST_CLI_REST),
        ("test_cli_rpc.py.tmpl", TEST_CLI_RPC),
        ("feature_clear.tmpl", FEATURE_CLEAR),
        ("feature_count.tmpl", FEATURE_COUNT),
        ("feature_search.tmpl", FEATURE_SEARCH),
    ];

    fn resource(singular: &str, plural: &str, field: &str) -> Resource {
        Resource {
            singular: singular.into(),
            plural: plural.into(),
            field: field.into(),
        }
    }

    fn is_python_identifier(name: &str) -> bool {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    #[test]
    fn url_shortener_prompt() {
        let names = names_from_prompt(URL_PROMPT);
        assert_eq!(names.title, "URL shortener");
        assert_eq!(names.package, "url_shortener");
        assert_eq!(names.resource, resource("link", "links", "url"));
    }

    #[test]
    fn todo_prompt() {
        let names = names_from_prompt(TODO_PROMPT);
        assert_eq!(names.title, "Todo");
        assert_eq!(names.package, "todo");
        assert_eq!(names.resource, resource("task", "tasks", "title"));
        assert_eq!(names_from_prompt("Make a to-do list").package, "todo_list");
    }

    #[test]
    fn empty_and_punctuation_only_prompts_fall_back() {
        for prompt in ["", "   ", "?!...", "Build a REST API with tests.", "🚀 ✨"] {
            let names = names_from_prompt(prompt);
            assert_eq!(names.title, "Items", "{prompt:?}");
            assert_eq!(names.package, "app", "{prompt:?}");
            assert_eq!(
                names.resource,
                resource("item", "items", "name"),
                "{prompt:?}"
            );
        }
    }

    #[test]
    fn non_ascii_prompts() {
        let names = names_from_prompt("Build a Café menu API");
        assert_eq!(names.title, "Café menu");
        assert_eq!(names.package, "cafe_menu");
        let names = names_from_prompt("Écrire des notes rapides");
        assert_eq!(names.package, "ecrire_des_notes_rapides");
        assert_eq!(names.resource, resource("note", "notes", "text"));
        let names = names_from_prompt("构建一个待办事项应用");
        assert_eq!(names.title, "构建一个待办事项应用");
        assert_eq!(names.package, "app");
    }

    #[test]
    fn punctuation_apostrophes_and_stop_words_are_dropped() {
        let names = names_from_prompt("Please write me a simple, tested recipe-box service!!!");
        assert_eq!(names.title, "Recipe box");
        assert_eq!(names.package, "recipe_box");
        let names = names_from_prompt("Build a user's bookmark manager with JSON storage");
        assert_eq!(names.title, "Users bookmark manager");
        assert_eq!(names.resource, resource("bookmark", "bookmarks", "url"));
    }

    #[test]
    fn known_domains_shape_the_resource() {
        let cases = [
            ("Create a link tracker", ("link", "links", "url")),
            ("Build a task board", ("task", "tasks", "title")),
            ("Simple notes app", ("note", "notes", "text")),
            ("Bookmarks service", ("bookmark", "bookmarks", "url")),
            ("Write a blog engine", ("post", "posts", "title")),
            ("Build an address book", ("contact", "contacts", "name")),
            ("Contacts CLI", ("contact", "contacts", "name")),
            ("Inventory management", ("product", "products", "name")),
            ("Build a recipe box", ("item", "items", "name")),
        ];
        for (prompt, (singular, plural, field)) in cases {
            assert_eq!(
                names_from_prompt(prompt).resource,
                resource(singular, plural, field),
                "{prompt:?}"
            );
        }
    }

    #[test]
    fn packages_never_shadow_python_names() {
        assert_eq!(names_from_prompt("Build a queue").package, "queue_app");
        assert_eq!(
            names_from_prompt("Make a string tool").package,
            "string_app"
        );
        assert_eq!(names_from_prompt("email").package, "email_app");
        assert_eq!(names_from_prompt("select").package, "select_app");
        assert_eq!(names_from_prompt("Lambda").package, "lambda_app");
        assert_eq!(
            names_from_prompt("Build a 2048 game").package,
            "app_2048_game"
        );
        assert_eq!(names_from_prompt("email sender").package, "email_sender");
        assert_eq!(
            names_from_prompt("Build an app to manage contacts").title,
            "Contacts"
        );
    }

    #[test]
    fn titles_and_packages_are_bounded() {
        let long = "word ".repeat(50) + &"x".repeat(300);
        for prompt in [long.as_str(), &"y".repeat(500)] {
            let names = names_from_prompt(prompt);
            assert!(names.title.chars().count() <= MAX_TITLE_CHARS, "{names:?}");
            assert!(
                names.title.split(' ').count() <= MAX_TITLE_WORDS,
                "{names:?}"
            );
            assert!(names.package.len() <= MAX_PACKAGE_LEN + 4, "{names:?}");
        }
    }

    #[test]
    fn names_are_deterministic_and_identifiers() {
        let prompts = [
            URL_PROMPT,
            TODO_PROMPT,
            "",
            "!!!",
            "Build a Café menu API",
            "123",
            "tests",
            "Make a JSON http string queue",
            "ünïcödé ñame",
            "class def return",
        ];
        for prompt in prompts {
            let names = names_from_prompt(prompt);
            assert_eq!(names, names_from_prompt(prompt));
            assert!(
                is_python_identifier(&names.package),
                "{prompt:?} -> {names:?}"
            );
            assert!(!listed(RESERVED_PACKAGES, &names.package), "{names:?}");
            assert!(!names.title.is_empty());
            for part in [
                &names.resource.singular,
                &names.resource.plural,
                &names.resource.field,
            ] {
                assert!(is_python_identifier(part), "{names:?}");
            }
        }
    }

    #[test]
    fn options_round_trip() {
        for id in Storage::OPTIONS {
            assert_eq!(Storage::from_option(id).map(Storage::option), Some(id));
        }
        for id in ApiStyle::OPTIONS {
            assert_eq!(ApiStyle::from_option(id).map(ApiStyle::option), Some(id));
        }
        assert_eq!(Storage::from_option("postgres"), None);
        assert_eq!(ApiStyle::from_option("REST"), None);
        assert_eq!(Storage::Sqlite.option(), "sqlite");
        assert_eq!(Storage::JsonFile.option(), "json-file");
        assert_eq!(ApiStyle::Rpc.option(), "rpc");
    }

    #[test]
    fn substitute_replaces_known_and_keeps_unknown_placeholders() {
        let vars = vec![
            ("a", String::from("1")),
            ("empty", String::new()),
            ("block", String::from("x\ny")),
        ];
        assert_eq!(substitute("{{a}}+{{a}}={{b}}\n", &vars), "1+1={{b}}\n");
        assert_eq!(
            substitute("keep {{ braces }} and {{", &vars),
            "keep {{ braces }} and {{"
        );
        assert_eq!(substitute("one\n{{empty}}\ntwo\n", &vars), "one\ntwo\n");
        assert_eq!(substitute("one\n{{block}}\ntwo", &vars), "one\nx\ny\ntwo");
        assert_eq!(substitute("  {{empty}}\n", &vars), "  \n");
        // Values are inserted verbatim, never expanded again.
        let nested = [("a", String::from("{{a}}"))];
        assert_eq!(substitute("x {{a}}", &nested), "x {{a}}");
    }

    #[test]
    fn every_template_placeholder_is_known() {
        let names = names_from_prompt(URL_PROMPT);
        let mut known: BTreeSet<&str> =
            variables(&names, Storage::Sqlite, ApiStyle::Rest, &Feature::ALL)
                .iter()
                .map(|(name, _)| *name)
                .collect();
        // Set per feature while its sections are rendered.
        known.insert("rpc_id");
        for (file, template) in TEMPLATES {
            let mut rest = template;
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let end = after.find("}}").expect("unclosed placeholder");
                assert!(
                    known.contains(&after[..end]),
                    "{file}: unknown placeholder {{{{{}}}}}",
                    &after[..end]
                );
                rest = &after[end + 2..];
            }
        }
    }

    #[test]
    fn templates_are_tidy() {
        for (file, template) in TEMPLATES {
            assert!(template.ends_with('\n'), "{file} must end with a newline");
            for (number, line) in template.lines().enumerate() {
                assert!(!line.contains('\t'), "{file}:{} has a tab", number + 1);
                assert_eq!(
                    line.trim_end(),
                    line,
                    "{file}:{} trailing space",
                    number + 1
                );
            }
        }
    }

    #[test]
    fn render_is_deterministic_sorted_and_complete() {
        for prompt in [URL_PROMPT, TODO_PROMPT, "", "Build a notes service"] {
            let names = names_from_prompt(prompt);
            for (storage, api) in ALL_COMBINATIONS {
                let files = render(&names, storage, api);
                assert_eq!(files, render(&names, storage, api));
                let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
                let mut sorted = paths.clone();
                sorted.sort_unstable();
                assert_eq!(paths, sorted);
                let pkg = &names.package;
                let expected = [
                    ".gitignore".to_owned(),
                    "README.md".to_owned(),
                    format!("{pkg}/__init__.py"),
                    format!("{pkg}/__main__.py"),
                    format!("{pkg}/cli.py"),
                    format!("{pkg}/server.py"),
                    format!("{pkg}/store.py"),
                    "tests/__init__.py".to_owned(),
                    "tests/test_cli.py".to_owned(),
                    "tests/test_server.py".to_owned(),
                    "tests/test_store.py".to_owned(),
                ];
                let mut expected = expected.to_vec();
                expected.sort();
                assert_eq!(paths, expected);
                for file in &files {
                    assert!(
                        ["pm", "backend", "frontend", "qa"].contains(&file.owner),
                        "{}: owner {}",
                        file.path,
                        file.owner
                    );
                    assert!(
                        !file.content.contains("{{"),
                        "{}: placeholder left",
                        file.path
                    );
                    assert!(file.content.ends_with('\n'), "{}", file.path);
                    assert!(!file.content.contains("\n\n\n\n"), "{}", file.path);
                    assert!(!file.content.contains("/work/"), "{}", file.path);
                }
                let owner = |path: &str| files.iter().find(|f| f.path == path).unwrap().owner;
                assert_eq!(owner("README.md"), "pm");
                assert_eq!(owner(&format!("{pkg}/store.py")), "backend");
                assert_eq!(owner(&format!("{pkg}/cli.py")), "frontend");
                assert_eq!(owner("tests/test_store.py"), "qa");
            }
        }
    }

    #[test]
    fn render_reflects_the_decisions() {
        let names = names_from_prompt(URL_PROMPT);
        let content = |files: &[ProjectFile], path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .unwrap()
                .content
                .clone()
        };
        let sqlite_rest = render(&names, Storage::Sqlite, ApiStyle::Rest);
        let json_rpc = render(&names, Storage::JsonFile, ApiStyle::Rpc);
        assert!(content(&sqlite_rest, "url_shortener/store.py").contains("import sqlite3"));
        assert!(content(&json_rpc, "url_shortener/store.py").contains("os.replace"));
        assert!(content(&sqlite_rest, "url_shortener/server.py").contains("\"/links\""));
        assert!(content(&json_rpc, "url_shortener/server.py").contains("-32601"));
        assert!(content(&sqlite_rest, "url_shortener/store.py").contains("URL_SHORTENER_DB"));
        let gitignore = content(&json_rpc, ".gitignore");
        assert!(
            gitignore.contains("__pycache__/\n") && gitignore.contains("/url_shortener.json\n")
        );
        let readme = content(&sqlite_rest, "README.md");
        assert!(readme.starts_with("# URL shortener\n"));
        assert!(readme.contains("python3 -m url_shortener serve --port 8000"));
        assert!(readme.contains("python3 -m unittest discover"));
        assert!(readme.contains("- Storage: SQLite"));
        assert!(readme.contains("- API: REST"));
        // A non-URL field must not require http(s).
        let todo = render(
            &names_from_prompt(TODO_PROMPT),
            Storage::Sqlite,
            ApiStyle::Rest,
        );
        assert!(!content(&todo, "todo/store.py").contains("urlsplit"));
    }

    /// Runs `python3 ARGS` in `dir` with a deadline; returns success and the
    /// combined output. Fails the test if python3 cannot be started.
    fn run_python(dir: &Path, args: &[&str]) -> (bool, String) {
        let logs = tempfile::tempdir().unwrap();
        let out_path = logs.path().join("stdout");
        let err_path = logs.path().join("stderr");
        let mut child = Command::new("python3")
            .args(args)
            .current_dir(dir)
            .env_remove("PYTHONPATH")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "python3 is required to check the generated project but could not be \
                     started ({error}); install Python 3.9 or newer"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(300);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!(
                    "python3 {args:?} timed out:\n{}",
                    fs::read_to_string(&err_path).unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output =
            fs::read_to_string(&out_path).unwrap() + &fs::read_to_string(&err_path).unwrap();
        (status.success(), output)
    }

    /// Every path under `dir` (files only, `/`-separated), skipping `__pycache__`.
    fn files_left(dir: &Path, prefix: &str, found: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let path = format!("{prefix}{name}");
            if entry.file_type().unwrap().is_dir() {
                if name != "__pycache__" {
                    files_left(&entry.path(), &format!("{path}/"), found);
                }
            } else {
                found.insert(path);
            }
        }
    }

    /// Writes `files` into a new temporary directory and runs
    /// `python3 -m unittest discover -v` there (and, if `alone`, each test
    /// module on its own); checks that everything passed and that the tests
    /// left no files behind. Returns how many tests discover ran, and its output.
    fn generated_tests_run(files: &[ProjectFile], label: &str, alone: bool) -> (usize, String) {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(&file.path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &file.content).unwrap();
        }
        let (ok, output) = run_python(dir.path(), &["-m", "unittest", "discover", "-v"]);
        assert!(ok, "{label}: generated tests failed:\n{output}");
        let ran: usize = output
            .lines()
            .find_map(|line| line.strip_prefix("Ran ")?.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{label}: no 'Ran N tests' line:\n{output}"));
        assert!(
            output.lines().any(|line| line == "OK"),
            "{label}: no OK line:\n{output}"
        );
        if alone {
            for module in ["tests.test_store", "tests.test_server", "tests.test_cli"] {
                let (ok, output) = run_python(dir.path(), &["-m", "unittest", module]);
                assert!(ok, "{label}: {module} alone failed:\n{output}");
            }
        }
        let mut left = BTreeSet::new();
        files_left(dir.path(), "", &mut left);
        let written: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(left, written, "{label}: the tests left files behind");
        (ran, output)
    }

    /// Writes the project for `prompt` in every combination and runs its tests.
    fn generated_tests_pass(prompt: &str) {
        let names = names_from_prompt(prompt);
        for (storage, api) in ALL_COMBINATIONS {
            let label = format!("{prompt:?} {} {}", storage.option(), api.option());
            let files = render(&names, storage, api);
            let (ran, output) = generated_tests_run(&files, &label, true);
            assert!(ran >= 12, "{label}: only {ran} tests ran:\n{output}");
        }
    }

    #[test]
    fn generated_url_shortener_tests_pass_in_python() {
        generated_tests_pass(URL_PROMPT);
    }

    #[test]
    fn generated_todo_tests_pass_in_python() {
        generated_tests_pass(TODO_PROMPT);
    }

    /// Every subset of [`Feature::ALL`], the empty one first.
    fn feature_sets() -> Vec<Vec<Feature>> {
        (0..1 << Feature::ALL.len())
            .map(|mask: usize| {
                Feature::ALL
                    .into_iter()
                    .enumerate()
                    .filter(|(index, _)| mask & (1 << index) != 0)
                    .map(|(_, feature)| feature)
                    .collect()
            })
            .collect()
    }

    /// `(path, content)` pairs, as [`detect`] takes them.
    fn as_pairs(files: &[ProjectFile]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|file| (file.path.clone(), file.content.clone()))
            .collect()
    }

    /// 64-bit FNV-1a of every path, owner and content, in order.
    fn fingerprint(files: &[ProjectFile]) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for file in files {
            for part in [file.path.as_str(), file.owner, file.content.as_str()] {
                for byte in part.bytes().chain([0]) {
                    hash ^= u64::from(byte);
                    hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
        hash
    }

    #[test]
    fn prompts_for_what_the_demo_is_not_are_named() {
        for (prompt, why) in [
            ("Rust CLI that counts words in files", "it asks for Rust"),
            ("a todo service in Go", "it asks for Go"),
            ("Build it in C++ please", "it asks for C++"),
            (
                "a React frontend for my notes",
                "it asks for a web frontend",
            ),
            ("a snake game", "it asks for a game"),
            (
                "a tool that counts words in files",
                "it asks for a word counter",
            ),
        ] {
            assert_eq!(unbuilt(prompt).as_deref(), Some(why), "{prompt}");
        }
        for prompt in [
            "Build a URL shortener REST API with tests",
            "a todo list I can go back to",
            "keep my bookmarks, with search and a count",
            "",
        ] {
            assert_eq!(unbuilt(prompt), None, "{prompt}");
        }
    }

    #[test]
    fn features_from_prompts() {
        use Feature::{Clear, Count, Search};
        let cases: [(&str, &[Feature]); 14] = [
            ("add a delete endpoint with tests", &[Clear]),
            ("how many links do we have? add a count", &[Count]),
            ("search and delete", &[Clear, Search]),
            ("make it faster", &[]),
            ("", &[]),
            ("let me search the links", &[Search]),
            ("add a count endpoint", &[Count]),
            ("Wipe everything, then show STATS", &[Clear, Count]),
            (
                "I want to look up tasks and purge old ones",
                &[Clear, Search],
            ),
            ("filter, find, query or lookup", &[Search]),
            ("How many? The total!", &[Count]),
            ("remove all, search all, count all", &[Clear, Count, Search]),
            ("a counter in the country", &[]),
            ("look at the searchlight", &[]),
        ];
        for (prompt, expected) in cases {
            assert_eq!(Feature::from_prompt(prompt), expected, "{prompt:?}");
        }
        let mut sorted = Feature::ALL.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, Feature::ALL);
        for feature in Feature::ALL {
            assert_eq!(Feature::from_prompt(feature.id()), [feature]);
            assert!(feature.describe().starts_with(feature.id()));
            assert!(!feature.describe().contains('\n'));
        }
    }

    #[test]
    fn render_with_no_features_is_render_byte_for_byte() {
        // Fingerprints of `render` before features existed (re-pinned when
        // the README said what the offline team is, issue 18): any change to
        // the base output (which apps compare by git blob id) fails here.
        // Last changed on purpose when the generated tests got faster: one
        // child process instead of three, a 5 ms server poll interval, then
        // the `serve` child started first (it boots while the in-process
        // tests run) and SQLite in WAL mode with synchronous=NORMAL, then
        // the command line's parser built once and no unittest.mock, then
        // one HTTP server per test class and no unittest.mock in any test.
        let pinned: [(&str, [u64; 4]); 2] = [
            (
                URL_PROMPT,
                [
                    0xcd65_5ff7_ec68_1ba9,
                    0x1a55_8f8e_1def_9504,
                    0x1ecb_c4ca_c08c_7b5d,
                    0x943b_fe5e_7d60_01c0,
                ],
            ),
            (
                TODO_PROMPT,
                [
                    0xf593_aa97_a8d5_3322,
                    0x343b_2ac2_12be_14c4,
                    0x7009_53c6_c8b5_6803,
                    0xcf64_9d76_3230_750f,
                ],
            ),
        ];
        for (prompt, fingerprints) in pinned {
            let names = names_from_prompt(prompt);
            for ((storage, api), pinned) in ALL_COMBINATIONS.into_iter().zip(fingerprints) {
                let base = render(&names, storage, api);
                assert_eq!(render_with(&names, storage, api, &[]), base);
                assert_eq!(
                    fingerprint(&base),
                    pinned,
                    "{prompt:?} {storage:?} {api:?}: render output changed (now {:#x})",
                    fingerprint(&base)
                );
            }
        }
        for prompt in ["", "Build a notes service", "Contacts CLI"] {
            let names = names_from_prompt(prompt);
            for (storage, api) in ALL_COMBINATIONS {
                assert_eq!(
                    render_with(&names, storage, api, &[]),
                    render(&names, storage, api)
                );
            }
        }
    }

    #[test]
    fn render_with_is_deterministic_and_ignores_order_and_repeats() {
        use Feature::{Clear, Count, Search};
        let names = names_from_prompt(URL_PROMPT);
        for (storage, api) in ALL_COMBINATIONS {
            let all = render_with(&names, storage, api, &Feature::ALL);
            assert_eq!(all, render_with(&names, storage, api, &Feature::ALL));
            assert_eq!(
                all,
                render_with(&names, storage, api, &[Search, Clear, Count, Search, Clear])
            );
            assert_ne!(all, render(&names, storage, api));
        }
    }

    #[test]
    fn features_extend_the_existing_files() {
        for prompt in [URL_PROMPT, TODO_PROMPT] {
            let names = names_from_prompt(prompt);
            let pkg = &names.package;
            let mut touched: Vec<String> = vec![
                "README.md".to_owned(),
                format!("{pkg}/cli.py"),
                format!("{pkg}/server.py"),
                format!("{pkg}/store.py"),
                "tests/test_cli.py".to_owned(),
                "tests/test_server.py".to_owned(),
                "tests/test_store.py".to_owned(),
            ];
            touched.sort();
            for (storage, api) in ALL_COMBINATIONS {
                let base = render(&names, storage, api);
                for features in feature_sets().into_iter().skip(1) {
                    let label = format!("{prompt:?} {storage:?} {api:?} {features:?}");
                    let files = render_with(&names, storage, api, &features);
                    let paths = |files: &[ProjectFile]| -> Vec<(String, &str)> {
                        files.iter().map(|f| (f.path.clone(), f.owner)).collect()
                    };
                    assert_eq!(paths(&files), paths(&base), "{label}");
                    let changed: Vec<String> = files
                        .iter()
                        .zip(&base)
                        .filter(|(new, old)| new.content != old.content)
                        .map(|(new, _)| new.path.clone())
                        .collect();
                    assert_eq!(changed, touched, "{label}");
                    for (new, old) in files.iter().zip(&base) {
                        assert!(!new.content.contains("{{"), "{label} {}", new.path);
                        assert!(!new.content.contains("@@ "), "{label} {}", new.path);
                        assert!(!new.content.contains("\n\n\n\n"), "{label} {}", new.path);
                        assert!(new.content.ends_with('\n'), "{label} {}", new.path);
                        // Lines a feature adds stay within 100 columns and
                        // use spaces only.
                        if new.path.ends_with(".py") {
                            let before: BTreeSet<&str> = old.content.lines().collect();
                            for line in new.content.lines().filter(|l| !before.contains(l)) {
                                assert!(line.chars().count() <= 100, "{label}: {line}");
                                assert!(!line.contains('\t'), "{label}: {line}");
                                assert_eq!(line.trim_end(), line, "{label}: {line:?}");
                            }
                        }
                    }
                    let content =
                        |path: &str| &files.iter().find(|f| f.path == path).unwrap().content;
                    let readme = content("README.md");
                    for feature in &features {
                        assert!(readme.contains(feature.describe()), "{label}");
                        assert!(
                            content(&format!("{pkg}/store.py")).contains(feature.marker()),
                            "{label}"
                        );
                        assert!(
                            content(&format!("{pkg}/cli.py"))
                                .contains(&format!("\"{0}\": _{0},", feature.id())),
                            "{label}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn feature_templates_fill_known_slots() {
        let project_templates: Vec<&str> = TEMPLATES
            .iter()
            .filter(|(file, _)| !file.starts_with("feature_"))
            .map(|(_, template)| *template)
            .collect();
        for slot in FEATURE_SLOTS {
            let line = format!("\n{{{{{slot}}}}}\n");
            let uses = project_templates
                .iter()
                .filter(|template| template.contains(&line))
                .count();
            assert!(uses >= 1, "no template has a {{{{{slot}}}}} line");
        }
        for feature in Feature::ALL {
            let mut seen = BTreeSet::new();
            for line in feature.template().lines() {
                if let Some(name) = line.strip_prefix("@@ ") {
                    assert!(
                        FEATURE_SLOTS.contains(&name),
                        "{feature:?}: unknown slot {name}"
                    );
                    assert!(seen.insert(name), "{feature:?}: slot {name} twice");
                }
            }
            assert!(feature.template().starts_with("@@ "), "{feature:?}");
            for slot in [
                "sqlite_features",
                "json_features",
                "test_store_memory",
                "test_cli",
            ] {
                assert!(
                    !section(feature.template(), slot).is_empty(),
                    "{feature:?} {slot}"
                );
            }
        }
        let template = "@@ a\n\nx\n\n@@ b\ny\n@@ c\n\n\n@@ d\nz";
        assert_eq!(section(template, "a"), "\nx\n");
        assert_eq!(section(template, "b"), "y\n");
        assert_eq!(section(template, "c"), "");
        assert_eq!(section(template, "d"), "z");
        assert_eq!(section(template, "e"), "");
    }

    #[test]
    fn english_lists() {
        assert_eq!(english_list(&[]), "");
        assert_eq!(english_list(&["a"]), "`a`");
        assert_eq!(english_list(&["a", "b", "c"]), "`a`, `b` and `c`");
    }

    #[test]
    fn python_dicts_wrap_when_long() {
        assert_eq!(
            python_dict("METHODS", &["create", "get"]),
            "METHODS = {\"create\": _create, \"get\": _get}"
        );
        let long = python_dict(
            "COMMANDS",
            &["add", "list", "show", "remove", "clear", "serve"],
        );
        assert!(
            long.starts_with("COMMANDS = {\n    \"add\": _add,\n"),
            "{long}"
        );
        assert!(long.ends_with("    \"serve\": _serve,\n}"), "{long}");
    }

    #[test]
    fn detect_round_trips_every_project() {
        let prompts = [
            URL_PROMPT,
            TODO_PROMPT,
            "",
            "Build a notes service",
            "Build a Café menu API",
            "Contacts CLI",
            "Build a 2048 game",
            "Build a queue",
        ];
        for prompt in prompts {
            let names = names_from_prompt(prompt);
            for (storage, api) in ALL_COMBINATIONS {
                for features in feature_sets() {
                    let files = as_pairs(&render_with(&names, storage, api, &features));
                    let expected = Existing {
                        names: names.clone(),
                        storage,
                        api,
                        features: features.clone(),
                    };
                    assert_eq!(
                        detect(&files).as_ref(),
                        Some(&expected),
                        "{prompt:?} {storage:?} {api:?} {features:?}"
                    );
                }
            }
        }
        let url = detect(&as_pairs(&render(
            &names_from_prompt(URL_PROMPT),
            Storage::JsonFile,
            ApiStyle::Rpc,
        )))
        .unwrap();
        assert_eq!(url.names.title, "URL shortener");
        assert_eq!(url.names.package, "url_shortener");
        assert_eq!(url.names.resource, resource("link", "links", "url"));
        let todo = detect(&as_pairs(&render(
            &names_from_prompt(TODO_PROMPT),
            Storage::Sqlite,
            ApiStyle::Rest,
        )))
        .unwrap();
        assert_eq!(todo.names.title, "Todo");
        assert_eq!(todo.names.package, "todo");
        assert_eq!(todo.names.resource, resource("task", "tasks", "title"));
        assert_eq!(todo.features, []);
    }

    #[test]
    fn detect_tolerates_other_files_and_missing_docs() {
        let names = names_from_prompt(URL_PROMPT);
        let files = as_pairs(&render_with(
            &names,
            Storage::Sqlite,
            ApiStyle::Rest,
            &[Feature::Count],
        ));
        let expected = detect(&files).unwrap();
        // Extra files, "./" prefixes and any order.
        let mut noisy: Vec<(String, String)> = files
            .iter()
            .rev()
            .map(|(path, content)| (format!("./{path}"), content.clone()))
            .collect();
        noisy.push(("notes/todo.txt".into(), "later\n".into()));
        noisy.push(("url_shortener.db".into(), String::new()));
        noisy.push(("vendor/lib/store.py".into(), "x = 1\n".into()));
        assert_eq!(detect(&noisy).as_ref(), Some(&expected));
        // The title falls back to __init__.py, then to the package.
        let no_readme: Vec<(String, String)> = files
            .iter()
            .filter(|(path, _)| path != "README.md")
            .cloned()
            .collect();
        assert_eq!(detect(&no_readme).as_ref(), Some(&expected));
        let bare: Vec<(String, String)> = no_readme
            .into_iter()
            .filter(|(path, _)| path != "url_shortener/__init__.py")
            .collect();
        assert_eq!(detect(&bare).unwrap().names.title, "Url shortener");
    }

    #[test]
    fn detect_rejects_other_file_sets() {
        let rust_crate: Vec<(String, String)> = vec![
            (
                "Cargo.toml".into(),
                "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n".into(),
            ),
            ("src/main.rs".into(), "fn main() {}\n".into()),
            ("src/store.rs".into(), "pub struct Store;\n".into()),
        ];
        assert_eq!(detect(&rust_crate), None);
        assert_eq!(detect(&[]), None);
        let other_python: Vec<(String, String)> = vec![
            (
                "app/store.py".into(),
                "import sqlite3\n\nclass Store:\n    pass\n".into(),
            ),
            ("app/server.py".into(), "ENDPOINT = \"/rpc\"\n".into()),
        ];
        assert_eq!(detect(&other_python), None);
        let names = names_from_prompt(TODO_PROMPT);
        let files = as_pairs(&render(&names, Storage::JsonFile, ApiStyle::Rest));
        let without = |gone: &str| -> Vec<(String, String)> {
            files
                .iter()
                .filter(|(path, _)| path != gone)
                .cloned()
                .collect()
        };
        assert_eq!(detect(&without("todo/server.py")), None);
        assert_eq!(detect(&without("todo/store.py")), None);
        let moved: Vec<(String, String)> = files
            .iter()
            .map(|(path, content)| (format!("src/{path}"), content.clone()))
            .collect();
        assert_eq!(detect(&moved), None);
    }

    /// Runs the generated tests for `prompt` in every combination with no
    /// feature, each feature alone and all of them, and checks that every
    /// feature adds passing tests.
    fn feature_tests_pass(prompt: &str) {
        let names = names_from_prompt(prompt);
        for (storage, api) in ALL_COMBINATIONS {
            let label = format!("{prompt:?} {} {}", storage.option(), api.option());
            let (base, _) = generated_tests_run(&render(&names, storage, api), &label, false);
            let mut added = 0;
            for feature in Feature::ALL {
                let label = format!("{label} +{}", feature.id());
                let files = render_with(&names, storage, api, &[feature]);
                let (ran, output) = generated_tests_run(&files, &label, false);
                assert!(
                    ran >= base + 3,
                    "{label}: {ran} tests, {base} without:\n{output}"
                );
                added += ran - base;
                eprintln!("{label}: {ran} tests ({base} without)");
            }
            let label = format!("{label} +all");
            let files = render_with(&names, storage, api, &Feature::ALL);
            let (ran, output) = generated_tests_run(&files, &label, true);
            assert_eq!(ran, base + added, "{label}:\n{output}");
            eprintln!("{label}: {ran} tests ({base} without)");
        }
    }

    #[test]
    fn generated_url_shortener_feature_tests_pass_in_python() {
        feature_tests_pass(URL_PROMPT);
    }

    #[test]
    fn generated_todo_feature_tests_pass_in_python() {
        feature_tests_pass(TODO_PROMPT);
    }
}
