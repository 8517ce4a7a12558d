#!/usr/bin/env python3
"""Move weights from tapegrad to PyTorch.

tapegrad saves a model's parameters (tapegrad::optim::save_model) as a NumPy .npz archive under
PyTorch's parameter names (embed.weight, rnn.weight_ih_l0, ..., head.bias), with PyTorch's
shapes and gate order. Loading it into the matching PyTorch module is one call:

    import torch
    from npz_to_torch import load_npz_into
    model = MyTorchModel()                 # same layers, same sizes, same names
    load_npz_into(model, "model.npz")     # strict: names and shapes must match

From the command line, list what an archive holds:

    python3 scripts/npz_to_torch.py model.npz

Needs numpy and torch (Debian: python3-numpy, python3-torch).
"""
import sys

import numpy as np


def load_npz_into(model, path, strict=True):
    """Copies every array of the archive at `path` into `model`'s parameters, by name."""
    import torch

    with np.load(path) as archive:
        state = {name: torch.from_numpy(np.array(archive[name])) for name in archive.files}
    own = model.state_dict()
    for name, value in state.items():
        if name in own and own[name].dtype != value.dtype:
            state[name] = value.to(own[name].dtype)
    return model.load_state_dict(state, strict=strict)


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    with np.load(argv[1]) as archive:
        for name in archive.files:
            a = archive[name]
            print(f"{name:40s} {str(a.dtype):8s} {list(a.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
