//! The advisory store: a directory of imported CSAF documents, one file per advisory.
//!
//! Layout: `<store>/<base id in lower case>.json` holds the document as imported (bytes
//! unchanged). The base id is `document.tracking.id` without a CISA revision letter, so
//! `ICSA-18-025-02B` replaces `ICSA-18-025-02A` and `ICSA-18-025-02`. Between two documents
//! of the same base id the one with the later `current_release_date` stays; on equal dates the
//! higher `tracking.version` (then the later revision letter) stays.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::csaf::{self, Advisory};
use super::version::Version;

/// Default store directory (relative to the working directory, next to the dataset).
pub const DEFAULT_STORE: &str = "fabmon-advisories";

/// Files read from a folder at most (deeper trees and more files are reported, not read).
pub const MAX_FILES: usize = 100_000;
/// Largest document read.
pub const MAX_DOC_BYTES: u64 = 16 << 20;

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// A document that was not imported or loaded, with the reason.
#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    pub file: String,
    /// JSON path of the problem (`$` for the whole document).
    pub path: String,
    pub error: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: at {}: {}", self.file, self.path, self.error)
    }
}

/// What one imported document did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Added,
    /// Replaced an older revision (its id and version).
    Replaced {
        old_id: String,
        old_version: String,
    },
    /// The store already holds this revision.
    Unchanged,
    /// The store holds a newer revision (its id and version); the document was not imported.
    OlderSkipped {
        kept_id: String,
        kept_version: String,
    },
}

/// One document's import.
#[derive(Clone, Debug, Serialize)]
pub struct Imported {
    pub file: String,
    pub id: String,
    pub version: String,
    pub products: usize,
    pub outcome: Outcome,
}

/// The result of an import.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    pub imported: Vec<Imported>,
    pub rejected: Vec<Rejected>,
}

/// An advisory store directory.
pub struct Store {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.display().to_string(), source }
}

/// Ordering key of a revision: release date, tracking version, revision letter.
fn revision_key(a: &Advisory) -> (String, Option<Version>, String) {
    (a.current_release_date.clone(), Version::parse(&a.version), a.id.to_ascii_uppercase())
}

fn newer(a: &Advisory, b: &Advisory) -> std::cmp::Ordering {
    let (ka, kb) = (revision_key(a), revision_key(b));
    ka.0.cmp(&kb.0)
        .then_with(|| match (&ka.1, &kb.1) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        })
        .then_with(|| ka.2.cmp(&kb.2))
}

impl Store {
    /// Opens (creating it when missing) a store directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Store { dir })
    }

    /// Opens an existing store (an error when the directory does not exist).
    pub fn open_existing(dir: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let dir = dir.into();
        std::fs::read_dir(&dir).map_err(io(&dir))?;
        Ok(Store { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_of(&self, base_id: &str) -> PathBuf {
        let name: String = base_id
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
            .collect();
        self.dir.join(format!("{name}.json"))
    }

    /// Imports CSAF documents: files, or folders searched recursively for `*.json`. A document
    /// that cannot be read is reported with its file and JSON path; the others still load.
    pub fn import(&self, paths: &[PathBuf]) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        let mut files = Vec::new();
        for p in paths {
            collect(p, &mut files, &mut report.rejected);
        }
        for f in files {
            let file = f.display().to_string();
            let bytes = match read_limited(&f) {
                Ok(b) => b,
                Err(e) => {
                    report.rejected.push(Rejected { file, path: "$".into(), error: e });
                    continue;
                }
            };
            let adv = match csaf::parse(&bytes) {
                Ok(a) => a,
                Err(csaf::CsafError::Invalid { path, msg }) => {
                    report.rejected.push(Rejected { file, path, error: msg });
                    continue;
                }
            };
            let dest = self.file_of(&adv.base_id);
            let existing = std::fs::read(&dest).ok().and_then(|b| csaf::parse(&b).ok());
            let outcome = match &existing {
                None => Outcome::Added,
                Some(old) => match newer(&adv, old) {
                    std::cmp::Ordering::Greater => {
                        Outcome::Replaced { old_id: old.id.clone(), old_version: old.version.clone() }
                    }
                    std::cmp::Ordering::Equal => Outcome::Unchanged,
                    std::cmp::Ordering::Less => {
                        Outcome::OlderSkipped { kept_id: old.id.clone(), kept_version: old.version.clone() }
                    }
                },
            };
            if matches!(outcome, Outcome::Added | Outcome::Replaced { .. }) {
                // Write beside, then rename: a reader never sees half a document.
                let tmp = dest.with_extension("json.tmp");
                std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
                std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
            }
            report.imported.push(Imported {
                file,
                id: adv.id,
                version: adv.version,
                products: adv.products.len(),
                outcome,
            });
        }
        Ok(report)
    }

    /// Every advisory in the store, sorted by id, and the files that could not be read.
    pub fn load(&self) -> Result<(Vec<Advisory>, Vec<Rejected>), StoreError> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(io(&self.dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        for p in names {
            let file = p.display().to_string();
            match read_limited(&p) {
                Err(e) => bad.push(Rejected { file, path: "$".into(), error: e }),
                Ok(b) => match csaf::parse(&b) {
                    Ok(a) => out.push(a),
                    Err(csaf::CsafError::Invalid { path, msg }) => {
                        bad.push(Rejected { file, path, error: msg })
                    }
                },
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((out, bad))
    }
}

fn read_limited(p: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(p).map_err(|e| e.to_string())?;
    if meta.len() > MAX_DOC_BYTES {
        return Err(format!("{} bytes, more than the {} read at most", meta.len(), MAX_DOC_BYTES));
    }
    std::fs::read(p).map_err(|e| e.to_string())
}

fn collect(p: &Path, files: &mut Vec<PathBuf>, rejected: &mut Vec<Rejected>) {
    if p.is_dir() {
        let mut stack = vec![p.to_path_buf()];
        let mut found = Vec::new();
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                rejected.push(Rejected {
                    file: d.display().to_string(),
                    path: "$".into(),
                    error: "folder cannot be read".into(),
                });
                continue;
            };
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x.eq_ignore_ascii_case("json")) {
                    if files.len() + found.len() >= MAX_FILES {
                        rejected.push(Rejected {
                            file: path.display().to_string(),
                            path: "$".into(),
                            error: format!("more than {MAX_FILES} files; not read"),
                        });
                        return;
                    }
                    found.push(path);
                }
            }
        }
        found.sort();
        files.extend(found);
    } else {
        files.push(p.to_path_buf());
    }
}
