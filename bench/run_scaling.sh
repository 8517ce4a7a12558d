#!/usr/bin/env bash
# What a second thread buys tapegrad's training step (issue #17's target: two threads at least
# 1.7x one at the two largest shapes of the recurrent grid): rnn_tapegrad alone, one thread and
# two, alternating in every block, so that both counts see the same state of a shared machine.
# Builds like bench/run_rnn.sh (build-bench/); sets no variable for the benchmark's processes.
#
#   bash bench/run_scaling.sh
#
# Environment: TAPEGRAD_BENCH_REPS repetitions per thread count and configuration (12),
# TAPEGRAD_BENCH_BLOCKS (4), TAPEGRAD_BENCH_MIN_REP_MS (100), TAPEGRAD_BENCH_MODE (train or
# infer). Output: build-bench/rnn_scaling.jsonl and build-bench/rnn_scaling.md: per
# configuration the median ms of each thread count, their ratio, and the ratio of each block's
# medians (the spread the machine's noise gives).
set -euo pipefail
cd "$(dirname "$0")/.."

reps="${TAPEGRAD_BENCH_REPS:-12}"
blocks="${TAPEGRAD_BENCH_BLOCKS:-4}"
min_rep_ms="${TAPEGRAD_BENCH_MIN_REP_MS:-100}"
mode="${TAPEGRAD_BENCH_MODE:-train}"
build="build-bench"
per_block=$(((reps + blocks - 1) / blocks))
shapes=("32 100 128 256" "64 100 256 512")
cells=(rnn lstm gru)

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=bench/bench_lib.sh
source bench/bench_lib.sh
bench_build "$build" "${TAPEGRAD_JOBS:-2}" none rnn_tapegrad
results="$build/rnn_scaling.jsonl"
: >"$results"
started="$(date -u +%Y-%m-%dT%H:%MZ)"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $mode, started $started, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for shape in "${shapes[@]}"; do
  read -r b t i h <<<"$shape"
  for cell in "${cells[@]}"; do
    echo "$cell ($b,$t,$i,$h)" >&2
    for ((block = 0; block < blocks; block++)); do
      # The order of the two counts alternates from block to block.
      for threads in $([[ $((block % 2)) == 0 ]] && echo "1 2" || echo "2 1"); do
        out="$("$build/bench/rnn_tapegrad" --cell "$cell" --batch "$b" --seq "$t" --input "$i" \
          --hidden "$h" --mode "$mode" --threads "$threads" --reps "$per_block" --warmup 2 \
          --min-rep-ms "$min_rep_ms" | tail -n 1)"
        echo "{\"block\":$block,${out#\{}" >>"$results"
      done
    done
  done
done
python3 - "$results" "$mode" "$started" <<'PY' | tee "$build/rnn_scaling.md"
import json, statistics, sys
path, mode, started = sys.argv[1:4]
rows = {}
for line in open(path):
    d = json.loads(line)
    key = ((d["batch"], d["seq"], d["input"], d["hidden"]), d["cell"])
    per = rows.setdefault(key, {}).setdefault(d["threads"], {})
    per.setdefault(d["block"], []).extend(d["times_ms"])
print(f"{mode}, started {started}; ms per step, medians of every repetition")
print()
print("| B, T, in, H | cell | 1 thread ms | 2 threads ms | 1 / 2 | per block |")
print("|---|---|---:|---:|---:|---|")
for (shape, cell), per in rows.items():
    one = [t for ts in per[1].values() for t in ts]
    two = [t for ts in per[2].values() for t in ts]
    m1, m2 = statistics.median(one), statistics.median(two)
    blocks = sorted(set(per[1]) & set(per[2]))
    spread = ", ".join(
        f"{statistics.median(per[1][k]) / statistics.median(per[2][k]):.2f}" for k in blocks)
    print(f"| {','.join(map(str, shape))} | {cell} | {m1:.3g} | {m2:.3g} | {m1 / m2:.2f} | {spread} |")
PY
