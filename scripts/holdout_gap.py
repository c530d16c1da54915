"""Why a temperature fitted on held-out Training faces does not transfer to PublicTest.

A research diagnostic behind docs/reproduction.md ("Near-duplicates"): for one model file with a
recorded ``--val-from-train`` hold-out, it prints accuracy, mean confidence and ECE on that
hold-out and on PublicTest, each told apart into faces with a near-duplicate in (the rest of)
Training and unseen faces, plus the PublicTest accuracy after giving every test face Training's
encoding order (equalised, then JPEG at Training's quality 95), and the temperature ``calibrate``
fits on the unseen part of the hold-out with the ECE it would give on PublicTest; with ``--grid
T ...`` both splits' ECE at those temperatures (a hold-out no file of the lineage learned tracks
PublicTest's curve: docs/reproduction.md, session 13). Nothing here is selected or shipped;
PublicTest only reports.

    .venv/bin/python scripts/holdout_gap.py --weights models/fast.pt \
        --data ../shared/data/fer2013 --crops ten
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

from fer_core.calibration import crop_softmax, expected_calibration_error, fit_temperature
from fer_core.data import holdout_split, load_fer2013
from fer_core.data.near_duplicates import NEAR_DUPLICATE, unseen_mask
from fer_core.inference import predict_faces_logits
from fer_core.models.file_format import load_model


def _line(name: str, logits: np.ndarray, labels: np.ndarray, t: float) -> str:
    probs = crop_softmax(logits, t)
    acc = 100 * float((probs.argmax(1) == labels).mean())
    conf = 100 * float(probs.max(1).mean())
    ece = 100 * expected_calibration_error(probs, labels)
    return (f"  {name:<34} {len(labels):>5} faces  accuracy {acc:6.2f}%  "
            f"confidence {conf:6.2f}%  ECE {ece:5.2f}%")  # fmt: skip


def _training_order(face: np.ndarray) -> np.ndarray:
    """A raw test face as FER2013's Training copy was made: equalised, then JPEG (quality 95)."""
    ok, buf = cv2.imencode(".jpg", cv2.equalizeHist(face), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--data", required=True, help="FER2013 folder with train/ and test/")
    p.add_argument("--crops", choices=("ten", "flip", "center"), default="ten")
    p.add_argument("--threshold", type=float, default=NEAR_DUPLICATE)
    p.add_argument("--grid", type=float, nargs="*", default=[],
                   help="also print both splits' ECE at each of these temperatures")  # fmt: skip
    args = p.parse_args()

    model = load_model(args.weights)
    recorded = model.meta.get("holdout")
    if not recorded:
        raise SystemExit(f"{args.weights} records no hold-out (trained without --val-from-train)")
    t = model.preprocess.temperature
    train = load_fer2013(args.data, "Training")
    held, rest = holdout_split(train, recorded["fraction"], recorded["seed"])
    test = load_fer2013(args.data, "PublicTest")
    held_dup = ~unseen_mask(held.images, rest.images, args.threshold)
    test_dup = ~unseen_mask(test.images, train.images, args.threshold)
    held_logits = predict_faces_logits(model, held.images, crops=args.crops)
    test_logits = predict_faces_logits(model, test.images, crops=args.crops)

    print(f"{args.weights} ({model.name}), {args.crops} crops, file temperature {t:.3f}; "
          f"near-duplicate: similarity >= {args.threshold:.2f}")  # fmt: skip
    for name, logits, labels, dup in (
        (f"Training hold-out ({recorded['fraction']:.0%}, seed {recorded['seed']})",
         held_logits, held.labels, held_dup),
        ("PublicTest", test_logits, test.labels, test_dup),
    ):  # fmt: skip
        print(name)
        print(_line("all faces", logits, labels, t))
        print(_line("with a near-duplicate in Training", logits[dup], labels[dup], t))
        print(_line("unseen", logits[~dup], labels[~dup], t))

    reordered = np.stack([_training_order(f) for f in test.images])
    print("PublicTest in Training's encoding order (equalised, then JPEG quality 95)")
    print(_line("all faces", predict_faces_logits(model, reordered, crops=args.crops),
                test.labels, t))  # fmt: skip

    whole = np.ones(len(held), bool)
    for name, mask in (("whole hold-out", whole), ("unseen hold-out", ~held_dup)):
        fitted = fit_temperature(held_logits[mask], held.labels[mask])
        ece = 100 * expected_calibration_error(crop_softmax(test_logits, fitted), test.labels)
        print(f"temperature fitted on the {name} ({int(mask.sum())} faces): {fitted:.3f}; "
              f"PublicTest ECE with it {ece:.2f}%")
    for temp in args.grid:  # does the hold-out's ECE curve track PublicTest's?
        held_ece, test_ece = (
            100 * expected_calibration_error(crop_softmax(lg, temp), lb)
            for lg, lb in ((held_logits, held.labels), (test_logits, test.labels))
        )
        print(f"temperature {temp:.2f}: ECE hold-out {held_ece:.2f}%, PublicTest {test_ece:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
