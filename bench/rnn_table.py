#!/usr/bin/env python3
"""Markdown tables from the JSON lines of bench/run_rnn.sh (rnn_tapegrad, rnn_torch, rnn_onednn,
rnn_sgemm).

Usage: rnn_table.py RESULTS.jsonl

One table per (mode, threads). Per row (shape, cell): the median time per step of each library
over every repetition of every block (a configuration runs in several processes, interleaved
with the other libraries'), their ratio tapegrad / LibTorch against the target, oneDNN's time
(its fused RNN primitives) and the ratio tapegrad / oneDNN, tokens/s, the
GFLOP/s of the step's recurrent GEMMs (their FLOPs / the median step time) next to the same
GEMMs as raw cblas_sgemm calls timed in the same run, the bytes held for backward (tapegrad's
tape, and the malloc bytes in use before backward minus before the forward, for both), and the
peak resident memory of the processes. With more than one thread, LibTorch and oneDNN ran with
OMP_WAIT_POLICY=PASSIVE and with the default policy; the faster of the two is compared, and
the table says which. Standard library only.
"""
import json
import statistics
import sys

CELLS = ["rnn", "lstm", "gru"]
POLICY_LIBS = ("libtorch", "onednn")  # run with more than one OMP_WAIT_POLICY at 2+ threads
MB = 1e6
GEMM_TARGET = 0.75  # LSTM training step at (64,100,256,512), 1 thread: >= 75% of raw sgemm
GEMM_TARGET_SHAPE = (64, 100, 256, 512)


def ratio_target(mode, shape):
    """Largest allowed tapegrad/LibTorch time ratio."""
    batch, seq, inp, hidden = shape
    if mode == "train" and (batch == 1 or shape == (16, 200, 32, 64)):
        return 0.5
    return 1.0


def policy_name(value):
    return value if value else "default"


def fastest(runs, config, lib):
    """The fastest OMP_WAIT_POLICY variant of LIB at CONFIG (mode, threads, shape, cell): its
    Runs, its policy and "policy ms" of the others; (None, "", "") when LIB did not run."""
    variants = {k[5]: v for k, v in runs.items() if k[:5] == config + (lib,)}
    if not variants:
        return None, "", ""
    best = min(variants, key=lambda p: variants[p].median())
    other = ", ".join(f"{policy_name(p)} {fmt_ms(v.median())} ms"
                      for p, v in sorted(variants.items()) if p != best)
    return variants[best], best, other


def policy_text(found):
    """The table's cell for a fastest() result: the policy, and the others in parentheses."""
    r, best, other = found
    if r is None:
        return "-"
    return policy_name(best) + (f" ({other})" if other else "")


class Runs:
    """Every JSON line of one (library, policy, configuration), pooled over its processes."""

    def __init__(self):
        self.times = []
        self.lines = []

    def add(self, line):
        self.times.extend(line["times_ms"])
        self.lines.append(line)

    def median(self):
        return statistics.median(self.times)

    def first(self, key, default=None):
        for line in self.lines:
            if key in line:
                return line[key]
        return default

    def max(self, key):
        values = [line[key] for line in self.lines if key in line]
        return max(values) if values else None


def load(path):
    runs = {}  # (mode, threads, shape, cell, lib, policy) -> Runs
    order = []  # shapes in the order they ran
    meta = {}
    with open(path, encoding="utf-8") as f:
        for text in f:
            text = text.strip()
            if not text.startswith("{"):
                continue
            line = json.loads(text)
            shape = (line["batch"], line["seq"], line["input"], line["hidden"])
            if shape not in order:
                order.append(shape)
            policy = (line.get("omp_wait_policy", "") if line["lib"] in POLICY_LIBS else "")
            key = (line["mode"], line["threads"], shape, line["cell"], line["lib"], policy)
            runs.setdefault(key, Runs()).add(line)
            meta.setdefault(line["lib"], line)
    return runs, order, meta


