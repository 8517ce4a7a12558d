#!/usr/bin/env bash
# The float GEMM candidates for tapegrad, side by side: OpenBLAS's cblas_sgemm (what the library
# calls today) and oneDNN's dnnl_sgemm, at the GEMM shapes of bench/run_rnn.sh's grid (the six
# products of a recurrent layer's training step per shape and cell; bench/gemm/gemm_backends.cpp
# lists them). Builds gemm_backends (Release, Ninja, ccache) in build-bench/, records the machine,
# runs it once per code path and prints one markdown table (docs/performance.md, "GEMM
# candidates", holds a copy).
#
#   bash bench/run_gemm.sh                 1 thread, 7 repetitions of >= 20 ms per product
#   bash bench/run_gemm.sh --threads 2
#   bash bench/run_gemm.sh --quick         checks the harness: 2 short repetitions, a few products
#
# Code paths: "as is" runs with the machine's environment untouched (OpenBLAS takes the kernels
# of its CPU table or of OPENBLAS_CORETYPE if the environment sets it; oneDNN picks its
# instruction set from the CPU's features). The other runs force older paths to show what other
# CPUs get: OPENBLAS_CORETYPE=Prescott (SSE3), which OpenBLAS 0.3.21 takes by itself on Intel
# Xeons it does not know (family 6, model 207), and Haswell (AVX2) with oneDNN capped at AVX2
# (DNNL_MAX_CPU_ISA=AVX2), the path of every AVX2 CPU. These variables are set for the bench's
# processes only, to measure; the library sets none of them.
#
# Environment: TAPEGRAD_JOBS build parallelism (2). Output: build-bench/gemm_results.jsonl and
# build-bench/gemm_table.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

threads=1
reps=7
min_rep_ms=20
only=""
while (($# > 0)); do
  case "$1" in
    --quick) reps=2 min_rep_ms=2 only="lstm 1,50" ;;
    --threads)
      (($# >= 2)) || { echo "run_gemm.sh: --threads needs a value" >&2; exit 2; }
      threads="$2"
      shift
      ;;
    *)
      echo "usage: bash bench/run_gemm.sh [--quick] [--threads N]" >&2
      exit 2
      ;;
  esac
  shift
done

bash scripts/setup.sh --bench
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=bench/bench_lib.sh
source bench/bench_lib.sh

build=build-bench
configure . "$build" -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_BENCH=ON \
  -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j "${TAPEGRAD_JOBS:-2}" --target gemm_backends

results="$build/gemm_results.jsonl"
: >"$results"
args=(--threads "$threads" --reps "$reps" --min-rep-ms "$min_rep_ms")
[[ -n $only ]] && args+=(--only "$only")
{
  echo "## Machine"
  echo
  echo "- CPU: $(bench_cpu)"
  echo "- OpenBLAS: $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?'), oneDNN: $(dpkg-query -W -f='${Version}' libdnnl2 2>/dev/null || echo '?')"
  echo "- environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}, DNNL_MAX_CPU_ISA=${DNNL_MAX_CPU_ISA:-(unset)}"
  echo "- commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg); $threads thread(s), $reps repetitions of at least $min_rep_ms ms per product and library"
  echo
} >"$build/gemm_machine.md"
cat "$build/gemm_machine.md"

run() {
  local label="$1"
  shift
  echo "run_gemm.sh: $label" >&2
  env "$@" "$build/bench/gemm_backends" "${args[@]}" | sed "s/^{/{\"path\": \"$label\", /" >>"$results"
}
run "as is"
run "Prescott" OPENBLAS_CORETYPE=Prescott
run "AVX2" OPENBLAS_CORETYPE=Haswell DNNL_MAX_CPU_ISA=AVX2
echo "- finished $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$build/gemm_machine.md"

python3 bench/gemm_table.py "$results" >"$build/gemm_table.md"
cat "$build/gemm_machine.md" "$build/gemm_table.md"
