#!/usr/bin/env bash
# Runs every fuzz target for the same time (default 600 s each, one after the other) and prints
# one result line per target. A run reads the committed, minimised corpus (fuzz/corpus/<target>/)
# and a working corpus, fuzz/grown/<target>/ (git-ignored), and writes what it finds to the
# working corpus only, so fuzz/corpus/ is never touched and later runs start from everything found
# so far. A crash stops the run with its input in fuzz/artifacts/<target>/.
#
# --minimise merges fuzz/grown/<target>/ back into fuzz/corpus/<target>/: only the grown inputs
# that add coverage to the committed corpus go in (the smallest such set, libFuzzer's set-cover
# merge), none goes out. --minimise-all rebuilds fuzz/corpus/<target>/ as the smallest set of
# fuzz/corpus/<target>/ and fuzz/grown/<target>/ with their coverage (what
# `cargo fuzz cmin -- -set_cover_merge=1` does), keeping the pinned regression inputs
# (regression-*) whatever it picks. Given alone, either merges without fuzzing; with seconds it
# fuzzes first. Commit fuzz/corpus/ afterwards.
#
#   fuzz/run-all.sh [seconds_per_target]                    fuzz, growing fuzz/grown/
#   fuzz/run-all.sh --minimise|--minimise-all [seconds]     merge fuzz/grown/ into fuzz/corpus/
set -euo pipefail
cd "$(dirname "$0")"
seconds=600 fuzz=1 minimise=0
for arg in "$@"; do
    case $arg in
        --minimise | --minimize) minimise=1 ;;
        --minimise-all | --minimize-all) minimise=all ;;
        *[!0-9]* | '') echo "usage: $0 [--minimise | --minimise-all] [seconds_per_target]" >&2; exit 2 ;;
        *) seconds=$arg given_seconds=1 ;;
    esac
done
[ "$minimise" != 0 ] && [ -z "${given_seconds:-}" ] && fuzz=0
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
for t in $targets; do cargo fuzz build -s none -O "$t" >/dev/null; done
count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
tmp=""
trap 'rm -rf "${log:-}" "$tmp"' EXIT

if [ "$fuzz" = 1 ]; then
    for t in $targets; do
        mkdir -p "grown/$t"
        log=$(mktemp)
        # The first directory receives the new inputs; the committed corpus is only read.
        if cargo fuzz run -s none -O "$t" "grown/$t" "corpus/$t" -- -max_total_time="$seconds" >"$log" 2>&1; then
            runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | awk '{print $2}')
            cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
            committed=$(count "corpus/$t") grown=$(count "grown/$t")
            echo "$t: ${seconds}s, ${runs:-?} runs, no crash; coverage ${cov:-?} edges, corpus $((committed + grown)) inputs ($committed committed, $grown in fuzz/grown)"
        else
            echo "$t: CRASH (input in fuzz/artifacts/$t/)"; tail -40 "$log"; exit 1
        fi
        rm -f "$log"
    done
fi

if [ "$minimise" != 0 ]; then
    for t in $targets; do
        mkdir -p "grown/$t"
        tmp=$(mktemp -d "grown/.merge-$t.XXXXXX")
        mkdir "$tmp/out"
        # The merge's starting set (its first directory) is kept whole; the other directories
        # only add the inputs that bring coverage it lacks.
        if [ "$minimise" = all ]; then
            find "corpus/$t" -maxdepth 1 -type f -name 'regression-*' -exec cp {} "$tmp/out/" \;
            inputs=("corpus/$t" "grown/$t")
        else
            cp -pr "corpus/$t/." "$tmp/out/"
            inputs=("grown/$t")
        fi
        if ! cargo fuzz run -s none -O "$t" "$tmp/out" "${inputs[@]}" \
            -- -merge=1 -set_cover_merge=1 >"$tmp/log" 2>&1 || [ "$(count "$tmp/out")" = 0 ]; then
            echo "$t: merge FAILED, fuzz/corpus/$t left as it was"; tail -40 "$tmp/log"; exit 1
        fi
        before=$(count "corpus/$t")
        from_grown=$(comm -12 <(ls "$tmp/out" | sort) <(comm -13 <(ls "corpus/$t" | sort) <(ls "grown/$t" | sort)) | wc -l)
        rm -rf "corpus/$t" && mv "$tmp/out" "corpus/$t"
        rm -rf "$tmp"
        echo "$t: merged, corpus $before -> $(count "corpus/$t") inputs ($from_grown from fuzz/grown)"
    done
fi
