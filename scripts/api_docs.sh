#!/usr/bin/env bash
# The API reference: Doxygen (Debian's doxygen, which scripts/setup.sh installs) over the `///`
# comments of the public headers, configured by docs/api/Doxyfile, as HTML in
# build-docs/api/html/. Any warning fails it (a public declaration without a comment, a
# reference that does not resolve, an unknown command), with the warnings printed; CI runs it
# (scripts/test.sh).
#
#   bash scripts/api_docs.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

command -v doxygen >/dev/null || {
  echo "api_docs: doxygen not found (scripts/setup.sh installs it)" >&2
  exit 1
}

out=build-docs/api
rm -rf "$out/html"  # a page of a removed header must not linger
mkdir -p "$out"
log="$out/warnings.txt"
TAPEGRAD_VERSION="$(sed -n 's/^project(tapegrad VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
export TAPEGRAD_VERSION

start=$SECONDS
status=0
doxygen docs/api/Doxyfile 2>"$log" || status=$?
if ((status != 0)) || [[ -s "$log" ]]; then
  # Paths relative to the repository root, each warning once (doxygen repeats a member's
  # warning for every class that inherits it).
  warnings="$(sed "s|$root/||" "$log" | awk '!seen[$0]++')"
  echo "$warnings" >&2
  count="$(grep -cE ': (warning|error):' <<<"$warnings" || true)"
  echo "api_docs: doxygen $(doxygen --version) failed (exit $status) with $count warning(s)" \
    "(above): document each public declaration named there with a /// comment" >&2
  exit 1
fi
echo "api_docs: no warnings ($(doxygen --version), $((SECONDS - start)) s):" \
  "$root/$out/html/index.html"
