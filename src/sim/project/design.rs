//! The two design decisions the simulated team argues about: [`Storage`]
//! and [`ApiStyle`], with their option ids.

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
