"""Every shipped model loads, beats chance on real faces, and matches its model card."""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest

from fer_core.data import FaceSet, load_ckplus, load_fer2013, seed_folds
from fer_core.inference import predict_faces
from fer_core.models.architectures import count_macs, count_params
from fer_core.models.file_format import LoadedModel, load_model
from fer_core.models.shipped import DEFAULT_MODEL, resolve_model_path, shipped_models
from fer_core.shipping import held_out_set
from fer_core.training.evaluate import evaluate_faces, robustness_of
from tests.core_data import CK_FIXTURE, FER_EVAL_FIXTURE, full_ckplus, full_fer2013

SHIPPED = shipped_models()


def test_the_default_model_is_shipped_and_resolved_by_default() -> None:
    assert DEFAULT_MODEL in SHIPPED, f"models/{DEFAULT_MODEL}.pt is missing"
    assert resolve_model_path(None) == SHIPPED[DEFAULT_MODEL]


def test_the_default_models_card_beats_the_seed_within_the_live_budget() -> None:
    # issue 12: >= 69.2% PublicTest ten-crop (seed 69.128%) at <= 100 MMAC per 44x44 crop, with
    # no class near zero; test_evaluate_reproduces_the_cards_held_out_accuracy re-scores the file
    card = json.loads(SHIPPED[DEFAULT_MODEL].with_suffix(".json").read_text())
    test = card["publictest"]
    assert test["split"] == "PublicTest" and test["tencrop"] and test["images"] == 3589
    assert test["accuracy"] >= 69.2
    assert card["macs_per_crop"] <= 100_000_000
    assert min(c["accuracy"] for c in test["per_class"].values()) >= 40.0
    assert load_model(SHIPPED[DEFAULT_MODEL]).preprocess.equalize


def test_the_default_models_card_holds_its_camera_table() -> None:
    # issue 21: the default's card shows how it fares under every camera-like condition, with the
    # live crops; test_evaluate_reproduces_the_cards_held_out_accuracy re-scores each row
    from fer_core.robustness import PERTURBATIONS

    card = json.loads(SHIPPED[DEFAULT_MODEL].with_suffix(".json").read_text())
    rob = card["robustness"]
    assert rob["crops"] == "flip"
    assert [r["condition"] for r in rob["rows"]][1:] == list(PERTURBATIONS)
    assert rob["rows"][0]["accuracy"] == pytest.approx(card["flip_crop_accuracy"], abs=1e-9)
    # issue 21: the default loses at most 8 points under each condition (v2.2: 6.46 at most)
    worst = max(rob["rows"], key=lambda r: r["drop"])
    assert worst["drop"] <= 8.0, worst
    # and its confidence stays honest there: each condition's ECE is carded (v2.2: 2.14-3.77%),
    # none far from the clean faces' (a file that turns over-confident on a blurred webcam fails)
    assert all(0.0 <= r["ece"] <= 5.0 for r in rob["rows"]), rob["rows"]
    assert "| condition | accuracy (%) | drop (points) | ECE (%) |" in (
        SHIPPED[DEFAULT_MODEL].with_suffix(".md").read_text()
    )


def test_the_default_models_card_shows_its_confidence_within_3_points() -> None:
    # issue 21: the default's card shows an ECE of at most 3% on PublicTest (ten-crop, at the
    # temperature the file applies on every path); test_evaluate_reproduces_the_cards_held_out_
    # accuracy re-scores it. v2.2 ships at temperature 1 (2.58%): the temperature fitted on its
    # held-out Training faces made PublicTest worse (docs/reproduction.md), so this is the
    # uncalibrated network's figure, not issue 21's "after calibration"
    card = json.loads(SHIPPED[DEFAULT_MODEL].with_suffix(".json").read_text())
    cal = card["calibration"]
    assert cal["temperature"] == load_model(SHIPPED[DEFAULT_MODEL]).preprocess.temperature
    assert 0.0 < cal["ece"] <= 0.03, cal


def test_the_seeds_own_network_is_shipped_and_beats_the_seed() -> None:
    # issue 21: the seed's network itself (arch `paper`), not only a faster stand-in, reaches the
    # seed's 69.128% on PublicTest ten-crop; test_evaluate_reproduces_the_cards_held_out_accuracy
    # re-scores the file against this card
    assert "paper" in SHIPPED, "models/paper.pt is missing"
    card = json.loads(SHIPPED["paper"].with_suffix(".json").read_text())
    model = load_model(SHIPPED["paper"])
    assert model.arch == "paper" and card["arch"] == "paper"
    test = card["publictest"]
    assert test["split"] == "PublicTest" and test["tencrop"] and test["images"] == 3589
    assert test["accuracy"] >= 69.128
    assert model.preprocess.equalize


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_is_small_and_has_a_card(name: str) -> None:
    path = SHIPPED[name]
    assert path.stat().st_size < 25 * 1024 * 1024
    assert path.with_suffix(".md").is_file() and path.with_suffix(".json").is_file()


def chance_tail(correct: int, n: int, p: float) -> float:
    """P(at least ``correct`` of ``n`` right) for a classifier guessing with accuracy ``p``."""
    return sum(comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(correct, n + 1))


def _fixture_faces(model: LoadedModel) -> FaceSet:
    """Real faces the model never trained on, in its own class coding."""
    if model.meta.get("dataset") == "ckplus":
        # the first 3 frames per class by file name; all lie in seed fold 1's test blocks
        # (checked against the full CK+ below), the fold a shipped CK+ model holds out
        assert (model.meta["protocol"], model.meta["fold"]) == ("seed", 1)
        return load_ckplus(CK_FIXTURE)
    # 140 PublicTest faces, the first 20 per class by file name (balanced, not hand-picked)
    return load_fer2013(FER_EVAL_FIXTURE, "PublicTest")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_beats_chance_on_the_real_face_fixtures(name: str) -> None:
    model = load_model(SHIPPED[name])
    faces = _fixture_faces(model)
    assert model.classes == faces.classes
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


