# Shared by the benchmark runners against LibTorch (run_rnn.sh, run_seq2seq.sh): the build tree,
# the machine's description and one measured process. Source it after cd-ing to the repository
# root and sourcing scripts/lib.sh:  source bench/bench_lib.sh
# shellcheck shell=bash

# bench_build BUILD_DIR JOBS TORCH_TARGET TARGET...: configures the benchmarks' Release tree
# (Ninja, ccache; tests and examples off) and builds the TARGETs, and TORCH_TARGET too when CMake
# found LibTorch (its binaries exist only then); sets bench_have_torch to true or false.
# shellcheck disable=SC2034  # bench_have_torch is read by the script that sourced this file
bench_build() {
  local dir="$1" jobs="$2" torch_target="$3"
  shift 3
  local targets=("$@")
  configure . "$dir" -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_BENCH=ON \
    -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF >/dev/null
  bench_have_torch=false
  if bench_defines "$dir" "$torch_target"; then
    targets+=("$torch_target")
    bench_have_torch=true
  fi
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
}

# bench_defines BUILD_DIR TARGET: whether the configured tree defines TARGET (the binaries of
# the optional libraries exist only when CMake found the library).
bench_defines() {
  cmake --build "$1" --target help | grep -q "^$2:"
}

# bench_cpu: "MODEL NAME (family F, model M), N logical CPUs".
bench_cpu() {
  local model id
  model="$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
  id="family $(grep -m 1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m 1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')"
  echo "$model ($id), $(nproc) logical CPUs"
}

# bench_torch_blas BINARY: the BLAS that BINARY's LibTorch loads, e.g. "libblas.so.3 ->
# openblas-pthread/libblas.so.3".
bench_torch_blas() {
  local torch_lib blas_so
  torch_lib="$(ldd "$1" | awk '/libtorch_cpu/ {print $3}')"
  blas_so="$(ldd "$torch_lib" | awk '/libblas.so/ {print $3}')"
  echo "$(basename "$blas_so") -> $(readlink -f "$blas_so" | sed 's|.*/x86_64-linux-gnu/||')"
}

# bench_run SCRIPT RESULTS STDERR_LOG LABEL ENV... BINARY ARGS...: one process, `env ENV...
# BINARY ARGS...`; its last output line (a JSON object) is appended to RESULTS. A process that
# fails or prints no JSON is reported ("SCRIPT: LABEL failed", the tail of its stderr, kept in
# STDERR_LOG) and skipped.
bench_run() {
  local script="$1" results="$2" log="$3" label="$4" out status=0
  shift 4
  out="$(env "$@" 2>"$log")" || status=$?
  if ((status != 0)) || [[ $out != "{"* ]]; then
    echo "$script: $label failed (status $status); stderr in $log" >&2
    tail -n 5 "$log" >&2
    return 0
  fi
  tail -n 1 <<<"$out" >>"$results"
}
