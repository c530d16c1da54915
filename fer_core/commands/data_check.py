"""``python -m fer_core data-check``: is the training split like the faces the model will see?"""

from __future__ import annotations

import argparse

NAME = "data-check"
HELP = (
    "compare brightness, contrast and sharpness of dataset splits; estimate the aligning blur"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="FER2013 folder or fer2013.csv")
    p.add_argument("--splits", nargs="+", default=["Training", "PublicTest"])
    p.add_argument("--reference", default=None,
                   help="a clean face set to estimate the training blur against, e.g. a CK+48 "
                        "folder (default: the second split)")  # fmt: skip
    p.add_argument("--every", type=int, default=10, help="use every k-th image (speed)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from fer_core.data import load_ckplus, load_fer2013
    from fer_core.data.shift import estimate_blur_sigma, sharpness

    faces = {s: load_fer2013(args.data, s).images[:: args.every] for s in args.splits}
    print(f"{'split':<12} {'images':>7} {'mean':>6} {'contrast':>9} {'sharpness':>10}")
    for split, images in faces.items():
        flat = images.reshape(len(images), -1).astype(np.float64) / 255.0
        print(f"{split:<12} {len(images):>7} {flat.mean():>6.3f} {np.median(flat.std(1)):>9.3f} "
              f"{np.median(sharpness(images)):>10.3f}")  # fmt: skip
    train = faces[args.splits[0]]
    if args.reference:
        ref_name, reference = args.reference, load_ckplus(args.reference).images
    else:
        ref_name, reference = args.splits[1], faces[args.splits[1]]
    sigma = estimate_blur_sigma(train, reference)
    print(f"\nGaussian blur making {ref_name} as sharp as {args.splits[0]}: sigma = {sigma:.2f} px")
    if sigma > 0.5:
        print(f"-> train with `--input-blur {sigma:.1f}`: every non-training face is blurred alike")
    return 0
