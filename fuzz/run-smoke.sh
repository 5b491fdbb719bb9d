#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20), on stable through
# RUSTC_BOOTSTRAP (cargo-fuzz needs -Z flags). Fails on a crash, a leak or
# a timeout. New inputs go to fuzz/corpus-work/TARGET (gitignored); the
# committed seeds in tests/support/corpus/TARGET are read only
# (kept under tests/ so the packaged crate can replay them).
#
#   fuzz/run-smoke.sh [SECONDS]
set -euo pipefail

seconds="${1:-20}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
# Every target there is: one added to fuzz_targets/ is run too.
targets=()
for f in fuzz_targets/*.rs; do
    targets+=("$(basename "$f" .rs)")
done
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets in fuzz/fuzz_targets" >&2
    exit 1
fi

# One build of all targets, then the runs.
cargo fuzz build

status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus-work/$target"
    echo "== fuzz $target for ${seconds}s" >&2
    if ! cargo fuzz run "$target" "corpus-work/$target" "../tests/support/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        echo "!! fuzz target $target failed; reproducer in fuzz/artifacts/$target/" >&2
        status=1
    fi
done
exit "$status"
