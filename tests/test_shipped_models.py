"""Every shipped model loads, beats chance on real faces, and matches its model card."""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest

from fer_core.data import load_fer2013
from fer_core.inference import predict_faces
from fer_core.model_zoo import DEFAULT_MODEL, resolve_model_path, shipped_models
from fer_core.modelfile import load_model
from fer_core.nets import count_macs, count_params
from fer_core.training.evaluate import evaluate_faces
from tests.core_data import FER_EVAL_FIXTURE, full_fer2013

SHIPPED = shipped_models()


def test_the_default_model_is_shipped_and_resolved_by_default() -> None:
    assert DEFAULT_MODEL in SHIPPED, f"models/{DEFAULT_MODEL}.pt is missing"
    assert resolve_model_path(None) == SHIPPED[DEFAULT_MODEL]


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_is_small_and_has_a_card(name: str) -> None:
    path = SHIPPED[name]
    assert path.stat().st_size < 25 * 1024 * 1024
    assert path.with_suffix(".md").is_file() and path.with_suffix(".json").is_file()


def chance_tail(correct: int, n: int, p: float) -> float:
    """P(at least ``correct`` of ``n`` right) for a classifier guessing with accuracy ``p``."""
    return sum(comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(correct, n + 1))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_beats_chance_on_the_real_face_fixtures(name: str) -> None:
    model = load_model(SHIPPED[name])
    # 140 PublicTest faces, the first 20 per class by file name (balanced, not hand-picked)
    faces = load_fer2013(FER_EVAL_FIXTURE, "PublicTest")
    if model.classes != faces.classes:
        pytest.skip(f"{name} predicts {model.classes}, not FER2013's classes")
    probs = predict_faces(model, faces.images)
    correct = int((probs.argmax(1) == faces.labels).sum())
    # "well above chance": a 1-in-7 guesser gets this many right with probability < 1e-6
    assert chance_tail(correct, len(faces), 1 / 7) < 1e-6, f"{name}: {correct}/{len(faces)}"
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_card_counts_are_recounted_from_the_network(name: str) -> None:
    card = json.loads(SHIPPED[name].with_suffix(".json").read_text())
    model = load_model(SHIPPED[name])
    assert card["params"] == count_params(model.net)
    assert card["macs_per_crop"] == count_macs(model.net)
    assert card["file_size_bytes"] == SHIPPED[name].stat().st_size


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_evaluate_reproduces_the_cards_publictest_accuracy(name: str) -> None:
    card = json.loads(SHIPPED[name].with_suffix(".json").read_text())
    if "publictest" not in card:
        pytest.skip(f"{name} has no FER2013 PublicTest result")
    faces = load_fer2013(full_fer2013(), "PublicTest")
    result = evaluate_faces(load_model(SHIPPED[name]), faces, dataset="fer2013",
                            split="PublicTest")  # fmt: skip
    assert result.accuracy == pytest.approx(card["publictest"]["accuracy"], abs=1e-9)
    assert result.confusion.tolist() == card["publictest"]["confusion"]
