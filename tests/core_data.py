"""Paths to the committed fixtures and the full datasets, shared by the core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_core.config import data_dir

FIXTURES = Path(__file__).parent / "fixtures"
FER_FIXTURE = FIXTURES / "fer2013"
CK_FIXTURE = FIXTURES / "ckplus"
#: 20 PublicTest faces per class (first by file name): enough to tell a model from chance
FER_EVAL_FIXTURE = FIXTURES / "fer2013_eval"


def full_fer2013() -> Path:
    """The full FER2013 folder, or skip the test with the reason."""
    path = data_dir() / "fer2013"
    if not (path / "train").is_dir():
        pytest.skip(f"full FER2013 not found at {path} (set FER_DATA_DIR to its parent)")
    return path


def full_ckplus() -> Path:
    """The full CK+48 folder, or skip the test with the reason."""
    path = data_dir() / "ck+48"
    if not path.is_dir():
        pytest.skip(f"full CK+48 not found at {path} (set FER_DATA_DIR to its parent)")
    return path
