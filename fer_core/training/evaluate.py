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
    if tuple(model.classes) != tuple(faces.classes):
        raise ValueError(
            f"model classes {model.classes} differ from the dataset's {faces.classes}: "
            "evaluate a FER2013 model on FER2013 and a CK+ model on CK+"
        )
    crops = crops or ("ten" if tencrop else "center")
    probs = predict_faces(model, faces.images, crops=crops)
    return result_from_probs(model.name, probs, faces, dataset=dataset, split=split, crops=crops,
                             temperature=model.preprocess.temperature)  # fmt: skip


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


def evaluate_ensemble(
    models: list[LoadedModel], faces: FaceSet, *, dataset: str, split: str, crops: str = "ten"
) -> EvalResult:
    """The seed's table, ECE and reliability bins for the mean of several models' probabilities."""
    if tuple(models[0].classes) != tuple(faces.classes):
        raise ValueError(f"model classes {models[0].classes} differ from the dataset's")
    probs = ensemble_probs(models, faces.images, crops=crops)
    name = "ensemble(" + " + ".join(m.name for m in models) + ")"
    return result_from_probs(name, probs, faces, dataset=dataset, split=split, crops=crops)


def robustness_of(
    models: list[LoadedModel], faces: FaceSet, *, crops: str = "ten", seed: int = 0
) -> list:
    """Accuracy of a model (or an ensemble) on ``faces`` clean and under every perturbation.

    Returns :class:`fer_core.robustness.RobustnessRow` rows; the perturbations have fixed seeds.
    """
    from fer_core.robustness import robustness_table

    def score(images: np.ndarray) -> float:
        probs = ensemble_probs(models, images, crops=crops)
        return 100.0 * float((probs.argmax(1) == faces.labels).mean())

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
