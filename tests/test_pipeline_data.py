"""The pipeline on a larger sample of the full FER2013 PublicTest set (marked ``data``).

The fixture-based tests in test_pipeline.py use a handful of faces; this one checks, on a fixed
sample of the real test set composed into webcam-sized frames, that detection and the model
together still recognise the clearest expressions far above chance (1 in 7).
"""

from __future__ import annotations

import cv2
import pytest

from fer_core.config import data_dir
from fer_core.pipeline import FramePipeline
from fer_core.video_fixture import compose_face_frame, face_paths
from tests.core_data import require_data

pytestmark = [pytest.mark.data, pytest.mark.train]
PER_CLASS = 60


@pytest.fixture(scope="module")
def pipeline(model) -> FramePipeline:
    require_data(data_dir() / "fer2013" / "test", "FER2013")
    return FramePipeline(model)


@pytest.mark.parametrize(("label", "min_accuracy"), [("happy", 0.65), ("surprise", 0.5)])
def test_public_test_faces_in_frames(pipeline, label, min_accuracy):
    paths = face_paths(data_dir() / "fer2013" / "test" / label)[:PER_CLASS]
    detected = correct = 0
    for path in paths:
        result = pipeline.process(compose_face_frame(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)))
        pipeline.reset()
        if result.faces:
            detected += 1
            correct += result.faces[0].label == label
    assert detected >= 0.5 * len(paths), f"Haar found {detected} of {len(paths)} {label} faces"
    assert correct / detected >= min_accuracy, f"{correct}/{detected} labelled {label}"
