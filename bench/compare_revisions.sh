#!/usr/bin/env bash
# Before/after: the tapegrad rows of bench/run_rnn.sh's grid (rnn_tapegrad) and of
# bench/run_engine.sh's (bench_engine), built from two git revisions and run interleaved in one
# run, so the machine's noise hits both alike. Prints a markdown table (row, unit, before median,
# after median, after / before) with a summary of the ratios, and writes it with a CSV.
#
#   bash bench/compare_revisions.sh BEFORE AFTER [options]
#   bash bench/compare_revisions.sh f57f7e7 HEAD                      the whole grid (1 thread)
#   bash bench/compare_revisions.sh HEAD HEAD --quick --rows 2        checks the harness
#
# Each revision is checked out in its own detached git worktree, build-compare/before and
# build-compare/after (kept and updated in place by the next run; --cleanup removes them), and
# built there in build-bench/ as run_rnn.sh builds it (Release, Ninja, ccache through
# scripts/lib.sh, -DTAPEGRAD_BUILD_BENCH=ON), targets rnn_tapegrad and bench_engine only. LibTorch
# is not needed: find_package(Torch) is switched off, rnn_torch and rnn_sgemm are not built.
#
# Every row runs --reps rounds; a round runs before's binary, then after's, each in a fresh
# process (ABAB...), pinned with taskset to one CPU (a row with N threads: N CPUs). A row's figure
# per revision is the median over its rounds. rnn rows: ms per step, one timed repetition of at
# least --min-rep-ms per process after the warm-up steps (rnn_tapegrad's JSON line, times_ms).
# engine rows: one benchmark per process (--benchmark_filter, 1 repetition, Google Benchmark's
# JSON output): fixed_cost rows in ns per op (CPU time), gemm rows the op layer's time per call
# in us (bench/compare_table.py). Both builds must take the same options: the options and the
# output formats of rnn_tapegrad and bench_engine are checked first, and a revision without one
# of the targets or with another command line stops the script with a message.
#
# Options:
#   --reps N            rounds per row (5)
#   --rows N            only the first N rows of each grid (after --filter)
#   --quick             one shape per cell as run_rnn.sh --quick, 2 rounds, short repetitions
#   --only rnn|engine   one of the two grids
#   --filter REGEX      only the rows whose name matches (grep -E), e.g. 'train/1t/lstm'
#   --threads "1 2"     thread counts of the rnn grid (1: pinned to one core; run_rnn.sh has 1 2)
#   --cpu K             the CPU to pin to (the last one); --no-pin runs unpinned
#   --min-rep-ms M      rnn: shortest timed repetition (100); --warmup W warm-up steps (2)
#   --engine-min-time S engine: Google Benchmark's --benchmark_min_time in seconds (0.5)
#   --jobs N            build parallelism (TAPEGRAD_JOBS or 2)
#   --cleanup           remove both worktrees (and their builds) at the end
# Output: build-compare/compare_<before>_<after>.{md,csv} and .jsonl (every process's values).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

usage() {
  sed -n '/^#   bash bench\/compare_revisions.sh BEFORE/,/^# Output:/p' "$root/bench/compare_revisions.sh" |
    sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  echo "compare_revisions.sh: $*" >&2
  exit 1
}

reps=5
rows_limit=0
quick=false
only=all
filter=""
threads_list="1"
pin=true
pin_cpu=$(($(nproc) - 1))
min_rep_ms=100
warmup=2
engine_min_time=0.5
jobs="${TAPEGRAD_JOBS:-2}"
cleanup=false
set_reps="" set_min_rep_ms="" set_warmup="" set_min_time=""
revs=()
while (($# > 0)); do
  case "$1" in
    --reps) set_reps="${2:?--reps needs a number}"; shift ;;
    --rows) rows_limit="${2:?--rows needs a number}"; shift ;;
    --quick) quick=true ;;
    --only) only="${2:?--only needs rnn or engine}"; shift ;;
    --filter) filter="${2:?--filter needs a regular expression}"; shift ;;
    --threads) threads_list="${2:?--threads needs a list}"; shift ;;
    --cpu) pin_cpu="${2:?--cpu needs a CPU number}"; shift ;;
    --no-pin) pin=false ;;
    --min-rep-ms) set_min_rep_ms="${2:?--min-rep-ms needs a number}"; shift ;;
    --warmup) set_warmup="${2:?--warmup needs a number}"; shift ;;
    --engine-min-time) set_min_time="${2:?--engine-min-time needs seconds}"; shift ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift ;;
    --cleanup) cleanup=true ;;
    -h | --help) usage ;;
    -*) echo "compare_revisions.sh: unknown option $1" >&2; usage ;;
    *) revs+=("$1") ;;
  esac
  shift
