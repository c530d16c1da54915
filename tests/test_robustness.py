"""Camera-like perturbations: what each does to a face (hand-checkable cases), fixed seeds, and
the robustness table's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core.robustness import (
    PERTURBATIONS,
    RobustnessRow,
    format_robustness,
    perturb,
    robustness_table,
)
from tests.model_fixtures import real_faces


def test_every_condition_keeps_shape_and_dtype_and_changes_real_faces() -> None:
    faces = real_faces()
    for name in PERTURBATIONS:
        out = perturb(faces, name)
        assert out.shape == faces.shape and out.dtype == np.uint8, name
        assert np.abs(out.astype(int) - faces).mean() > 0.5, f"{name} left the faces unchanged"


def test_the_same_seed_gives_the_same_faces_and_another_seed_other_noise() -> None:
    faces = real_faces()
    assert np.array_equal(perturb(faces, "noise sd 15", 3), perturb(faces, "noise sd 15", 3))
    assert not np.array_equal(perturb(faces, "noise sd 15", 3), perturb(faces, "noise sd 15", 4))


def test_light_conditions_by_hand() -> None:
    flat = np.full((2, 48, 48), 200, np.uint8)
    assert (perturb(flat, "brightness x0.4") == 80).all()
    # gamma 2.2: 255 * (200/255) ** 2.2 = 149.0...
    assert (perturb(flat, "gamma 2.2") == round(255 * (200 / 255) ** 2.2)).all()
    # a flat face has no contrast to squeeze
    assert (perturb(flat, "low contrast x0.35") == 200).all()
    two = np.zeros((1, 48, 48), np.uint8)
    two[:, :, 24:] = 100
    squeezed = perturb(two, "low contrast x0.35")
    # mean 50: 50 + (0 - 50) * 0.35 = 32.5 -> 32 (round half to even), 50 + 50 * 0.35 = 67.5 -> 68
    assert set(np.unique(squeezed)) == {32, 68}
    lit = perturb(flat, "side light (to 0.3)")
    # one side keeps 200, the other falls to 0.3 * 200 = 60
    assert {int(lit[0, 0, 0]), int(lit[0, 0, -1])} == {60, 200}


def test_noise_has_the_stated_spread() -> None:
    flat = np.full((50, 48, 48), 128, np.uint8)
    sd = (perturb(flat, "noise sd 15").astype(float) - 128).std()
    assert sd == pytest.approx(15, rel=0.05)


def test_geometry_conditions_by_hand() -> None:
    face = np.zeros((1, 48, 48), np.uint8)
    face[:, 20:28, 20:28] = 255  # a centred square
    tight = perturb(face, "tight box (/1.2)")
    loose = perturb(face, "loose box (x1.25)")
    # the tight box enlarges the square, the loose box shrinks it
    assert (tight > 127).sum() > (face > 127).sum() > (loose > 127).sum()
    rotated = perturb(face, "rotation 30 deg")
    assert abs(int((rotated > 127).sum()) - 64) < 16  # area kept, position turned
    assert not np.array_equal(rotated, face)


def test_unknown_conditions_and_bad_faces_are_refused() -> None:
    with pytest.raises(KeyError, match="unknown perturbation"):
        perturb(np.zeros((1, 48, 48), np.uint8), "fog")
    with pytest.raises(ValueError, match="uint8"):
        perturb(np.zeros((1, 48, 48), np.float32), "blur sigma 1.5")


def test_robustness_table_reports_drops_from_clean() -> None:
    # a "model" whose accuracy is the faces' mean gray level: the drops are checkable
    def score(faces: np.ndarray) -> tuple[float, float]:
        return float(faces.mean()), 5.0

    faces = np.full((3, 48, 48), 100, np.uint8)
    rows = robustness_table(score, faces)
    assert rows[0] == RobustnessRow("clean", 100.0, 0.0, 5.0)
    assert [r.condition for r in rows[1:]] == list(PERTURBATIONS)
    bright = next(r for r in rows if r.condition == "brightness x0.4")
    assert bright.accuracy == pytest.approx(40.0) and bright.drop == pytest.approx(60.0)
    text = format_robustness(rows, "t")
    assert "brightness x0.4" in text and "60.000" in text
    largest = f"{max(r.drop for r in rows):.3f}"
    assert float(largest) >= 60.0
    assert text.splitlines()[-2].split() == ["Largest", "drop", largest]


def test_robustness_table_carries_each_conditions_ece() -> None:
    # accuracy = mean gray level, ECE = a tenth of it: both columns follow each condition's faces
    def score(faces: np.ndarray) -> tuple[float, float]:
        return float(faces.mean()), float(faces.mean()) / 10

    faces = np.full((3, 48, 48), 100, np.uint8)
    rows = robustness_table(score, faces)
    assert rows[0] == RobustnessRow("clean", 100.0, 0.0, 10.0)
    bright = next(r for r in rows if r.condition == "brightness x0.4")
    assert bright.ece == pytest.approx(4.0) and bright.drop == pytest.approx(60.0)
    text = format_robustness(rows, "t")
    lines = text.splitlines()
    assert lines[1].split()[-2:] == ["ECE", "(%)"]
    assert next(x for x in lines if x.startswith("brightness x0.4")).split()[-1] == "4.00"
    assert lines[-1].split() == ["Largest", "ECE", "10.00"]


def test_robustness_of_a_model_reports_the_ece_of_its_probabilities() -> None:
    # the row's ECE is the calibration module's ECE of the model's own probabilities on the
    # same perturbed faces (small untrained model, a few real faces)
    from fer_core.calibration import expected_calibration_error
    from fer_core.data.faceset import FaceSet
    from fer_core.labels import FER2013_CLASSES
    from fer_core.training.evaluate import ensemble_probs, robustness_of
    from tests.model_fixtures import random_bn_model

    faces = real_faces()
    labels = np.repeat(np.arange(7), 3)
    model = random_bn_model("fast")
    faceset = FaceSet(faces, labels, FER2013_CLASSES, [f"f{i}" for i in range(len(faces))])
    rows = robustness_of([model], faceset, crops="flip", seed=3)
    blurred = perturb(faces, "blur sigma 1.5", 3)
    probs = ensemble_probs([model], blurred, crops="flip")
    row = next(r for r in rows if r.condition == "blur sigma 1.5")
    assert row.ece == pytest.approx(100 * expected_calibration_error(probs, labels))
    assert row.accuracy == pytest.approx(100 * float((probs.argmax(1) == labels).mean()))
