#!/usr/bin/env bash
# clang-tidy (Debian's clang-tidy-14) with the checks of .clang-tidy over every source of the
# library parts and the examples; any finding fails. The checks chosen and the reasons for
# those left out are in docs/design.md ("Static analysis").
#
#   scripts/tidy.sh              all sources
#   scripts/tidy.sh FILE...      only these (paths relative to the repository root)
#
# A file that passed is remembered under ~/.cache/tapegrad-tidy, keyed by the tool's version,
# .clang-tidy and the file's preprocessed text with its comments (so a change to anything it
# includes, a NOLINT comment too, runs it again); unchanged files are not analysed twice.
# TAPEGRAD_JOBS sets the parallelism (2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

jobs="${TAPEGRAD_JOBS:-2}"
tidy="$(command -v clang-tidy-14 || command -v clang-tidy || true)"
[[ -n "$tidy" ]] || {
  echo "tidy: clang-tidy not found (scripts/setup.sh installs clang-tidy)" >&2
  exit 1
}

# A compilation database; nothing is built.
configure . build-tidy -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=ON -DTAPEGRAD_BUILD_BENCH=OFF \
  -DTAPEGRAD_FUZZ=OFF >/dev/null

if (($# > 0)); then
  files=("$@")
else
  # Tests are left out: doctest's macros expand to code that several checks flag by design.
  mapfile -t files < <(git ls-files 'autograd/src/*.cpp' 'layers/src/*.cpp' 'optim/src/*.cpp' \
    'data/src/*.cpp' 'distributed/src/*.cpp' 'examples/*.cpp' ':!:examples/*tests/*')
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/tapegrad-tidy"
mkdir -p "$cache"
common_key="$({
  "$tidy" --version
  cat .clang-tidy
} | sha256sum | cut -d' ' -f1)"
export tidy cache common_key

# check_one FILE: runs clang-tidy on FILE unless an identical input passed before.
check_one() {
  local file="$1" flags key
  # The file's compile flags from the database, to preprocess it as the compiler does.
  flags="$(python3 - "$file" <<'EOF'
import json, os, shlex, sys
target = os.path.realpath(sys.argv[1])
for e in json.load(open("build-tidy/compile_commands.json")):
    if os.path.realpath(os.path.join(e["directory"], e["file"])) == target:
        args = shlex.split(e["command"])[1:]
        keep, skip = [], False
        for a in args:
            if skip:
                skip = False
                continue
            if a in ("-o", "-c"):
                skip = a == "-o"
                continue
            if os.path.realpath(a) == target:
                continue
            keep.append(a)
        print(" ".join(shlex.quote(a) for a in keep))
        sys.exit(0)
sys.exit("tidy: " + sys.argv[1] + " is not in build-tidy/compile_commands.json")
EOF
)"
  key="$({
    echo "$common_key"
    cat "$file"
    (cd build-tidy && eval "c++ $flags -E -P -C ../$file") 2>/dev/null
  } | sha256sum | cut -d' ' -f1)"
  if [[ -f "$cache/$key" ]]; then
    echo "tidy: $file (unchanged, passed before)"
    return 0
  fi
  if "$tidy" -p build-tidy --quiet "$file" 2>/dev/null; then
    touch "$cache/$key"
    echo "tidy: $file passed"
  else
    echo "tidy: $file has findings (above)"
    return 1
  fi
}
export -f check_one

start=$SECONDS
if printf '%s\0' "${files[@]}" | xargs -0 -n 1 -P "$jobs" bash -c 'check_one "$1"' _; then
  echo "tidy: ${#files[@]} files, no findings ($((SECONDS - start)) s)"
else
  echo "tidy: findings above (fix them, or justify a NOLINT(check) on the line)" >&2
  exit 1
fi
