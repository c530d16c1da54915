"""How far temperature scaling (and a prior shift for disgust) can take one model file.

A research diagnostic behind docs/reproduction.md ("Confidence and real cameras"), for a model
file with a recorded ``--val-from-train`` hold-out. For each crop set it prints:

1. the temperature ``calibrate`` fits on the clean hold-out, and the one it would fit on the
   hold-out clean *and* under the 12 camera-like conditions of ``evaluate --perturb`` (the faces a
   webcam gives), with PublicTest's ECE under each, clean and per condition;
2. PublicTest's ECE over a grid of temperatures and its reliability bins at temperature 1: how
   low any single temperature could bring it (a diagnostic read on PublicTest; nothing here is
   fitted on it, selected or shipped);
3. a post-hoc logit adjustment (Menon et al., 2021: add ``-tau * log(prior)`` to every crop's
   logits, the prior being Training's class shares): PublicTest accuracy, disgust recall, the
   lowest class recall and ECE per tau, beside the hold-out's balanced accuracy;
4. with ``--baseline OTHER.pt``, how sure a difference in PublicTest ECE is: 500 paired bootstrap
   resamples of the test faces (seed 0), the 2.5/50/97.5 percentiles of ECE(other) - ECE(this);
5. with ``--teacher T.pt`` (repeatable), whether the hold-out is clean for a distilled student:
   each teacher's accuracy on it (a teacher trained on all of Training has seen these faces), the
   student's accuracy on it and on PublicTest, the temperature fitted on the hold-out faces that
   have no near-duplicate in the rest of Training, and a two-parameter Platt map of the top-class
   confidence (fitted on the hold-out; its 5-fold cross-validated hold-out ECE beside
   PublicTest's ECE), the calibration map richer than one temperature.

    .venv/bin/python scripts/calibration_limits.py --weights models/fast.pt \
        --data ../shared/data/fer2013 --cache /tmp/calibration-logits.npz \
        --baseline /tmp/fast-v2.1.pt --teacher runs/teachers/fast-v1.0.pt \
        --teacher runs/teachers/paper-v1.0.pt

The logits under 12 conditions take about 20 minutes on 2 CPU cores; ``--cache`` keeps them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from fer_core.calibration import (
    crop_softmax,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from fer_core.data import holdout_split, load_fer2013
from fer_core.data.near_duplicates import unseen_mask
from fer_core.inference import predict_faces_logits
from fer_core.models.file_format import load_model
from fer_core.robustness import PERTURBATIONS, perturb

CROPS = ("ten", "flip")
#: the hold-out's perturbations use another seed than PublicTest's table (seed 0)
HOLDOUT_SEED = 1
T_GRID = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1)
TAUS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0)


def _logits(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Every crop logit this report needs, from ``--cache`` when it is there."""
    cache = Path(args.cache) if args.cache else None
    if cache and cache.is_file():
        return dict(np.load(cache))
    model = load_model(args.weights)
    recorded = model.meta.get("holdout")
    if not recorded:
        raise SystemExit(f"{args.weights} records no hold-out (trained without --val-from-train)")
    train = load_fer2013(args.data, "Training")
    held, _rest = holdout_split(train, recorded["fraction"], recorded["seed"])
    test = load_fer2013(args.data, "PublicTest")
    out: dict[str, np.ndarray] = {
        "held_labels": held.labels, "test_labels": test.labels,
        "train_counts": np.bincount(train.labels, minlength=7),
    }  # fmt: skip
    for i, name in enumerate(["clean", *PERTURBATIONS]):
        print(f"logits: {name}", file=sys.stderr, flush=True)
        for split, faces, seed in (("held", held.images, HOLDOUT_SEED),
                                   ("test", test.images, 0)):  # fmt: skip
            shown = faces if name == "clean" else perturb(faces, name, seed)
            for crops in CROPS:
                out[f"{split}_{crops}_{i}"] = predict_faces_logits(model, shown, crops=crops)
    if cache:
        np.savez(cache, **out)
    return out


