#!/usr/bin/env python3
"""A markdown table from the JSON lines of bench/run_sentiment.sh (sentiment_tapegrad,
sentiment_torch).

Usage: sentiment_table.py RESULTS.jsonl [CHECK.json]

One row per thread count and library or LibTorch variant (OMP_WAIT_POLICY, GLIBC_TUNABLES):
training throughput in sentences/s, one sample per timed epoch, over every block (each block is
one process per row, the rows interleaved): the median, the interquartile range, the extremes,
the peak resident memory. On each LibTorch row, tapegrad's median over that row's (above 1:
tapegrad trains faster) and the range of the per-block ratios (interleaved.py). Then the mean
training loss of the first and the last epoch of the row's processes (every process trains the
same epochs from the same start: the losses show both models learning alike).
CHECK.json, the value check's line from sentiment_torch --check, is summarised above the table.
Standard library only.
"""
import statistics
import sys

from interleaved import check_text, load_cli, print_table


def losses(lines):
    first = statistics.median(line["loss_first"] for line in lines)
    last = statistics.median(line["loss_last"] for line in lines)
    return [f"{first:.3f} -> {last:.3f}"]


def main(argv):
    loaded = load_cli(argv, __doc__)
    if isinstance(loaded, int):
        return loaded
    runs, first, params = loaded
    epochs = len(first["epoch_losses"])
    print(f"Model: embedding {first['embedding_dim']} -> "
          f"{'bidirectional ' if first['bidirectional'] else ''}{first['cell']} "
          f"{first['hidden_size']} x {first['num_layers']} -> {first['pooling']} pooling -> "
          f"linear; vocabulary {first['vocab_size']}; parameters: "
          + ", ".join(f"{lib} {n}" for lib, n in params.items()) + ".")
    print(f"Data: {first['sentences']} training sentences, {first['tokens']} tokens, in "
          f"{first['batches']} batches of up to {first['batch_size']} in the first epoch "
          f"({first['padded_tokens']} padded tokens); epochs per process: {epochs}, of which "
          f"{first['warmup_epochs']} untimed.")
    print()
    if len(argv) == 3:
        print(check_text(argv[2], " on the first batches of the first epoch with dropout and word "
                                  "dropout off (eval mode)"))
        print()
    header = ["threads", "library", "sentences/s median", "IQR", "min-max", "epochs (processes)",
              "peak RSS MB", "tapegrad / this", "per-block ratios", f"loss, epoch 1 -> {epochs}"]
    print_table(runs, lambda line: line["sentences_per_s"], header, losses)
    print()
    print("Training throughput: the training sentences over the wall-clock time of a whole epoch "
          "(padding the batches, word dropout, zero_grad, forward, loss, backward, "
          "clip_grad_norm, AdamW, the batch's accuracy). Loss: the mean training loss of an "
          "epoch, the median over the row's processes. \"malloc kept\": glibc's malloc told to "
          "keep freed blocks below 32 MiB on the heap and not to trim it (LibTorch's "
          "allocations are malloc's).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
