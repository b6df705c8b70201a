#!/usr/bin/env python3
"""Picks a capped seed corpus for one fuzz target; run by run-all.sh --minimise / --minimise-all.

    pick-seed.py CAP EDGES FEATURES [KEEP...]

EDGES and FEATURES are libFuzzer merge control files (`-merge=1 -set_cover_merge=1
-merge_control_file=F`, the first run with `-use_counters=0` so that a feature is an edge, the
second without, so that a feature is an edge and a hit-count bucket), over every candidate input.
With -set_cover_merge each "FT <i> ..." line lists all of input i's features, not only the new
ones. The paths given as KEEP are kept whatever their coverage; the rest are added one at a time,
each time the input that adds the most edges not yet covered, then the most features, then the
smallest, while the seed holds fewer than CAP inputs and something adds coverage (greedy set
cover, lazily re-evaluated: an input's gain only shrinks as the seed grows).

Prints the seed's paths, one a line, KEEP first; on stderr, one summary line.
"""
import heapq
import os
import sys


def load(path):
    with open(path) as f:
        lines = f.read().split("\n")
    n = int(lines[0])
    files = lines[2 : 2 + n]
    sets = {}
    for line in lines[2 + n :]:
        p = line.split()
        if p and p[0] == "FT":
            sets[files[int(p[1])]] = frozenset(map(int, p[2:]))
    return sets


def main():
    cap = int(sys.argv[1])
    edges, feats = load(sys.argv[2]), load(sys.argv[3])
    keep = sys.argv[4:]
    seed, names = [], set()
    covered_e, covered_f = set(), set()
    for path in keep:
        seed.append(path)
        names.add(os.path.basename(path))
        covered_e |= edges.get(path, frozenset())
        covered_f |= feats.get(path, frozenset())
    heap = []
    for path in sorted(edges):
        name = os.path.basename(path)
        if name in names or path not in feats:
            continue  # the same input twice (inputs are named by their hash), or no features
        names.add(name)
        gain = (len(edges[path] - covered_e), len(feats[path] - covered_f))
        heap.append((-gain[0], -gain[1], os.path.getsize(path), path))
    heapq.heapify(heap)
    added = 0
    while heap and len(seed) < cap:
        _, _, size, path = heapq.heappop(heap)
        gain = (len(edges[path] - covered_e), len(feats[path] - covered_f))
        if gain == (0, 0):
            continue
        if heap and (-gain[0], -gain[1], size, path) > heap[0]:
            heapq.heappush(heap, (-gain[0], -gain[1], size, path))  # stale: re-rank it
            continue
        seed.append(path)
        covered_e |= edges[path]
        covered_f |= feats[path]
        added += 1
    left = sum(
        1 for *_, p in heap if (edges[p] - covered_e) or (feats[p] - covered_f)
    )
    all_e = set().union(*edges.values()) if edges else set()
    all_f = set().union(*feats.values()) if feats else set()
    print("\n".join(seed))
    print(
        f"{len(seed)} inputs ({len(keep)} kept, {added} added), edges {len(covered_e)} of "
        f"{len(all_e)}, features {len(covered_f)} of {len(all_f)}"
        + (f"; cap {cap} reached, {left} more inputs would add coverage" if left else ""),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
