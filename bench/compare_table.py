#!/usr/bin/env python3
"""Helpers of bench/compare_revisions.sh. Standard library only.

  compare_table.py engine-value FILE.json
      One line "VALUE UNIT" from a bench_engine JSON output of one benchmark, one repetition
      (--benchmark_filter=^NAME$ --benchmark_repetitions=1): the time the tapegrad side takes.
      fixed_cost/...: the counter per_op in ns per op. gemm/...: the op layer's share of the
      iteration's time (op and raw sgemm alternate in every iteration; ratio = raw time / op
      time, so op time = iteration time / (1 + ratio)) in us per call. Anything else: the
      iteration's real time in its time unit.

  compare_table.py table RESULTS.jsonl MD CSV
      RESULTS.jsonl: one line per process, {"side": "before"|"after", "row": ..., "unit": ...,
      "values": [...]}. Per row, the median over every value of each side, and after / before
      (above 1: after is slower). Writes the markdown table and a summary (min / median / max
      ratio) to MD and stdout, and one CSV line per row to CSV.
"""
import csv
import json
import statistics
import sys

TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def engine_value(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    runs = [b for b in data.get("benchmarks", [])
            if b.get("run_type", "iteration") == "iteration" and not b.get("error_occurred")]
    if len(runs) != 1:
        raise SystemExit(f"compare_table.py: expected one benchmark run in {path}, "
                         f"found {len(runs)}")
    b = runs[0]
    scale = TIME_UNITS.get(b.get("time_unit", "ns"), 1e-9)
    if "per_op" in b:
        return b["per_op"] * 1e9, "ns/op"
    if "ratio" in b and b["ratio"] > 0:
        seconds = b["real_time"] * scale / (1.0 + b["ratio"])
        return seconds * 1e6, "us/call (op layer)"
    return b["real_time"] * scale * 1e6, "us/iteration"


def fmt(x):
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def table(results, md_path, csv_path):
    rows = {}  # row -> {"unit": ..., "before": [...], "after": [...]}
    with open(results, encoding="utf-8") as f:
        for text in f:
            text = text.strip()
            if not text:
                continue
            line = json.loads(text)
            r = rows.setdefault(line["row"], {"unit": line["unit"], "before": [], "after": []})
            r[line["side"]].extend(line["values"])
    out = ["| row | unit | before | after | after / before |", "|---|---|---:|---:|---:|"]
    ratios = []
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "unit", "before_median", "after_median", "ratio", "before_n",
                    "after_n", "before_min", "before_max", "after_min", "after_max"])
        for name, r in rows.items():
            b, a = r["before"], r["after"]
            if not b or not a:
                out.append(f"| {name} | {r['unit']} | "
                           f"{fmt(statistics.median(b)) if b else '-'} | "
                           f"{fmt(statistics.median(a)) if a else '-'} | - |")
                continue
            mb, ma = statistics.median(b), statistics.median(a)
            ratio = ma / mb
            ratios.append((ratio, name))
            out.append(f"| {name} | {r['unit']} | {fmt(mb)} | {fmt(ma)} | {ratio:.3f} |")
            w.writerow([name, r["unit"], f"{mb:.6g}", f"{ma:.6g}", f"{ratio:.4f}", len(b), len(a),
                        f"{min(b):.6g}", f"{max(b):.6g}", f"{min(a):.6g}", f"{max(a):.6g}"])
    out.append("")
    if ratios:
        lo, hi = min(ratios), max(ratios)
        med = statistics.median(r for r, _ in ratios)
        out.append(f"after / before over {len(ratios)} rows: min {lo[0]:.3f} ({lo[1]}), "
                   f"median {med:.3f}, max {hi[0]:.3f} ({hi[1]}); above 1: after is slower.")
    else:
        out.append("No row has measurements of both revisions.")
    text = "\n".join(out) + "\n"
    with open(md_path, "a", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0 if ratios else 1


def main(argv):
    if len(argv) == 3 and argv[1] == "engine-value":
        value, unit = engine_value(argv[2])
        print(f"{value:.6g} {unit}")
        return 0
    if len(argv) == 5 and argv[1] == "table":
        return table(argv[2], argv[3], argv[4])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
