# Shared by the CLI test scripts (source it): runs a command and ends the test on a crash.
# shellcheck shell=bash

# run_checked NAME SHOW COMMAND...: runs COMMAND (stdin from /dev/null), sets `output` (stdout
# and stderr) and `status`, prints the output through SHOW ("head -n 40") and the status, and
# exits 1 when the command was killed by a signal or printed a sanitizer report. NAME prefixes
# the messages.
run_checked() {
  local name="$1" show="$2"
  shift 2
  output="$("$@" 2>&1 </dev/null)"
  status=$?
  echo "$output" | $show
  echo "[exit status $status]"
  if ((status > 128)); then
    echo "$name: killed by signal $((status - 128))" >&2
    exit 1
  fi
  if grep -qE 'Sanitizer|runtime error:' <<<"$output"; then
    echo "$name: sanitizer report" >&2
    exit 1
  fi
}
