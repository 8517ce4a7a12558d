#!/usr/bin/env bash
# sentiment on a training file whose line 151 is 10 MB (1.9 million words) among 300 short
# sentences: the run must succeed, say that it cut one text, and stay under a peak resident
# size. Before the default --max-length, this file grew the process to 24 GB.
#
#   cli_long_line.sh SENTIMENT_BINARY PEAK_LIMIT_MB
set -euo pipefail
sentiment="$1"
limit_mb="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$work/long.tsv" <<'PY'
import random
import sys

random.seed(1)
words = "the battery lasted all day and the screen is great but the food was cold".split()
rows = ["text\tlabel"]
for i in range(300):
    label = "positive" if i % 2 else "negative"
    rows.append(f"{' '.join(random.choice(words) for _ in range(8))}\t{label}")
rows.insert(151, " ".join(random.choice(words) for _ in range(1_900_000)) + "\tpositive")
with open(sys.argv[1], "w") as f:
    f.write("\n".join(rows) + "\n")
PY

python3 - "$limit_mb" "$sentiment" --train "$work/long.tsv" --epochs 2 --embedding-dim 16 \
  --hidden 8 --out "$work/out" <<'PY'
import resource
import subprocess
import sys

limit_mb = float(sys.argv[1])
run = subprocess.run(sys.argv[2:], capture_output=True, text=True)
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(run.stdout, run.stderr, sep="")
print(f"peak resident size: {peak_mb:.0f} MB (limit {limit_mb:.0f} MB)")
if run.returncode != 0:
    sys.exit(f"cli_long_line: sentiment exited with {run.returncode}")
if "1 text(s) longer than 256 tokens cut to their first 256" not in run.stdout:
    sys.exit("cli_long_line: the run did not report the cut text")
if peak_mb > limit_mb:
    sys.exit(f"cli_long_line: peak resident size {peak_mb:.0f} MB is over {limit_mb:.0f} MB")
PY
