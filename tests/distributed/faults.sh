#!/usr/bin/env bash
# faults.sh MPIEXEC FAULTS_BINARY MODE NP: runs `MPIEXEC -np NP FAULTS_BINARY MODE DIR` (faults.cpp:
# the last rank hangs or is killed at step 3, the timeout is 2 s) and checks that the job ends
# within 30 s, fails, names the rank (and no other), and that the checkpoint rank 0 saved before
# is intact.
set -euo pipefail
mpiexec="$1" binary="$2" mode="$3" np="$4"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
last=$((np - 1))

start=$SECONDS
set +e
output="$(timeout 60 "$mpiexec" --oversubscribe -np "$np" "$binary" "$mode" "$dir" 2>&1)"
status=$?
set -e
elapsed=$((SECONDS - start))
echo "$output"
echo "--- exit status $status after ${elapsed} s"

fail() {
  echo "faults.sh ($mode, $np ranks): $*" >&2
  exit 1
}
((status != 0)) || fail "the job succeeded although rank $last failed"
((status != 124)) || fail "the job hung (killed by timeout after 60 s)"
((elapsed < 30)) || fail "the job took ${elapsed} s to stop (the timeout is 2 s)"
if [[ "$mode" == hang ]]; then
  # The ranks that wait name the one that hangs (the first to give up aborts the job, which may
  # end the others before they print), and none names another.
  grep -Eq "tapegrad::distributed: rank [0-9]+: the gradients of step 3 \(collective #[0-9]+\): rank $last did not arrive within 2 s" <<<"$output" ||
    fail "no rank reported that rank $last did not arrive"
  ! grep -E "did not arrive" <<<"$output" | grep -vq ": rank $last did not arrive" ||
    fail "a rank named another rank than $last"
else
  # Killed: mpirun names it, or the ranks do when their timeout comes first.
  grep -Eq "rank $last (with PID [0-9]+ )?.*(exited|killed|signal)|rank $last did not arrive" <<<"$output" ||
    fail "nothing named rank $last as the one that died"
fi
# Nothing saved is lost: the checkpoint of step 2 loads.
"$binary" verify "$dir" || fail "the checkpoint saved before the fault does not load"
echo "faults.sh ($mode, $np ranks): ok"
