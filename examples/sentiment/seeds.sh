#!/usr/bin/env bash
# Trains the sentiment classifier with seeds 1, 2 and 3 (each seed: its own stratified
# 80/10/10 split, initialisation, batch order and dropout) and prints one line per seed and the
# means: the best epoch, its validation accuracy, the test accuracy and the training time.
#
#   bash examples/sentiment/seeds.sh [BUILD_DIR] [-- sentiment arguments, e.g. --cell lstm]
#
# Settings were chosen on the validation column only; see docs/sentiment.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
build="build"
if [[ $# -gt 0 && "$1" != "--" ]]; then build="$1"; shift; fi
[[ "${1:-}" == "--" ]] && shift
binary="$build/bin/sentiment"
[[ -x "$binary" ]] || { echo "seeds.sh: $binary not found (bash scripts/sentiment.sh builds it)" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
printf '%-5s %-10s %-10s %-9s %-8s\n' seed best_epoch valid_acc test_acc train_s
for seed in 1 2 3; do
  log="$out/seed$seed.txt"
  "$binary" --seed "$seed" --out "$out/run$seed" --no-save --show 0 "$@" >"$log" 2>&1 ||
    { cat "$log" >&2; exit 1; }
  epoch=$(grep -oE 'best epoch [0-9]+' "$log" | awk '{print $3}')
  valid=$(grep -oE 'valid accuracy [0-9.]+' "$log" | awk '{print $3}')
  test=$(grep -oE '^test: [0-9]+ sentences, accuracy [0-9.]+' "$log" | awk '{print $5}')
  secs=$(grep -oE 'training took [0-9.]+' "$log" | awk '{print $3}')
  printf '%-5s %-10s %-10s %-9s %-8s\n' "$seed" "$epoch" "$valid" "$test" "$secs"
done | tee "$out/table.txt"
awk 'NR > 0 { v += $3; t += $4; s += $5; n++ }
     END { printf "%-5s %-10s %-10.4f %-9.4f %-8.1f\n", "mean", "", v / n, t / n, s / n }' \
  "$out/table.txt"
