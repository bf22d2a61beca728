//! The catalogs (`.cat`) uploaded or scanned, kept beside the index so that a driver stored
//! before or after its catalog, and across restarts, reads as catalog-signed: one JSON file
//! per catalog under `index/catalogs/`, each written whole or not at all, and an in-memory
//! table from Authenticode hash to the valid catalog that lists it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use crate::driver::authenticode::catalog::Catalog;
use crate::driver::authenticode::{CatalogRef, ImageHashes, SignatureCheck, SignatureStatus};

const DIR_NAME: &str = "catalogs";

#[derive(Debug, thiserror::Error)]
pub enum CatalogStoreError {
    #[error("cannot read the catalogs in {path}: {reason}")]
    Damaged { path: String, reason: String },
    #[error("cannot store the catalog in {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl CatalogStoreError {
    /// A write that failed for want of space.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::Write { source, .. } if crate::disk::is_full(source))
    }
}

/// What the catalogs vouch for, for lookups.
#[derive(Debug, Default)]
struct Book {
    /// Valid catalogs, by file SHA-256: who signed and the catalog's name.
    vouching: HashMap<String, (CatalogRef, SignatureCheck)>,
    /// Authenticode hash (hex) → SHA-256 of a valid catalog that lists it.
    members: HashMap<String, String>,
    /// Every stored catalog's SHA-256.
    known: std::collections::HashSet<String>,
}

impl Book {
    fn add(&mut self, catalog: &Catalog) {
        self.known.insert(catalog.sha256.clone());
        if catalog.signature.status != SignatureStatus::Valid {
            return;
        }
        let reference = CatalogRef {
            file_name: catalog.file_name.clone(),
            sha256: catalog.sha256.clone(),
        };
        let mut signature = catalog.signature.clone();
        signature.problem = None;
        self.vouching
            .insert(catalog.sha256.clone(), (reference, signature));
        for member in &catalog.members {
            self.members
                .entry(member.clone())
                .or_insert_with(|| catalog.sha256.clone());
        }
    }
}

/// The catalogs of one data directory.
#[derive(Debug)]
pub struct CatalogStore {
    dir: PathBuf,
    /// Writers one at a time.
    writing: Mutex<()>,
    book: RwLock<Book>,
}

impl CatalogStore {
    /// Opens the catalogs kept under `dir` (none yet is an empty store).
    pub fn open(dir: &Path) -> Result<Self, CatalogStoreError> {
        let dir = dir.join(DIR_NAME);
        let damaged = |reason: String| CatalogStoreError::Damaged {
            path: dir.display().to_string(),
            reason,
        };
        let mut book = Book::default();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let path = entry.map_err(|e| damaged(e.to_string()))?.path();
                    if path.extension().is_none_or(|e| e != "json") {
                        continue;
                    }
                    let bytes = std::fs::read(&path).map_err(|e| damaged(e.to_string()))?;
                    let catalog: Catalog = serde_json::from_slice(&bytes)
                        .map_err(|e| damaged(format!("{}: {e}", path.display())))?;
                    book.add(&catalog);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(damaged(e.to_string())),
        }
        Ok(Self {
            dir,
            writing: Mutex::new(()),
            book: RwLock::new(book),
        })
    }

    fn book(&self) -> RwLockReadGuard<'_, Book> {
        self.book.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a catalog with this SHA-256 is stored.
    pub fn knows(&self, sha256: &str) -> bool {
        self.book().known.contains(sha256)
    }

    /// Stores catalogs (each file whole, or not at all); a catalog already stored is kept as
    /// it is. Returns which of them were new.
    pub fn add(&self, catalogs: &[Catalog]) -> Result<Vec<bool>, CatalogStoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let write_error = |source| CatalogStoreError::Write {
            path: self.dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(write_error)?;
        let mut added = Vec::with_capacity(catalogs.len());
        for catalog in catalogs {
            let fresh = !self.knows(&catalog.sha256);
            if fresh {
                let bytes = serde_json::to_vec(catalog)
                    .map_err(|e| write_error(std::io::Error::other(e)))?;
                let path = self.dir.join(format!("{}.json", catalog.sha256));
                crate::disk::write_atomically(&path, &bytes).map_err(write_error)?;
                // Only once its file is there: the table stays what a restart reads.
                self.book
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .add(catalog);
            }
            added.push(fresh);
        }
        Ok(added)
    }

    /// The valid catalog that lists a file with these Authenticode hashes, and its signature.
    pub fn vouching_for(&self, hashes: &ImageHashes) -> Option<(CatalogRef, SignatureCheck)> {
        let book = self.book();
        [&hashes.sha256, &hashes.sha1]
            .into_iter()
            .find_map(|h| book.members.get(h))
            .and_then(|catalog| book.vouching.get(catalog))
            .cloned()
    }
}
