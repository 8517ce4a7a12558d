# Shared by the benchmark runners against LibTorch (run_rnn.sh, run_seq2seq.sh, run_sentiment.sh):
# the build tree, the machine's description, one measured process and the interleaved blocks of
# processes. Source it after cd-ing to the repository root and sourcing scripts/lib.sh:
#   source bench/bench_lib.sh
# shellcheck shell=bash

# bench_build BUILD_DIR JOBS TORCH_TARGET TARGET...: configures the benchmarks' Release tree
# (Ninja, ccache; tests off; the examples' targets defined, for run_sentiment.sh, and built only
# when asked for) and builds the TARGETs, and TORCH_TARGET too when CMake found LibTorch (its
# binaries exist only then); sets bench_have_torch to true or false.
# shellcheck disable=SC2034  # bench_have_torch is read by the script that sourced this file
bench_build() {
  local dir="$1" jobs="$2" torch_target="$3"
  shift 3
  local targets=("$@")
  configure . "$dir" -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_BENCH=ON \
    -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=ON >/dev/null
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

# bench_value_check SCRIPT CHECK_FILE CHECK_JSON TAPEGRAD_BINARY TORCH_BINARY ARGS...: the value
# check (bench/value_check.hpp), one thread: TAPEGRAD_BINARY ARGS --check CHECK_FILE writes its
# initial weights and a few training steps, TORCH_BINARY ARGS --check CHECK_FILE loads the weights,
# runs the same steps, compares and writes its JSON line to CHECK_JSON. A failed check stops the
# calling script (exit 1) with the line on stderr: there is nothing to time when the two programs
# differ.
bench_value_check() {
  local script="$1" file="$2" json="$3" tapegrad_bin="$4" torch_bin="$5" status=0
  shift 5
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$tapegrad_bin" "$@" --check "$file" >/dev/null
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$torch_bin" "$@" --check "$file" >"$json" ||
    status=$?
  if ((status != 0)); then
    echo "$script: the value check failed (status $status): the two programs do not compute" \
      "the same training step; not timing them" >&2
    cat "$json" >&2
    exit 1
  fi
}

# bench_machine BLAS TORCH: the first lines of a run's machine section: the CPU, tapegrad's
# OpenBLAS (BLAS, its configuration string), LibTorch (TORCH, e.g. "LibTorch 1.13.0, BLAS ..."),
# the commit, the start time and the load average.
bench_machine() {
  echo "## Machine"
  echo
  echo "- CPU: $(bench_cpu)"
  echo "- OpenBLAS: \`$1\` (OPENBLAS_CORETYPE ${OPENBLAS_CORETYPE:-unset}: as the environment has it)"
  echo "- $2"
  echo "- commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (working tree as is), started $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_finished START: the machine section's last line, START being $SECONDS when the runs began.
bench_finished() {
  echo "- finished $(date -u +%Y-%m-%dT%H:%MZ) after $((SECONDS - $1)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# LibTorch's CPU tensors come from malloc and go back to it; glibc serves blocks of 128 KiB and
# more with fresh mmapped pages and trims the heap, so each step faults in its memory anew
# (about 30,000 page faults per step of run_seq2seq.sh's larger model). The "malloc kept"
# variant of bench_blocks keeps blocks below 32 MiB on the heap and the heap untrimmed: LibTorch
# with its allocations as cheap as glibc can make them, beside LibTorch as it ships.
bench_keep_heap="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"

# bench_blocks SCRIPT RESULTS STDERR_LOG BLOCKS THREADS TAPEGRAD_BINARY TORCH_BINARY ARGS...: for
# each thread count N of THREADS (a list, "1 2"), BLOCKS blocks of fresh processes. A block runs
# TAPEGRAD_BINARY once and TORCH_BINARY (none when it is "") once per LibTorch variant: as it
# ships; with N > 1 also with OMP_WAIT_POLICY=PASSIVE; and with glibc's malloc keeping its memory
# (GLIBC_TUNABLES=$bench_keep_heap, PASSIVE too when N > 1). The order of a block's processes
# rotates from block to block, so the machine's noise hits every library alike. Each process
# runs with ARGS and --threads N, OPENBLAS_NUM_THREADS and OMP_NUM_THREADS set to N, and its JSON
# line goes to RESULTS (bench_run).
bench_blocks() {
  local script="$1" results="$2" log="$3" blocks="$4" threads_list="$5" tapegrad_bin="$6"
  local torch_bin="$7"
  shift 7
  local start=$SECONDS threads block k label envs binary policy
  local -a common procs env_args
  for threads in $threads_list; do
    common=(-u OMP_WAIT_POLICY -u GLIBC_TUNABLES "OPENBLAS_NUM_THREADS=$threads"
      "OMP_NUM_THREADS=$threads")
    # the processes of one block: label|env...|binary
    procs=("tapegrad|${common[*]}|$tapegrad_bin")
    if [[ -n $torch_bin ]]; then
      procs+=("libtorch|${common[*]}|$torch_bin")
      policy=""
      if ((threads > 1)); then
        procs+=("libtorch-passive|${common[*]} OMP_WAIT_POLICY=PASSIVE|$torch_bin")
        policy=" OMP_WAIT_POLICY=PASSIVE"
      fi
      procs+=("libtorch-malloc|${common[*]}$policy GLIBC_TUNABLES=$bench_keep_heap|$torch_bin")
    fi
    for ((block = 0; block < blocks; block++)); do
      printf '%s thread(s), block %d/%d, %ds elapsed, load %s\n' "$threads" $((block + 1)) \
        "$blocks" $((SECONDS - start)) "$(cut -d' ' -f1 /proc/loadavg)" >&2
      for ((k = 0; k < ${#procs[@]}; k++)); do
        IFS='|' read -r label envs binary <<<"${procs[$(((k + block) % ${#procs[@]}))]}"
        read -r -a env_args <<<"$envs"
        bench_run "$script" "$results" "$log" "$label, $threads thread(s)" "${env_args[@]}" \
          "$binary" "$@" --threads "$threads"
      done
    done
  done
}
