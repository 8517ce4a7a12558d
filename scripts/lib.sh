# Shared by the scripts: ccache settings and a Ninja configure step. Source it after cd-ing to
# the repository root:  source scripts/lib.sh
# shellcheck shell=bash

# ccache keys on paths relative to the repo root, so clones at other paths share the cache;
# CCACHE_NOHASHDIR keeps Debug builds (-g) from keying on the build directory.
export CCACHE_BASEDIR="$PWD"
export CCACHE_NOHASHDIR=true
tapegrad_launcher=()
if command -v ccache >/dev/null; then
  tapegrad_launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

# configure SOURCE_DIR BUILD_DIR [cmake args...]: a Ninja build tree, made anew when an
# earlier one used another generator (plain `cmake -B build` makes Makefiles).
configure() {
  local src="$1" dir="$2"
  shift 2
  if [[ -f "$dir/CMakeCache.txt" ]] &&
    ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    echo "$dir was configured with another generator; reconfiguring it with Ninja"
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi
  cmake -S "$src" -B "$dir" -G Ninja "${tapegrad_launcher[@]}" "$@"
}
