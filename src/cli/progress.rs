//! Progress bars for long file runs: shown only when standard error is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Files smaller than this finish in well under a few seconds: no bar.
const MIN_BYTES_FOR_BAR: u64 = 64 << 20;

/// A byte-based progress bar for reading `path`, or None when it would not help.
pub fn for_file(path: &str) -> Option<ProgressBar> {
    if path == "-" || !std::io::stderr().is_terminal() {
        return None;
    }
    let len = std::fs::metadata(path).ok()?.len();
    if len < MIN_BYTES_FOR_BAR {
        return None;
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .ok()?
            .progress_chars("=> "),
    );
    bar.set_message(path.to_string());
    Some(bar)
}
