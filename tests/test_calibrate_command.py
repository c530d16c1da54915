"""train --val-from-train -> calibrate -> evaluate (ECE, reliability, --perturb, --ensemble),
through the command line on real faces: the temperature is fitted on held-out Training faces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_core.calibration import crop_softmax, fit_temperature, fit_temperature_ece
from fer_core.classifier import load_classifier
from fer_core.cli import main
from fer_core.data import holdout_split, load_fer2013
from fer_core.inference import predict_faces_logits
from fer_core.models.file_format import load_model
from fer_core.robustness import PERTURBATIONS
from tests.core_data import FER_FIXTURE

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("private_cache")]  # trains (markers)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("run")
    rc = main([
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--epochs", "2", "--batch-size", "8", "--out", str(run),
        "--threads", "1", "--val-from-train", "0.25", "--seed", "3", "--augment", "camera",
    ])  # fmt: skip
    assert rc == 0
    return run / "model.pt"


def test_calibrate_can_fit_on_the_runs_own_hold_out_by_nll(
    tiny_run: Path, tmp_path: Path, capsys
) -> None:
    model = load_model(tiny_run)
    assert model.meta["holdout"] == {"fraction": 0.25, "seed": 3}
    out = tmp_path / "cal.pt"
    assert main(["calibrate", "--weights", str(tiny_run), "--data", str(FER_FIXTURE),
                 "--out", str(out), "--objective", "nll"]) == 0  # fmt: skip
    assert "(NLL fit)" in capsys.readouterr().out
    cal = load_model(out)
    # the same faces the trainer held out, recomputed here: the fit must match
    held, _ = holdout_split(load_fer2013(FER_FIXTURE, "Training", use_cache=False), 0.25, 3)
    expected = fit_temperature(predict_faces_logits(model, held.images), held.labels)
    assert cal.preprocess.temperature == pytest.approx(expected, rel=1e-6)
    info = cal.meta["calibration"]
    assert info["faces_seen_in_training"] is False
    assert "25% hold-out (seed 3)" in info["fitted_on"]
    assert info["nll_after"] <= info["nll_before"]


def test_calibrate_fits_the_ece_by_default(tiny_run: Path, tmp_path: Path, capsys) -> None:
    # the default since session 14: on three networks with a clean hold-out the ECE fit gave
    # PublicTest the lower ECE every time, the NLL fit twice a higher one than temperature 1
    out = tmp_path / "cal-ece.pt"
    assert main(["calibrate", "--weights", str(tiny_run), "--data", str(FER_FIXTURE),
                 "--out", str(out)]) == 0  # fmt: skip
    assert "(ECE fit)" in capsys.readouterr().out
    held, _ = holdout_split(load_fer2013(FER_FIXTURE, "Training", use_cache=False), 0.25, 3)
    logits = predict_faces_logits(load_model(tiny_run), held.images)
    cal = load_model(out)
    assert cal.preprocess.temperature == pytest.approx(fit_temperature_ece(logits, held.labels))
    info = cal.meta["calibration"]
    assert info["objective"] == "ece" and "minimising its ECE" in info["fitted_on"]
    assert info["holdout_ece_after"] <= info["holdout_ece_before"]


def test_calibrating_a_file_in_place_exports_its_graph_again(
    tiny_run: Path, tmp_path: Path
) -> None:
    """A model file with an ONNX graph beside it (the app's runtime) keeps a current graph: the
    stale one would be refused, and the app must run the new temperature."""
    pt = tmp_path / "m.pt"
    shutil.copy(tiny_run, pt)
    assert main(["export-onnx", "--weights", str(pt)]) == 0
    # an NLL fit: a continuous one never lands on 1, so the new temperature must reach the graph
    assert main(["calibrate", "--weights", str(pt), "--data", str(FER_FIXTURE),
                 "--out", str(pt), "--objective", "nll"]) == 0  # fmt: skip
    ort = load_classifier(pt, runtime="onnxruntime")  # refused if it were the old graph
    assert ort.preprocess.temperature == load_model(pt).preprocess.temperature != 1.0


def test_calibrate_refuses_faces_the_model_trained_on(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="allow-seen"):
        main(["calibrate", "--weights", str(tiny_run), "--data", str(FER_FIXTURE),
              "--out", str(tmp_path / "x.pt"), "--holdout", "0.25", "--seed", "4"])  # fmt: skip
    assert not (tmp_path / "x.pt").exists()
    assert main(["calibrate", "--weights", str(tiny_run), "--data", str(FER_FIXTURE),
                 "--out", str(tmp_path / "x.pt"), "--holdout", "0.25", "--seed", "4",
                 "--allow-seen"]) == 0  # fmt: skip
    assert load_model(tmp_path / "x.pt").meta["calibration"]["faces_seen_in_training"] is True


def _tiny_train(out: Path, *extra: str) -> Path:
    rc = main(["train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
               "--data", str(FER_FIXTURE), "--epochs", "1", "--batch-size", "8", "--out", str(out),
               "--threads", "1", *extra])  # fmt: skip
    assert rc == 0
    return out / "model.pt"


def test_calibrate_refuses_a_hold_out_its_teacher_learned(tiny_run: Path, tmp_path: Path) -> None:
    """A student never trains on its hold-out, but a teacher trained on all of Training has:
    calibrate names the teacher and refuses; a teacher whose hold-out covers the student's (same
    --holdout-seed, a larger fraction, another training seed) is clean."""
    student_args = ["--val-from-train", "0.25", "--seed", "3", "--kd-weight", "0.5"]
    tainted = _tiny_train(tmp_path / "teacher-all")  # selects on PublicTest: no hold-out
    clean = _tiny_train(tmp_path / "teacher-clean", "--val-from-train", "0.5", "--seed", "7",
                        "--holdout-seed", "3")  # fmt: skip
    assert load_model(clean).meta["holdout"] == {"fraction": 0.5, "seed": 3}
    assert load_model(clean).meta["holdout_seen_by"] == []
    bad = _tiny_train(tmp_path / "s-bad", *student_args, "--teacher", str(tainted),
                      "--teacher", str(clean))  # fmt: skip
    assert load_model(bad).meta["holdout_seen_by"] == [str(tainted)]
    with pytest.raises(SystemExit, match="teacher-all"):
        main(["calibrate", "--weights", str(bad), "--data", str(FER_FIXTURE),
              "--out", str(tmp_path / "x.pt")])  # fmt: skip
    assert not (tmp_path / "x.pt").exists()
    assert main(["calibrate", "--weights", str(bad), "--data", str(FER_FIXTURE),
                 "--out", str(tmp_path / "x.pt"), "--allow-seen"]) == 0  # fmt: skip
    info = load_model(tmp_path / "x.pt").meta["calibration"]
    assert info["faces_seen_in_training"] is True and info["holdout_seen_by"] == [str(tainted)]
    # starting from the tainted file taints the student as well
    started = _tiny_train(tmp_path / "s-init", *student_args, "--init-from", str(tainted))
    assert load_model(started).meta["holdout_seen_by"] == [str(tainted)]
    good = _tiny_train(tmp_path / "s-good", *student_args, "--teacher", str(clean),
                       "--init-from", str(tiny_run))  # fmt: skip
    assert load_model(good).meta["holdout_seen_by"] == []
    assert main(["calibrate", "--weights", str(good), "--data", str(FER_FIXTURE),
                 "--out", str(tmp_path / "y.pt")]) == 0  # fmt: skip
    assert load_model(tmp_path / "y.pt").meta["calibration"]["holdout_seen_by"] == []


def test_evaluate_prints_ece_perturbations_and_an_ensemble(
    tiny_run: Path, tmp_path: Path, capsys
) -> None:
    cal = tmp_path / "cal.pt"
    assert main(["calibrate", "--weights", str(tiny_run), "--data", str(FER_FIXTURE),
                 "--out", str(cal)]) == 0  # fmt: skip
    capsys.readouterr()
    out_json, rel = tmp_path / "e.json", tmp_path / "rel.png"
    assert main(["evaluate", "--weights", str(cal), "--data", str(FER_FIXTURE),
                 "--split", "PublicTest", "--crops", "flip", "--perturb", "--json", str(out_json),
                 "--reliability", str(rel)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "Expected calibration error" in printed and "Largest drop" in printed
    result = json.loads(out_json.read_text())
    faces = load_fer2013(FER_FIXTURE, "PublicTest", use_cache=False)
    probs = crop_softmax(predict_faces_logits(load_model(tiny_run), faces.images, crops="flip"),
                         load_model(cal).preprocess.temperature)  # fmt: skip
    correct = probs.argmax(1) == faces.labels
    assert result["accuracy"] == pytest.approx(100 * correct.mean())
    assert 0 <= result["ece"] <= 1
    assert result["temperature"] == load_model(cal).preprocess.temperature
    rows = result["robustness"]["rows"]
    assert [r["condition"] for r in rows] == ["clean", *PERTURBATIONS]
    assert rows[0]["accuracy"] == pytest.approx(result["accuracy"])
    assert rel.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the ensemble is the mean of the members' calibrated probabilities
    ens_json = tmp_path / "ens.json"
    assert main(["evaluate", "--ensemble", str(cal), str(tiny_run), "--data", str(FER_FIXTURE),
                 "--split", "PublicTest", "--crops", "flip",
                 "--json", str(ens_json)]) == 0  # fmt: skip
    raw = crop_softmax(predict_faces_logits(load_model(tiny_run), faces.images, crops="flip"))
    mean = (probs + raw) / 2
    ens = json.loads(ens_json.read_text())
    assert ens["model"].startswith("ensemble(")
    assert ens["accuracy"] == pytest.approx(100 * np.mean(mean.argmax(1) == faces.labels))


def test_ckplus_refuses_the_fer2013_only_options(tiny_run: Path) -> None:
    with pytest.raises(SystemExit, match="FER2013"):
        main(["evaluate", "--weights", str(tiny_run), "--dataset", "ckplus", "--data", "x",
              "--perturb"])  # fmt: skip
