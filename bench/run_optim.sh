#!/usr/bin/env bash
# Before/after for an optimizer step: two bench_optim binaries (bench/optim/bench_optim.cpp, one
# built from each revision) run interleaved, so the machine's noise hits both alike, and one
# markdown table of medians, ratios and whether both made bit-identical updates.
#
#   bash bench/run_optim.sh BEFORE_BINARY AFTER_BINARY [--rounds N] [--cpu K] [--dtype T]
#                           [--reps R] [--min-rep-ms M]
#
# A revision older than bench_optim gets it by copying bench/optim/ and bench/CMakeLists.txt into
# an export of it (`git archive REV | tar -x -C DIR`) and building the target bench_optim there
# (docs/performance.md, "Optimizer step", has the commands). Every round runs BEFORE, then AFTER,
# each a fresh process over the whole grid pinned with taskset to CPU K (the last one); a row's
# figure per side is the median over the rounds of each process's median (µs per step). The
# "same result" column compares the hashes of the parameters after 10 steps.
#
# Options: --rounds N (5), --cpu K, --dtype float|double (float), --reps R (11) and
# --min-rep-ms M (30) are bench_optim's.
set -euo pipefail

if (($# < 2)); then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
before="$1" after="$2"
shift 2
rounds=5 cpu="$(($(nproc) - 1))" dtype=float reps=11 min_rep_ms=30
while (($# > 0)); do
  case "$1" in
    --rounds) rounds="$2" ;;
    --cpu) cpu="$2" ;;
    --dtype) dtype="$2" ;;
    --reps) reps="$2" ;;
    --min-rep-ms) min_rep_ms="$2" ;;
    *)
      echo "run_optim.sh: unknown option $1" >&2
      exit 2
      ;;
  esac
  shift 2
done
for binary in "$before" "$after"; do
  [[ -x "$binary" ]] || {
    echo "run_optim.sh: $binary is not an executable" >&2
    exit 2
  }
done

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), pinned to CPU $cpu; $rounds rounds," \
  "dtype $dtype; start $(date -u +%H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; ++r)); do
  for side in before after; do
    binary="$before"
    [[ "$side" == after ]] && binary="$after"
    taskset -c "$cpu" "$binary" --dtype "$dtype" --reps "$reps" --min-rep-ms "$min_rep_ms" \
      >"$out/$side.$r.md"
  done
done
echo "end $(date -u +%H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$rounds" <<'EOF'
import statistics
import sys

out, rounds = sys.argv[1], int(sys.argv[2])
rows = {}  # (model, optimizer) -> {"elements", "before": [...], "after": [...], hashes}
order = []
for side in ("before", "after"):
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{side}.{r}.md"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 7 or not cells[2].isdigit():
                continue
            key = (cells[0], cells[1])
            if key not in rows:
                rows[key] = {"elements": cells[2], "before": [], "after": [], "hash": {}}
                order.append(key)
            rows[key][side].append(float(cells[3]))
            rows[key]["hash"].setdefault(side, set()).add(cells[6])
print()
print("| model | optimizer | elements | before µs/step | after µs/step | after / before | "
      "same result |")
print("|---|---|---:|---:|---:|---:|---|")
ratios = []
for key in order:
    row = rows[key]
    b, a = statistics.median(row["before"]), statistics.median(row["after"])
    ratios.append(a / b)
    same = "yes" if row["hash"].get("before") == row["hash"].get("after") else "**no**"
    print(f"| {key[0]} | {key[1]} | {row['elements']} | {b:.1f} | {a:.1f} | {a / b:.3f} | {same} |")
print()
print(f"after / before over {len(ratios)} rows: min {min(ratios):.3f}, "
      f"median {statistics.median(ratios):.3f}, max {max(ratios):.3f}")
EOF
