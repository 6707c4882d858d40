//! Errors from reading recorded block data, each naming the file and what is wrong.

use std::path::{Path, PathBuf};

/// Recorded data that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the JSON it should be.
    #[error("{}: malformed JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: serde_json::Error,
    },
    /// The content is inconsistent or incomplete.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl LoadError {
    /// An inconsistency in `path`.
    pub fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// Reads a JSON file, gunzipping it when its name ends in `.gz`.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    let file = std::fs::File::open(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = std::io::BufReader::new(file);
    let parsed = if path.extension().is_some_and(|ext| ext == "gz") {
        serde_json::from_reader(std::io::BufReader::new(flate2::read::GzDecoder::new(
            reader,
        )))
    } else {
        serde_json::from_reader(reader)
    };
    parsed.map_err(|source| {
        if source.is_io() {
            LoadError::Io {
                path: path.to_path_buf(),
                source: source.into(),
            }
        } else {
            LoadError::Json {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}
