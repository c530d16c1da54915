"""Evaluation: the seed's per-class tables, confusion matrices, CK+ fold aggregation."""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_core.calibration import (
    ReliabilityBin,
    expected_calibration_error,
    reliability_bins,
)
from fer_core.data.faceset import FaceSet
from fer_core.inference import predict_faces
from fer_core.models.file_format import LoadedModel
from fer_core.training.metrics import confusion_matrix, format_table, per_class_table

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """Accuracy of one model on one set of faces."""

    model_name: str
    dataset: str
    split: str
    classes: tuple[str, ...]
    confusion: np.ndarray
    crops: str = "ten"  # test-time crops (fer_core.preprocess.CROPS_PER_FACE)
    #: expected calibration error of the recorded probabilities (top class, 15 bins), in [0, 1]
    ece: float = math.nan
    temperature: float = 1.0  # the model file's temperature the probabilities were made with
    bins: list[ReliabilityBin] = field(default_factory=list, repr=False)

    @property
    def tencrop(self) -> bool:
        return self.crops == "ten"

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return 100.0 * float(np.trace(self.confusion)) / max(self.total, 1)

    def table(self) -> list[dict]:
        return per_class_table(self.confusion, self.classes)

    def format(self) -> str:
        crop = {"ten": "ten-crop", "flip": "centre crop and mirror"}.get(self.crops, "centre crop")
        title = f"{self.model_name} on {self.dataset} {self.split} ({self.total} images, {crop})"
        text = format_table(self.table(), self.accuracy, title)
        if not math.isnan(self.ece):
            text += (f"\nExpected calibration error (top class, 15 bins): {100 * self.ece:.2f}% "
                     f"(temperature {self.temperature:.3f})")  # fmt: skip
        return text

    def to_json(self) -> dict:
        return {
            "model": self.model_name,
            "dataset": self.dataset,
            "split": self.split,
            "tencrop": self.tencrop,
            "crops": self.crops,
            "images": self.total,
            "accuracy": self.accuracy,
            "per_class": {
                r["label"]: {k: r[k] for k in ("count", "correct", "wrong", "accuracy")}
                for r in self.table()
            },
            "confusion": self.confusion.tolist(),
            "classes": list(self.classes),
            "ece": None if math.isnan(self.ece) else self.ece,
            "temperature": self.temperature,
        }


def evaluate_faces(
    model: LoadedModel,
    faces: FaceSet,
    *,
    dataset: str,
    split: str,
    tencrop: bool = True,
    crops: str | None = None,
) -> EvalResult:
    """Predict every face (ten-crop mean softmax by default) and tabulate against the labels.

    ``crops`` (``"ten"``, ``"flip"``, ``"center"``) wins over ``tencrop`` (ten or centre).
    """
    crops = crops or ("ten" if tencrop else "center")
    return evaluate_models([model], faces, dataset=dataset, split=split, crops=crops)[0]


def result_from_probs(
    name: str,
    probs: np.ndarray,
    faces: FaceSet,
    *,
    dataset: str,
    split: str,
    crops: str,
    temperature: float = 1.0,
) -> EvalResult:
    """Tabulate probabilities (N, classes) of ``faces``: confusion matrix, ECE, reliability bins.

    Shared by single models, ensembles and perturbed copies of a split, so every table and every
    ECE is computed the same way.
    """
    cm = confusion_matrix(faces.labels, probs.argmax(1), len(faces.classes))
    return EvalResult(
        name, dataset, split, tuple(faces.classes), cm, crops,
        ece=expected_calibration_error(probs, faces.labels),
        temperature=temperature,
        bins=reliability_bins(probs, faces.labels),
    )  # fmt: skip


def ensemble_probs(
    models: list[LoadedModel], images: np.ndarray, *, crops: str | None = None
) -> np.ndarray:
    """Mean of the models' calibrated probabilities (each with its own file's temperature)."""
    if not models:
        raise ValueError("an ensemble needs at least one model")
    classes = {tuple(m.classes) for m in models}
    if len(classes) != 1:
        raise ValueError(f"ensemble members disagree on classes: {sorted(classes)}")
    return np.mean([predict_faces(m, images, crops=crops) for m in models], axis=0)


def evaluate_models(
    models: list[LoadedModel], faces: FaceSet, *, dataset: str, split: str, crops: str = "ten"
) -> tuple[EvalResult, np.ndarray]:
    """(the table of one model, or of the mean of several, and the probabilities behind it).

    What ``evaluate`` runs: the probabilities are computed once and reused by the reports built
    on the same predictions (near-duplicates).
    """
    if models and tuple(models[0].classes) != tuple(faces.classes):
        raise ValueError(
            f"model classes {models[0].classes} differ from the dataset's {faces.classes}: "
            "evaluate a FER2013 model on FER2013 and a CK+ model on CK+"
        )
    probs = ensemble_probs(models, faces.images, crops=crops)  # one model: its own probabilities
    if len(models) > 1:
        name, temperature = "ensemble(" + " + ".join(m.name for m in models) + ")", 1.0
    else:
        name, temperature = models[0].name, models[0].preprocess.temperature
    result = result_from_probs(name, probs, faces, dataset=dataset, split=split, crops=crops,
                               temperature=temperature)  # fmt: skip
    return result, probs


