//! The data disk: files written whole or not at all, and telling a full disk from other I/O
//! failures so that it can be reported as the temporary condition it is.

use std::io::{self, Write};
use std::path::Path;

/// `ENOSPC` and `EDQUOT` (Linux numbers): the disk, or the user's quota on it, is full.
const NO_SPACE: i32 = 28;
const QUOTA_EXCEEDED: i32 = 122;

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a part:
/// a temporary file beside it, synced, then renamed over it, and the directory synced. A
/// failure (a full disk) removes the temporary file and leaves `path` as it was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temporary = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    // The rename is durable once the directory is.
    std::fs::File::open(dir).and_then(|d| d.sync_all())
}

/// Is this I/O error a full disk or an exhausted quota?
pub fn is_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::StorageFull
        || error.kind() == io::ErrorKind::QuotaExceeded
        || matches!(error.raw_os_error(), Some(NO_SPACE | QUOTA_EXCEEDED))
}

/// Does an error, or any error it wraps, come from a full disk? Libraries wrap I/O errors in
/// their own types (tantivy keeps some only as text), so the chain's messages are read too.
pub fn caused_by_full_disk(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && is_full(io)
        {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::sync::Arc<io::Error>>()
            && is_full(io)
        {
            return true;
        }
        let text = e.to_string();
        if text.contains("No space left on device")
            || text.contains("Disk quota exceeded")
            || text.contains("StorageFull")
            || text.contains("QuotaExceeded")
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Bytes free for this process on the file system holding `path`, when the system says.
#[cfg(unix)]
pub fn free_bytes(path: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Bytes free on the file system holding `path`: not asked on Windows, where only the
/// command-line tools run (a full-disk answer then names no figure rather than a wrong one).
#[cfg(not(unix))]
pub fn free_bytes(_path: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SCHEMA_VERSION");
        write_atomically(&path, b"1").unwrap();
        write_atomically(&path, b"2").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"2");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn full_disks_are_told_from_other_failures() {
        assert!(is_full(&io::Error::from_raw_os_error(NO_SPACE)));
        assert!(is_full(&io::Error::from_raw_os_error(QUOTA_EXCEEDED)));
        assert!(!is_full(&io::Error::from_raw_os_error(13)));
        let wrapped = tantivy::TantivyError::from(io::Error::from_raw_os_error(NO_SPACE));
        assert!(caused_by_full_disk(&wrapped));
        let other = tantivy::TantivyError::InvalidArgument("x".into());
        assert!(!caused_by_full_disk(&other));
        assert!(free_bytes(Path::new("/")).is_some());
    }
}
