"""Where things live: the log store root, the shipped models, the datasets.

Every location can be overridden by an environment variable, so the app, the CLI, CI and tests
agree on paths without passing them through every call.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Environment variable naming the log store root (default ``./logs``).
LOG_ROOT_ENV = "FER_LOG_ROOT"
#: Environment variable naming the folder that holds ``fer2013/`` and ``ck+48/``.
DATA_DIR_ENV = "FER_DATA_DIR"
#: Environment variable naming the folder of shipped models (default ``<project>/models``).
MODELS_DIR_ENV = "FER_MODELS_DIR"
#: Environment variable naming the decoded-array cache folder.
CACHE_DIR_ENV = "FER_CACHE_DIR"


def log_root() -> Path:
    """Root of the Parquet log store."""
    return Path(os.environ.get(LOG_ROOT_ENV, "logs")).expanduser()


def models_dir() -> Path:
    """Folder holding the shipped model files and their cards."""
    return Path(os.environ.get(MODELS_DIR_ENV, PROJECT_ROOT / "models")).expanduser()


def data_dir() -> Path:
    """Folder holding the real datasets (``fer2013/`` and ``ck+48/``).

    Defaults to ``../shared/data`` beside the project, which is where CI lays them.
    """
    default = PROJECT_ROOT.parent / "shared" / "data"
    return Path(os.environ.get(DATA_DIR_ENV, default)).expanduser()


def cache_dir() -> Path:
    """Folder for decoded-array caches (never committed)."""
    default = PROJECT_ROOT / ".cache"
    return Path(os.environ.get(CACHE_DIR_ENV, default)).expanduser()
