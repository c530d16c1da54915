"""Paths to the committed fixtures and the full datasets, shared by the core tests.

The full datasets are not in the repository. Where they are absent, a test that needs them
skips, unless ``FER_REQUIRE_DATA=1`` (set in ``.ci/run``): then it fails, so a CI machine that
lost its datasets cannot pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fer_core.config import data_dir

FIXTURES = Path(__file__).parent / "fixtures"
FER_FIXTURE = FIXTURES / "fer2013"
CK_FIXTURE = FIXTURES / "ckplus"
#: 20 PublicTest faces per class (first by file name): enough to tell a model from chance
FER_EVAL_FIXTURE = FIXTURES / "fer2013_eval"


#: Environment switch: "1" turns a missing dataset from a skip into a failure.
REQUIRE_DATA_ENV = "FER_REQUIRE_DATA"


def require_data(path: Path, what: str) -> Path:
    """``path`` if it exists; else skip the test, or fail it under ``FER_REQUIRE_DATA=1``."""
    if path.is_dir():
        return path
    reason = f"full {what} not found at {path} (set FER_DATA_DIR to its parent)"
    if os.environ.get(REQUIRE_DATA_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_DATA_ENV}=1 requires the datasets")
    pytest.skip(reason)


def full_fer2013() -> Path:
    """The full FER2013 folder (see :func:`require_data`)."""
    path = data_dir() / "fer2013"
    require_data(path / "train", "FER2013")
    return path


def full_ckplus() -> Path:
    """The full CK+48 folder (see :func:`require_data`)."""
    return require_data(data_dir() / "ck+48", "CK+48")


#: real happy PublicTest faces the analysis tests compose into 640x480 frames
HAPPY_FACES = FIXTURES / "fer2013" / "test" / "happy"


def detectable_face_frame(folder: Path = HAPPY_FACES):
    """A 640x480 frame holding one real face of ``folder`` that Haar finds (chosen at run time,
    so a detector change picks another face instead of breaking the tests)."""
    import cv2

    from fer_core.detection import FaceDetector
    from fer_core.video_fixture import compose_face_frame

    detector = FaceDetector()
    for path in sorted(folder.glob("*.jpg")):
        frame = compose_face_frame(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
        if len(detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))) == 1:
            return frame
    pytest.fail(f"Haar finds none of the faces in {folder}")
