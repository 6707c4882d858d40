//! The progress bar of commands that work through a list of items.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` items named `unit` ("blocks"), hidden when the output is JSON so that
/// only JSON reaches the terminal.
pub(crate) fn item_progress(len: usize, unit: &str, json: bool) -> ProgressBar {
    let progress = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len as u64)
    };
    progress.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{msg}}"))
            .expect("valid progress template"),
    );
    progress
}
