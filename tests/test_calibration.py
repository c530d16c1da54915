"""Calibrated confidence: ECE and reliability bins against hand-computed values, the fitted
temperature, its place in the model file, and the paths that must all apply it."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_core.calibration import (
    crop_softmax,
    expected_calibration_error,
    fit_temperature,
    fit_temperature_ece,
    negative_log_likelihood,
    reliability_bins,
    save_reliability_png,
)
from fer_core.inference import predict_faces, predict_faces_logits
from fer_core.models.file_format import load_model, with_temperature
from fer_core.preprocess import Preprocess, PreprocessError
from fer_core.preprocess_torch import probs_from_logits
from tests.model_fixtures import real_faces


def test_ece_of_four_faces_each_alone_in_its_bin() -> None:
    # confidences 0.9, 0.6, 0.8, 0.7; predictions 0, 0, 0, 1 against labels 0, 1, 0, 1:
    # right, wrong, right, right -> gaps 0.1, 0.6, 0.2, 0.3 -> ECE = 1.2 / 4
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 1])
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.3)


def test_ece_averages_within_a_bin_before_taking_the_gap() -> None:
    # 0.85 (right) and 0.82 (wrong) share the bin (0.8, 0.9]: |0.5 - 0.835| = 0.335; the third
    # face, 0.55 and right, is alone in (0.5, 0.6]: gap 0.45 -> (2 * 0.335 + 0.45) / 3
    probs = np.array([[0.85, 0.15], [0.82, 0.18], [0.45, 0.55]])
    labels = np.array([0, 1, 1])
    bins = reliability_bins(probs, labels, n_bins=10)
    full = [b for b in bins if b.count]
    assert [(b.lower, b.count) for b in full] == [(pytest.approx(0.5), 1), (pytest.approx(0.8), 2)]
    assert full[1].confidence == pytest.approx(0.835)
    assert full[1].accuracy == pytest.approx(0.5)
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(
        (2 * 0.335 + 0.45) / 3
    )


def test_a_perfectly_calibrated_set_has_zero_ece() -> None:
    # ten faces at confidence 0.7, seven right
    probs = np.tile([0.7, 0.3], (10, 1))
    labels = np.array([0] * 7 + [1] * 3)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)


def test_crop_softmax_is_the_inference_paths_arithmetic() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(5, 10, 7)).astype(np.float32)
    pre = Preprocess(test_crops="ten", temperature=1.7)
    torch_probs = probs_from_logits(torch.from_numpy(logits.reshape(50, 7)), pre).numpy()
    assert np.allclose(crop_softmax(logits, 1.7), torch_probs, atol=1e-6)
    # and the temperature changes them (it is applied, not stored only)
    assert not np.allclose(crop_softmax(logits, 1.0), torch_probs, atol=1e-3)


def test_fit_temperature_recovers_the_temperature_labels_were_drawn_with() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, size=(20000, 1, 7))
    p = crop_softmax(logits, 2.0)
    labels = np.array([rng.choice(7, p=row) for row in p])
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(2.0, rel=0.05)
    assert negative_log_likelihood(logits, labels, t) <= negative_log_likelihood(logits, labels, 1)


def test_the_ece_fit_matches_confidence_to_accuracy_where_the_nll_fit_does_not() -> None:
    """Four faces with one logit vector: three are class 0, one class 6, to which the network
    gives almost nothing. ECE is |p_top(T) - 3/4|, zero where e^(a/T) = 3 (5 + e^(-b/T)): at
    T = 2 by the choice of a and b. NLL also pays -log p_6(T) for the fourth face, so it
    softens far more (about 5.1), and its ECE there is large."""
    y = 0.01  # e^(-b/2)
    a, b = 2 * math.log(3 * (5 + y)), -2 * math.log(y)
    logits = np.tile(np.array([a, 0, 0, 0, 0, 0, -b]), (4, 1, 1))
    labels = np.array([0, 0, 0, 6])
    assert crop_softmax(logits, 2.0)[0].max() == pytest.approx(0.75)
    t_ece, t_nll = fit_temperature_ece(logits, labels), fit_temperature(logits, labels)
    assert t_ece == pytest.approx(2.0, rel=0.005)  # the grid is 0.5% apart
    assert t_nll > 4.5
    assert expected_calibration_error(crop_softmax(logits, t_ece), labels) < 0.002
    assert expected_calibration_error(crop_softmax(logits, t_nll), labels) > 0.1


def test_the_ece_fit_keeps_temperature_1_when_nothing_beats_it() -> None:
    # every face right at confidence 1 under any temperature near 1: all grid points tie at 0,
    # and the tie goes to the smallest change
    logits = np.tile(np.array([60.0, 0, 0, 0, 0, 0, 0]), (3, 1, 1))
    assert fit_temperature_ece(logits, np.zeros(3, int)) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError):
        fit_temperature_ece(np.zeros((2, 7)), np.zeros(2, int))


def test_temperature_is_validated_and_old_specs_default_to_one() -> None:
    assert Preprocess.from_dict({"equalize": True}).temperature == 1.0
    with pytest.raises(PreprocessError, match="temperature"):
        Preprocess(temperature=0.0)
    with pytest.raises(PreprocessError, match="temperature"):
        Preprocess(temperature=float("nan"))


def test_with_temperature_copies_weights_byte_for_byte(model_path: Path, tmp_path: Path) -> None:
    dst = with_temperature(model_path, tmp_path / "t.pt", 1.8, {"temperature": 1.8, "x": "y"})
    src = torch.load(model_path, weights_only=True)
    out = torch.load(dst, weights_only=True)
    assert out["preprocess"]["temperature"] == 1.8
    assert out["meta"]["calibration"] == {"temperature": 1.8, "x": "y"}
    for k, v in src["state_dict"].items():
        assert out["state_dict"][k].dtype == v.dtype
        assert torch.equal(out["state_dict"][k], v)


def test_a_file_without_temperature_loads_at_one(model_path: Path, tmp_path: Path) -> None:
    payload = torch.load(model_path, weights_only=True)
    payload["preprocess"].pop("temperature", None)
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    assert load_model(old).preprocess.temperature == 1.0


def test_predict_faces_applies_the_files_temperature(model_path: Path, tmp_path: Path) -> None:
    faces = real_faces()
    plain = load_model(model_path)
    hot = load_model(with_temperature(model_path, tmp_path / "hot.pt", 2.5, {}))
    logits = predict_faces_logits(plain, faces, crops="flip")
    got = predict_faces(hot, faces, crops="flip")
    assert np.allclose(got, crop_softmax(logits, 2.5), atol=1e-5)
    base = predict_faces(plain, faces, crops="flip")
    assert (got.argmax(1) == base.argmax(1)).all()  # temperature never changes the winner
    assert got.max(1).mean() < base.max(1).mean()  # T > 1 makes it less sure


def test_reliability_png_is_written(tmp_path: Path) -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    bins = reliability_bins(probs, np.array([0, 1, 1]))
    path = save_reliability_png({"model": bins}, tmp_path / "r.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="crop_logits"):
        fit_temperature(np.zeros((3, 7)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="probs"):
        expected_calibration_error(np.zeros((3, 7)), np.zeros(2, dtype=int))
    assert math.isnan(expected_calibration_error(np.zeros((0, 7)), np.zeros(0, dtype=int)))


def test_spec_round_trips_with_temperature() -> None:
    pre = dataclasses.replace(Preprocess(), temperature=1.3)
    assert Preprocess.from_dict(pre.to_dict()) == pre
