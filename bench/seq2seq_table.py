#!/usr/bin/env python3
"""A markdown table from the JSON lines of bench/run_seq2seq.sh (seq2seq_tapegrad, seq2seq_torch).

Usage: seq2seq_table.py RESULTS.jsonl [CHECK.json]

One row per thread count and library or LibTorch variant (OMP_WAIT_POLICY, GLIBC_TUNABLES): ms
per training step over every repetition of every block (each block is one process per row, the
rows interleaved): the median, the interquartile range, the extremes, and the peak resident
memory. On each LibTorch row, tapegrad's median over that row's (below 1: tapegrad faster) and
the range of the per-block ratios (the i-th tapegrad process against the i-th process of the
row, which ran in the same block).
CHECK.json, the value check's line from seq2seq_torch --check, is summarised above the table.
Standard library only.
"""
import json
import statistics
import sys


def quartiles(values):
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def fmt(ms):
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def check_text(path):
    with open(path, encoding="utf-8") as f:
        c = json.loads(f.read().strip().splitlines()[-1])
    if c.get("mismatched"):
        return (f"Value check: **{c['check']}**: the models differ; names or shapes that do not "
                f"match: {c['mismatched']}.")
    return (f"Value check ({c['check']}): LibTorch loaded tapegrad's initial weights into its "
            f"modules by name ({c['parameters_matched']} of {c['parameters_expected']} parameters, "
            f"same names and shapes) and ran the same {c['steps']} training steps: first loss "
            f"{c['loss_tapegrad']:.6f} (tapegrad) and {c['loss_libtorch']:.6f} (LibTorch); "
            f"largest relative difference of the losses {c['loss_rel_err']:.1e}, of the "
            f"gradient norms {c['grad_norm_rel_err']:.1e}; first step's gradients within "
            f"{c['grad_scaled_err']:.1e} of each parameter's largest gradient (worst: "
            f"`{c['grad_worst']}`); weights after the steps within {c['after_abs_err']:.1e}.")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    runs = {}  # (threads, lib, OMP_WAIT_POLICY, GLIBC_TUNABLES) -> JSON lines in run order
    with open(argv[1], encoding="utf-8") as f:
        for text in f:
            if text.startswith("{"):
                line = json.loads(text)
                variant = (line.get("omp_wait_policy", ""), line.get("glibc_tunables", ""))
                if line["lib"] == "tapegrad":
                    variant = ("", "")
                runs.setdefault((line["threads"], line["lib"]) + variant, []).append(line)
    if not runs:
        print("no results", file=sys.stderr)
        return 1
    first = next(iter(runs.values()))[0]
    params = {}
    for (_, lib, _, _), lines in sorted(runs.items()):
        params.setdefault(lib, lines[0]["parameters"])
    print(f"Model: B {first['batch']}, source length {first['src_len_min']}-{first['src_len']} "
          f"(padded to {first['src_len']}), target length {first['tgt_len_min']}-"
          f"{first['tgt_len']} (T = {first['tgt_len']} decoder steps), Vs {first['src_vocab']}, "
          f"Vt {first['tgt_vocab']}, E {first['embed']}, H {first['hidden']}; parameters: "
          + ", ".join(f"{lib} {n}" for lib, n in params.items()) + ".")
    print()
    if len(argv) == 3:
        print(check_text(argv[2]))
        print()
    header = ["threads", "library", "ms/step median", "IQR", "min-max", "reps (processes)",
              "peak RSS MB", "tapegrad / this", "per-block ratios"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    for threads in sorted({k[0] for k in runs}):
        rows = {k[1:]: v for k, v in runs.items() if k[0] == threads}
        times = {k: [t for line in v for t in line["times_ms"]] for k, v in rows.items()}
        tg = rows.get(("tapegrad", "", ""))
        for key in sorted(rows, key=lambda k: (k[0] != "tapegrad", k[2] != "", k[1])):
            lib, policy, tunables = key
            ts = times[key]
            q1, q3 = quartiles(ts)
            notes = ([f"OMP_WAIT_POLICY={policy}"] if policy else []) + (
                ["malloc kept: GLIBC_TUNABLES"] if tunables else [])
            name = "tapegrad" if lib == "tapegrad" else "LibTorch" + (
                f" ({', '.join(notes)})" if notes else " (as shipped)")
            ratio = blocks = "-"
            if lib != "tapegrad" and tg is not None:
                tg_ms = statistics.median(times[("tapegrad", "", "")])
                ratio = f"**{tg_ms / statistics.median(ts):.2f}**"
                pairs = [statistics.median(a["times_ms"]) / statistics.median(b["times_ms"])
                         for a, b in zip(tg, rows[key])]
                blocks = f"{min(pairs):.2f}-{max(pairs):.2f}"
            rss = max(line["peak_rss_kb"] for line in rows[key]) / 1024
            print(f"| {threads} | {name} | {fmt(statistics.median(ts))} | {fmt(q1)}-{fmt(q3)} | "
                  f"{fmt(min(ts))}-{fmt(max(ts))} | {len(ts)} ({len(rows[key])}) | {rss:.0f} | "
                  f"{ratio} | {blocks} |")
    print()
    print("ms per training step (zero_grad, forward, loss, backward, clip_grad_norm 1.0, Adam), "
          "wall clock; a repetition times enough consecutive steps to last the minimum "
          "repetition time. \"malloc kept\": glibc's malloc told to keep freed blocks below "
          "32 MiB on the heap and not to trim it (LibTorch's allocations are malloc's).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
