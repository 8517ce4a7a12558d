#!/usr/bin/env bash
# Recurrent training and inference, tapegrad against LibTorch and oneDNN: builds rnn_tapegrad,
# rnn_sgemm and, when CMake finds Debian's LibTorch and oneDNN, rnn_torch and rnn_onednn
# (Release, Ninja, ccache) in build-bench/, records the machine, checks oneDNN's results, runs
# the grid and prints one markdown table per mode and thread count (docs/performance.md,
# "Recurrent training against LibTorch", holds a copy).
#
# The three libraries do the same work (bench/rnn/rnn_torch.cpp, rnn_tapegrad.cpp): LibTorch's
# torch::nn::RNN/LSTM/GRU with autograd, tapegrad's, and oneDNN's fused RNN primitives
# (rnn_onednn.cpp: vanilla_rnn with tanh, lstm, lbr_gru, the GRU of PyTorch; forward, backward
# and weight gradients in one primitive each, the head, loss and Adam around them). Before the
# grid, `rnn_onednn --check` compares oneDNN's hidden states, logits and (train) gradients with a
# double-precision implementation of PyTorch's equations, for each cell and mode at two small
# shapes; a failure stops the run, and the largest errors go into the machine section.
#
#   bash bench/run_rnn.sh            the whole grid: 5 shapes x RNN/LSTM/GRU x train/infer x 1, 2 threads
#   bash bench/run_rnn.sh --quick    one shape per cell, few repetitions: checks the harness
#
# Every measurement is a fresh process per (library, shape, cell, mode, threads), so the peak
# resident memory is that configuration's. A configuration runs in TAPEGRAD_BENCH_BLOCKS blocks;
# each block runs tapegrad, LibTorch, oneDNN and the raw-sgemm reference once each, in an order
# that rotates from block to block, so the machine's noise hits all of them alike; the medians
# pool the repetitions of every block. With 2 threads LibTorch and oneDNN run twice per block,
# with OMP_WAIT_POLICY=PASSIVE and with the default policy (LibTorch's OpenMP workers otherwise
# spin next to OpenBLAS's threads; oneDNN's, which are its only threads, spin through the serial
# head, loss and Adam of a step, and on a busy machine either spinning can cost far more than
# it saves), and the table compares the faster of the two.
#
# Environment: TAPEGRAD_BENCH_REPS timed repetitions per library and configuration (9),
# TAPEGRAD_BENCH_BLOCKS blocks they are split into (3), TAPEGRAD_BENCH_MIN_REP_MS shortest
# repetition in ms (100; short steps are repeated within it), TAPEGRAD_BENCH_THREADS ("1 2"),
# TAPEGRAD_BENCH_FLUSH_DENORMALS=1 runs every process with denormals flushed to zero (FTZ/DAZ,
# as torch::set_flush_denormal(true); default 0: each library as it ships: LibTorch and oneDNN
# keep subnormals, tapegrad's backward flushes them), TAPEGRAD_BENCH_IEEE_BACKWARD=1 makes
# tapegrad's backward keep them too (tapegrad::set_flush_denormals(false); outputs get an _ieee
# suffix), TAPEGRAD_JOBS build parallelism (2). Nothing else is set for tapegrad's process: it
# chooses its GEMM kernels itself. Output: build-bench/rnn_results.jsonl
# (one JSON line per process) and build-bench/rnn_tables.md (rnn_results_ftz.jsonl,
# rnn_tables_ftz.md when flushing).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

quick=false
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true ;;
    *)
      echo "usage: bash bench/run_rnn.sh [--quick]" >&2
      exit 2
      ;;
  esac
done

reps="${TAPEGRAD_BENCH_REPS:-9}"
blocks="${TAPEGRAD_BENCH_BLOCKS:-3}"
min_rep_ms="${TAPEGRAD_BENCH_MIN_REP_MS:-100}"
threads_list="${TAPEGRAD_BENCH_THREADS:-1 2}"
flush="${TAPEGRAD_BENCH_FLUSH_DENORMALS:-0}"
jobs="${TAPEGRAD_JOBS:-2}"
warmup=2
build="build-bench"

