//! The folder walk: what a scan reads, and what it refuses to open.
//!
//! A folder is walked without trusting it: no link is followed out of its root, each file is
//! visited once (by device and inode, whatever its names), and only regular files are opened —
//! checked again on the open file, non-blocking, so that a FIFO swapped in after the walk can
//! neither block nor be read.

use std::path::{Path, PathBuf};

/// The files a scan of `paths` reads, and their total size in bytes.
///
/// Walks like [`load`]: links out of a folder, second names of a file and anything that is
/// not a regular file are left out (and never opened).
pub fn inventory(paths: &[PathBuf]) -> (Vec<PathBuf>, u64) {
    let mut files = Vec::new();
    let mut seen = Seen::default();
    for p in paths {
        match named_path(p) {
            Named::Folder => {
                let mut items = Vec::new();
                walk(p, &mut seen, false, &mut items);
                files.extend(items.into_iter().filter_map(|w| match w {
                    Walked::File(f) => Some(f),
                    _ => None,
                }));
            }
            Named::File | Named::Missing => files.push(p.clone()),
            Named::Special(_) => {}
        }
    }
    let total = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    (files, total)
}

/// The identity of a file: (device, inode) on Unix, the canonical path elsewhere.
#[cfg(unix)]
pub type FileId = (u64, u64);
#[cfg(not(unix))]
pub type FileId = PathBuf;

/// The identity of the file `path` (whose metadata, links followed, is `meta`).
#[cfg(unix)]
pub fn file_id(_path: &Path, meta: &std::fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}
#[cfg(not(unix))]
pub fn file_id(path: &Path, _meta: &std::fs::Metadata) -> Option<FileId> {
    path.canonicalize().ok()
}

/// Files and folders already visited (by identity), with the path they were visited as.
#[derive(Default)]
pub struct Seen(std::collections::HashMap<FileId, PathBuf>);

impl Seen {
    /// Records `path`; returns the path it was first seen as when it was seen before.
    pub(super) fn first(&mut self, path: &Path, meta: &std::fs::Metadata) -> Option<PathBuf> {
        let id = file_id(path, meta)?;
        match self.0.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.get().clone()),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(path.to_path_buf());
                None
            }
        }
    }

    /// The identities seen.
    pub fn ids(&self) -> impl Iterator<Item = &FileId> {
        self.0.keys()
    }
}

/// The identities of every file of `paths` (folders walked as a scan walks them, hidden
/// files included; files listed one by one too): what an operator file must not be.
pub fn audited_ids(paths: &[PathBuf]) -> std::collections::HashSet<FileId> {
    let mut seen = Seen::default();
    for p in paths {
        match named_path(p) {
            Named::Folder => walk(p, &mut seen, true, &mut Vec::new()),
            _ => {
                if let Ok(m) = std::fs::metadata(p) {
                    seen.first(p, &m);
                }
            }
        }
    }
    seen.ids().cloned().collect()
}

/// One item of a folder walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walked {
    /// A regular file to read.
    File(PathBuf),
    /// Not read, and why (a FIFO, a link out of the folder, a second name of a file...).
    Skipped(PathBuf, String),
    /// A folder that could not be listed.
    Error(PathBuf, String),
}