def _ece(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    return 100 * expected_calibration_error(crop_softmax(logits, t), labels)


def _recalls(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.array([100 * float((pred[labels == k] == k).mean()) for k in range(7)])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--data", required=True, help="FER2013 folder with train/ and test/")
    p.add_argument("--cache", default=None, help="npz that keeps the logits between runs")
    p.add_argument("--baseline", default=None, help="another model file to compare ECE with")
    p.add_argument("--teacher", action="append", default=[],
                   help="a teacher of this student: is the hold-out clean? (repeatable)")
    args = p.parse_args()
    d = _logits(args)
    hy, ty = d["held_labels"], d["test_labels"]
    names = ["clean", *PERTURBATIONS]
    prior = d["train_counts"] / d["train_counts"].sum()
    print(f"{args.weights}; hold-out {len(hy)} faces, PublicTest {len(ty)} faces")
    for crops in CROPS:
        held = [d[f"held_{crops}_{i}"] for i in range(len(names))]
        test = [d[f"test_{crops}_{i}"] for i in range(len(names))]
        t_clean = fit_temperature(held[0], hy)
        t_camera = fit_temperature(np.concatenate(held), np.concatenate([hy] * len(held)))
        print(f"\n== {crops} crops ==")
        print(f"temperature fitted on the clean hold-out: {t_clean:.3f}; on the hold-out clean "
              f"and under the 12 conditions (seed {HOLDOUT_SEED}): {t_camera:.3f}")  # fmt: skip
        print(f"{'PublicTest condition':<24} {'accuracy':>8} {'ECE T=1':>8} "
              f"{'T=clean':>8} {'T=camera':>9}")  # fmt: skip
        for name, logits in zip(names, test, strict=True):
            acc = 100 * float((crop_softmax(logits).argmax(1) == ty).mean())
            print(f"{name:<24} {acc:>8.2f} {_ece(logits, ty, 1.0):>8.2f} "
                  f"{_ece(logits, ty, t_clean):>8.2f} {_ece(logits, ty, t_camera):>9.2f}")
        grid = "  ".join(f"T={t:.2f}: {_ece(test[0], ty, t):.2f}" for t in T_GRID)
        print(f"PublicTest ECE (%) over temperatures (diagnostic): {grid}")
        print("PublicTest reliability bins at T=1 (faces, mean confidence, accuracy):")
        for b in reliability_bins(crop_softmax(test[0]), ty):
            if b.count:
                print(f"  ({b.lower:.2f}, {b.upper:.2f}]  {b.count:>5}  {b.confidence:.3f}  "
                      f"{b.accuracy:.3f}")
        print("logit adjustment -tau*log(prior) (PublicTest; hold-out balanced accuracy):")
        for tau in TAUS:
            shift = -tau * np.log(prior)
            probs = crop_softmax(test[0] + shift)
            rec = _recalls(probs.argmax(1), ty)
            held_rec = _recalls(crop_softmax(held[0] + shift).argmax(1), hy)
            acc = 100 * float((probs.argmax(1) == ty).mean())
            print(f"  tau {tau:.2f}: accuracy {acc:.3f}  disgust {rec[1]:.1f}  lowest class "
                  f"{rec.min():.1f}  ECE {100 * expected_calibration_error(probs, ty):.2f}  | "
                  f"hold-out balanced {held_rec.mean():.2f}")
    if args.baseline:
        _compare(args, d)
    if args.teacher:
        _contamination(args, d)
    return 0


def _platt_fit(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(a, b) of sigmoid(a * logit(top confidence) + b), the top class's chance of being right,
    by Newton's method on the logistic log-likelihood (two parameters, converges in a few steps)."""
    conf = np.clip(probs.max(1), 1e-6, 1 - 1e-6)
    x = np.stack([np.log(conf / (1 - conf)), np.ones(len(conf))], axis=1)
    y = (probs.argmax(1) == labels).astype(np.float64)
    w = np.array([1.0, 0.0])
    for _ in range(50):
        s = 1 / (1 + np.exp(-x @ w))
        hess = x.T @ (x * (s * (1 - s))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, x.T @ (y - s))
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def _platt_apply(probs: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """The top class gets the mapped confidence; the others share the rest in their proportions."""
    conf = np.clip(probs.max(1), 1e-6, 1 - 1e-6)
    top = 1 / (1 + np.exp(-(ab[0] * np.log(conf / (1 - conf)) + ab[1])))
    out = probs * ((1 - top) / (1 - conf))[:, None]
    out[np.arange(len(probs)), probs.argmax(1)] = top
    return out


def _contamination(args: argparse.Namespace, d: dict[str, np.ndarray]) -> None:
    """Teachers and student on the hold-out: is it a fair stand-in for unseen faces?"""
    model = load_model(args.weights)
    recorded = model.meta["holdout"]
    train = load_fer2013(args.data, "Training")
    held, rest = holdout_split(train, recorded["fraction"], recorded["seed"])
    hy, ty = d["held_labels"], d["test_labels"]
    print("\n== is the hold-out clean for this student? ==")
    for path in args.teacher:
        teacher = load_model(path)
        probs = crop_softmax(predict_faces_logits(teacher, held.images, crops="ten"))
        print(f"teacher {path} (hold-out recorded: {teacher.meta.get('holdout')}): "
              f"hold-out ten-crop accuracy {100 * float((probs.argmax(1) == hy).mean()):.2f}")
    unseen = unseen_mask(held.images, rest.images)
    rng = np.random.default_rng(0)
    folds = rng.permutation(len(hy)) % 5
    for crops in CROPS:
        h, t = d[f"held_{crops}_0"], d[f"test_{crops}_0"]
        hp, tp = crop_softmax(h), crop_softmax(t)
        print(f"{crops} crops: student hold-out accuracy "
              f"{100 * float((hp.argmax(1) == hy).mean()):.2f} (unseen part, {int(unseen.sum())} "
              f"faces: {100 * float((hp[unseen].argmax(1) == hy[unseen]).mean()):.2f}), "
              f"PublicTest {100 * float((tp.argmax(1) == ty).mean()):.2f}")  # fmt: skip
        t_unseen = fit_temperature(h[unseen], hy[unseen])
        print(f"  temperature fitted on the unseen part: {t_unseen:.3f}, PublicTest ECE "
              f"{_ece(t, ty, t_unseen):.2f} (T=1: {_ece(t, ty, 1.0):.2f})")
        oof = np.zeros_like(hp)
        for k in range(5):
            fit_on, apply_to = folds != k, folds == k
            oof[apply_to] = _platt_apply(hp[apply_to], _platt_fit(hp[fit_on], hy[fit_on]))
        ab = _platt_fit(hp, hy)
        print(f"  Platt map of the top confidence (a={ab[0]:.3f}, b={ab[1]:+.3f}): hold-out "
              f"5-fold ECE {100 * expected_calibration_error(oof, hy):.2f} (T=1: "
              f"{_ece(h, hy, 1.0):.2f}); PublicTest ECE "
              f"{100 * expected_calibration_error(_platt_apply(tp, ab), ty):.2f}")


def _compare(args: argparse.Namespace, d: dict[str, np.ndarray]) -> None:
    """Paired bootstrap of the PublicTest ECE difference between ``--baseline`` and this file."""
    other = load_model(args.baseline)
    test = load_fer2013(args.data, "PublicTest")
    ty = d["test_labels"]
    if not np.array_equal(test.labels, ty):
        raise SystemExit("the cached PublicTest labels differ from --data's")
    rng = np.random.default_rng(0)
    print(f"\n== ECE({args.baseline}) - ECE({args.weights}) on PublicTest, paired bootstrap ==")
    for crops in CROPS:
        mine = crop_softmax(d[f"test_{crops}_0"])
        theirs = crop_softmax(predict_faces_logits(other, test.images, crops=crops),
                              other.preprocess.temperature)  # fmt: skip
        diffs = []
        for _ in range(500):
            i = rng.integers(0, len(ty), len(ty))
            diffs.append(expected_calibration_error(theirs[i], ty[i])
                         - expected_calibration_error(mine[i], ty[i]))  # fmt: skip
        lo, mid, hi = 100 * np.percentile(diffs, [2.5, 50, 97.5])
        whole = 100 * (expected_calibration_error(theirs, ty)
                       - expected_calibration_error(mine, ty))  # fmt: skip
        print(f"{crops}: {whole:+.2f} points on the whole split; resampled median {mid:+.2f}, "
              f"95% interval {lo:+.2f} to {hi:+.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