done
((${#revs[@]} == 2)) || usage
[[ $only == all || $only == rnn || $only == engine ]] || die "--only takes rnn or engine, not '$only'"
for n in "$rows_limit" "$jobs" "$pin_cpu" "${set_reps:-1}" "${set_warmup:-0}"; do
  [[ $n =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
if $quick; then
  reps=2
  min_rep_ms=20
  warmup=1
  engine_min_time=0.05
fi
reps="${set_reps:-$reps}"
min_rep_ms="${set_min_rep_ms:-$min_rep_ms}"
warmup="${set_warmup:-$warmup}"
engine_min_time="${set_min_time:-$engine_min_time}"
((reps >= 1)) || die "--reps must be at least 1"
if $pin; then
  command -v taskset >/dev/null || die "taskset (util-linux) not found; install it or pass --no-pin"
  ((pin_cpu < $(nproc))) || die "--cpu $pin_cpu: this machine has CPUs 0-$(($(nproc) - 1))"
fi

# ---- the revisions ----

sides=(before after)
declare -A rev hash short subject
for k in 0 1; do
  side="${sides[$k]}"
  rev[$side]="${revs[$k]}"
  hash[$side]="$(git rev-parse --verify -q "${revs[$k]}^{commit}")" ||
    die "'${revs[$k]}' is not a commit of this repository"
  short[$side]="$(git rev-parse --short "${hash[$side]}")"
  subject[$side]="$(git log -1 --format=%s "${hash[$side]}" | cut -c1-80)"
done

base="build-compare"
mkdir -p "$base"
base_abs="$root/$base"
stem="$base/compare_${short[before]}_${short[after]}"
results="$stem.jsonl"
md="$stem.md"
csv="$stem.csv"

# shellcheck source=scripts/lib.sh
source scripts/lib.sh  # ccache settings, configure

want_rnn=false want_engine=false
[[ $only != engine ]] && want_rnn=true
[[ $only != rnn ]] && want_engine=true
targets=()
$want_rnn && targets+=(rnn_tapegrad)
$want_engine && targets+=(bench_engine)

# prepare SIDE: the detached worktree build-compare/SIDE at the side's revision.
prepare() {
  local side="$1" src="$base_abs/$1" top
  top="$(git -C "$src" rev-parse --show-toplevel 2>/dev/null || true)"
  if [[ -n $top && $top == "$(cd "$src" && pwd -P)" ]]; then
    git -C "$src" checkout -q --force --detach "${hash[$side]}"
  else
    rm -rf "$src"
    git worktree prune
    git worktree add -q --detach "$src" "${hash[$side]}"
  fi
}

# build SIDE: configures and builds the targets in build-compare/SIDE/build-bench.
build() {
  local side="$1" src="$base_abs/$1" log="$base/$1.log" t help other
  echo "compare_revisions.sh: building $side (${short[$side]}): ${targets[*]} (-j $jobs, log $log)" >&2
  # ccache rewrites the paths below the worktree to relative ones: both worktrees (and any
  # clone's build-bench/) share the cache.
  if ! (cd "$src" && CCACHE_BASEDIR="$src" configure . build-bench -DCMAKE_BUILD_TYPE=Release \
    -DTAPEGRAD_BUILD_BENCH=ON -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF \
    -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON) >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "configuring $side (${short[$side]}) failed; see $log"
  fi
  help="$(cmake --build "$src/build-bench" --target help)"
  for t in "${targets[@]}"; do
    if ! grep -q "^$t:" <<<"$help"; then
      [[ $t == rnn_tapegrad ]] && other=engine || other=rnn
      die "revision ${rev[$side]} (${short[$side]}) has no CMake target $t (bench/CMakeLists.txt with -DTAPEGRAD_BUILD_BENCH=ON); --only $other compares the other grid"
    fi
  done
  if ! (cd "$src" && CCACHE_BASEDIR="$src" cmake --build build-bench -j "$jobs" \
    --target "${targets[@]}") >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "building $side (${short[$side]}) failed; see $log"
  fi
}

for side in "${sides[@]}"; do
  prepare "$side"
done
for side in "${sides[@]}"; do
  build "$side"
done
declare -A rnn_bin engine_bin
for side in "${sides[@]}"; do
  rnn_bin[$side]="$base/$side/build-bench/bench/rnn_tapegrad"
  engine_bin[$side]="$base/$side/build-bench/bench/bench_engine"
done

# ---- the command lines: the same for both builds ----

blas=""
if $want_rnn; then
  for side in "${sides[@]}"; do
    probe="$(OPENBLAS_NUM_THREADS=1 "${rnn_bin[$side]}" --cell rnn --batch 1 --seq 2 --input 4 \
      --hidden 4 --mode train --threads 1 --reps 1 --warmup 0 --min-rep-ms 0 --flush-denormals 0 \
      2>&1)" || die "rnn_tapegrad of $side (${short[$side]}) rejects run_rnn.sh's options: $probe"
    [[ $(tail -n 1 <<<"$probe") == "{"*'"times_ms":['* ]] ||
      die "rnn_tapegrad of $side (${short[$side]}) does not print run_rnn.sh's JSON line (times_ms); it printed: $probe"
    blas="$(sed -n 's/.*"blas":"\([^"]*\)".*/\1/p' <<<"$probe")"
  done
fi
declare -A engine_list
if $want_engine; then
  for side in "${sides[@]}"; do
    engine_list[$side]="$("${engine_bin[$side]}" --benchmark_list_tests=true 2>&1)" ||
      die "bench_engine of $side (${short[$side]}) rejects --benchmark_list_tests: ${engine_list[$side]}"
  done
  core="$("${engine_bin[after]}" --blas_info | sed -n 's/^core: //p')" ||
    die "bench_engine of after (${short[after]}) rejects --blas_info"
  blas="$("${engine_bin[after]}" --blas_info | sed -n 's/^blas_info: //p'), core $core"
fi

# ---- the rows ----

# rnn|THREADS|MODE|B T I H|CELL or engine|BENCHMARK NAME, named "rnn/train/1t/lstm/32,50,64,128"
# and "engine/fixed_cost/fwd+bwd/1x1".
rows=()
names=()
select_rows() {  # appends the selected ones of the rows given as name=spec
  local n=0 item
  for item in "$@"; do
    if [[ -n $filter ]] && ! grep -qE -- "$filter" <<<"${item%%=*}"; then continue; fi
    if ((rows_limit > 0 && n >= rows_limit)); then break; fi
    names+=("${item%%=*}")
    rows+=("${item#*=}")
    n=$((n + 1))
  done
}
if $want_rnn; then
  # run_rnn.sh's grid: (batch seq input hidden) per cell, its --quick shape per cell
  shapes=("1 50 64 64" "32 50 64 128" "32 100 128 256" "64 100 256 512" "16 200 32 64")
  cells=(rnn lstm gru)
  declare -A quick_shape=([rnn]="1 50 64 64" [lstm]="32 50 64 128" [gru]="16 200 32 64")
  items=()
  for threads in $threads_list; do
    [[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads: '$threads' is not a thread count"
    for mode in train infer; do
      for shape in "${shapes[@]}"; do
        for cell in "${cells[@]}"; do
          if $quick && [[ ${quick_shape[$cell]} != "$shape" ]]; then continue; fi
          items+=("rnn/$mode/${threads}t/$cell/${shape// /,}=rnn|$threads|$mode|$shape|$cell")
        done
      done
    done
  done
  select_rows "${items[@]}"
fi
if $want_engine; then
  items=()
  while read -r name; do
    [[ -z $name ]] && continue
    plain="${name%/manual_time}"
    plain="${plain%/real_time}"
    if ! grep -qxF -- "$name" <<<"${engine_list[before]}"; then
      echo "compare_revisions.sh: engine benchmark $plain exists only in after (${short[after]}); skipped" >&2
      continue
    fi
    items+=("engine/$plain=engine|$plain")
  done <<<"${engine_list[after]}"
  while read -r name; do
    [[ -z $name ]] && continue
    grep -qxF -- "$name" <<<"${engine_list[after]}" ||
      echo "compare_revisions.sh: engine benchmark $name exists only in before (${short[before]}); skipped" >&2
  done <<<"${engine_list[before]}"
  select_rows "${items[@]}"
fi
((${#rows[@]} > 0)) || die "no row selected (--only, --filter, --rows)"

# ---- the machine ----

flags=" $(grep -m 1 '^flags' /proc/cpuinfo | cut -d: -f2) "
isa=()
for f in avx avx2 fma avx512f avx512bw avx512dq avx512vl avx512_vnni avx512_bf16 amx_tile; do
  [[ $flags == *" $f "* ]] && isa+=("$f")
done
cpu_model="$(grep -m 1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
if $pin; then pinning="pinned with taskset to CPU $pin_cpu (N threads: N CPUs from it)"; else pinning="not pinned"; fi
: >"$results"
{
  echo "### Before/after: ${short[before]} -> ${short[after]} (\`bench/compare_revisions.sh\`)"
  echo
  echo "- before: \`${short[before]}\` (${rev[before]}) ${subject[before]}"
  echo "- after: \`${short[after]}\` (${rev[after]}) ${subject[after]}"
  echo "- CPU: ${cpu_model:-unknown} ($(nproc) logical CPUs), flags: ${isa[*]:-none of avx/avx2/avx512}; $pinning"
  echo "- BLAS: \`${blas:-unknown}\` (OPENBLAS_CORETYPE ${OPENBLAS_CORETYPE:-unset}), OPENBLAS_NUM_THREADS=1 at start"
  echo "- ${#rows[@]} rows, $reps rounds each (before, after, before, after, ..., one process each); medians over the rounds"
  $want_rnn && echo "- rnn rows: rnn_tapegrad, ms per step (wall clock), one timed repetition of at least $min_rep_ms ms after $warmup warm-up step(s) per process, denormals as tapegrad ships"
  $want_engine && echo "- engine rows: bench_engine, 1 repetition of at least $engine_min_time s per process; fixed_cost in ns per op (CPU time), gemm the op layer's us per call"
  echo "- started $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$md"

# ---- the runs ----

# pin_to THREADS: the taskset prefix for a process with THREADS threads (empty: unpinned).
pin_to() {
  local n="$1" cpus="" i
  $pin || return 0
  ((n > $(nproc))) && n=$(nproc)
  for ((i = 0; i < n; i++)); do
    cpus+="${cpus:+,}$(((pin_cpu + i) % $(nproc)))"
  done
  echo "taskset -c $cpus"
}

engine_json="$base/engine_last.json"
err="$base/last_stderr.log"
# run_one SIDE ROW_NAME SPEC: one process; appends its values to $results.
run_one() {
  local side="$1" name="$2" kind threads mode shape cell bench b t i h out unit values prefix regex
  kind="${3%%|*}"
  if [[ $kind == rnn ]]; then
    IFS='|' read -r kind threads mode shape cell <<<"$3"
    read -r b t i h <<<"$shape"
    read -r -a prefix <<<"$(pin_to "$threads")"
    out="$(env -u OMP_WAIT_POLICY OPENBLAS_NUM_THREADS=1 "${prefix[@]}" "${rnn_bin[$side]}" \
      --cell "$cell" --batch "$b" --seq "$t" --input "$i" --hidden "$h" --mode "$mode" \
      --threads "$threads" --reps 1 --warmup "$warmup" --min-rep-ms "$min_rep_ms" \
      --flush-denormals 0 2>"$err")" || die "$side: rnn_tapegrad failed on $name; stderr in $err"
    values="$(tail -n 1 <<<"$out" | sed -n 's/.*"times_ms":\[\([^]]*\)\].*/\1/p')"
    [[ -n $values ]] || die "$side: no times_ms in rnn_tapegrad's output on $name: $out"
    unit="ms/step"
  else
    bench="${3#engine|}"
    # a regular expression matching exactly that benchmark (a character class: sed, not ${//})
    # shellcheck disable=SC2001
    regex="^$(sed 's/[][\.^$*+?(){}|]/\\&/g' <<<"$bench")(/manual_time|/real_time)?\$"
    read -r -a prefix <<<"$(pin_to 1)"
    rm -f "$engine_json"
    env OPENBLAS_NUM_THREADS=1 "${prefix[@]}" "${engine_bin[$side]}" --benchmark_filter="$regex" \
      --benchmark_repetitions=1 --benchmark_min_time="$engine_min_time" \
      --benchmark_out="$engine_json" --benchmark_out_format=json >/dev/null 2>"$err" ||
      die "$side: bench_engine failed on $name; stderr in $err"
    read -r values unit <<<"$(python3 bench/compare_table.py engine-value "$engine_json")"
  fi
  printf '{"side":"%s","row":"%s","unit":"%s","values":[%s]}\n' "$side" "$name" "$unit" \
    "$values" >>"$results"
}

start=$SECONDS
for ((r = 0; r < ${#rows[@]}; r++)); do
  printf '[%d/%d] %s, %ds elapsed, load %s\n' $((r + 1)) "${#rows[@]}" "${names[$r]}" \
    $((SECONDS - start)) "$(cut -d' ' -f1 /proc/loadavg)" >&2
  for ((k = 0; k < reps; k++)); do
    run_one before "${names[$r]}" "${rows[$r]}"
    run_one after "${names[$r]}" "${rows[$r]}"
  done
done

{
  echo "- finished $(date -u +%Y-%m-%dT%H:%MZ) after $((SECONDS - start)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
} | tee -a "$md"
status=0
python3 bench/compare_table.py table "$results" "$md" "$csv" || status=$?
echo >&2
echo "compare_revisions.sh: wrote $md, $csv and $results" >&2

if $cleanup; then
  for side in "${sides[@]}"; do
    git worktree remove --force "$base_abs/$side"
  done
fi
exit "$status"
