#!/usr/bin/env bash
# The main job, from a fresh Debian machine: installs the packages (scripts/setup.sh --extras:
# also gnuplot and npm), builds the sentiment example in Release in build/, fetches and checks
# the UCI labelled sentences (scripts/get_sentiment_data.sh), then trains the classifier and
# shows its test metrics, a few predictions, the saved model and the plot of its training.
#
#   bash scripts/sentiment.sh [sentiment arguments, e.g. --cell lstm --epochs 20]
#
# Works from any directory; files go to build/, datasets/ and out/ in the repository.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup.sh --extras
source scripts/lib.sh

jobs="${TAPEGRAD_JOBS:-2}"
echo "sentiment.sh: configuring build/ (Release)"
configure . build -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_EXAMPLES=ON \
  -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_BENCH=OFF >/dev/null
echo "sentiment.sh: building the sentiment example (-j${jobs})"
cmake --build build --target sentiment sentiment_import -j "$jobs"

bash scripts/get_sentiment_data.sh build

echo
exec ./build/bin/sentiment "$@"
