"""What the tables of the interleaved comparisons against LibTorch share (seq2seq_table.py,
sentiment_table.py): the JSON lines of bench_blocks (bench/bench_lib.sh) grouped by thread count
and library variant, one markdown row per group, and the value check's summary.

Each group's samples (per-step times, per-epoch throughputs, ...) pool every block's process. On
each LibTorch row, "tapegrad / this" is tapegrad's median over the row's, and the per-block
ratios the lowest and highest of the i-th tapegrad process's median over the row's i-th
process's (the two ran in the same block). Standard library only.
"""
import json
import statistics
import sys


def quartiles(values):
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def fmt(x):
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def load_runs(path):
    """{(threads, lib, OMP_WAIT_POLICY, GLIBC_TUNABLES): JSON lines in run order}."""
    runs = {}
    with open(path, encoding="utf-8") as f:
        for text in f:
            if text.startswith("{"):
                line = json.loads(text)
                variant = (line.get("omp_wait_policy", ""), line.get("glibc_tunables", ""))
                if line["lib"] == "tapegrad":
                    variant = ("", "")
                runs.setdefault((line["threads"], line["lib"]) + variant, []).append(line)
    return runs


def load_cli(argv, doc):
    """The runs of the results file argv[1] (a second argument is the check file), the first
    line and the parameter count per library; else, after printing why, the exit status (2 for
    a wrong command line, 1 for no results)."""
    if len(argv) not in (2, 3):
        print(doc.strip(), file=sys.stderr)
        return 2
    runs = load_runs(argv[1])
    if not runs:
        print("no results", file=sys.stderr)
        return 1
    params = {}
    for (_, lib, _, _), lines in sorted(runs.items()):
        params.setdefault(lib, lines[0]["parameters"])
    return runs, next(iter(runs.values()))[0], params


def check_text(path, steps_note=""):
    """The value check's JSON line (value_check_torch.hpp) as a sentence; steps_note says which
    steps ran."""
    with open(path, encoding="utf-8") as f:
        c = json.loads(f.read().strip().splitlines()[-1])
    if c.get("mismatched"):
        return (f"Value check: **{c['check']}**: the models differ; names or shapes that do not "
                f"match: {c['mismatched']}.")
    return (f"Value check ({c['check']}): LibTorch loaded tapegrad's initial weights into its "
            f"modules by name ({c['parameters_matched']} of {c['parameters_expected']} parameters, "
            f"same names and shapes) and ran the same {c['steps']} training steps{steps_note}: "
            f"first loss {c['loss_tapegrad']:.6f} (tapegrad) and {c['loss_libtorch']:.6f} "
            f"(LibTorch); "
            f"largest relative difference of the losses {c['loss_rel_err']:.1e}, of the "
            f"gradient norms {c['grad_norm_rel_err']:.1e}; first step's gradients within "
            f"{c['grad_scaled_err']:.1e} of each parameter's largest gradient (worst: "
            f"`{c['grad_worst']}`); weights after the steps within {c['after_abs_err']:.1e}.")


def library_name(lib, policy, tunables):
    if lib == "tapegrad":
        return "tapegrad"
    notes = ([f"OMP_WAIT_POLICY={policy}"] if policy else []) + (
        ["malloc kept: GLIBC_TUNABLES"] if tunables else [])
    return "LibTorch" + (f" ({', '.join(notes)})" if notes else " (as shipped)")


def print_table(runs, samples, header, extra=lambda lines: []):
    """The table: `header` names the columns threads, library, median, IQR, min-max, samples
    (processes), peak RSS MB, tapegrad / this, per-block ratios, then those `extra` adds
    (extra(lines) -> cells of a row). samples(line) -> a process's samples."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    for threads in sorted({k[0] for k in runs}):
        rows = {k[1:]: v for k, v in runs.items() if k[0] == threads}
        values = {k: [x for line in v for x in samples(line)] for k, v in rows.items()}
        tapegrad = rows.get(("tapegrad", "", ""))
        for key in sorted(rows, key=lambda k: (k[0] != "tapegrad", k[2] != "", k[1])):
            xs = values[key]
            q1, q3 = quartiles(xs)
            ratio = blocks = "-"
            if key[0] != "tapegrad" and tapegrad is not None:
                tg = statistics.median(values[("tapegrad", "", "")])
                ratio = f"**{tg / statistics.median(xs):.2f}**"
                pairs = [statistics.median(samples(a)) / statistics.median(samples(b))
                         for a, b in zip(tapegrad, rows[key])]
                blocks = f"{min(pairs):.2f}-{max(pairs):.2f}"
            rss = max(line["peak_rss_kb"] for line in rows[key]) / 1024
            cells = [str(threads), library_name(*key), fmt(statistics.median(xs)),
                     f"{fmt(q1)}-{fmt(q3)}", f"{fmt(min(xs))}-{fmt(max(xs))}",
                     f"{len(xs)} ({len(rows[key])})", f"{rss:.0f}", ratio, blocks]
            print("| " + " | ".join(cells + extra(rows[key])) + " |")