def rss_text(runs, peak_kb):
    """Peak RSS in MB, and in parentheses its growth over the RSS before the first step."""
    base = runs.first("base_rss_kb")
    growth = f" (+{(peak_kb - base) / 1024:.0f})" if base is not None else ""
    return f"{peak_kb / 1024:.0f}{growth}"


def fmt_ms(ms):
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def fmt_rate(x):
    return f"{x / 1e3:.0f}k" if x >= 1e4 else f"{x / 1e3:.1f}k"


def table(runs, order, mode, threads):
    rows, verdicts = [], {"ratio": [], "gemm": None, "rss": [], "growth": [], "graph": []}
    has_torch = any(k[4] == "libtorch" for k in runs)
    has_onednn = any(k[4] == "onednn" for k in runs)
    onednn_ratios = []  # tapegrad / oneDNN per row
    multi = threads > 1
    header = ["B, T, in, H", "cell", "tapegrad ms", "LibTorch ms", "ratio", "target",
              "oneDNN ms", "tg / oneDNN",
              "tokens/s tg / LT", "GEMM GFLOP/s tg / LT / sgemm", "tg / sgemm"]
    if mode == "train":
        header += ["tape MB tg", "graph MB tg / LT"]
    header += ["peak RSS MB (growth) tg / LT"]
    if multi and has_torch:
        header += ["LibTorch OMP_WAIT_POLICY (other)"]
    if multi and has_onednn:
        header += ["oneDNN OMP_WAIT_POLICY (other)"]
    for shape in order:
        for cell in CELLS:
            tg = runs.get((mode, threads, shape, cell, "tapegrad", ""))
            if tg is None:
                continue
            sg = runs.get((mode, threads, shape, cell, "sgemm", ""))
            lt_found = fastest(runs, (mode, threads, shape, cell), "libtorch")
            dn_found = fastest(runs, (mode, threads, shape, cell), "onednn")
            lt, dn = lt_found[0], dn_found[0]
            tokens = shape[0] * shape[1]
            flops = tg.first("gemm_flops")
            tg_ms = tg.median()
            cells = [",".join(str(s) for s in shape), cell, fmt_ms(tg_ms)]
            target = ratio_target(mode, shape)
            if lt is not None:
                lt_ms = lt.median()
                ratio = tg_ms / lt_ms
                met = ratio <= target
                verdicts["ratio"].append((met, ratio, cell, shape))
                cells += [fmt_ms(lt_ms), f"{ratio:.2f}" if met else f"**{ratio:.2f}**",
                          f"<= {target:.1f}"]
            else:
                cells += ["-", "-", f"<= {target:.1f}"]
            if dn is not None:
                dn_ratio = tg_ms / dn.median()
                onednn_ratios.append(dn_ratio)
                cells += [fmt_ms(dn.median()), f"{dn_ratio:.2f}"]
            else:
                cells += ["-", "-"]
            lt_rate = fmt_rate(tokens / lt.median() * 1e3) if lt is not None else "-"
            cells += [f"{fmt_rate(tokens / tg_ms * 1e3)} / {lt_rate}"]
            tg_gf = flops / tg_ms * 1e-6
            lt_gf = f"{flops / lt.median() * 1e-6:.1f}" if lt is not None else "-"
            if sg is not None:
                sg_gf = flops / sg.median() * 1e-6
                cells += [f"{tg_gf:.1f} / {lt_gf} / {sg_gf:.1f}", f"{tg_gf / sg_gf:.0%}"]
                if (mode == "train" and threads == 1 and cell == "lstm"
                        and shape == GEMM_TARGET_SHAPE):
                    verdicts["gemm"] = tg_gf / sg_gf
            else:
                cells += [f"{tg_gf:.1f} / {lt_gf} / -", "-"]
            tg_rss, lt_rss = tg.max("peak_rss_kb"), lt.max("peak_rss_kb") if lt else None
            if mode == "train":
                tg_graph = tg.first("graph_heap_bytes", 0)
                lt_graph = lt.first("graph_heap_bytes", 0) if lt else None
                cells += [f"{tg.first('tape_bytes', 0) / MB:.1f}",
                          f"{tg_graph / MB:.1f} / "
                          + (f"{lt_graph / MB:.1f}" if lt_graph is not None else "-")]
                if lt is not None:
                    verdicts["graph"].append(tg_graph <= lt_graph)
                    verdicts["rss"].append(tg_rss <= lt_rss)
                    verdicts["growth"].append(tg_rss - tg.first("base_rss_kb", 0)
                                              <= lt_rss - lt.first("base_rss_kb", 0))
            cells += [rss_text(tg, tg_rss) + " / " + (rss_text(lt, lt_rss) if lt else "-")]
            if multi and has_torch:
                cells += [policy_text(lt_found)]
            if multi and has_onednn:
                cells += [policy_text(dn_found)]
            rows.append(cells)
    if not rows:
        return None
    out = [f"### {'Training step' if mode == 'train' else 'Inference'}, {threads} "
           f"thread{'s' if threads > 1 else ''}", ""]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out.append("")
    notes = []
    if verdicts["ratio"]:
        met = sum(1 for m, *_ in verdicts["ratio"] if m)
        worst = max(verdicts["ratio"], key=lambda v: v[1] / ratio_target(mode, v[3]))
        notes.append(f"time ratio target met in {met} of {len(verdicts['ratio'])} rows "
                     f"(farthest: {worst[2]} {','.join(map(str, worst[3]))} at "
                     f"{worst[1]:.2f} against <= {ratio_target(mode, worst[3]):.1f})")
    if verdicts["gemm"] is not None:
        ok = verdicts["gemm"] >= GEMM_TARGET
        notes.append(f"LSTM {','.join(map(str, GEMM_TARGET_SHAPE))} reaches "
                     f"{verdicts['gemm']:.0%} of raw sgemm GFLOP/s "
                     f"({'met' if ok else 'NOT met'}: >= {GEMM_TARGET:.0%})")
    if verdicts["rss"]:
        n = len(verdicts["rss"])
        notes.append(f"tapegrad <= LibTorch in memory: peak RSS in {sum(verdicts['rss'])} of {n} "
                     f"rows, RSS growth in {sum(verdicts['growth'])} of {n}, graph bytes in "
                     f"{sum(verdicts['graph'])} of {n}")
    if notes:
        out.append("Targets: " + "; ".join(notes) + ".")
        out.append("")
    if onednn_ratios:
        faster = sum(1 for r in onednn_ratios if r < 1)
        out.append(f"Against oneDNN's fused RNN primitives: tapegrad faster in {faster} of "
                   f"{len(onednn_ratios)} rows (tapegrad / oneDNN from "
                   f"{min(onednn_ratios):.2f} to {max(onednn_ratios):.2f}).")
        out.append("")
    return "\n".join(out)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    runs, order, meta = load(argv[1])
    reps = {}
    for key, r in runs.items():
        reps.setdefault(key[4], []).append(len(r.times))
    summary = ", ".join(f"{lib} {min(v)}-{max(v)}" if min(v) != max(v) else f"{lib} {v[0]}"
                        for lib, v in sorted(reps.items()))
    flushed = {line.get("flush_denormals", 0) for line in meta.values()}
    fp = ("denormals flushed to zero (FTZ/DAZ)" if flushed == {1} else
          "denormals as each library ships (LibTorch and oneDNN keep them, tapegrad's backward "
          "flushes them)" if flushed == {0} else "MIXED FTZ settings")
    print(f"Medians of the repetitions per configuration ({summary}); ms per step, wall clock; "
          f"{fp}.")
    print()
    for mode in ("train", "infer"):
        for threads in sorted({k[1] for k in runs}):
            text = table(runs, order, mode, threads)
            if text:
                print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
