"""``python -m fer_core data-check``: do the dataset's splits look like the same kind of face?"""

from __future__ import annotations

import argparse

NAME = "data-check"
HELP = "compare brightness, contrast, sharpness and equalisation of dataset splits"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="FER2013 folder or fer2013.csv")
    p.add_argument("--splits", nargs="+", default=["Training", "PublicTest"])
    p.add_argument("--reference", default=None,
                   help="also compare a CK+48 folder (clean, lab-recorded faces)")  # fmt: skip
    p.add_argument("--every", type=int, default=10, help="use every k-th image (speed)")


def run(args: argparse.Namespace) -> int:
    from fer_core.data import load_ckplus, load_fer2013
    from fer_core.data.quality import findings, split_quality

    stats = [split_quality(s, load_fer2013(args.data, s).images[:: args.every])
             for s in args.splits]  # fmt: skip
    if args.reference:
        stats.append(split_quality("reference", load_ckplus(args.reference).images[:: args.every]))
    print(f"{'split':<12} {'images':>7} {'mean':>6} {'contrast':>9} {'sharpness':>10} "
          f"{'eq. dist':>9}  equalised?")  # fmt: skip
    for s in stats:
        eq = "yes" if s.looks_equalized else "no"
        print(f"{s.name:<12} {s.images:>7} {s.mean:>6.3f} {s.contrast:>9.3f} {s.sharpness:>10.3f} "
              f"{s.equalization_distance:>9.3f}  {eq}")  # fmt: skip
    notes = findings(stats)
    print()
    for note in notes or ["No shift between the splits stands out."]:
        print(f"- {note}")
    return 0
