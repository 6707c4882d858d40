//! Where the shared test fixtures live, and what to do when they are absent.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// Overrides the fixture directory.
pub const FIXTURES_ENV: &str = "PARALLAX_FIXTURES";
/// When set (CI sets it), missing fixtures are an error instead of a skip.
pub const REQUIRE_FIXTURES_ENV: &str = "PARALLAX_REQUIRE_FIXTURES";

/// The fixture root: `$PARALLAX_FIXTURES`, else `../shared/fixtures` beside the repository.
pub fn fixtures_root() -> PathBuf {
    match std::env::var_os(FIXTURES_ENV) {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

/// The fixture subdirectory `relative`, or `None` after saying plainly, on the terminal,
/// that the calling test is skipped and why. With `PARALLAX_REQUIRE_FIXTURES` set, a
/// missing fixture panics instead.
pub fn fixture_or_skip(test: &str, relative: &str) -> Option<PathBuf> {
    let path = fixtures_root().join(relative);
    if path.exists() {
        return Some(path);
    }
    let reason = format!(
        "{test}: SKIPPED, fixture {} not found (set {FIXTURES_ENV} to the fixture directory)",
        path.display()
    );
    if std::env::var_os(REQUIRE_FIXTURES_ENV).is_some() {
        panic!("{reason}; {REQUIRE_FIXTURES_ENV} is set, so this is an error");
    }
    // Written to the real stderr so that the test harness does not swallow it.
    let _ = writeln!(std::io::stderr(), "{reason}");
    None
}
