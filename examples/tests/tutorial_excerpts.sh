#!/usr/bin/env bash
# Checks that the tapegrad code docs/tutorials.md shows is the tutorials' own code, for ctest
# (tutorial.excerpts):
#
#   tutorial_excerpts.sh DOC ROOT
#
# Every ```cpp block of DOC must follow the marker <!-- snippet: skip (from
# examples/tutorials/NAME.cpp...) --> (which also tells the docs' compile check,
# cmake/TapegradDocSnippets.cmake, that the block is compiled and run as that program), and its
# lines must be lines of ROOT/examples/tutorials/NAME.cpp, consecutive and in order, up to
# indentation and blank lines; a line `// ...` stands for lines left out.
set -euo pipefail
python3 - "$@" <<'PY'
import re
import sys

doc, root = sys.argv[1], sys.argv[2]
text = open(doc, encoding="utf-8").read()
marked = re.compile(
    r"<!-- snippet: skip \(from (examples/tutorials/\w+\.cpp)[^)]*\) -->\s*\n```cpp\n(.*?)\n```",
    re.S)


def code_lines(s):
    return [line.strip() for line in s.splitlines() if line.strip()]


problems, checked = [], 0
for m in marked.finditer(text):
    path, block = m.group(1), m.group(2)
    where = "%s:%d" % (doc, text.count("\n", 0, m.start(2)) + 1)
    try:
        source = code_lines(open("%s/%s" % (root, path), encoding="utf-8").read())
    except OSError as e:
        problems.append("%s: %s" % (where, e))
        continue
    segments = [[]]
    for line in code_lines(block):
        if line == "// ...":
            segments.append([])
        else:
            segments[-1].append(line)
    at = 0
    for segment in filter(None, segments):
        # the longest run of the segment's lines that the source has from `at` on
        best, best_start = -1, None
        for start in range(at, len(source)):
            n = 0
            while n < len(segment) and start + n < len(source) and source[start + n] == segment[n]:
                n += 1
            if n > best:
                best, best_start = n, start
            if n == len(segment):
                break
        if best < len(segment):
            problems.append("%s: this line is not where the excerpt puts it in %s: %s"
                            % (where, path, segment[max(best, 0)]))
            break
        at = best_start + len(segment)
    checked += 1

fences = len(re.findall(r"(?m)^```cpp$", text))
if checked != fences:
    problems.append("%s: %d of its %d ```cpp blocks do not follow a marker "
                    "<!-- snippet: skip (from examples/tutorials/NAME.cpp ...) -->"
                    % (doc, fences - checked, fences))
if checked == 0:
    problems.append("%s: no excerpt found" % doc)
for p in problems:
    print(p)
print("tutorial_excerpts: %d excerpts checked, %d problems" % (checked, len(problems)))
sys.exit(1 if problems else 0)
PY
