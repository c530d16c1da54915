"""Evaluation: the seed's per-class tables, confusion matrices, CK+ fold aggregation."""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
        return format_table(self.table(), self.accuracy, title)

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
    cm = confusion_matrix(faces.labels, probs.argmax(1), len(faces.classes))
    return EvalResult(model.name, dataset, split, tuple(faces.classes), cm, crops)


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
