//! Inputs that are not files in a folder: standard input (`-`, as in
//! `Get-Clipboard | relay-audit scan -`) and a zip archive (what the collection script's
//! `-Zip` writes). Each is staged in a private temporary folder (mode 0700, removed when the
//! scan is done), read like any folder, and named in the report as the user named it:
//! `(stdin)`, `client.zip!/relay-audit-contoso/receive-connectors.xml`.
//!
//! An archive is client input: entry names are taken apart by hand (both `/` and the `\`
//! Windows PowerShell 5.1 writes), and one that is absolute, has a drive, or climbs out with
//! `..` is refused, as are links and encrypted entries; every entry and the whole are held
//! to a byte budget (a zip bomb ends with an error naming the archive, never a full disk).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// Standard input is copied up to this many bytes (larger: an error).
pub const STDIN_LIMIT: u64 = 2 << 30;
/// All entries of one archive, uncompressed.
pub const ZIP_TOTAL_LIMIT: u64 = 4 << 30;
/// Entries in one archive.
pub const ZIP_ENTRY_LIMIT: usize = 100_000;

/// Staged folders and the names the report gives them (longest prefix wins).
static ALIASES: RwLock<Vec<(PathBuf, String)>> = RwLock::new(Vec::new());

/// The report's name for a staged path (`None`: not staged).
pub(super) fn alias_of(p: &Path) -> Option<String> {
    let aliases = ALIASES.read().unwrap_or_else(|e| e.into_inner());
    aliases.iter().find_map(|(root, name)| {
        let rest = p.strip_prefix(root).ok()?;
        let rest = rest.to_string_lossy().replace('\\', "/");
        Some(if rest.is_empty() {
            name.clone()
        } else {
            format!("{name}/{rest}")
        })
    })
}

/// A staged input: its temporary folder goes when this does.
pub struct Staged {
    dir: PathBuf,
}

impl Staged {
    fn new(alias: String) -> Result<Staged, String> {
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        for attempt in 0..100u32 {
            let dir = base.join(format!(
                "relay-audit-{}-{nanos:x}-{attempt}",
                std::process::id()
            ));
            let mut b = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            match b.create(&dir) {
                Ok(()) => {
                    ALIASES
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((dir.clone(), alias));
                    return Ok(Staged { dir });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create a temporary folder: {e}")),
            }
        }
        Err("cannot create a temporary folder".into())
    }

    /// The folder to read.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        ALIASES
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(d, _)| d != &self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copies at most `limit` bytes of `from` into `to`; more is an error.
fn copy_bounded(from: &mut dyn Read, to: &mut dyn Write, limit: u64) -> Result<u64, String> {
    let n = std::io::copy(&mut from.take(limit + 1), to).map_err(|e| e.to_string())?;
    if n > limit {
        return Err(format!("more than {} MiB", limit >> 20));
    }
    Ok(n)
}

/// Standard input, staged as one file named `(stdin)`.
pub fn stage_stdin() -> Result<(Staged, PathBuf), String> {
    let staged = Staged::new("(stdin)".into())?;
    // The file is the staged folder's only entry, and its name is the alias itself.
    let file = staged.dir.join("stdin");
    {
        let mut aliases = ALIASES.write().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = aliases.iter_mut().find(|(d, _)| d == &staged.dir) {
            a.0 = file.clone();
        }
    }
    let mut out = std::fs::File::create(&file).map_err(|e| format!("(stdin): {e}"))?;
    let n = copy_bounded(&mut std::io::stdin().lock(), &mut out, STDIN_LIMIT)
        .map_err(|e| format!("(stdin): {e}"))?;
    if n == 0 {
        return Err("(stdin): nothing on standard input".into());
    }
    Ok((staged, file))
}

/// Does the file start like a zip archive?
pub fn is_zip(p: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && (head == *b"PK\x03\x04" || head == *b"PK\x05\x06")
}

/// An entry's name as a relative path inside the archive, or why it is refused.
fn entry_path(name: &str) -> Result<PathBuf, &'static str> {
    let name = name.replace('\\', "/");
    if name.starts_with('/') {
        return Err("an absolute path");
    }
    let mut out = PathBuf::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("a path that climbs out with `..`"),
            p if p.contains(':') => return Err("a drive or stream name"),
            p if p.chars().any(|c| c.is_control()) => return Err("a control character"),
            p => out.push(p),
        }
    }
    if out.as_os_str().is_empty() {
        return Err("an empty name");
    }
    Ok(out)
}