def robustness_of(
    models: list[LoadedModel], faces: FaceSet, *, crops: str = "ten", seed: int = 0
) -> list:
    """Accuracy and ECE of a model (or an ensemble) on ``faces`` clean and under every perturbation.

    Returns :class:`fer_core.robustness.RobustnessRow` rows; the perturbations have fixed seeds.
    """
    from fer_core.robustness import robustness_table

    def score(images: np.ndarray) -> tuple[float, float]:
        probs = ensemble_probs(models, images, crops=crops)
        accuracy = 100.0 * float((probs.argmax(1) == faces.labels).mean())
        return accuracy, 100.0 * expected_calibration_error(probs, faces.labels)

    return robustness_table(score, faces.images, seed=seed)


@dataclass
class FoldSummary:
    """Per-fold accuracies of a 10-fold protocol and their mean and standard deviation."""

    protocol: str
    results: list[EvalResult]

    @property
    def accuracies(self) -> list[float]:
        return [r.accuracy for r in self.results]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.accuracies) if len(self.results) > 1 else 0.0

    def format(self) -> str:
        lines = [f"CK+ {self.protocol} protocol: {len(self.results)} folds"]
        for i, r in enumerate(self.results, start=1):
            lines.append(f"  fold {i:>2}: {r.accuracy:7.3f}%  ({r.total} images)")
        lines.append(f"  mean {self.mean:.3f}% +- {self.sd:.3f} (sd)")
        pooled = sum(r.confusion for r in self.results)
        lines.append(
            format_table(
                per_class_table(pooled, self.results[0].classes),
                100.0 * np.trace(pooled) / pooled.sum(),
                "pooled over folds",
            )
        )
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "protocol": self.protocol,
            "folds": [r.to_json() for r in self.results],
            "fold_accuracies": self.accuracies,
            "mean": self.mean,
            "sd": self.sd,
        }


def fold_model_paths(weights_dir: Path, n_folds: int = 10) -> list[Path]:
    """``fold01/model.pt`` ... ``fold10/model.pt`` under ``weights_dir`` (all must exist)."""
    paths = [weights_dir / f"fold{k:02d}" / "model.pt" for k in range(1, n_folds + 1)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"missing fold models: {', '.join(missing)}")
    return paths


@dataclass
class NearDuplicateSplit:
    """One split's accuracy told apart: faces with a near-duplicate in Training, and the rest.

    See :mod:`fer_core.data.near_duplicates` for why (FER2013 repeats photographs across its
    splits) and how (thumbnail similarity, mirror images included).
    """

    threshold: float
    reference: str  # what the faces were compared with, e.g. "FER2013 Training (28709 faces)"
    seen: EvalResult  # faces with a near-duplicate in the reference
    unseen: EvalResult  # faces without one

    def format(self) -> str:
        total = self.seen.total + self.unseen.total
        share = 100.0 * self.seen.total / max(total, 1)

        def acc(r: EvalResult) -> str:
            return f"accuracy {r.accuracy:6.2f}%" if r.total else "no faces"

        return "\n".join([
            f"Faces with a near-duplicate in {self.reference}: {self.seen.total} of {total} "
            f"faces ({share:.1f}%; thumbnail similarity >= {self.threshold:.2f}, mirror images "
            "included)",
            f"  with a near-duplicate:    {self.seen.total:>5} faces, {acc(self.seen)}",
            f"  without (unseen faces):   {self.unseen.total:>5} faces, {acc(self.unseen)}",
        ])  # fmt: skip

    def to_json(self) -> dict:
        return {
            "threshold": self.threshold,
            "reference": self.reference,
            "with_near_duplicate": self.seen.to_json(),
            "without_near_duplicate": self.unseen.to_json(),
        }


def split_by_near_duplicates(
    name: str,
    probs: np.ndarray,
    faces: FaceSet,
    reference: FaceSet,
    *,
    reference_name: str,
    threshold: float,
    dataset: str,
    split: str,
    crops: str,
    temperature: float = 1.0,
) -> NearDuplicateSplit:
    """Tabulate ``probs`` of ``faces`` twice: faces with a near-duplicate in ``reference``, and
    faces without one (each with its own table and ECE, as :func:`result_from_probs` makes)."""
    from fer_core.data.near_duplicates import unseen_mask

    seen = ~unseen_mask(faces.images, reference.images, threshold)
    parts = []
    for mask, label in ((seen, "with a near-duplicate"), (~seen, "without a near-duplicate")):
        idx = np.flatnonzero(mask)
        parts.append(result_from_probs(
            name, probs[idx], faces.subset(idx), dataset=dataset, split=f"{split}, {label}",
            crops=crops, temperature=temperature,
        ))  # fmt: skip
    return NearDuplicateSplit(threshold, reference_name, parts[0], parts[1])
