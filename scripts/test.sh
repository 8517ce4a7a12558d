#!/usr/bin/env bash
# The whole test suite; CI runs exactly this (.ci/run). From a fresh Debian machine:
#
#   1. setup             scripts/setup.sh: the Debian packages (root, or sudo)
#   2. clang-format      every *.hpp/*.cpp git knows of must be formatted (.clang-format)
#   2b. clang-tidy       scripts/tidy.sh: the checks of .clang-tidy over the library's and the
#                        examples' sources; any finding fails (an unchanged file that passed
#                        before is not analysed again)
#   2c. api-docs         scripts/api_docs.sh: the API reference (Doxygen) in build-docs/api/;
#                        any warning fails, a public declaration without a /// comment too
#   3. release           Release build with warnings as errors in build-release/ (with every
#                        ```cpp block of README.md and docs/ compiled), then ctest: a test
#                        binary per part (ctest -L autograd, nn, optim, data), the docs' checks
#                        (-L docs), the examples' tests and command lines (-L examples), and,
#                        where MPI is installed (setup installs Open MPI), data parallelism
#                        under mpirun -np 2 and 3 with its fault runs (-L distributed; they
#                        run alone, RUN_SERIAL, not beside other tests)
#   4. install+consumer  installs into build-consumer/prefix, then builds and runs tests/consumer
#                        (the README's example, and a program on tapegrad::autograd alone)
#                        against the installed package
#   5. asan              Debug build with ASan + UBSan in build-asan/, ctest, the demo and
#                        tape_graph (the MPI tests without LeakSanitizer: Open MPI's own
#                        allocations would fail every run; tests/CMakeLists.txt)
#   6. fuzz              scripts/fuzz.sh --seconds 20: each libFuzzer harness of the file readers
#                        (fuzz/) for 20 s on its seed corpus, clang + ASan + UBSan in build-fuzz/
#
# Works from any directory. Uses Ninja, and ccache when installed (keyed relative to the repo
# root, so clones at other paths share the cache). TAPEGRAD_JOBS sets the parallelism (2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

jobs="${TAPEGRAD_JOBS:-2}"
# Tests run side by side (ctest -j): one OpenBLAS thread each keeps the cores from thrashing.
export OPENBLAS_NUM_THREADS=1

# ---- stages, timings and the summary printed at the end (also on failure) ----

suite_start=$SECONDS
stage_name=""
stage_start=0
summary=()

begin_stage() {
  stage_name="$1"
  stage_start=$SECONDS
  printf '\n==== [%s] %s ====\n' "$(date +%H:%M:%S)" "$stage_name"
}

end_stage() {
  summary+=("$(printf '  %-18s %5ds  ok' "$stage_name" $((SECONDS - stage_start)))")
  stage_name=""
}

