//! Files for the importers that only read paths: each input is written to a per-process
//! directory in memory (`/dev/shm` where there is one), which costs a few system calls,
//! small beside the JSON parsing the importers do.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This process's scratch directory, created once: under `PARALLAX_FUZZ_SCRATCH` when set
/// (scripts/fuzz.sh sets it, and removes it afterwards), else under `/dev/shm` or the
/// temporary directory.
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = match std::env::var_os("PARALLAX_FUZZ_SCRATCH") {
            Some(base) => PathBuf::from(base),
            None if shm.is_dir() => shm.to_path_buf(),
            None => std::env::temp_dir(),
        };
        let dir = base.join(format!("parallax-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    })
}

/// Writes `bytes` to `name` in the scratch directory (gzipped files are written stored, so
/// the importer's gunzip runs on every input) and returns its path.
pub fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir().join(name);
    let content = if name.ends_with(".gz") {
        gzip_stored(bytes)
    } else {
        bytes.to_vec()
    };
    std::fs::write(&path, content).expect("scratch write");
    path
}

/// A gzip member holding `data` in stored (uncompressed) deflate blocks: a valid `.gz`
/// without a compressor.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(0xffff).peekable();
    if chunks.peek().is_none() {
        out.extend([1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = chunk.len() as u16;
        out.push(u8::from(last));
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The parts of an input made of several files, separated by NUL bytes (which JSON never
/// holds unescaped); missing parts are empty.
pub fn parts<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut parts = [&data[..0]; N];
    let mut rest = data;
    for (i, part) in parts.iter_mut().enumerate() {
        if i + 1 == N {
            *part = rest;
            break;
        }
        match rest.iter().position(|b| *b == 0) {
            Some(at) => {
                *part = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *part = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    parts
}
