#!/usr/bin/env python3
"""Markdown tables from bench_engine's JSON output (--benchmark_format=json or --benchmark_out).

Usage: engine_table.py LABEL=FILE.json [LABEL=FILE.json ...]

Per run: the engine's fixed cost per op (ns, forward+backward, forward, backward, NoGrad) and
the GEMM throughput through the op layer against raw cblas_sgemm (GFLOP/s and their ratio).
Each figure is the median over the repetitions, with the range [min-max] beside it; a GEMM
ratio is the median of the per-repetition ratios (op and raw timed in the same iterations). Standard library only.
"""
import json
import statistics
import sys

FIXED_PASSES = [("fwd+bwd", "fwd+bwd"), ("fwd", "fwd (record)"), ("bwd", "bwd"),
                ("nograd", "NoGrad")]
# (case, description): each gemm benchmark times the op layer and its raw BLAS reference
GEMM_CASES = [
    ("nograd", "forward, NoGrad vs 1 sgemm"),
    ("record", "forward, recorded vs 1 sgemm"),
    ("fwd+bwd", "forward+backward vs 3 sgemms"),
]
FIXED_TARGET_NS = 1000.0  # forward+backward per op on 1x1
GEMM_TARGET_RATIO = 0.90


def load(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    values = {}  # (benchmark name, counter) -> per-repetition values
    for b in data.get("benchmarks", []):
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = strip_time_suffix(b["run_name"])
        if name.startswith("fixed_cost/"):
            values.setdefault((name, "ns"), []).append(b["per_op"] * 1e9)  # s -> ns per op
        elif name.startswith("gemm/"):
            for counter in ("op_gflops", "raw_gflops", "ratio"):
                values.setdefault((name, counter), []).append(b[counter])
    return data.get("context", {}), values


def strip_time_suffix(name):
    for suffix in ("/manual_time", "/real_time"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def summary(values, digits):
    med = statistics.median(values)
    return med, f"{med:.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def report(label, path):
    context, values = load(path)
    reps = max((len(v) for v in values.values()), default=0)
    out = []
    out.append(f"### {label}: OpenBLAS core {context.get('openblas_core', '?')}")
    out.append("")
    env = context.get("openblas_coretype_env") or "unset"
    out.append(f"`{context.get('blas_info', '?')}`; OPENBLAS_CORETYPE {env}; "
               f"{context.get('blas_threads', '?')} BLAS thread(s); "
               f"{context.get('time_base', '?')} time; medians [min-max] of {reps} repetitions; "
               f"{context.get('date', '')}")
    out.append("")

    met = {}
    shapes = sorted({k.split("/")[2] for k, _ in values if k.startswith("fixed_cost/")},
                    key=lambda s: [int(x) for x in s.split("x")])
    if shapes:
        chain = context.get("chain_ops", "?")
        out.append(f"Fixed cost, ns per op (a chain of {chain} ops tanh, add, mul on float):")
        out.append("")
        out.append("| shape | " + " | ".join(title for _, title in FIXED_PASSES) + " |")
        out.append("|---|" + "---:|" * len(FIXED_PASSES))
        for shape in shapes:
            cells = []
            for key, _ in FIXED_PASSES:
                v = values.get((f"fixed_cost/{key}/{shape}", "ns"))
                if v:
                    med, text = summary(v, 0)
                    cells.append(text)
                    if key == "fwd+bwd" and shape == "1x1":
                        met["fixed"] = med
                else:
                    cells.append("-")
            out.append(f"| {shape} | " + " | ".join(cells) + " |")
        out.append("")

    dims = sorted({k.split("/")[2] for k, _ in values if k.startswith("gemm/")},
                  key=lambda s: [int(x) for x in s.split("x")])
    if dims:
        out.append("GEMM, float, GFLOP/s: the op layer and raw cblas_sgemm (into preallocated "
                   "outputs), timed alternately in the same iterations; ratio = op / raw:")
        out.append("")
        out.append("| M x K x N | case | op layer | raw sgemm | ratio |")
        out.append("|---|---|---:|---:|---:|")
        ratios = []
        for d in dims:
            for case, title in GEMM_CASES:
                name = f"gemm/{case}/{d}"
                if (name, "ratio") not in values:
                    continue
                _, op_text = summary(values[(name, "op_gflops")], 1)
                _, raw_text = summary(values[(name, "raw_gflops")], 1)
                ratio, ratio_text = summary(values[(name, "ratio")], 2)
                ratios.append(ratio)
                out.append(f"| {d} | {title} | {op_text} | {raw_text} | {ratio_text} |")
        out.append("")
        if ratios:
            met["gemm"] = min(ratios)

    verdicts = []
    if "fixed" in met:
        ok = met["fixed"] < FIXED_TARGET_NS
        verdicts.append(f"fwd+bwd per op on 1x1 {met['fixed']:.0f} ns "
                        f"({'met' if ok else 'NOT met'}: < {FIXED_TARGET_NS:.0f} ns)")
    if "gemm" in met:
        ok = met["gemm"] >= GEMM_TARGET_RATIO
        verdicts.append(f"lowest matmul/raw ratio {met['gemm']:.2f} "
                        f"({'met' if ok else 'NOT met'}: >= {GEMM_TARGET_RATIO:.2f})")
    if verdicts:
        out.append("Targets: " + "; ".join(verdicts) + ".")
        out.append("")
    return "\n".join(out)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for arg in argv[1:]:
        label, sep, path = arg.partition("=")
        if not sep:
            label, path = arg, arg
        print(report(label, path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
