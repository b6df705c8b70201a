#!/usr/bin/env bash
# Runs every fuzz target for the same time (default 600 s each, one after the other) on the
# committed corpus, and prints one result line per target. New corpus entries stay in
# fuzz/corpus/<target>/ (commit the interesting ones); a crash stops the run with its input in
# fuzz/artifacts/<target>/.
#
#   fuzz/run-all.sh [seconds_per_target]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
for t in $targets; do cargo fuzz build -s none -O "$t" >/dev/null; done
for t in $targets; do
    log=$(mktemp)
    if cargo fuzz run -s none -O "$t" -- -max_total_time="$seconds" >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | awk '{print $2}')
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
        corpus=$(ls "corpus/$t" | wc -l)
        echo "$t: ${seconds}s, ${runs:-?} runs, no crash; coverage ${cov:-?} edges, corpus $corpus inputs"
    else
        echo "$t: CRASH (input in fuzz/artifacts/$t/)"; tail -40 "$log"; rm -f "$log"; exit 1
    fi
    rm -f "$log"
done