# (batch seq input hidden) per cell
shapes=("1 50 64 64" "32 50 64 128" "32 100 128 256" "64 100 256 512" "16 200 32 64")
cells=(rnn lstm gru)
declare -A quick_shape=([rnn]="1 50 64 64" [lstm]="32 50 64 128" [gru]="16 200 32 64")
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
bench_build "$build" "$jobs" rnn_torch rnn_tapegrad rnn_sgemm
have_torch=$bench_have_torch
bin="$build/bench"
if ! $have_torch; then
  echo "run_rnn.sh: LibTorch not found by CMake; running without it" >&2
fi
have_onednn=false
if bench_defines "$build" rnn_onednn; then
  cmake --build "$build" -j "$jobs" --target rnn_onednn
  have_onednn=true
else
  echo "run_rnn.sh: oneDNN not found by CMake; running without it" >&2
fi

# ---- oneDNN against PyTorch's equations ----

check_shapes=("3 6 5 7" "4 5 9 16") # (batch seq input hidden): odd sizes, then vector-wide ones
onednn_check="not built"
if $have_onednn; then
  onednn_check=""
  for cell in "${cells[@]}"; do
    for mode in train infer; do
      worst=0
      for shape in "${check_shapes[@]}"; do
        read -r b t i h <<<"$shape"
        # prints its JSON line; on a failure also the tensors over the tolerance (stderr)
        if ! out="$("$bin/rnn_onednn" --check --cell "$cell" --mode "$mode" \
          --batch "$b" --seq "$t" --input "$i" --hidden "$h" --threads 1)"; then
          echo "run_rnn.sh: rnn_onednn --check failed ($cell, $mode, B,T,in,H = ${shape// /,}):" \
            "oneDNN's results are not PyTorch's equations; stopping" >&2
          exit 1
        fi
        err="$(sed -n 's/.*"max_error":\([^,]*\),.*/\1/p' <<<"$out")"
        worst="$(awk -v a="$worst" -v b="$err" 'BEGIN { print (b + 0 > a + 0) ? b : a }')"
      done
      onednn_check+="${onednn_check:+, }$cell $mode $(printf '%.1e' "$worst")"
    done
  done
  onednn_check="largest error (max |oneDNN - reference| / max |reference| over hidden states, logits and, train, every gradient; tolerance 1e-4) at B,T,in,H = $(printf '%s; ' "${check_shapes[@]// /,}" | sed 's/; $//'): $onednn_check"
fi

# ---- the machine ----

suffix=""
[[ $flush == 1 ]] && suffix="_ftz"
[[ ${TAPEGRAD_BENCH_IEEE_BACKWARD:-0} == 1 ]] && suffix="${suffix}_ieee"
results="$build/rnn_results$suffix.jsonl"
tables="$build/rnn_tables$suffix.md"
: >"$results"

probe="$(OPENBLAS_NUM_THREADS=1 "$bin/rnn_sgemm" --batch 1 --seq 1 --input 8 --hidden 8 --reps 1 --warmup 0 --min-rep-ms 0)"
blas="$(sed -n 's/.*"blas":"\([^"]*\)".*/\1/p' <<<"$probe")"
onednn_lib="not built"
if $have_onednn; then
  probe="$("$bin/rnn_onednn" --batch 1 --seq 1 --input 8 --hidden 8 --reps 1 --warmup 0 --min-rep-ms 0)"
  onednn_lib="oneDNN $(sed -n 's/.*"onednn_version":"\([^"]*\)".*/\1/p' <<<"$probe") ($(sed -n 's/.*"onednn_isa":"\([^"]*\)".*/\1/p' <<<"$probe"), OpenMP threads), fused RNN primitives"
fi
torch_blas="not built"
if $have_torch; then
  torch_blas="LibTorch $(sed -n 's/.*"torch_version":"\([^"]*\)".*/\1/p' \
    <<<"$(OPENBLAS_NUM_THREADS=1 "$bin/rnn_torch" --batch 1 --seq 1 --input 8 --hidden 8 --reps 1 --warmup 0 --min-rep-ms 0)"), BLAS $(bench_torch_blas "$bin/rnn_torch")"
fi
{
  echo "## Machine"
  echo
  echo "- CPU: $(bench_cpu)"
  echo "- OpenBLAS: \`$blas\` (OPENBLAS_CORETYPE ${OPENBLAS_CORETYPE:-unset})"
  echo "- $torch_blas"
  echo "- $onednn_lib; checked against PyTorch's equations in double: $onednn_check"
  echo "- commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (working tree as is), started $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- denormals: $(if [[ $flush == 1 ]]; then echo "flushed to zero in every process (FTZ/DAZ, TAPEGRAD_BENCH_FLUSH_DENORMALS=1)"; else echo "each library's default: LibTorch, oneDNN and sgemm keep them; tapegrad's backward flushes them$([[ ${TAPEGRAD_BENCH_IEEE_BACKWARD:-0} == 1 ]] && echo " except here: TAPEGRAD_BENCH_IEEE_BACKWARD=1")"; fi)"
  echo "- $reps repetitions per library and configuration in $blocks blocks (TAPEGRAD_BENCH_REPS, TAPEGRAD_BENCH_BLOCKS), repetitions of at least $min_rep_ms ms, $warmup warm-up steps per process"
} | tee "$tables"

# ---- the grid ----

# run LABEL ENV... -- BINARY ARGS...: one process; appends its JSON line to $results.
run() {
  bench_run run_rnn.sh "$results" "$build/rnn_last_stderr.log" "$@"
}

configs=()
for threads in $threads_list; do
  for mode in train infer; do
    for shape in "${shapes[@]}"; do
      for cell in "${cells[@]}"; do
        if $quick && [[ ${quick_shape[$cell]} != "$shape" ]]; then continue; fi
        configs+=("$threads|$mode|$shape|$cell")
      done
    done
  done
done

n=0
start=$SECONDS
for config in "${configs[@]}"; do
  IFS='|' read -r threads mode shape cell <<<"$config"
  read -r b t i h <<<"$shape"
  n=$((n + 1))
  args=(--cell "$cell" --batch "$b" --seq "$t" --input "$i" --hidden "$h" --mode "$mode"
    --threads "$threads" --reps "$per_block" --warmup "$warmup" --min-rep-ms "$min_rep_ms"
    --flush-denormals "$flush")
  # Every binary raises OpenBLAS to --threads itself; starting at 1 makes OpenBLAS create its
  # workers then, after the binary has set the floating-point mode they inherit.
  common=(-u OMP_WAIT_POLICY OPENBLAS_NUM_THREADS=1)
  # tapegrad runs as a user's program would, in the environment as it is (its set_num_threads
  # sets every pool), unless every process flushes denormals: then its workers too must start
  # after the mode is set.
  mine=()
  if [[ $flush == 1 ]]; then mine=(OPENBLAS_NUM_THREADS=1); fi
  # the processes of one block: label|env...|binary
  procs=("tapegrad|${mine[*]}|$bin/rnn_tapegrad" "sgemm|${common[*]}|$bin/rnn_sgemm")
  if $have_torch; then
    procs+=("libtorch|${common[*]}|$bin/rnn_torch")
    if ((threads > 1)); then
      procs+=("libtorch-passive|OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE|$bin/rnn_torch")
    fi
  fi
  if $have_onednn; then
    procs+=("onednn|${common[*]}|$bin/rnn_onednn")
    if ((threads > 1)); then
      procs+=("onednn-passive|OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE|$bin/rnn_onednn")
    fi
  fi
  printf '[%d/%d] %s, %s thread(s), %s (B,T,in,H = %s), %ds elapsed, load %s\n' "$n" \
    "${#configs[@]}" "$mode" "$threads" "$cell" "${shape// /,}" $((SECONDS - start)) \
    "$(cut -d' ' -f1 /proc/loadavg)" >&2
  for ((block = 0; block < blocks; block++)); do
    for ((k = 0; k < ${#procs[@]}; k++)); do
      IFS='|' read -r label envs binary <<<"${procs[$(((k + block) % ${#procs[@]}))]}"
      read -r -a env_args <<<"$envs"
      run "$label $config" "${env_args[@]}" "$binary" "${args[@]}"
    done
  done
done

{
  echo "- finished $(date -u +%Y-%m-%dT%H:%MZ) after $((SECONDS - start)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "## Results"
  echo
  python3 bench/rnn_table.py "$results"
} | tee -a "$tables"
