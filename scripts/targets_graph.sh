#!/usr/bin/env bash
# Draws tapegrad's library targets and the arrows between them, from CMake's own view of the
# build (cmake --graphviz), as docs/targets.svg (and docs/targets.dot): the picture at the top
# of docs/design.md. Needs Graphviz's dot (apt-get install graphviz).
#
#   bash scripts/targets_graph.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Only the project's targets: no external libraries, no per-target files.
cat >"$work/CMakeGraphVizOptions.cmake" <<'OPTIONS'
set(GRAPHVIZ_EXTERNAL_LIBS FALSE)
set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)
set(GRAPHVIZ_GENERATE_DEPENDERS FALSE)
OPTIONS
cmake -S . -B "$work" -G Ninja -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF \
  -DTAPEGRAD_BUILD_BENCH=OFF --graphviz="$work/cmake.dot" >/dev/null

# Keep the targets named tapegrad::<part> and the arrows between them.
python3 - "$work/cmake.dot" docs/targets.dot <<'PY'
import re
import sys

nodes, edges = {}, []
for line in open(sys.argv[1]):
    m = re.match(r'\s*"(node\d+)" \[ label = "([^"\\]+)\\n\((tapegrad::\w+)\)"', line)
    if m:
        nodes[m.group(1)] = m.group(3)
        continue
    m = re.match(r'\s*"(node\d+)" -> "(node\d+)"', line)
    if m:
        edges.append((m.group(1), m.group(2)))
out = ['// Made by scripts/targets_graph.sh from cmake --graphviz: do not edit.',
       'digraph tapegrad {', '  rankdir = TB;',
       '  node [shape = box, style = rounded, fontname = "Helvetica", fontsize = 12];']
for name in sorted(set(nodes.values())):
    out.append(f'  "{name}";')
for a, b in sorted(set((nodes[a], nodes[b]) for a, b in edges if a in nodes and b in nodes)):
    out.append(f'  "{a}" -> "{b}";')
out.append('}')
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
dot -Tsvg docs/targets.dot -o docs/targets.svg
echo "wrote docs/targets.dot and docs/targets.svg:"
grep -- '->' docs/targets.dot
