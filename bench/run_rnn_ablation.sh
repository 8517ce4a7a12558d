#!/usr/bin/env bash
# What each part of the recurrent path buys: tapegrad's training step with the composed ops of
# the equations or the fused steps, each with backward keeping subnormals (IEEE) or flushing
# them (the default), 1 thread, side by side in one run. Builds like bench/run_rnn.sh
# (build-bench/), runs rnn_tapegrad only, interleaving the four variants in every block, and
# prints one table of median ms per step (and tape MB).
#
#   bash bench/run_rnn_ablation.sh
#
# Environment: TAPEGRAD_BENCH_REPS (6), TAPEGRAD_BENCH_BLOCKS (3), TAPEGRAD_BENCH_MIN_REP_MS
# (100). Output: build-bench/rnn_ablation.jsonl and build-bench/rnn_ablation.md.
set -euo pipefail
cd "$(dirname "$0")/.."

reps="${TAPEGRAD_BENCH_REPS:-6}"
blocks="${TAPEGRAD_BENCH_BLOCKS:-3}"
min_rep_ms="${TAPEGRAD_BENCH_MIN_REP_MS:-100}"
build="build-bench"
per_block=$(((reps + blocks - 1) / blocks))
shapes=("1 50 64 64" "32 50 64 128" "64 100 256 512" "16 200 32 64")
cells=(rnn lstm gru)
# label|environment
variants=("composed, IEEE|TAPEGRAD_BENCH_COMPOSED=1 TAPEGRAD_BENCH_IEEE_BACKWARD=1"
  "composed, flushed|TAPEGRAD_BENCH_COMPOSED=1 TAPEGRAD_BENCH_IEEE_BACKWARD=0"
  "fused, IEEE|TAPEGRAD_BENCH_COMPOSED=0 TAPEGRAD_BENCH_IEEE_BACKWARD=1"
  "fused, flushed|TAPEGRAD_BENCH_COMPOSED=0 TAPEGRAD_BENCH_IEEE_BACKWARD=0")

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=bench/bench_lib.sh
source bench/bench_lib.sh
bench_build "$build" "${TAPEGRAD_JOBS:-2}" none rnn_tapegrad
results="$build/rnn_ablation.jsonl"
: >"$results"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), started $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for shape in "${shapes[@]}"; do
  read -r b t i h <<<"$shape"
  for cell in "${cells[@]}"; do
    echo "$cell ($b,$t,$i,$h)" >&2
    for ((block = 0; block < blocks; block++)); do
      for ((k = 0; k < ${#variants[@]}; k++)); do
        IFS='|' read -r label envs <<<"${variants[$(((k + block) % ${#variants[@]}))]}"
        read -r -a env_args <<<"$envs"
        out="$(env OPENBLAS_NUM_THREADS=1 "${env_args[@]}" "$build/bench/rnn_tapegrad" --cell "$cell" \
          --batch "$b" --seq "$t" --input "$i" --hidden "$h" --mode train --threads 1 \
          --reps "$per_block" --warmup 2 --min-rep-ms "$min_rep_ms" | tail -n 1)"
        echo "{\"variant\":\"$label\",${out#\{}" >>"$results"
      done
    done
  done
done
python3 - "$results" <<'PY' | tee "$build/rnn_ablation.md"
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    key = ((d["batch"], d["seq"], d["input"], d["hidden"]), d["cell"])
    rows.setdefault(key, {}).setdefault(d["variant"], []).append(d)
variants = ["composed, IEEE", "composed, flushed", "fused, IEEE", "fused, flushed"]
print("| B, T, in, H | cell | " + " | ".join(f"{v} ms" for v in variants)
      + " | fused, flushed / composed, IEEE | tape MB composed / fused |")
print("|---|---|" + "---:|" * (len(variants) + 2))
for (shape, cell), by in rows.items():
    med = {v: statistics.median(t for d in by[v] for t in d["times_ms"]) for v in variants}
    tape = {v: by[v][0]["tape_bytes"] / 1e6 for v in variants}
    print(f"| {','.join(map(str, shape))} | {cell} | "
          + " | ".join(f"{med[v]:.3g}" for v in variants)
          + f" | {med['fused, flushed'] / med['composed, IEEE']:.2f}"
          + f" | {tape['composed, IEEE']:.1f} / {tape['fused, flushed']:.1f} |")
PY
