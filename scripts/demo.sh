#!/usr/bin/env bash
# The main job of the project, from a fresh Debian machine: installs the packages
# (scripts/setup.sh), builds tapegrad's demo in Release in build/ and runs it.
#
#   bash scripts/demo.sh [demo arguments, e.g. --dot step.dot]
#
# Works from any directory. Uses Ninja, and ccache when it is installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup.sh

# ccache keys on paths relative to the repo root, so clones at other paths share the cache.
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=true
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

jobs="${TAPEGRAD_JOBS:-2}"
# A build/ made by another generator (plain `cmake -B build`) cannot be reused with Ninja.
if [[ -f build/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' build/CMakeCache.txt; then
  echo "demo.sh: build/ was configured with another generator; reconfiguring it with Ninja"
  rm -rf build/CMakeCache.txt build/CMakeFiles
fi
echo "demo.sh: configuring build/ (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DTAPEGRAD_BUILD_EXAMPLES=ON -DTAPEGRAD_BUILD_BENCH=OFF
echo "demo.sh: building the demo (-j${jobs})"
cmake --build build --target demo -j "$jobs"
echo
exec ./build/bin/demo "$@"
