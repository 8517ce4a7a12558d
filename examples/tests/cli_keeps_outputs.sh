#!/usr/bin/env bash
# For the examples' CLI tests in ctest: a run that fails leaves the outputs of an earlier run
# byte for byte, and no file of its own.
#
#   cli_keeps_outputs.sh FOLDER REGEX -- SETUP... [-- SETUP...] -- FAILING...
#
# FOLDER is emptied; each SETUP command must succeed (the first is the earlier run, writing
# into FOLDER); then FAILING must fail (a non-zero status, not a signal) with output matching
# the extended regular expression REGEX, and FOLDER must hold exactly the files and folders it
# held before, with the same bytes (no temporary file left behind either).
set -uo pipefail
folder="$1" pattern="$2"
shift 2
[[ "${1:-}" == "--" ]] || { echo "cli_keeps_outputs: expected -- after REGEX" >&2; exit 2; }
shift
commands=()
current=()
for arg in "$@"; do
  if [[ "$arg" == "--" ]]; then
    commands+=("$(printf '%q ' "${current[@]}")")
    current=()
  else
    current+=("$arg")
  fi
done
commands+=("$(printf '%q ' "${current[@]}")")
((${#commands[@]} >= 2)) || { echo "cli_keeps_outputs: need a setup and a failing command" >&2; exit 2; }

# Every file with its checksum, and every folder, under FOLDER.
state() { (cd "$folder" && find . -type d | sort && find . -type f -print0 | sort -z | xargs -0r sha256sum); }

rm -rf "$folder" && mkdir -p "$folder"
last=$((${#commands[@]} - 1))
for ((i = 0; i < last; ++i)); do
  if ! output="$(eval "${commands[i]}" 2>&1 </dev/null)"; then
    echo "$output" | tail -n 20
    echo "cli_keeps_outputs: setup command $((i + 1)) failed: ${commands[i]}" >&2
    exit 1
  fi
done
before="$(state)"
echo "before the failing run:"
echo "$before"

source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
run_checked cli_keeps_outputs "tail -n 20" eval "${commands[last]}"
failed=0
if ((status == 0)); then
  echo "cli_keeps_outputs: expected a non-zero exit status" >&2
  failed=1
fi
if ! grep -qE -- "$pattern" <<<"$output"; then
  echo "cli_keeps_outputs: no match for /$pattern/" >&2
  failed=1
fi
after="$(state)"
if [[ "$after" != "$before" ]]; then
  echo "cli_keeps_outputs: the failing run changed $folder:" >&2
  diff <(echo "$before") <(echo "$after") >&2
  failed=1
else
  echo "cli_keeps_outputs: every earlier output is as it was"
fi
exit "$failed"
