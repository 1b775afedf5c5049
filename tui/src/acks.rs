//! Acknowledgements of alerts: one JSON object per line in `acks.jsonl`
//! (`{"uid", "rule", "ts", "who", "comment", "state": "acked"}`), appended by the console and
//! loaded at start; the latest line per uid wins. Unreadable lines are counted and skipped.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Longest comment kept (characters).
pub const MAX_COMMENT: usize = 500;

/// One acknowledgement line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub uid: String,
    pub rule: String,
    /// When it was acknowledged (RFC 3339).
    pub ts: String,
    /// The login user who acknowledged.
    pub who: String,
    pub comment: String,
    /// `acked` (other states may follow, e.g. re-opened).
    pub state: String,
}

/// Errors of the acknowledgement file.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The acknowledgements file and what it holds.
#[derive(Debug, Default)]
pub struct AckStore {
    path: Option<PathBuf>,
    acks: HashMap<String, Ack>,
    /// Lines of the file that were not a valid acknowledgement.
    pub bad_lines: u64,
}

impl AckStore {
    /// A store that keeps acknowledgements in memory only (tests).
    pub fn in_memory() -> AckStore {
        AckStore::default()
    }

    /// Loads `path` (a missing file is an empty store; its folder is made on the first ack).
    pub fn open(path: &Path) -> Result<AckStore, AckError> {
        let mut store = AckStore { path: Some(path.to_path_buf()), ..Default::default() };
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(e) => return Err(AckError::Io { path: path.display().to_string(), source: e }),
        };
        for line in std::io::BufReader::new(f).lines() {
            let line = line.map_err(|e| AckError::Io { path: path.display().to_string(), source: e })?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Ack>(&line) {
                Ok(a) => {
                    store.acks.insert(a.uid.clone(), a);
                }
                Err(_) => store.bad_lines += 1,
            }
        }
        Ok(store)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn get(&self, uid: &str) -> Option<&Ack> {
        self.acks.get(uid)
    }

    pub fn len(&self) -> usize {
        self.acks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.acks.is_empty()
    }

    /// Every acknowledgement by uid.
    pub fn all(&self) -> &HashMap<String, Ack> {
        &self.acks
    }

    /// Records an acknowledgement: appends its line (flushed) and keeps it.
    pub fn record(&mut self, ack: Ack) -> Result<(), AckError> {
        if let Some(p) = &self.path {
            let err = |e| AckError::Io { path: p.display().to_string(), source: e };
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(p).map_err(err)?;
            let mut line = serde_json::to_string(&ack).map_err(|e| err(std::io::Error::other(e)))?;
            line.push('\n');
            f.write_all(line.as_bytes()).map_err(err)?;
            f.flush().map_err(err)?;
        }
        self.acks.insert(ack.uid.clone(), ack);
        Ok(())
    }
}

/// The login user (`$USER`, `$LOGNAME`, else `unknown`).
pub fn login_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Now as RFC 3339.
pub fn now_rfc3339() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    fabmon_sensor::time::format_rfc3339_us(ns)
}

/// Where acknowledgements of a live run go without a dataset: `$XDG_STATE_HOME/fabmon/acks.jsonl`,
/// else `~/.local/state/fabmon/acks.jsonl`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("fabmon/acks.jsonl"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/fabmon/acks.jsonl"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ack(uid: &str, comment: &str) -> Ack {
        Ack {
            uid: uid.into(),
            rule: "hsms.remote_command".into(),
            ts: "2026-11-16T08:00:00Z".into(),
            who: "op".into(),
            comment: comment.into(),
            state: "acked".into(),
        }
    }

    #[test]
    fn acks_survive_a_restart_and_the_latest_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("acks/acks.jsonl");
        let mut s = AckStore::open(&p).unwrap();
        assert!(s.is_empty());
        s.record(ack("a1", "first")).unwrap();
        s.record(ack("a2", "other")).unwrap();
        s.record(ack("a1", "second")).unwrap();
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("not json\n");
        std::fs::write(&p, text).unwrap();
        let s = AckStore::open(&p).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.get("a1").unwrap().comment, "second");
        assert_eq!(s.bad_lines, 1);
    }
}
