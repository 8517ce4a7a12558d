#!/usr/bin/env python3
"""Prints the code point tables of data/src/display_width.cpp from Python's Unicode database.

zero: combining marks (Mn, Me), format characters (Cf, but U+00AD, which shows as a hyphen)
and Hangul Jamo medial vowels and final consonants (U+1160-11FF, U+D7B0-D7FF), which join the
syllable before them. wide: East Asian Width W or F, with the CJK planes 2 and 3 whole (their
unassigned code points are W by default). A few unassigned code points (MAX_GAP at most)
between two ranges of a kind join them, as the next Unicode version likely assigns them alike.

  python3 scripts/display_width_tables.py   # then paste the two tables into the .cpp file
"""
import sys
import unicodedata

# A longer run of unassigned code points may become a block of another kind.
MAX_GAP = 64


def is_zero(cp):
    if cp == 0x00AD:
        return False
    if 0x1160 <= cp <= 0x11FF or 0xD7B0 <= cp <= 0xD7FF:
        return True
    return unicodedata.category(chr(cp)) in ("Mn", "Me", "Cf")


def is_wide(cp):
    if 0x20000 <= cp <= 0x2FFFD or 0x30000 <= cp <= 0x3FFFD:
        return True
    if unicodedata.category(chr(cp)) == "Cn":  # Python says F for these: not so
        return False
    return unicodedata.east_asian_width(chr(cp)) in ("W", "F")


def ranges(pred):
    out = []
    gap_start = None  # the first unassigned code point after the last range, if only such
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if pred(cp):
            if (out and gap_start is not None and gap_start == out[-1][1] + 1 and
                    cp - gap_start <= MAX_GAP):
                out[-1][1] = cp
            elif out and out[-1][1] == cp - 1:
                out[-1][1] = cp
            else:
                out.append([cp, cp])
            gap_start = None
        elif unicodedata.category(chr(cp)) == "Cn":
            if gap_start is None:
                gap_start = cp
        else:
            gap_start = None
    return out


def table(name, rs):
    lines = [f"// {len(rs)} ranges, Unicode {unicodedata.unidata_version}",
             f"constexpr CodeRange {name}[] = {{"]
    row = "   "
    for lo, hi in rs:
        item = f" {{0x{lo:04X}, 0x{hi:04X}}},"
        if len(row) + len(item) > 100:
            lines.append(row)
            row = "   "
        row += item
    lines.append(row)
    lines.append("};")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(table("zero_width", ranges(is_zero)) + "\n\n")
    sys.stdout.write(table("wide", ranges(is_wide)) + "\n")
