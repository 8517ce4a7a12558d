"""Writes the NumPy-made seeds of fuzz/corpus/fuzz_npz/ (small: a few hundred bytes each).

Run with Debian's python3 (python3-numpy): /usr/bin/python3 fuzz/corpus/make_npz_seeds.py
The archive written by tapegrad's own Npz::save comes from the harness:
TAPEGRAD_FUZZ_WRITE_SEEDS=fuzz/corpus/fuzz_npz build-fuzz/bin/fuzz_npz -runs=0
"""
import os

import numpy as np

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_npz")
arrays = dict(
    w=np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
    f=np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3) - 2.5),
    ids=np.array([3, -1, 7], dtype=np.int64),
)
small_ints = dict(
    i32=np.array([[1, 2], [3, 4]], dtype=np.int32),
    u8=np.array([255, 0], dtype=np.uint8),
    flags=np.array([True, False]),
    scalar=np.float64(2.5),
    empty=np.zeros((0, 3), dtype=np.float32),
)
np.savez(os.path.join(here, "numpy_savez.npz"), **arrays)
np.savez_compressed(os.path.join(here, "numpy_savez_compressed.npz"), **arrays)
np.savez_compressed(os.path.join(here, "numpy_dtypes_compressed.npz"), **small_ints)

# Near-valid: the first archive cut short, and one whose entry is not an .npy array.
with open(os.path.join(here, "numpy_savez.npz"), "rb") as f:
    whole = f.read()
with open(os.path.join(here, "truncated.npz"), "wb") as f:
    f.write(whole[: len(whole) * 2 // 3])
import zipfile  # noqa: E402

with zipfile.ZipFile(os.path.join(here, "not_npy.npz"), "w") as z:
    z.writestr("x.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'}\n")

# A deflated entry that declares 0xF0000000 bytes (3.75 GiB) uncompressed, in its local header
# and in the central directory, for 179 bytes of file: a reader must refuse it, not allocate
# what it declares (the reader before libzip did: fuzz/findings/npz_declared_size_bomb.npz).
import io  # noqa: E402
import struct  # noqa: E402

npy = io.BytesIO()
np.save(npy, np.zeros(4, dtype=np.float32))
archive = io.BytesIO()
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("a.npy", npy.getvalue())
bomb = bytearray(archive.getvalue())
struct.pack_into("<I", bomb, bomb.find(b"PK\x03\x04") + 22, 0xF0000000)
struct.pack_into("<I", bomb, bomb.find(b"PK\x01\x02") + 24, 0xF0000000)
with open(os.path.join(here, "declared_size_bomb.npz"), "wb") as f:
    f.write(bytes(bomb))
