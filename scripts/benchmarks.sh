#!/usr/bin/env bash
# Measures everything BENCHMARKS.md reports and rewrites it (with the plot under
# benchmarks/): the synthetic gigagas suite and every mainnet pre-state block, sequential
# revm against the parallel engine in the same run.
#
#   scripts/benchmarks.sh [THREADS]     THREADS: comma-separated counts, default: 1 and all CPUs
#
# Then `cargo bench` runs the same comparisons under criterion, if you want its statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-1,$(nproc)}"
cargo build --release --locked --bin parallax
./target/release/parallax report --threads "$threads" --rounds 21 --output BENCHMARKS.md
