//! Project names from a prompt: the title, the Python package and the
//! resource ([`Names`], [`names_from_prompt`]). The prompts the demo team
//! cannot build are told by [`crate::config::demo::unbuilt`].

pub use crate::config::demo::unbuilt;
pub(super) use crate::config::demo::{listed, tokenize};

/// Words that say how to build something rather than what it is about
/// (whitespace-separated, sorted).
pub(super) const STOP_WORDS: &str = "\
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
pub(super) const ACRONYMS: &str = "\
    ai api cms crm css csv dns faq ftp gps html id ip isbn jwt kpi llm pdf qr rss seo sms sql \
    ssh ui uri url uuid ux vpn xml";

/// Python keywords and standard-library modules (plus a few names every
/// environment has) that a generated package must not shadow
/// (whitespace-separated, sorted).
pub(super) const RESERVED_PACKAGES: &str = "\
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
pub(super) const DOMAINS: &[(&[&str], &str, &str, &str)] = &[
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

/// At most this many words of the prompt make the title.
pub(super) const MAX_TITLE_WORDS: usize = 4;
/// At most this many characters make the title.
pub(super) const MAX_TITLE_CHARS: usize = 60;
/// At most this many bytes make the package name (before any suffix).
pub(super) const MAX_PACKAGE_LEN: usize = 40;

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

/// The first run of consecutive non-filler words, capped in words and characters.
pub(super) fn first_phrase(words: &[String]) -> Vec<String> {
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
pub(super) fn title_from(phrase: &[String]) -> String {
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
pub(super) fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A safe Python package name for `phrase`: ASCII snake_case, never empty,
/// never starting with a digit, never a keyword or standard-library module.
pub(super) fn package_from(phrase: &[String]) -> String {
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
pub(super) fn ascii_fold(word: &str) -> String {
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
pub(super) fn resource_from(words: &[&str]) -> Resource {
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
