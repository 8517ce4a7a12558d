#!/usr/bin/env python3
"""The table of bench/run_gemm.sh from its JSON lines (build-bench/gemm_results.jsonl).

One row per GEMM product: GFLOP/s of OpenBLAS and oneDNN on each code path ("as is": the
machine's environment untouched; "Prescott": OpenBLAS forced to its SSE3 kernels, oneDNN as is;
"AVX2": both capped at AVX2), and oneDNN / OpenBLAS. Then a summary per path and product kind:
the ratios' median, lowest and highest. Usage: gemm_table.py RESULTS.jsonl
"""
import json
import statistics
import sys


def main(path):
    rows, order, cores = {}, [], {}
    for line in open(path):
        d = json.loads(line)
        if "machine" in d:
            cores[d["path"]] = d["machine"]["openblas_core"]
            continue
        key = d["product"]
        if key not in rows:
            rows[key] = {}
            order.append(key)
        rows[key][d["path"]] = d
    paths = [p for p in ("as is", "Prescott", "AVX2") if p in cores]
    print("OpenBLAS's kernels per path: " +
          ", ".join("%s %s" % (p, cores[p]) for p in paths) + "\n")
    head = "| product | op | M, N, K |"
    rule = "|---|---|---|"
    for p in paths:
        head += " %s: OpenBLAS | %s: oneDNN | oneDNN / OpenBLAS |" % (p, p)
        rule += "---:|---:|---:|"
    print(head)
    print(rule)
    ratios = {p: {} for p in paths}
    for key in order:
        any_row = next(iter(rows[key].values()))
        line = "| %s | %s | %d, %d, %d |" % (key, any_row["op"], any_row["m"], any_row["n"],
                                            any_row["k"])
        kind = key.split()[-1]
        for p in paths:
            d = rows[key].get(p)
            if d is None:
                line += " - | - | - |"
                continue
            r = d["dnnl_gflops"] / d["openblas_gflops"]
            ratios[p].setdefault(kind, []).append(r)
            ratios[p].setdefault("all", []).append(r)
            line += " %.1f | %.1f | %.2f |" % (d["openblas_gflops"], d["dnnl_gflops"], r)
        print(line)
    print("\nGFLOP/s, medians over the repetitions; oneDNN / OpenBLAS above 1: oneDNN faster.\n")
    print("| path | products | oneDNN / OpenBLAS: median | lowest | highest |")
    print("|---|---|---:|---:|---:|")
    for p in paths:
        for kind in ["all"] + sorted(k for k in ratios[p] if k != "all"):
            v = ratios[p][kind]
            print("| %s | %s (%d) | %.2f | %.2f | %.2f |" % (p, kind, len(v), statistics.median(v),
                                                          min(v), max(v)))


if __name__ == "__main__":
    main(sys.argv[1])
