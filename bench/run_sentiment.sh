#!/usr/bin/env bash
# The sentiment example end to end: its training throughput (sentences/s over whole epochs of its
# data set) against the same model and training step written with LibTorch's C++ API. Builds
# sentiment_tapegrad (the example's own model and training step) and, when CMake finds Debian's
# LibTorch, sentiment_torch (Release, Ninja, ccache) in build-bench/, fetches the example's data
# set (scripts/get_sentiment_data.sh), has sentiment_tapegrad write the example's training split
# as ids with its settings and the batches of every epoch (build-bench/sentiment_corpus.txt, which
# both binaries then train on), checks that both compute the same training step (LibTorch loads
# tapegrad's initial weights by name and compares the losses, gradients and weights of three
# steps with dropout off; a failed check stops the script), records the machine, times the epochs
# in fresh processes and prints one markdown table (docs/performance.md, "Sentiment end to end
# against LibTorch", holds a copy).
#
#   bash bench/run_sentiment.sh                 the example's defaults (its ModelConfig, TrainConfig)
#   bash bench/run_sentiment.sh --cell lstm     other settings of the example: --cell
#                                               --embedding-dim --hidden --batch-size --seed
#   bash bench/run_sentiment.sh --quick         checks the harness: one short epoch per process
#
# Every measurement is a fresh process per library and thread count, in TAPEGRAD_BENCH_BLOCKS
# blocks whose processes run in an order that rotates from block to block (bench_blocks in
# bench/bench_lib.sh, as run_seq2seq.sh): tapegrad, LibTorch as it ships and LibTorch with
# glibc's malloc keeping freed memory; with 2 threads also LibTorch with OMP_WAIT_POLICY=PASSIVE.
# A process trains its warm-up epochs and then its timed ones, from the same initial state and
# through the same batches as every other process of its library; a timed epoch is one sample
# of sentences/s. OPENBLAS_CORETYPE is left as the caller's environment has it (as in
# run_seq2seq.sh).
#
# Environment: TAPEGRAD_BENCH_REPS timed epochs per library and thread count (8),
# TAPEGRAD_BENCH_BLOCKS blocks they are split into (4), TAPEGRAD_BENCH_WARMUP untimed epochs per
# process (1), TAPEGRAD_BENCH_THREADS ("1"; "1 2" adds two threads), TAPEGRAD_JOBS build
# parallelism (2). Output: build-bench/sentiment_results.jsonl (one JSON line per process),
# build-bench/sentiment_check.json (the value check) and build-bench/sentiment_table.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

quick=false
settings=()
seed=1
while (($# > 0)); do
  case "$1" in
    --quick) quick=true ;;
    --cell | --embedding-dim | --hidden | --batch-size | --seed)
      (($# >= 2)) || { echo "run_sentiment.sh: $1 needs a value" >&2; exit 2; }
      if [[ $1 == --seed ]]; then seed="$2"; else settings+=("$1" "$2"); fi
      shift
      ;;
    *)
      echo "usage: bash bench/run_sentiment.sh [--quick] [--cell C] [--embedding-dim E]" \
        "[--hidden H] [--batch-size B] [--seed N]" >&2
      exit 2
      ;;
  esac
  shift
done

reps="${TAPEGRAD_BENCH_REPS:-8}"
blocks="${TAPEGRAD_BENCH_BLOCKS:-4}"
warmup="${TAPEGRAD_BENCH_WARMUP:-1}"
threads_list="${TAPEGRAD_BENCH_THREADS:-1}"
jobs="${TAPEGRAD_JOBS:-2}"
build="build-bench"
if $quick; then
  reps="${TAPEGRAD_BENCH_REPS:-2}"
  blocks="${TAPEGRAD_BENCH_BLOCKS:-2}"
  warmup="${TAPEGRAD_BENCH_WARMUP:-0}"
fi
per_block=$(((reps + blocks - 1) / blocks))

bash scripts/setup.sh --bench

# ---- build ----

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=bench/bench_lib.sh
source bench/bench_lib.sh
bench_build "$build" "$jobs" sentiment_torch sentiment_tapegrad sentiment_import
have_torch=$bench_have_torch
bin="$build/bench"
if ! $have_torch; then
  echo "run_sentiment.sh: LibTorch not found by CMake; running tapegrad alone" >&2
fi

results="$build/sentiment_results.jsonl"
check="$build/sentiment_check.json"
table="$build/sentiment_table.md"
corpus="$build/sentiment_corpus.txt"
: >"$results"
rm -f "$check"

# ---- the data: the example's training split, as ids, and its batches ----

bash scripts/get_sentiment_data.sh "$build"
data="datasets/sentiment/sentences.tsv"
OPENBLAS_NUM_THREADS=1 "$bin/sentiment_tapegrad" --prepare "$data" --corpus "$corpus" \
  --planned-epochs $((warmup + per_block)) --seed "$seed" "${settings[@]}"

# ---- the same model: LibTorch runs tapegrad's weights ----

if $have_torch; then
  bench_value_check run_sentiment.sh "$build/sentiment_check.bin" "$check" \
    "$bin/sentiment_tapegrad" "$bin/sentiment_torch" --corpus "$corpus" --seed "$seed"
fi

# ---- the machine ----

blas="$(sed -n 's/.*"blas":"\([^"]*\)".*/\1/p' <<<"$(OPENBLAS_NUM_THREADS=1 "$bin/sentiment_tapegrad" --info 1)")"
torch_blas="not built"
torch_bin=""
if $have_torch; then
  torch_bin="$bin/sentiment_torch"
  torch_blas="LibTorch $(sed -n 's/.*"torch_version":"\([^"]*\)".*/\1/p' \
    <<<"$(OPENBLAS_NUM_THREADS=1 "$torch_bin" --info 1)"), BLAS $(bench_torch_blas "$torch_bin")"
fi
{
  bench_machine "$blas" "$torch_blas"
  echo "- $reps timed epochs per library and thread count in $blocks blocks (TAPEGRAD_BENCH_REPS, TAPEGRAD_BENCH_BLOCKS): $per_block per process after $warmup warm-up epoch(s) (TAPEGRAD_BENCH_WARMUP)"
} | tee "$table"

# ---- the runs ----

start=$SECONDS
bench_blocks run_sentiment.sh "$results" "$build/sentiment_last_stderr.log" "$blocks" \
  "$threads_list" "$bin/sentiment_tapegrad" "$torch_bin" --corpus "$corpus" \
  --epochs "$per_block" --warmup "$warmup" --seed "$seed"

check_arg=()
[[ -s $check ]] && check_arg=("$check")
{
  bench_finished "$start"
  echo
  echo "## Result"
  echo
  python3 bench/sentiment_table.py "$results" "${check_arg[@]}"
} | tee -a "$table"
