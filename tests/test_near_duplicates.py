"""Near-duplicates across FER2013 splits: the similarity on real faces, and
``evaluate --near-duplicates`` through the command line with the shipped default model.

The copies are made the ways FER2013 repeats a photograph: re-encoded, shifted a pixel,
mirrored, equalised (Training) against raw (test). Distinct faces of the fixtures must not count.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.cli import main
from fer_core.data import load_fer2013
from fer_core.data.near_duplicates import (
    NEAR_DUPLICATE,
    max_similarity,
    thumbnail_vectors,
    unseen_mask,
)
from fer_core.inference import predict_faces
from fer_core.models.file_format import load_model
from fer_core.models.shipped import resolve_model_path
from tests.core_data import FER_EVAL_FIXTURE, FER_FIXTURE


def _jpeg(face: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def _shift(face: np.ndarray, dx: int, dy: int) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(face, m, face.shape[::-1], borderMode=cv2.BORDER_REPLICATE)


#: how a photograph comes back in FER2013: each makes a copy of a face
COPIES = {
    "jpeg q40": lambda f: _jpeg(f, 40),
    "shifted 1 px": lambda f: _shift(f, 1, 1),
    "mirrored": lambda f: np.ascontiguousarray(f[:, ::-1]),
    "equalised and re-encoded": lambda f: _jpeg(cv2.equalizeHist(f), 90),
}


@pytest.fixture(scope="module")
def test_faces():
    return load_fer2013(FER_EVAL_FIXTURE, "PublicTest", use_cache=False)


@pytest.mark.parametrize("copy", COPIES)
def test_a_copy_of_a_face_is_its_near_duplicate(test_faces, copy: str) -> None:
    faces = test_faces.images[:20]
    copies = np.stack([COPIES[copy](f) for f in faces])
    sims = max_similarity(faces, copies)
    assert sims.min() >= NEAR_DUPLICATE, (copy, sims.min())


def test_distinct_faces_are_not_near_duplicates(test_faces) -> None:
    train = load_fer2013(FER_FIXTURE, "Training", use_cache=False)
    # 140 test faces against 28 other Training faces and their mirror images
    assert max_similarity(test_faces.images, train.images).max() < NEAR_DUPLICATE
    # and against one another (a face is its own duplicate, so each is left out in turn)
    v = thumbnail_vectors(test_faces.images)
    sims = v @ v.T
    np.fill_diagonal(sims, -1.0)
    assert sims.max() < NEAR_DUPLICATE


def test_unseen_mask_keeps_exactly_the_faces_without_a_copy(test_faces) -> None:
    faces = test_faces.images
    copied = [3, 17, 40, 99]
    rest = np.stack([_jpeg(_shift(faces[i], 1, 0), 60) for i in copied])
    keep = unseen_mask(faces, rest)
    assert np.flatnonzero(~keep).tolist() == copied


def test_bad_faces_and_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8 faces of shape"):
        thumbnail_vectors(np.zeros((2, 48), np.uint8))
    with pytest.raises(ValueError, match="uint8 faces of shape"):
        thumbnail_vectors(np.zeros((2, 48, 48), np.float32))
    with pytest.raises(ValueError, match="threshold"):
        unseen_mask(np.zeros((1, 48, 48), np.uint8), np.zeros((1, 48, 48), np.uint8), 1.5)
    # a flat face has no layout to match: similar to nothing, not to every other flat face
    flat = np.full((2, 48, 48), 128, np.uint8)
    assert max_similarity(flat, flat).max() <= 0.0


def _folder_with_copies(tmp_path: Path, copied: list[str]) -> Path:
    """A FER2013 folder: the eval fixture's 140 raw test faces; Training = the fixture's 28
    faces plus equalised, re-encoded, shifted copies of the named test faces."""
    root = tmp_path / "fer"
    for src in sorted(FER_EVAL_FIXTURE.glob("test/*/PublicTest_*.jpg")):
        dst = root / "test" / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        if src.stem in copied:
            face = cv2.imread(str(src), cv2.IMREAD_GRAYSCALE)
            twin = _shift(cv2.equalizeHist(face), 1, 0)
            out = root / "train" / src.parent.name / f"Training_9{src.stem.split('_')[1]}.jpg"
            out.parent.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(out), twin, [cv2.IMWRITE_JPEG_QUALITY, 90])
    for src in sorted(FER_FIXTURE.glob("train/*/Training_*.jpg")):
        dst = root / "train" / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    return root


def test_evaluate_reports_seen_and_unseen_faces_apart(test_faces, tmp_path, capsys) -> None:
    names = sorted(test_faces.names)
    copied = [Path(n).stem for n in names[::7]]  # 20 faces, every class
    root = _folder_with_copies(tmp_path, copied)
    out = tmp_path / "e.json"
    assert main(["evaluate", "--data", str(root), "--split", "PublicTest", "--crops", "flip",
                 "--near-duplicates", "--json", str(out),
                 "--confusion", str(tmp_path / "c.png")]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "20 of 140 faces (14.3%;" in printed
    report = json.loads(out.read_text())["near_duplicates"]
    assert report["threshold"] == NEAR_DUPLICATE
    seen, unseen = report["with_near_duplicate"], report["without_near_duplicate"]
    assert (seen["images"], unseen["images"]) == (20, 120)
    # each part's accuracy is that of its own faces, as the model predicts them one by one
    faces = load_fer2013(root, "PublicTest", use_cache=False)
    probs = predict_faces(load_model(resolve_model_path(None)), faces.images, crops="flip")
    correct = probs.argmax(1) == faces.labels
    is_copy = np.array([Path(n).stem in copied for n in faces.names])
    assert seen["accuracy"] == pytest.approx(100 * correct[is_copy].mean())
    assert unseen["accuracy"] == pytest.approx(100 * correct[~is_copy].mean())
    whole = json.loads(out.read_text())["accuracy"]
    assert whole == pytest.approx((20 * seen["accuracy"] + 120 * unseen["accuracy"]) / 140)


def test_near_duplicates_need_the_training_split(tmp_path) -> None:
    root = tmp_path / "fer"
    for src in sorted(FER_EVAL_FIXTURE.glob("test/*/PublicTest_*.jpg"))[:14]:
        dst = root / "test" / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    with pytest.raises(SystemExit, match="needs the Training split"):
        main(["evaluate", "--data", str(root), "--split", "PublicTest", "--near-duplicates",
              "--confusion", str(tmp_path / "c.png")])  # fmt: skip
    with pytest.raises(SystemExit, match="compares a test split with Training"):
        main(["evaluate", "--data", str(FER_FIXTURE), "--split", "Training",
              "--near-duplicates", "--confusion", str(tmp_path / "c.png")])  # fmt: skip
    with pytest.raises(SystemExit, match=r"must be in \(0, 1\]"):
        main(["evaluate", "--data", str(FER_FIXTURE), "--split", "PublicTest",
              "--near-duplicates", "--near-duplicate-threshold", "0",
              "--confusion", str(tmp_path / "c.png")])  # fmt: skip
    with pytest.raises(SystemExit, match="FER2013"):
        main(["evaluate", "--dataset", "ckplus", "--data", "x", "--near-duplicates"])
