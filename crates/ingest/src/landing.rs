//! The landing zone: `<landing>/<trust>/<extract_date>/_manifest.json`.
//! Read-only: nothing here moves, edits or deletes a landed file.

use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
pub use icsw_model::manifest::ArrivingFolder;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A landing zone directory.
#[derive(Clone, Debug)]
pub struct Landing {
    pub root: PathBuf,
}

/// A complete extract: its folder has a manifest.
#[derive(Clone, Debug)]
pub struct LandedExtract {
    pub trust: String,
    pub extract_date: String,
    pub folder: PathBuf,
    pub manifest_bytes: Vec<u8>,
    pub manifest_sha256: String,
}

impl Landing {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Landing { root: root.into() }
    }

    /// The folders still without a manifest, for the late-manifest check:
    /// none when the landing zone is absent or cannot be read (that check
    /// then has nothing to say; a load would report the error).
    pub fn arriving(&self) -> Vec<ArrivingFolder> {
        if !self.root.is_dir() {
            return Vec::new();
        }
        discover(self).map(|(_, a)| a).unwrap_or_default()
    }
}

fn is_date_folder(name: &str) -> bool {
    name.len() == 10 && NaiveDate::parse_from_str(name, "%Y-%m-%d").is_ok()
}

fn read_dir(p: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let err = |source: std::io::Error| Error::Landing {
        path: p.display().to_string(),
        source,
    };
    let mut v: Vec<_> = std::fs::read_dir(p)
        .map_err(err)?
        .collect::<std::io::Result<_>>()
        .map_err(err)?;
    v.sort_by_key(|e| e.file_name());
    Ok(v)
}

/// Finds every extract folder, complete or still arriving, in
/// (trust, extract date) order. Entries that are not `<trust>/<date>`
/// folders are ignored.
pub fn discover(landing: &Landing) -> Result<(Vec<LandedExtract>, Vec<ArrivingFolder>)> {
    let mut complete = Vec::new();
    let mut arriving = Vec::new();
    if !landing.root.is_dir() {
        return Err(Error::Landing {
            path: landing.root.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    for t in read_dir(&landing.root)? {
        let trust = t.file_name().to_string_lossy().to_string();
        if !t.path().is_dir() || trust.starts_with('.') || trust.starts_with('_') {
            continue;
        }
        for d in read_dir(&t.path())? {
            let date = d.file_name().to_string_lossy().to_string();
            if !d.path().is_dir() || !is_date_folder(&date) {
                continue;
            }
            let folder = d.path();
            let manifest = folder.join(icsw_model::manifest::MANIFEST_FILE);
            match std::fs::read(&manifest) {
                Ok(bytes) => {
                    let sha = hex::encode(Sha256::digest(&bytes));
                    complete.push(LandedExtract {
                        trust: trust.clone(),
                        extract_date: date,
                        folder,
                        manifest_bytes: bytes,
                        manifest_sha256: sha,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let last_modified = read_dir(&folder)?
                        .iter()
                        .filter_map(|f| f.metadata().ok()?.modified().ok())
                        .max()
                        .map(DateTime::<Utc>::from);
                    arriving.push(ArrivingFolder {
                        trust: trust.clone(),
                        extract_date: date,
                        folder,
                        last_modified,
                    });
                }
                Err(e) => {
                    return Err(Error::Landing {
                        path: manifest.display().to_string(),
                        source: e,
                    })
                }
            }
        }
    }
    Ok((complete, arriving))
}
