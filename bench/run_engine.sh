#!/usr/bin/env bash
# The engine benchmark: builds bench_engine (Release, Ninja, ccache) in build-bench/, records the
# machine (CPU model, OpenBLAS configuration and the core type it picked), checks OpenBLAS's
# kernels, runs the benchmark with repetitions and random interleaving, and prints the medians
# as markdown tables (docs/performance.md holds a copy).
#
#   bash bench/run_engine.sh [bench_engine flags, e.g. --blas_threads=2 --benchmark_filter=gemm]
#
# OpenBLAS 0.3.21 picks its kernels from the CPU model. On a CPU it does not know (newer Intel
# Xeons) it falls back to 'Prescott', SSE3 kernels about 3-5x slower than the AVX2/AVX-512
# ones. When OPENBLAS_CORETYPE is unset and that happened, this script checks the better
# kernels for correctness on this machine (bench/blas_check.cpp: sgemm/dgemm/sgemv/dgemv against
# a naive double-precision loop), then runs the benchmark twice: with the default core and with
# the best one that passed. Set OPENBLAS_CORETYPE yourself to run with that core only.
#
# Environment: TAPEGRAD_BENCH_REPS repetitions (10), TAPEGRAD_JOBS build parallelism (2).
# Works from any directory. Output files: build-bench/bench_engine_<core>.{json,log}.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

reps="${TAPEGRAD_BENCH_REPS:-10}"
jobs="${TAPEGRAD_JOBS:-2}"
build="build-bench"

bash scripts/setup.sh

# ---- build ----

source scripts/lib.sh  # ccache settings, configure
configure . "$build" -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_BENCH=ON \
  -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j "$jobs" --target bench_engine blas_check

bench="$build/bench/bench_engine"
check="$build/bench/blas_check"

# ---- the machine ----

cpu_model="$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
cpus="$(nproc)"
flags=" $(grep -m 1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() {
  for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done
}
isa="SSE2"
has avx2 fma && isa="AVX2+FMA"
has avx512f avx512bw avx512dq avx512vl avx512cd && isa="AVX-512 (F/BW/DQ/VL/CD), AVX2+FMA"

default_core="$("$bench" --blas_info | sed -n 's/^core: //p')"
blas_info="$("$bench" --blas_info | sed -n 's/^blas_info: //p')"

echo
echo "## Machine"
echo
echo "- CPU: $cpu_model, $cpus logical CPUs, $isa"
echo "- BLAS: \`$blas_info\` (tapegrad::blas_info())"
echo "- OpenBLAS core: $default_core (OPENBLAS_CORETYPE ${OPENBLAS_CORETYPE:-unset})"
echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- OpenBLAS core types: check the kernels before using them ----

# Runs blas_check with core type $1 (empty: OpenBLAS's own choice); prints one line.
check_core() {
  local log="$build/blas_check_${1:-default}.log" status=0
  if [[ -n $1 ]]; then
    OPENBLAS_CORETYPE="$1" "$check" 1 >"$log" 2>&1 || status=$?
  else
    env -u OPENBLAS_CORETYPE "$check" 1 >"$log" 2>&1 || status=$?
  fi
  # "sgemm   336 cases, 0 failed, worst error/bound 0.181" -> totals
  local totals
  totals="$(awk '/cases,/ {n += $2; f += $4; if ($NF > w) w = $NF}
                 END {printf "%d cases, %d failed, worst error/bound %.2f", n, f, w}' "$log")"
  if ((status == 0)); then
    echo "- ${1:-default ($default_core)}: PASS, $totals"
    return 0
  fi
  echo "- ${1:-default ($default_core)}: FAIL, $totals; see $log:"
  grep -m 5 FAIL "$log" | sed 's/^/    /'
  return 1
}

cores=("${OPENBLAS_CORETYPE:-}")  # the default run: the environment as given
echo
echo "## OpenBLAS kernel check (sgemm, dgemm, sgemv, dgemv against a naive double loop)"
echo
check_core "${OPENBLAS_CORETYPE:-}" || echo "  (the default core failed: its GEMM numbers below are suspect)"
if [[ -z ${OPENBLAS_CORETYPE:-} && $default_core == Prescott ]] && has avx2 fma; then
  candidates=()
  has avx512f avx512bw avx512dq avx512vl avx512cd && candidates+=(SkylakeX)
  candidates+=(Haswell)
  best=""
  for c in "${candidates[@]}"; do
    if check_core "$c"; then
      best="$c"
      break
    fi
  done
  echo
  echo "NOTE: OpenBLAS does not recognise this CPU and fell back to its Prescott (SSE3) kernels,"
  echo "although the CPU has $isa."
  if [[ -n $best ]]; then
    echo "The $best kernels pass the check on this machine; for faster GEMMs run with"
    echo "    export OPENBLAS_CORETYPE=$best"
    cores+=("$best")
  else
    echo "No better kernel passed the check; keeping Prescott."
  fi
fi

# ---- run ----

files=()
for core in "${cores[@]}"; do
  label="${core:-default}"
  json="$build/bench_engine_${label}.json"
  log="$build/bench_engine_${label}.log"
  echo
  echo "run_engine.sh: running bench_engine with OPENBLAS_CORETYPE=${core:-(unset)}, $reps repetitions (log: $log)"
  if [[ -n $core ]]; then
    env OPENBLAS_CORETYPE="$core" "$bench" --benchmark_repetitions="$reps" \
      --benchmark_enable_random_interleaving=true --benchmark_display_aggregates_only=true \
      --benchmark_out="$json" --benchmark_out_format=json "$@" >"$log" 2>&1
  else
    env -u OPENBLAS_CORETYPE "$bench" --benchmark_repetitions="$reps" \
      --benchmark_enable_random_interleaving=true --benchmark_display_aggregates_only=true \
      --benchmark_out="$json" --benchmark_out_format=json "$@" >"$log" 2>&1
  fi
  files+=("${core:-default ($default_core)}=$json")
done

echo
echo "## Results"
echo
python3 bench/engine_table.py "${files[@]}"
