//! Helpers for the CLI tests: running the `parallax` binary, fixture files to tamper with,
//! and a JSON-RPC node on 127.0.0.1 that answers from recorded data.
#![allow(dead_code)]

pub(crate) mod recorded_node;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// What a run of `parallax` printed and how it exited.
pub(crate) struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts that the run exited with `status` and that its error output mentions
    /// `needle`, showing the error output when either fails.
    pub(crate) fn assert_fails_with(&self, status: i32, needle: &str) {
        assert_eq!(self.status, status, "{}", self.stderr);
        assert!(self.stderr.contains(needle), "{}", self.stderr);
    }
}

/// Runs `parallax` with `args`.
pub(crate) fn parallax(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .output()
        .expect("parallax runs");
    Run {
        status: output.status.code().expect("exited normally"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A fresh directory for one test.
pub(crate) fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parallax-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Reads a (possibly gzipped) JSON file.
pub(crate) fn read_json(path: &Path) -> serde_json::Value {
    let file = std::fs::File::open(path).expect("fixture opens");
    if path.extension().is_some_and(|e| e == "gz") {
        serde_json::from_reader(flate2::read::GzDecoder::new(file)).expect("fixture parses")
    } else {
        serde_json::from_reader(file).expect("fixture parses")
    }
}

/// Writes JSON, gzipped when the name ends in `.gz`.
pub(crate) fn write_json(path: &Path, value: &serde_json::Value) {
    let file = std::fs::File::create(path).expect("file creates");
    if path.extension().is_some_and(|e| e == "gz") {
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        serde_json::to_writer(&mut encoder, value).expect("json writes");
        encoder.finish().expect("gzip finishes");
    } else {
        serde_json::to_writer(file, value).expect("json writes");
    }
}
