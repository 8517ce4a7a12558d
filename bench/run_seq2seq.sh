#!/usr/bin/env bash
# A training step of the translation example's model (nn::Encoder, nn::AttentionDecoder: a
# bidirectional GRU encoder, a Luong decoder with input feeding and the general score) against
# the same model written with LibTorch's C++ API. Builds seq2seq_tapegrad and (when CMake finds
# Debian's LibTorch) seq2seq_torch (Release, Ninja, ccache) in build-bench/, checks that both
# compute the same step (LibTorch loads tapegrad's initial weights by name and compares the
# losses, gradients and weights of three steps; a failed check stops the script), records the
# machine, times the step in fresh processes and prints one markdown table (docs/performance.md,
# "Sequence to sequence: a training step against LibTorch", holds a copy).
#
#   bash bench/run_seq2seq.sh                  the default sizes (Config in seq2seq_common.hpp)
#   bash bench/run_seq2seq.sh --hidden 256     other sizes: every option goes to both binaries
#                                              (--batch --src-len --src-len-min --tgt-len
#                                              --tgt-len-min --src-vocab --tgt-vocab --embed)
#   bash bench/run_seq2seq.sh --quick          checks the harness: few, short repetitions
#
# Every measurement is a fresh process per library and thread count. A thread count runs in
# TAPEGRAD_BENCH_BLOCKS blocks; each block runs tapegrad and LibTorch once each, in an order
# that rotates from block to block, so the machine's noise hits both alike; the medians pool the
# repetitions of every block. LibTorch runs twice per block: as it ships, and with glibc's
# malloc keeping freed memory (GLIBC_TUNABLES: bench_blocks in bench/bench_lib.sh; LibTorch's
# allocator is malloc); with 2 threads also with OMP_WAIT_POLICY=PASSIVE (as in run_rnn.sh; the
# malloc variant then is PASSIVE too). The table gives tapegrad / LibTorch against each.
#
# Threads: OPENBLAS_NUM_THREADS and OMP_NUM_THREADS are the thread count in every process, and
# each binary sets it too (tapegrad::set_num_threads; torch::set_num_threads and
# openblas_set_num_threads). OPENBLAS_CORETYPE is left as the caller's environment has it, for
# both libraries: unlike run_rnn.sh this script does not choose OpenBLAS's kernels on CPUs that
# OpenBLAS 0.3.21 misdetects, so tapegrad runs as a user's program would (the machine section
# records the value).
#
# Environment: TAPEGRAD_BENCH_REPS timed repetitions per library and thread count (12),
# TAPEGRAD_BENCH_BLOCKS blocks they are split into (4), TAPEGRAD_BENCH_MIN_REP_MS shortest
# repetition in ms (200), TAPEGRAD_BENCH_THREADS ("1"; "1 2" adds two threads), TAPEGRAD_JOBS
# build parallelism (2). Output: build-bench/seq2seq_results.jsonl (one JSON line per process),
# build-bench/seq2seq_check.json (the value check) and build-bench/seq2seq_table.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

quick=false
sizes=()
while (($# > 0)); do
  case "$1" in
    --quick) quick=true ;;
    --batch | --src-len | --src-len-min | --tgt-len | --tgt-len-min | --src-vocab | --tgt-vocab | \
      --embed | --hidden | --seed)
      (($# >= 2)) || { echo "run_seq2seq.sh: $1 needs a value" >&2; exit 2; }
      sizes+=("$1" "$2")
      shift
      ;;
    *)
      echo "usage: bash bench/run_seq2seq.sh [--quick] [--batch B] [--src-len S] [--src-len-min S0]" \
        "[--tgt-len T] [--tgt-len-min T0] [--src-vocab Vs] [--tgt-vocab Vt] [--embed E]" \
        "[--hidden H] [--seed N]" >&2
      exit 2
      ;;
  esac
  shift
done

reps="${TAPEGRAD_BENCH_REPS:-12}"
blocks="${TAPEGRAD_BENCH_BLOCKS:-4}"
min_rep_ms="${TAPEGRAD_BENCH_MIN_REP_MS:-200}"
threads_list="${TAPEGRAD_BENCH_THREADS:-1}"
jobs="${TAPEGRAD_JOBS:-2}"
warmup=2
build="build-bench"
if $quick; then
  reps="${TAPEGRAD_BENCH_REPS:-4}"
  blocks="${TAPEGRAD_BENCH_BLOCKS:-2}"
  min_rep_ms="${TAPEGRAD_BENCH_MIN_REP_MS:-50}"
  warmup=1
fi
per_block=$(((reps + blocks - 1) / blocks))

bash scripts/setup.sh --bench

# ---- build ----

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=bench/bench_lib.sh
source bench/bench_lib.sh
bench_build "$build" "$jobs" seq2seq_torch seq2seq_tapegrad
have_torch=$bench_have_torch
bin="$build/bench"
if ! $have_torch; then
  echo "run_seq2seq.sh: LibTorch not found by CMake; running tapegrad alone" >&2
fi

results="$build/seq2seq_results.jsonl"
check="$build/seq2seq_check.json"
table="$build/seq2seq_table.md"
: >"$results"
rm -f "$check"

# ---- the same model: LibTorch runs tapegrad's weights ----

if $have_torch; then
  bench_value_check run_seq2seq.sh "$build/seq2seq_check.bin" "$check" "$bin/seq2seq_tapegrad" \
    "$bin/seq2seq_torch" "${sizes[@]}"
fi

# ---- the machine ----

tiny=(--batch 2 --src-len 3 --src-len-min 2 --tgt-len 2 --tgt-len-min 1 --embed 4 --hidden 4
  --reps 1 --warmup 0 --min-rep-ms 0)
blas="$(sed -n 's/.*"blas":"\([^"]*\)".*/\1/p' \
  <<<"$(OPENBLAS_NUM_THREADS=1 "$bin/seq2seq_tapegrad" "${tiny[@]}")")"
torch_blas="not built"
if $have_torch; then
  torch_blas="LibTorch $(sed -n 's/.*"torch_version":"\([^"]*\)".*/\1/p' \
    <<<"$(OPENBLAS_NUM_THREADS=1 "$bin/seq2seq_torch" "${tiny[@]}")"), BLAS $(bench_torch_blas "$bin/seq2seq_torch")"
fi
{
  bench_machine "$blas" "$torch_blas"
  echo "- $reps repetitions per library and thread count in $blocks blocks (TAPEGRAD_BENCH_REPS, TAPEGRAD_BENCH_BLOCKS), repetitions of at least $min_rep_ms ms, $warmup warm-up steps per process"
} | tee "$table"

# ---- the runs ----

torch_bin=""
$have_torch && torch_bin="$bin/seq2seq_torch"
start=$SECONDS
bench_blocks run_seq2seq.sh "$results" "$build/seq2seq_last_stderr.log" "$blocks" "$threads_list" \
  "$bin/seq2seq_tapegrad" "$torch_bin" "${sizes[@]}" --reps "$per_block" --warmup "$warmup" \
  --min-rep-ms "$min_rep_ms"

check_arg=()
[[ -s $check ]] && check_arg=("$check")
{
  bench_finished "$start"
  echo
  echo "## Result"
  echo
  python3 bench/seq2seq_table.py "$results" "${check_arg[@]}"
} | tee -a "$table"
