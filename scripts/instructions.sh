#!/usr/bin/env bash
# Counts the instructions (valgrind's callgrind) that sequential revm and the parallel path
# at one thread execute on 0.1-gigagas raw_transfers, erc20 and uniswap blocks, and prints
# one JSON line per workload:
#   {"workload", "sequential_instructions", "parallel_instructions", "ratio"}
#
# Instruction counts repeat far better than wall times on a noisy machine, so they decide what
# to keep: within about 1.4% run to run (the allocator's choices vary a little), so compare
# small changes with paired, repeated runs. Block construction and the checking run are
# excluded: each side is counted with one and with three timed rounds of
# `parallax bench --engine SIDE`, and half the difference is one execution. valgrind's fair
# scheduling keeps the worker threads' idle spinning nearly the same run to run.
#
# Usage: scripts/instructions.sh [WORKLOAD...]   (GAS=100000000 by default)
set -euo pipefail
cd "$(dirname "$0")/.."

gas="${GAS:-100000000}"
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(raw_transfers erc20 uniswap)

if ! command -v valgrind >/dev/null; then
    echo "error: valgrind not found (apt-get install valgrind)" >&2
    exit 2
fi
cargo build --release --locked --bin parallax >&2
bin=target/release/parallax
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Instructions of one whole `parallax bench` process.
count() { # workload side rounds
    local log="$scratch/$1-$2-$3.log"
    if ! valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file="$scratch/cg.out" \
        "$bin" bench --threads 1 --gas "$gas" --rounds "$3" --engine "$2" --workload "$1" --policy parallel \
        --json >/dev/null 2>"$log"; then
        echo "error: parallax bench failed under valgrind for $1 ($2), see below" >&2
        cat "$log" >&2
        exit 1
    fi
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log" | tail -1
}

for workload in "${workloads[@]}"; do
    # Three timed rounds against one, halved: two executions, so that what little the
    # thread scheduler adds is averaged.
    seq=$(( ($(count "$workload" sequential 3) - $(count "$workload" sequential 1)) / 2 ))
    par=$(( ($(count "$workload" parallel 3) - $(count "$workload" parallel 1)) / 2 ))
    ratio=$(awk -v p="$par" -v s="$seq" 'BEGIN { printf "%.3f", p / s }')
    printf '{"workload":"%s","sequential_instructions":%d,"parallel_instructions":%d,"ratio":%s}\n' \
        "$workload" "$seq" "$par" "$ratio"
done
