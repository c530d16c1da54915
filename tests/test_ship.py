"""`ship`: a run's model becomes models/<name>.pt with a card that `evaluate` reproduces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_core.classifier import TOLERANCE, load_classifier
from fer_core.cli import main
from fer_core.data import load_fer2013
from fer_core.inference import predict_faces
from fer_core.models.architectures import create_model
from fer_core.models.file_format import load_model, save_model
from fer_core.preprocess import Preprocess
from fer_core.shipping import held_out_set
from tests.core_data import CK_FIXTURE, FER_FIXTURE

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("private_cache")]  # trains (markers)


def _ck_with_21_subjects(tmp_path: Path) -> Path:
    """The CK+ fixture with every image renamed to its own subject, so 10 subject folds exist."""
    ck = tmp_path / "ck"
    for i, src in enumerate(sorted(CK_FIXTURE.glob("*/*.png"))):
        (ck / src.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, ck / src.parent.name / f"S{i:03d}_001_00000001.png")
    return ck


def _evaluate_json(tmp_path: Path, args: list[str]) -> dict:
    out = tmp_path / f"eval{len(list(tmp_path.glob('eval*.json')))}.json"
    assert main(["evaluate", *args, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_ship_a_fer2013_model_scores_publictest_with_the_evaluate_code(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main([
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--epochs", "1", "--batch-size", "8", "--out", str(run),
        "--threads", "1",
    ]) == 0  # fmt: skip
    models = tmp_path / "models"
    assert main([
        "ship", "--weights", str(run / "model.pt"), "--name", "tiny", "--data", str(FER_FIXTURE),
        "--out-dir", str(models), "--train-command", "python -m fer_core train ...",
    ]) == 0  # fmt: skip
    card = json.loads((models / "tiny.json").read_text())
    assert card["test_set"] == "fer2013 PublicTest" and "ckplus_test" not in card
    assert card["file_size_bytes"] == (models / "tiny.pt").stat().st_size
    assert card["evaluate_command"].endswith(f"--data {FER_FIXTURE} --split PublicTest")
    again = _evaluate_json(tmp_path, [
        "--weights", str(models / "tiny.pt"), "--dataset", "fer2013", "--data", str(FER_FIXTURE),
    ])  # fmt: skip
    assert again["confusion"] == card["publictest"]["confusion"]
    assert again["accuracy"] == card["publictest"]["accuracy"]
    md = (models / "tiny.md").read_text()
    assert "## fer2013 PublicTest" in md and f"{card['publictest']['accuracy']:.3f}" in md
    assert not list(models.glob(".*tmp")), "the fp32 scratch file must not be left behind"
    # the app's runtime: the shipped file's ONNX graph beside it, giving its probabilities
    faces = load_fer2013(FER_FIXTURE, "PublicTest", use_cache=False).images[:12]
    ort = load_classifier(models / "tiny.pt", runtime="onnxruntime")
    assert ort.runtime == "onnxruntime" and (models / "tiny.onnx").is_file()
    ref = predict_faces(load_model(models / "tiny.pt"), faces)
    assert np.abs(ort.predict(faces) - ref).max() <= TOLERANCE


def test_ship_a_ckplus_fold_model_scores_only_its_held_out_fold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ck = _ck_with_21_subjects(tmp_path)
    run = tmp_path / "run"
    assert main([
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "ckplus",
        "--data", str(ck), "--protocol", "subject", "--fold", "3", "--epochs", "1",
        "--batch-size", "8", "--out", str(run), "--threads", "1",
    ]) == 0  # fmt: skip
    # a 10-fold summary to report beside it (ten untrained fold models: the numbers do not matter)
    classes = load_model(run / "model.pt").classes
    for k in range(1, 11):
        save_model(
            tmp_path / "folds" / f"fold{k:02d}" / "model.pt", create_model("fast", width=8),
            arch="fast", arch_config={"width": 8}, classes=classes, preprocess=Preprocess(),
        )  # fmt: skip
    folds_json = tmp_path / "folds.json"
    assert main([
        "evaluate", "--weights", str(tmp_path / "folds"), "--dataset", "ckplus", "--data",
        str(ck), "--protocol", "subject", "--json", str(folds_json),
    ]) == 0  # fmt: skip
    models = tmp_path / "models"
    assert main([
        "ship", "--weights", str(run / "model.pt"), "--name", "ck", "--data", str(ck),
        "--out-dir", str(models), "--train-command", "python -m fer_core train ...",
        "--ckplus-json", str(folds_json),
    ]) == 0  # fmt: skip
    card = json.loads((models / "ck.json").read_text())
    assert card["test_set"] == "ckplus subject fold 3" and "publictest" not in card
    held_out = held_out_set(load_model(run / "model.pt"), ck)
    assert card["ckplus_test"]["images"] == len(held_out.faces) < 21
    again = _evaluate_json(tmp_path, [
        "--weights", str(models / "ck.pt"), "--dataset", "ckplus", "--data", str(ck),
        "--protocol", "subject", "--fold", "3",
    ])  # fmt: skip
    assert again["confusion"] == card["ckplus_test"]["confusion"]
    assert card["evaluate_command"].endswith("--protocol subject --fold 3")
    summary = json.loads(folds_json.read_text())
    assert card["ckplus"]["subject"]["fold_accuracies"] == summary["fold_accuracies"]
    md = (models / "ck.md").read_text()
    assert "## ckplus subject fold 3" in md and "| subject | " in md
    assert "every fold but fold 3" in md
    # listed, but marked as a CK+ model the live pipeline cannot use
    monkeypatch.setenv("FER_MODELS_DIR", str(models))
    capsys.readouterr()
    assert main(["list-models", "--no-count"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("ck "))
    assert "CK+ classes" in line and "not the live pipeline" in line


def test_ship_refuses_a_ckplus_model_without_its_fold_and_a_bad_folds_file(
    tmp_path: Path,
) -> None:
    ck = _ck_with_21_subjects(tmp_path)
    classes = ("anger", "disgust", "fear", "happy", "sadness", "surprise", "contempt")
    weights = tmp_path / "m.pt"
    save_model(weights, create_model("fast", width=8), arch="fast", arch_config={"width": 8},
               classes=classes, preprocess=Preprocess(), meta={"dataset": "ckplus"})  # fmt: skip
    with pytest.raises(ValueError, match="protocol and fold"):
        held_out_set(load_model(weights), ck)
    not_folds = tmp_path / "one.json"
    not_folds.write_text(json.dumps({"accuracy": 50.0}))
    with pytest.raises(SystemExit, match="not a 10-fold"):
        main([
            "ship", "--weights", str(weights), "--name", "x", "--data", str(ck),
            "--out-dir", str(tmp_path / "models"), "--train-command", "-",
            "--ckplus-json", str(not_folds),
        ])  # fmt: skip
    assert not (tmp_path / "models" / "x.pt").exists()


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        ({"augment": "camera", "camera_p": 0.35}, "augmentation `camera` (p 0.35),"),
        ({"augment": "camera"}, "augmentation `camera` (p 0.2),"),  # before --camera-p existed
        ({"augment": "strong", "camera_p": 0.35}, "augmentation `strong`,"),
    ],
)
def test_the_cards_recipe_says_how_often_camera_degradations_were_drawn(
    cfg: dict, expected: str
) -> None:
    from fer_core.shipping import _training_rows

    card = {"training": {"train_config": {"select": "last", **cfg}}, "run_history": {}}
    recipe = next(r for r in _training_rows(card) if r.startswith("| recipe |"))
    assert expected in recipe
