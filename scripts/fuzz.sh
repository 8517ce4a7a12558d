#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tapegrad's file readers (fuzz/) with clang, ASan and UBSan
# in build-fuzz/, and runs each on a copy of its seed corpus (fuzz/corpus/<harness>/, never
# grown by a run) with an RSS limit of 1 GB and a timeout of 10 s per input.
#
#   scripts/fuzz.sh                         every harness, 1,000,000 executions each
#   scripts/fuzz.sh --runs 50000 fuzz_npz   one harness, 50,000 executions
#   scripts/fuzz.sh --seconds 20            every harness for 20 s (what CI runs)
#   scripts/fuzz.sh --build-only            configure and build only
#
# Prints per harness the executions, the time, the coverage (libFuzzer's cov and ft) and the
# findings: 0, or the input that crashed (crash-*, leak-*, timeout-*, oom-*; kept in
# build-fuzz/fuzz-runs/<harness>/ with the log). Exits nonzero when anything was found.
# Reproduce a finding with: build-fuzz/bin/<harness> <file>  (-minimize_crash=1 -runs=10000
# makes it smaller). Needs clang and libFuzzer: Debian's clang-14 and libclang-rt-14-dev
# (scripts/setup.sh). TAPEGRAD_FUZZ_CXX picks another clang++; TAPEGRAD_JOBS the build's
# parallelism (2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh

all=(fuzz_npz fuzz_labelled_text fuzz_vocabulary fuzz_model_json fuzz_forecast_csv)
runs=1000000
seconds=""
build_only=false
harnesses=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($# > 0)); do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}" && seconds="" && shift 2 ;;
    --seconds) seconds="${2:?--seconds needs a number}" && shift 2 ;;
    --build-only) build_only=true && shift ;;
    -h | --help) usage && exit 0 ;;
    fuzz_*) harnesses+=("$1") && shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (harnesses: ${all[*]})" >&2 && exit 2 ;;
  esac
done
((${#harnesses[@]} > 0)) || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  [[ " ${all[*]} " == *" $h "* ]] || { echo "fuzz.sh: no harness '$h' (${all[*]})" >&2 && exit 2; }
done

cxx="${TAPEGRAD_FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}"
[[ -n "$cxx" ]] || { echo "fuzz.sh: clang++ not found (scripts/setup.sh installs it)" >&2 && exit 1; }

# ---- build: the library and the examples' libraries instrumented, then the harnesses ----

configure . build-fuzz -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAPEGRAD_FUZZ=ON -DTAPEGRAD_WERROR=ON -DTAPEGRAD_SANITIZE=OFF -DTAPEGRAD_BUILD_TESTS=OFF \
  -DTAPEGRAD_BUILD_EXAMPLES=ON -DTAPEGRAD_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "${TAPEGRAD_JOBS:-2}" --target "${harnesses[@]}"
$build_only && exit 0

# ---- run ----

# UBSan reports stop the run (the code is also built with -fno-sanitize-recover=undefined).
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export OPENBLAS_NUM_THREADS=1
# The harnesses write each input to a file in here (in memory when /dev/shm is there).
TAPEGRAD_FUZZ_SCRATCH="$(mktemp -d /dev/shm/tapegrad-fuzz-run-XXXXXX 2>/dev/null || mktemp -d)"
export TAPEGRAD_FUZZ_SCRATCH
trap 'rm -rf "$TAPEGRAD_FUZZ_SCRATCH"' EXIT

if [[ -n "$seconds" ]]; then
  budget=(-max_total_time="$seconds")
  echo "fuzz.sh: ${harnesses[*]}: ${seconds} s each"
else
  budget=(-runs="$runs")
  echo "fuzz.sh: ${harnesses[*]}: $runs executions each"
fi

rows=()
found=0
for h in "${harnesses[@]}"; do
  dir="build-fuzz/fuzz-runs/$h"
  rm -rf "$dir"
  mkdir -p "$dir/corpus"
  cp fuzz/corpus/"$h"/* "$dir/corpus/"
  dict=()
  [[ -f "fuzz/$h.dict" ]] && dict=(-dict="fuzz/$h.dict")
  echo "--- $h (log: $dir/log.txt)"
  start=$SECONDS
  status=0
  "build-fuzz/bin/$h" -rss_limit_mb=1024 -timeout=10 "${budget[@]}" -print_final_stats=1 \
    -artifact_prefix="$dir/" "${dict[@]}" "$dir/corpus" >"$dir/log.txt" 2>&1 || status=$?
  elapsed=$((SECONDS - start))
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log.txt" | tail -n 1)"
  [[ -n "$execs" ]] || execs="$( (grep -oE '^#[0-9]+' "$dir/log.txt" || true) | tail -n 1 | tr -d '#')"
  cov="$( (grep -oE 'cov: [0-9]+ ft: [0-9]+' "$dir/log.txt" || true) | tail -n 1)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$dir/log.txt" | tail -n 1)"
  mapfile -t artifacts < <(find "$dir" -maxdepth 1 -type f \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if ((status != 0 || ${#artifacts[@]} > 0)); then
    found=1
    result="FINDING (exit $status): ${artifacts[*]:-see the log}"
    grep -E 'ERROR|FINDING|terminate called|what\(\)|runtime error|out-of-memory|SUMMARY' \
      "$dir/log.txt" | head -n 8 | sed 's/^/    /' || true
  else
    result="0 findings"
  fi
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log.txt" | tail -n 1)"
  [[ -n "$rate" ]] || rate=$((${execs:-0} / (elapsed > 0 ? elapsed : 1)))
  rows+=("$(printf '  %-20s %10s execs %6ds %7s exec/s  %-22s rss %5s MB  %s' "$h" "${execs:-?}" \
    "$elapsed" "$rate" "${cov:-cov: ?}" "${rss:-?}" "$result")")
  echo "${rows[-1]}"
done

printf '\n==== fuzz.sh summary ====\n'
printf '%s\n' "${rows[@]}"
if ((found)); then
  echo "fuzz.sh: FINDINGS; reproduce with build-fuzz/bin/<harness> <file>" >&2
  exit 1
fi
echo "fuzz.sh: no findings"
