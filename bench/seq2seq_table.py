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
import sys

from interleaved import check_text, load_cli, print_table


def main(argv):
    loaded = load_cli(argv, __doc__)
    if isinstance(loaded, int):
        return loaded
    runs, first, params = loaded
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
    print_table(runs, lambda line: line["times_ms"], header)
    print()
    print("ms per training step (zero_grad, forward, loss, backward, clip_grad_norm 1.0, Adam), "
          "wall clock; a repetition times enough consecutive steps to last the minimum "
          "repetition time. \"malloc kept\": glibc's malloc told to keep freed blocks below "
          "32 MiB on the heap and not to trim it (LibTorch's allocations are malloc's).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
