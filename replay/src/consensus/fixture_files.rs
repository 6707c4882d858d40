//! Reading BlockchainTest fixtures from JSON files, directories and `.tar.zst` archives,
//! without unpacking archives to disk.

use super::blockchain_test::FixtureFile;
use std::{
    io::Read,
    path::{Path, PathBuf},
};

/// One fixture file's content, with where it came from.
#[derive(Debug)]
pub struct FixtureSource {
    /// The suite it belongs to: the archive or directory given on the command line.
    pub suite: String,
    /// The file, inside the archive if any.
    pub file: String,
    /// Tests by name, still as JSON (parsed one at a time).
    pub tests: FixtureFile,
}

/// A problem reading fixtures.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct SourceError {
    /// The file or archive.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

/// Calls `each` with every fixture file under `path` (directories in name order, archives
/// in archive order).
pub fn for_each_fixture_file(
    path: &Path,
    mut each: impl FnMut(FixtureSource),
) -> Result<(), SourceError> {
    visit(path, &mut each)
}

fn visit(path: &Path, each: &mut dyn FnMut(FixtureSource)) -> Result<(), SourceError> {
    let suite = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let suite = suite.trim_end_matches(".tar.zst").to_owned();
    let error = |reason: String| SourceError {
        path: path.display().to_string(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|e| error(e.to_string()))?;
    if metadata.is_dir() {
        let mut files = Vec::new();
        collect_fixtures(path, &mut files).map_err(|e| error(e.to_string()))?;
        files.sort();
        for file in files {
            if is_archive(&file) {
                // An archive in a directory is a suite of its own.
                visit(&file, each)?;
                continue;
            }
            let bytes =
                std::fs::read(&file).map_err(|e| error(format!("{}: {e}", file.display())))?;
            each(parse(&suite, &file.display().to_string(), &bytes)?);
        }
    } else if is_archive(path) {
        let file = std::fs::File::open(path).map_err(|e| error(e.to_string()))?;
        let decoder =
            zstd::stream::read::Decoder::new(file).map_err(|e| error(format!("not zstd: {e}")))?;
        let mut archive = tar::Archive::new(decoder);
        // Streamed entry by entry: the archives hold hundreds of megabytes of JSON.
        for entry in archive
            .entries()
            .map_err(|e| error(format!("not a tar archive: {e}")))?
        {
            let mut entry = entry.map_err(|e| error(format!("corrupt archive: {e}")))?;
            let name = entry
                .path()
                .map_err(|e| error(e.to_string()))?
                .display()
                .to_string();
            if !name.ends_with(".json") {
                continue;
            }
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| error(format!("{name}: {e}")))?;
            each(parse(&suite, &name, &bytes)?);
        }
    } else {
        let bytes = std::fs::read(path).map_err(|e| error(e.to_string()))?;
        each(parse(&suite, &path.display().to_string(), &bytes)?);
    }
    Ok(())
}

fn parse(suite: &str, file: &str, bytes: &[u8]) -> Result<FixtureSource, SourceError> {
    let tests = serde_json::from_slice(bytes).map_err(|e| SourceError {
        path: file.to_owned(),
        reason: format!("malformed JSON: {e}"),
    })?;
    Ok(FixtureSource {
        suite: suite.to_owned(),
        file: file.to_owned(),
        tests,
    })
}

fn is_archive(path: &Path) -> bool {
    path.to_string_lossy().ends_with(".tar.zst")
}

/// JSON files and `.tar.zst` archives under `dir`.
fn collect_fixtures(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_fixtures(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") || is_archive(&path) {
            files.push(path);
        }
    }
    Ok(())
}