/// What a path named on the command line is (links followed: the operator named it).
pub(super) enum Named {
    Folder,
    File,
    /// Does not exist or cannot be examined: reading it reports why.
    Missing,
    /// A FIFO, socket or device: never opened (opening a FIFO blocks).
    Special(&'static str),
}

pub(super) fn named_path(p: &Path) -> Named {
    match std::fs::metadata(p) {
        Err(_) => Named::Missing,
        Ok(m) if m.is_dir() => Named::Folder,
        Ok(m) if m.is_file() => Named::File,
        Ok(m) => Named::Special(special_kind(&m.file_type())),
    }
}

/// Names a file type that is neither a regular file nor a folder.
pub(super) fn special_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_char_device() {
            return "a character device";
        }
    }
    let _ = t;
    "not a regular file"
}
/// Walks the folder `root` in sorted order (depth first, iteratively: no recursion limit).
///
/// A client's folder may be damaged or crafted, so the walk
/// - follows a symbolic link only to a file or folder inside `root` (canonical paths; a
///   link out of it, a dangling link or a link loop is skipped with the reason);
/// - visits each file and folder once (by identity: a second link or hard link to a file
///   already read, or a link back to a folder already walked, is skipped), which also ends
///   every link loop;
/// - lists only regular files for reading: FIFOs, sockets and devices are skipped with the
///   reason, never opened.
///
/// Names starting with `.` are left out unless `hidden`.
pub fn walk(root: &Path, seen: &mut Seen, hidden: bool, out: &mut Vec<Walked>) {
    let canon_root = match root.canonicalize() {
        Ok(r) => r,
        Err(e) => {
            out.push(Walked::Error(
                root.to_path_buf(),
                format!("cannot read folder: {e}"),
            ));
            return;
        }
    };
    if let Ok(m) = std::fs::metadata(&canon_root) {
        if let Some(first) = seen.first(&canon_root, &m) {
            out.push(Walked::Skipped(
                root.to_path_buf(),
                format!("folder already read as {}", show(&first)),
            ));
            return;
        }
    }
    let mut stack: Vec<std::vec::IntoIter<PathBuf>> = Vec::new();
    match sorted_entries(root) {
        Ok(v) => stack.push(v.into_iter()),
        Err(e) => {
            out.push(Walked::Error(
                root.to_path_buf(),
                format!("cannot read folder: {e}"),
            ));
            return;
        }
    }
    while let Some(entries) = stack.last_mut() {
        let Some(p) = entries.next() else {
            stack.pop();
            continue;
        };
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !hidden && name.starts_with('.') {
            continue;
        }
        let lmeta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) => {
                out.push(Walked::Error(p, format!("cannot read: {e}")));
                continue;
            }
        };
        let (real, meta) = if lmeta.file_type().is_symlink() {
            let target = match p.canonicalize() {
                Ok(t) => t,
                Err(e) => {
                    out.push(Walked::Skipped(
                        p,
                        format!("symbolic link not followed: it cannot be resolved (dangling, or a link loop): {e}"),
                    ));
                    continue;
                }
            };
            if !target.starts_with(&canon_root) {
                out.push(Walked::Skipped(
                    p,
                    format!(
                        "symbolic link to {} (outside the audited folder): not followed",
                        show(&target)
                    ),
                ));
                continue;
            }
            match std::fs::metadata(&target) {
                Ok(m) => (target, m),
                Err(e) => {
                    out.push(Walked::Error(p, format!("cannot read: {e}")));
                    continue;
                }
            }
        } else {
            (p.clone(), lmeta)
        };
        if meta.is_dir() {
            if let Some(first) = seen.first(&real, &meta) {
                out.push(Walked::Skipped(
                    p,
                    format!(
                        "folder already read as {} (a link back to it: not walked twice)",
                        show(&first)
                    ),
                ));
                continue;
            }
            match sorted_entries(&p) {
                Ok(v) => stack.push(v.into_iter()),
                Err(e) => out.push(Walked::Error(p, format!("cannot read folder: {e}"))),
            }
        } else if meta.is_file() {
            match seen.first(&p, &meta) {
                Some(first) => out.push(Walked::Skipped(
                    p,
                    format!(
                        "same file as {} (a second link to it): read once",
                        show(&first)
                    ),
                )),
                None => out.push(Walked::File(p)),
            }
        } else {
            let kind = special_kind(&meta.file_type());
            out.push(Walked::Skipped(
                p,
                format!("{kind}, not a regular file: not opened"),
            ));
        }
    }
}

pub(super) fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    Ok(v)
}

/// Opens a file for reading only if it is a regular file — checked on the open file itself,
/// so that a file swapped for a FIFO or a device after the walk can neither block the open
/// (non-blocking open) nor the reads.
pub(super) fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        /// `O_NONBLOCK` on Linux (every architecture Rust supports there but Alpha and
        /// PA-RISC): opening a FIFO for reading does not wait for a writer.
        const O_NONBLOCK: i32 = 0o4000;
        options.custom_flags(O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a FIFO, socket or device): not read",
        ));
    }
    Ok(file)
}

/// Display form of a path: as given, with `/` separators.
pub(super) fn show(p: &Path) -> String {
    // A staged input (standard input, a zip archive) is named as the user named it.
    super::stage::alias_of(p).unwrap_or_else(|| p.display().to_string().replace('\\', "/"))
}
