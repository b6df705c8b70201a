#!/usr/bin/env bash
# Runs every fuzz target for the same time (default 600 s each, one after the other) and prints
# one result line per target. A run reads the committed seed corpus (fuzz/corpus/<target>/) and a
# working corpus, fuzz/grown/<target>/ (git-ignored), and writes what it finds to the working
# corpus only, so fuzz/corpus/ is never touched and later runs start from everything found so far.
# A crash stops the run with its input in fuzz/artifacts/<target>/.
#
# The committed corpus is a small seed, capped per target (`cap` below; the repository keeps at
# most 500 inputs in all): the inputs that cover the most edges, then features, picked greedily
# by pick-seed.py from libFuzzer's per-input coverage (merge control files). Inputs named
# regression-* are pinned: always kept, and counted in the cap.
# --minimise adds to fuzz/corpus/<target>/ the grown inputs that add the most coverage, while it
# holds fewer inputs than the cap, and removes none; it says when the cap stops it.
# --minimise-all re-picks fuzz/corpus/<target>/ up to the cap from fuzz/corpus/<target>/ and
# fuzz/grown/<target>/ together, keeping the regression-* inputs.
# Given alone, either merges without fuzzing; with seconds it fuzzes first. Commit fuzz/corpus/
# afterwards.
#
#   fuzz/run-all.sh [seconds_per_target]                    fuzz, growing fuzz/grown/
#   fuzz/run-all.sh --minimise|--minimise-all [seconds]     pick from fuzz/grown/ into fuzz/corpus/
set -euo pipefail
cd "$(dirname "$0")"
# Most inputs each target's committed seed may hold (480 in all, under the 500 the repository
# allows); a target not listed gets default_cap.
declare -A cap=([ids_and_paths]=30 [lambda_event]=210 [relay_frame]=95 [signaling_message]=90
    [websocket_frames]=55)
default_cap=50
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
        # Every input's coverage, edges alone then edges with hit counts: a set-cover merge into
        # a throwaway directory writes each input's full feature set to its control file.
        for kind in edges features; do
            [ $kind = edges ] && counters=0 || counters=1
            mkdir "$tmp/$kind"
            if ! cargo fuzz run -s none -O "$t" "$tmp/$kind" "corpus/$t" "grown/$t" -- -merge=1 \
                -set_cover_merge=1 -use_counters=$counters -merge_control_file="$tmp/$kind.cf" \
                >"$tmp/log" 2>&1; then
                echo "$t: merge FAILED, fuzz/corpus/$t left as it was"; tail -40 "$tmp/log"; exit 1
            fi
        done
        if [ "$minimise" = all ]; then
            keep=$(find "corpus/$t" -maxdepth 1 -type f -name 'regression-*' | sort)
        else
            keep=$(find "corpus/$t" -maxdepth 1 -type f | sort)
        fi
        # shellcheck disable=SC2086 # input names are hashes or regression-<word>: no spaces
        python3 pick-seed.py "${cap[$t]:-$default_cap}" "$tmp/edges.cf" "$tmp/features.cf" $keep \
            >"$tmp/seed" 2>"$tmp/summary"
        mkdir "$tmp/out"
        xargs -r cp -p -t "$tmp/out" <"$tmp/seed"
        if [ "$(count "$tmp/out")" = 0 ]; then
            echo "$t: no seed picked, fuzz/corpus/$t left as it was"; cat "$tmp/summary"; exit 1
        fi
        before=$(count "corpus/$t")
        from_grown=$(grep -c "^grown/" "$tmp/seed" || true)
        summary=$(cat "$tmp/summary")
        rm -rf "corpus/$t" && mv "$tmp/out" "corpus/$t"
        rm -rf "$tmp"
        echo "$t: corpus $before -> $(count "corpus/$t") inputs ($from_grown from fuzz/grown); $summary"
    done
fi