finish() {
  local rc=$?
  if [[ -n "$stage_name" ]]; then
    summary+=("$(printf '  %-18s %5ds  FAILED (exit %d)' "$stage_name" \
      $((SECONDS - stage_start)) "$rc")")
  fi
  printf '\n==== summary ====\n'
  if ((${#summary[@]} > 0)); then printf '%s\n' "${summary[@]}"; fi
  if ((rc == 0)); then
    printf 'test.sh: all stages passed in %ds\n' $((SECONDS - suite_start))
  else
    printf 'test.sh: FAILED%s after %ds (exit %d)\n' "${stage_name:+ in stage \"$stage_name\"}" \
      $((SECONDS - suite_start)) "$rc"
  fi
}
trap finish EXIT

fail() {
  echo "test.sh: $*" >&2
  exit 1
}

# ---- helpers ----

source scripts/lib.sh

# ---- 1. setup ----

begin_stage "setup"
bash scripts/setup.sh
end_stage

# ---- 2. clang-format ----

begin_stage "clang-format"
clang_format="$(command -v clang-format-14 || command -v clang-format || true)"
[[ -n "$clang_format" ]] || fail "clang-format not found (scripts/setup.sh installs it)"
"$clang_format" --version
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked files, and new files not yet added (but not ignored ones such as build trees).
  mapfile -t sources < <(git ls-files --cached --others --exclude-standard -- '*.hpp' '*.cpp')
else
  mapfile -t sources < <(find . -path './build*' -prune -o -path './.git' -prune -o \
    -type f \( -name '*.hpp' -o -name '*.cpp' \) -print | sed 's|^\./||' | sort)
fi
((${#sources[@]} > 0)) || fail "clang-format: found no *.hpp/*.cpp files"
offenders=()
checked=0
for f in "${sources[@]}"; do
  [[ -f "$f" ]] || continue  # deleted in the work tree
  checked=$((checked + 1))
  "$clang_format" --dry-run -Werror "$f" >/dev/null 2>&1 || offenders+=("$f")
done
if ((${#offenders[@]} > 0)); then
  echo "clang-format: ${#offenders[@]} of $checked files are not formatted:"
  printf '  %s\n' "${offenders[@]}"
  echo "the first differences in ${offenders[0]}:"
  "$clang_format" --dry-run "${offenders[0]}" 2>&1 | head -n 20 || true
  fail "clang-format: run '$clang_format -i' on the files above"
fi
echo "clang-format: $checked files are formatted"
end_stage

# ---- 2b. clang-tidy ----

begin_stage "clang-tidy"
bash scripts/tidy.sh
end_stage

# ---- 2c. the API reference: every public declaration documented ----

begin_stage "api-docs"
bash scripts/api_docs.sh
end_stage

# ---- 3. Release build, warnings as errors ----

begin_stage "release build"
configure . build-release -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_WERROR=ON \
  -DTAPEGRAD_SANITIZE=OFF -DTAPEGRAD_BUILD_TESTS=ON -DTAPEGRAD_BUILD_EXAMPLES=ON \
  -DTAPEGRAD_BUILD_BENCH=OFF
cmake --build build-release -j "$jobs"
end_stage

begin_stage "release tests"
ctest --test-dir build-release --output-on-failure -j "$jobs" --no-tests=error
end_stage

# ---- 4. install, then build the README example against the installed package ----

begin_stage "install+consumer"
prefix="$root/build-consumer/prefix"
rm -rf build-consumer
cmake --install build-release --prefix "$prefix" >/dev/null
echo "installed into build-consumer/prefix"
configure tests/consumer build-consumer/build -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
cmake --build build-consumer/build -j "$jobs"
echo "--- build-consumer/build/readme_example:"
output="$(build-consumer/build/readme_example)" ||
  fail "the README example exited with status $?"
echo "$output"
grep -q 'dy/dx' <<<"$output" || fail "the README example printed no gradient (dy/dx)"
echo "--- build-consumer/build/engine_only (links tapegrad::autograd alone):"
build-consumer/build/engine_only || fail "engine_only (tapegrad::autograd alone) exited with status $?"
echo "--- build-consumer/build/arrays (xtensor on tapegrad arrays, the factories):"
build-consumer/build/arrays || fail "arrays exited with status $?"
end_stage

# ---- 5. Debug build with AddressSanitizer + UndefinedBehaviorSanitizer ----

begin_stage "asan build"
configure . build-asan -DCMAKE_BUILD_TYPE=Debug -DTAPEGRAD_SANITIZE=ON -DTAPEGRAD_WERROR=ON \
  -DTAPEGRAD_BUILD_TESTS=ON -DTAPEGRAD_BUILD_EXAMPLES=ON -DTAPEGRAD_BUILD_BENCH=OFF
cmake --build build-asan -j "$jobs"
end_stage

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

begin_stage "asan tests"
ctest --test-dir build-asan --output-on-failure -j "$jobs" --no-tests=error
end_stage

begin_stage "asan examples"
# A few epochs: the point is a clean sanitizer run, not the learning curve.
build-asan/bin/demo --epochs 5
build-asan/bin/tape_graph >/dev/null
end_stage

# ---- 6. coverage-guided fuzzing of the file readers (clang, libFuzzer, ASan + UBSan) ----

begin_stage "fuzz"
# A short run per harness: a crash, a sanitizer report, a leak, a timeout or more than 1 GB of
# memory on any input fails the stage (the input is kept in build-fuzz/fuzz-runs/).
bash scripts/fuzz.sh --seconds 20
end_stage