@pytest.mark.train
@pytest.mark.data
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_evaluate_reproduces_the_cards_held_out_accuracy(name: str) -> None:
    card = json.loads(SHIPPED[name].with_suffix(".json").read_text())
    model = load_model(SHIPPED[name])
    is_ck = model.meta.get("dataset") == "ckplus"
    test = held_out_set(model, full_ckplus() if is_ck else full_fer2013())
    expected = card[test.card_key]
    result = evaluate_faces(model, test.faces, dataset=test.dataset, split=test.split)
    assert result.split == expected["split"]
    assert result.accuracy == pytest.approx(expected["accuracy"], abs=1e-9)
    assert result.confusion.tolist() == expected["confusion"]
    if "calibration" in card:
        # the card's confidence figures are the shipped file's, at its own temperature
        assert result.temperature == card["calibration"]["temperature"]
        assert result.ece == pytest.approx(card["calibration"]["ece"], abs=1e-6)
    if "flip_crop_accuracy" in card:
        # the crops the live pipeline and analyze use: the card's figure is re-scored too
        flip = evaluate_faces(model, test.faces, dataset=test.dataset, split=test.split,
                              crops="flip")  # fmt: skip
        assert flip.accuracy == pytest.approx(card["flip_crop_accuracy"], abs=1e-9)
    if "robustness" in card:
        # the camera table (issue 21): every condition re-scored with the card's crops and seed
        rob = card["robustness"]
        rows = robustness_of([model], test.faces, crops=rob["crops"], seed=rob["seed"])
        assert [r.condition for r in rows] == [r["condition"] for r in rob["rows"]]
        for row, carded in zip(rows, rob["rows"], strict=True):
            assert row.accuracy == pytest.approx(carded["accuracy"], abs=1e-9), row.condition
            assert row.drop == pytest.approx(carded["drop"], abs=1e-9), row.condition
            if "ece" in carded:
                assert row.ece == pytest.approx(carded["ece"], abs=1e-6), row.condition


def test_the_default_models_card_scores_the_live_crops() -> None:
    # the live pipeline's crops (not ten-crop) decide what a clinician's chart shows: the card
    # must say how accurate they are (test_evaluate_reproduces_the_cards_held_out_accuracy
    # re-scores it), and the two crops instead of ten may cost at most 1 point of that file's
    # ten-crop accuracy, which itself beats the seed (above). Until v2.1 this asked the live
    # crops to beat the seed's ten-crop 69.128% too: v1.0 69.267%, v2.0 69.211%, v2.1 69.016%.
    # v2.1 traded those 0.2 points against v2.0 (7 faces of 3,589) for at most 8 points lost
    # under every camera-like condition (issue 21); README and docs/reproduction.md say so.
    from fer_core.pipeline import DEFAULT_SETTINGS

    card = json.loads(SHIPPED[DEFAULT_MODEL].with_suffix(".json").read_text())
    assert DEFAULT_SETTINGS.crops == "flip"
    assert card["publictest"]["accuracy"] - card["flip_crop_accuracy"] <= 1.0


@pytest.mark.data
def test_the_ckplus_fixture_lies_in_seed_fold_1s_test_set() -> None:
    full = load_ckplus(full_ckplus())
    _train, test = seed_folds(full)[0]
    held_out = {full.names[i] for i in test}
    fixture = load_ckplus(CK_FIXTURE)
    assert len(fixture) == 21 and set(fixture.names) <= held_out


def _card(name: str) -> dict:
    return json.loads(SHIPPED[name].with_suffix(".json").read_text())


CK_MODELS = sorted(n for n in SHIPPED if "ckplus_test" in _card(n))


def test_a_ckplus_model_is_shipped() -> None:
    assert CK_MODELS == ["ckplus"], CK_MODELS


@pytest.mark.parametrize("name", CK_MODELS)
def test_a_ckplus_card_lists_every_fold_of_both_protocols(name: str) -> None:
    card = _card(name)
    assert set(card["ckplus"]) == {"seed", "subject"}
    for summary in card["ckplus"].values():
        assert len(summary["fold_accuracies"]) == 10
    # subject folds test every CK+48 image once; seed folds are 99 images each (clamped blocks)
    assert sum(f["images"] for f in card["ckplus"]["subject"]["folds"]) == 981
    assert [f["images"] for f in card["ckplus"]["seed"]["folds"]] == [99] * 10


def test_evaluate_runs_on_a_raw_privatetest_folder(tmp_path, capsys) -> None:
    # the withheld split arrives as test/<class>/PrivateTest_<id>.jpg with raw (unequalised)
    # faces and no train/ folder: the same command evaluates it, equalising every face
    import shutil

    from fer_core.cli import main

    for src in sorted(FER_EVAL_FIXTURE.glob("test/*/PublicTest_*.jpg")):
        dst = tmp_path / "fer" / "test" / src.parent.name / src.name.replace("Public", "Private")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    out = tmp_path / "private.json"
    assert main(["evaluate", "--dataset", "fer2013", "--data", str(tmp_path / "fer"),
                 "--split", "PrivateTest", "--json", str(out)]) == 0  # fmt: skip
    assert "PrivateTest" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["split"] == "PrivateTest" and result["images"] == 140
    correct = round(result["accuracy"] * 140 / 100)
    assert chance_tail(correct, 140, 1 / 7) < 1e-6
