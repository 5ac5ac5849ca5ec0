//! The project archive of `quorum sessions export --format tar`: the
//! session's commit tree under DIR (or, without a commit, its accepted staged
//! files) as a deterministic `.tar.gz`.

use std::path::Path;

use crate::cli::exit::Failure;
use crate::commands::sessions::short_sha;
use crate::workspace::git::{self, TreeFile};

use super::SessionExport;

/// The generated project of a session: its commit's tree under DIR, or (without
/// a commit) its accepted staged files; with the archive's mtime and a note
/// saying which it is.
pub(super) fn project_files(
    export: &SessionExport,
) -> Result<(Vec<TreeFile>, i64, String), Failure> {
    let s = &export.session;
    if let Some(sha) = &s.commit {
        let dir = Path::new(&s.dir);
        let (repo, info) = git::discover(dir).ok().flatten().ok_or_else(|| {
            Failure::failed(format!(
                "session {} committed {} but {} is no longer in a git repository",
                s.id,
                short_sha(sha),
                s.dir
            ))
        })?;
        let (files, time) = git::files_of_commit(&repo, sha, &info.prefix).map_err(|e| {
            Failure::failed(format!(
                "cannot read commit {} in {}: {}",
                short_sha(sha),
                info.workdir.display(),
                e.message()
            ))
        })?;
        return Ok((
            files,
            time,
            format!("the tree of commit {}", short_sha(sha)),
        ));
    }
    let files: Vec<TreeFile> = export
        .records
        .get("file")
        .into_iter()
        .flat_map(|f| f.iter())
        .filter(|(_, f)| f["accepted"].as_bool().unwrap_or(false))
        .map(|(path, f)| TreeFile {
            path: path.clone(),
            mode: 0o100_644,
            content: f["content"].as_str().unwrap_or("").as_bytes().to_vec(),
        })
        .collect();
    let time = time::OffsetDateTime::parse(
        &s.updated_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| t.unix_timestamp())
    .unwrap_or(0);
    Ok((
        files,
        time,
        "the session made no commit: its accepted staged files".to_string(),
    ))
}

/// The archive's top directory: DIR's name and the session id.
pub(super) fn archive_root(export: &SessionExport) -> String {
    let base = Path::new(&export.session.dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{base}-{}", export.session.id)
}

/// Writes `files` as a gzipped tar under `root/`: regular files 0644 or 0755,
/// symlinks as links, owner 0, every mtime `mtime`; the same input gives the
/// same bytes.
pub fn write_tar<W: std::io::Write>(
    out: W,
    root: &str,
    files: &[TreeFile],
    mtime: i64,
) -> std::io::Result<W> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for file in files {
        let path = format!("{root}/{}", file.path);
        let mut header = tar::Header::new_gnu();
        header.set_mtime(u64::try_from(mtime).unwrap_or(0));
        header.set_uid(0);
        header.set_gid(0);
        if file.mode == 0o120_000 {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            let target = String::from_utf8_lossy(&file.content).into_owned();
            builder.append_link(&mut header, &path, target)?;
        } else {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if file.mode == 0o100_755 { 0o755 } else { 0o644 });
            header.set_size(file.content.len() as u64);
            builder.append_data(&mut header, &path, file.content.as_slice())?;
        }
    }
    builder.into_inner()?.finish()
}
