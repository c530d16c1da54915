"""Accuracy tables in the seed's format, confusion matrices and their PNG rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (true, predicted)."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_table(cm: np.ndarray, classes: tuple[str, ...]) -> list[dict]:
    """The seed's table rows: label, count, correct, wrong, accuracy %."""
    rows = []
    for i, name in enumerate(classes):
        count = int(cm[i].sum())
        correct = int(cm[i, i])
        rows.append(
            {
                "label": name,
                "count": count,
                "correct": correct,
                "wrong": count - correct,
                "accuracy": 100.0 * correct / count if count else float("nan"),
            }
        )
    return rows


def format_table(rows: list[dict], total_accuracy: float, title: str = "") -> str:
    """Plain-text table in the seed's layout (Tables 5-7)."""
    lines = [title] if title else []
    lines.append(f"{'Label':<10} {'Count':>6} {'Correct':>8} {'Wrong':>6} {'Accuracy (%)':>13}")
    for r in rows:
        lines.append(
            f"{r['label']:<10} {r['count']:>6} {r['correct']:>8} {r['wrong']:>6} "
            f"{r['accuracy']:>13.3f}"
        )
    lines.append(f"{'Total accuracy':<33} {total_accuracy:>13.3f}")
    return "\n".join(lines)


def save_confusion_png(cm: np.ndarray, classes: tuple[str, ...], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix with counts, written as PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{100 * norm[i, j]:.0f}%",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
