//! The kinds of per-session record in the `records` tree, as one type: a
//! record's key is `session / kind / name`, and [`RecordKey`] is its `kind`
//! part. Written by the orchestrator (through its group and committer) and by
//! `quorum undo`; read by a resume, `quorum sessions`, `quorum undo` and the
//! export. The strings are the db's: they never change.

/// A kind of per-session record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// The session's own state: `session` (its serialised state), `workflow`
    /// (the workflow it runs), `project` (the map of DIR's project).
    State,
    /// One task, named by its id.
    Task,
    /// One staged file, named by its path.
    File,
    /// A phase's output: `requirements`, `plan/AGENT`, `conflicts`,
    /// `ballot/CONFLICT/AGENT`, `decision/CONFLICT`, `breakdown`, `findings`,
    /// a test round's runs.
    Output,
    /// What `quorum undo` needs to revert a delivery: `revert`.
    Undo,
}

impl RecordKey {
    /// Every kind.
    pub const ALL: [RecordKey; 5] = [
        RecordKey::State,
        RecordKey::Task,
        RecordKey::File,
        RecordKey::Output,
        RecordKey::Undo,
    ];

    /// The kind as the db spells it in keys.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKey::State => "state",
            RecordKey::Task => "task",
            RecordKey::File => "file",
            RecordKey::Output => "output",
            RecordKey::Undo => "undo",
        }
    }

    /// The kind a key spells, if it is one.
    pub fn parse(kind: &str) -> Option<RecordKey> {
        RecordKey::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

impl std::fmt::Display for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_spelling() {
        for kind in RecordKey::ALL {
            assert_eq!(RecordKey::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RecordKey::parse("ballot"), None);
        assert_eq!(RecordKey::Output.to_string(), "output");
    }

    #[test]
    fn the_spellings_are_the_dbs() {
        let spelled: Vec<&str> = RecordKey::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(spelled, ["state", "task", "file", "output", "undo"]);
    }
}
