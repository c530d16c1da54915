"""Shipped models: ``models/<name>.pt`` with a card ``models/<name>.md`` beside each.

The app and the CLI refer to shipped models by name; ``DEFAULT_MODEL`` is what the live pipeline
and ``evaluate`` use when nothing is configured (override with ``FER_MODEL``).
"""

from __future__ import annotations

import os
from pathlib import Path

from fer_core.config import models_dir

DEFAULT_MODEL = "fast"
MODEL_ENV = "FER_MODEL"


def shipped_models() -> dict[str, Path]:
    """Name -> path of every model file in the models folder."""
    folder = models_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.pt"))}


def default_model_name() -> str:
    """The configured default model name (``FER_MODEL`` or :data:`DEFAULT_MODEL`)."""
    return os.environ.get(MODEL_ENV, DEFAULT_MODEL)


def resolve_model_path(name_or_path: str | os.PathLike | None = None) -> Path:
    """A shipped model's name, a file or folder path, or None for the default model."""
    if name_or_path is None:
        name_or_path = default_model_name()
    candidate = Path(name_or_path)
    if candidate.exists():
        return candidate
    models = shipped_models()
    if str(name_or_path) in models:
        return models[str(name_or_path)]
    known = ", ".join(models) or "none shipped"
    raise FileNotFoundError(
        f"no model file or shipped model named {str(name_or_path)!r} (shipped: {known})"
    )
