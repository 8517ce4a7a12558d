#!/usr/bin/env bash
# Runs an example's command line and checks how it ends, for the examples' CLI tests in ctest:
#
#   expect_cli.sh ok|fails REGEX command [args...]
#
# ok: exit status 0; fails: any other status (but not a crash: no signal, no sanitizer
# report). In both cases the combined output must match the extended regular expression REGEX.
set -uo pipefail
expect="$1" pattern="$2"
shift 2
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
run_checked expect_cli "head -n 40" "$@"
case "$expect" in
  ok) ((status == 0)) || { echo "expect_cli: expected exit status 0" >&2; exit 1; } ;;
  fails) ((status != 0)) || { echo "expect_cli: expected a non-zero exit status" >&2; exit 1; } ;;
  *) echo "expect_cli: the first argument must be ok or fails" >&2; exit 2 ;;
esac
grep -qE -- "$pattern" <<<"$output" || { echo "expect_cli: no match for /$pattern/" >&2; exit 1; }
