#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of Parallax: the recorded-data importers,
# the trie, and the engine against sequential revm. See tests/fuzz/README.md.
#
#   scripts/fuzz.sh [--build-only] [SECONDS] [TARGET...]
#
# Builds the targets, builds their seed corpora from the shared fixtures (PARALLAX_FIXTURES,
# else ../shared/fixtures), then runs each TARGET (default: all) for SECONDS (default 60).
# A hang (-timeout), a memory blow-up (-rss_limit_mb), a panic or a failed check is a crash:
# the script goes on with the other targets, then exits 1 naming each crashed target and its
# artifact. Works on the stable toolchain: RUSTC_BOOTSTRAP lets it take cargo-fuzz's
# nightly-only flags, and the targets are built without a sanitizer (-s none).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzz_dir="$root/tests/fuzz"

build_only=false
if [ "${1:-}" = "--build-only" ]; then
    build_only=true
    shift
fi
seconds="${1:-60}"
shift || true
all_targets=(differential trie prestate_dump proof_recording execution_witness consensus_test block_rlp access_list)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# The build: release, debug assertions and overflow checks on, coverage instrumentation.
export RUSTC_BOOTSTRAP=1
(cd "$fuzz_dir" && cargo fuzz build -s none)
$build_only && exit 0

bin_dir="$fuzz_dir/target/x86_64-unknown-linux-gnu/release"
corpus="$fuzz_dir/corpus"
artifacts="$fuzz_dir/artifacts"

# The importers that read only paths get each input as a file here (in memory if it can be).
scratch_base=/dev/shm
[ -d "$scratch_base" ] && [ -w "$scratch_base" ] || scratch_base="${TMPDIR:-/tmp}"
scratch=$(mktemp -d "$scratch_base/parallax-fuzz.XXXXXX")
extracted=$(mktemp -d)
trap 'rm -rf "$scratch" "$extracted"' EXIT
export PARALLAX_FUZZ_SCRATCH="$scratch"

# Seeds, from the fixtures beside the repository (never copied into it).
fixtures="${PARALLAX_FIXTURES:-$(cd "$root/.." && pwd)/shared/fixtures}"
if [ -d "$fixtures" ] && command -v python3 >/dev/null; then
    # A few small consensus-test files from each archive.
    for archive in "$fixtures"/consensus/*.tar.zst; do
        case "$archive" in *benchmark*) continue ;; esac
        mapfile -t files < <(tar --zstd -tvf "$archive" |
            awk '$3 <= 150000 && $6 ~ /\.json$/ { print $6 }' | head -n 10)
        if [ ${#files[@]} -gt 0 ]; then
            tar --zstd -xf "$archive" -C "$extracted" "${files[@]}"
        fi
    done
    python3 "$fuzz_dir/seeds.py" "$fixtures" "$extracted" "$corpus"
else
    echo "warning: no fixtures at $fixtures (or no python3): fuzzing without seeds" >&2
fi

# Per-input time limit (seconds): a consensus test imports whole blocks.
timeout_for() {
    case "$1" in
        consensus_test | block_rlp | execution_witness | proof_recording | prestate_dump) echo 20 ;;
        *) echo 10 ;;
    esac
}

# Inputs of the targets that decode a description with `arbitrary` may be long at once:
# a block of several transactions takes a few hundred bytes.
extra_for() {
    case "$1" in
        differential | trie) echo "-len_control=0 -max_len=4096" ;;
    esac
}

failed=()
for target in "${targets[@]}"; do
    mkdir -p "$corpus/$target" "$artifacts/$target"
    echo "==> fuzzing $target for ${seconds}s"
    status=0
    "$bin_dir/$target" "$corpus/$target" \
        -max_total_time="$seconds" \
        -timeout="$(timeout_for "$target")" \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$artifacts/$target/" \
        $(extra_for "$target") || status=$?
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "CRASH in $target (exit $status); artifacts:" >&2
        ls -t "$artifacts/$target" | head -n 5 | sed "s|^|  $artifacts/$target/|" >&2
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]}" >&2
    echo "reproduce: $bin_dir/TARGET ARTIFACT; minimize: (cd tests/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz tmin -s none TARGET ARTIFACT)" >&2
    exit 1
fi
echo "no crash in: ${targets[*]}"
