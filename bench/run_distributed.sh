#!/usr/bin/env bash
# Data-parallel scaling: builds bench_distributed (Release, Ninja, ccache) in build-bench/ and
# runs it under mpirun on 1 and 2 processes, one thread each, for the LSTM at (batch 32, T 100,
# in 128, hidden 256) and the sentiment example's model; the processes alternate in blocks so
# the machine's noise hits both alike; 2 processes also with buckets of 256 KiB (several
# buckets, so the exchange starts during backward) besides DataParallel's default 25 MiB (one
# bucket for these models). Prints a markdown table: the median step (the slowest rank's), its
# parts, the throughput of all processes together, the speed-up over one process and the bytes
# each process contributes per step (docs/distributed.md holds a copy).
#
#   bash bench/run_distributed.sh
#
# Environment: TAPEGRAD_BENCH_BLOCKS blocks (3), TAPEGRAD_BENCH_STEPS timed steps per process
# (20), TAPEGRAD_JOBS build parallelism (2), TAPEGRAD_BENCH_BINARY a bench_distributed built
# elsewhere (nothing is built then). mpirun as root needs OMPI_ALLOW_RUN_AS_ROOT=1 and
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (set here). Output: build-bench/distributed_results.jsonl,
# build-bench/distributed_table.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
source bench/bench_lib.sh

blocks="${TAPEGRAD_BENCH_BLOCKS:-3}"
steps="${TAPEGRAD_BENCH_STEPS:-20}"
jobs="${TAPEGRAD_JOBS:-2}"
build="build-bench"
if [[ -n "${TAPEGRAD_BENCH_BINARY:-}" ]]; then
  binary="$TAPEGRAD_BENCH_BINARY"
  mkdir -p "$build"
else
  bench_build "$build" "$jobs" none bench_distributed
  binary="$build/bench/bench_distributed"
fi
[[ -x "$binary" ]] || { echo "run_distributed.sh: $binary was not built (MPI not found?)" >&2; exit 1; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
results="$build/distributed_results.jsonl"
table="$build/distributed_table.md"
: >"$results"
start=$SECONDS
for ((b = 1; b <= blocks; ++b)); do
  for model in lstm sentiment; do
    for config in "1 25600" "2 25600" "2 256"; do
      read -r np kb <<<"$config"
      bench_run run_distributed.sh "$results" "$build/distributed_stderr.txt" \
        "$model np $np buckets ${kb} KiB" \
        mpirun --bind-to none -np "$np" "$binary" "$model" --steps "$steps" --bucket-kb "$kb"
    done
  done
done

python3 - "$results" >"$table" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| model | processes | bucket KiB | step ms | backward ms | wait for the buckets ms | Adam ms | examples/s | speed-up | bytes/step (payload) | ring bytes sent | buckets (started in backward, complete when the wait began) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
one = {}
for model in ("lstm", "sentiment"):
    for np, kb in ((1, 25600), (2, 25600), (2, 256)):
        runs = [r for r in rows if r["model"] == model and r["ranks"] == np
                and r["bucket_bytes"] == kb * 1024]
        if not runs:
            continue
        med = lambda key: statistics.median(r[key] for r in runs)
        eps = med("examples_per_s")
        if np == 1:
            one[model] = eps
        speed = eps / one[model] if model in one else float("nan")
        r = runs[0]
        print(f"| {model} ({r['batch']}, T {r['time_steps']}) | {np} | {kb} | {med('slowest_rank_step_ms'):.1f} | "
              f"{med('compute_ms'):.1f} | {med('finish_wait_ms'):.2f} | {med('optimizer_ms'):.2f} | "
              f"{eps:.0f} | {speed:.2f}x | {r['payload_bytes']} | {r['ring_bytes_sent']:.0f} | "
              f"{r['buckets']} ({r['started_in_backward']}, {med('complete_at_finish'):.0f}) |")
PY
cat "$table"
echo
echo "$((SECONDS - start)) s, $blocks block(s) of $steps steps; $results"