/// A zip archive, staged as a folder named `<archive>!`. Refused entries are listed in the
/// returned notes (`entry: why`); an archive that breaks a budget or cannot be read is an error.
pub fn stage_zip(archive: &Path, shown: &str) -> Result<(Staged, Vec<String>), String> {
    stage_zip_within(archive, shown, ZIP_TOTAL_LIMIT, ZIP_ENTRY_LIMIT)
}

fn stage_zip_within(
    archive: &Path,
    shown: &str,
    total_limit: u64,
    entry_limit: usize,
) -> Result<(Staged, Vec<String>), String> {
    let file = std::fs::File::open(archive).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("{shown}: not a readable zip archive: {e}"))?;
    if zip.len() > entry_limit {
        return Err(format!(
            "{shown}: {} entries, more than {entry_limit}: refused",
            zip.len()
        ));
    }
    let staged = Staged::new(format!("{shown}!"))?;
    let mut notes = Vec::new();
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                notes.push(format!("entry {i}: cannot be read: {e}"));
                continue;
            }
        };
        let name = entry.name().to_string();
        let shown_name = crate::term::visible_line(&name).into_owned();
        if entry.encrypted() {
            notes.push(format!("{shown_name}: encrypted: not read"));
            continue;
        }
        if entry.is_symlink() {
            notes.push(format!("{shown_name}: a link: not followed"));
            continue;
        }
        let rel = match entry_path(&name) {
            Ok(p) => p,
            Err(why) => {
                notes.push(format!("{shown_name}: {why}: not extracted"));
                continue;
            }
        };
        let dest = staged.dir.join(&rel);
        if entry.is_dir() || name.ends_with('/') || name.ends_with('\\') {
            std::fs::create_dir_all(&dest).map_err(|e| format!("{shown}: {e}"))?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{shown}: {e}"))?;
        }
        let mut out = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                notes.push(format!(
                    "{shown_name}: a second entry of that name: not read"
                ));
                continue;
            }
            Err(e) => return Err(format!("{shown}: {e}")),
        };
        // What an entry says of its size is not trusted: the copy itself is bounded.
        let left = total_limit - total;
        let n = copy_bounded(&mut entry, &mut out, left).map_err(|_| {
            format!(
                "{shown}: more than {} MiB uncompressed (at {shown_name}): refused, a zip bomb?",
                total_limit >> 20
            )
        })?;
        total += n;
    }
    Ok((staged, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_stay_inside() {
        assert_eq!(
            entry_path("relay-audit-x\\permissions\\a.xml").unwrap(),
            PathBuf::from("relay-audit-x/permissions/a.xml")
        );
        assert!(entry_path("../etc/passwd").is_err());
        assert!(entry_path("a/../../b").is_err());
        assert!(entry_path("/etc/passwd").is_err());
        assert!(entry_path("\\\\server\\share\\x").is_err());
        assert!(entry_path("C:\\Windows\\x").is_err());
        assert!(entry_path("a/b\u{1b}[2J").is_err());
    }

    /// A zip of `entries` (name, bytes), deflated.
    fn zip_of(dir: &Path, entries: &[(&str, Vec<u8>)]) -> PathBuf {
        let p = dir.join("t.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
        p
    }

    #[test]
    fn a_bomb_stops_at_the_budget_and_the_folder_goes() {
        let dir = std::env::temp_dir().join(format!("ra-stage-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 8 MiB of zeros deflate to a few KiB.
        let z = zip_of(&dir, &[("a.xml", vec![0u8; 8 << 20])]);
        assert!(std::fs::metadata(&z).unwrap().len() < 64 << 10);
        let e = stage_zip_within(&z, "t.zip", 1 << 20, 10).err().unwrap();
        assert!(e.contains("more than 1 MiB uncompressed"), "{e}");
        let e = stage_zip_within(&z, "t.zip", 16 << 20, 0).err().unwrap();
        assert!(e.contains("1 entries, more than 0"), "{e}");
        let (s, notes) = stage_zip_within(&z, "t.zip", 16 << 20, 10).unwrap();
        assert!(notes.is_empty());
        let staged = s.path().to_path_buf();
        assert_eq!(
            alias_of(&staged.join("a.xml")).as_deref(),
            Some("t.zip!/a.xml")
        );
        drop(s);
        assert!(!staged.exists(), "the staged folder is removed");
        assert_eq!(alias_of(&staged.join("a.xml")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
