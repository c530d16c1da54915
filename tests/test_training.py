"""Train -> model file -> evaluate, through the command line, on real faces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_core.cli import main
from fer_core.models.architectures import create_model
from fer_core.models.file_format import ModelFileError, load_model, save_model
from fer_core.preprocess import Preprocess
from tests.core_data import CK_FIXTURE, FER_FIXTURE, full_ckplus

pytestmark = [pytest.mark.train, pytest.mark.usefixtures("private_cache")]  # trains (markers)


def test_train_writes_a_model_file_that_evaluate_loads(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    rc = main([
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--epochs", "2", "--batch-size", "8", "--out", str(run),
        "--threads", "1",
    ])  # fmt: skip
    assert rc == 0
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    model = load_model(run / "model.pt")
    assert model.arch == "fast" and model.arch_config == {"width": 8}
    assert model.meta["selection"] == "PublicTest"
    out_json = tmp_path / "eval.json"
    capsys.readouterr()
    rc = main([
        "evaluate", "--weights", str(run / "model.pt"), "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--split", "PublicTest", "--json", str(out_json),
    ])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Total accuracy" in printed and "neutral" in printed
    result = json.loads(out_json.read_text())
    assert result["images"] == 42 and result["tencrop"] is True
    assert set(result["per_class"]) == {
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"
    }
    assert sum(v["count"] for v in result["per_class"].values()) == 42
    assert out_json.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_preprocessing_spec_is_stored_in_the_model_file(tmp_path: Path) -> None:
    rc = main([
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--epochs", "1", "--batch-size", "8", "--out", str(tmp_path),
        "--threads", "1",
    ])  # fmt: skip
    assert rc == 0
    pre = load_model(tmp_path / "model.pt").preprocess
    assert pre.equalize and pre.input_size == 48 and pre.crop_size == 44
    assert pre.test_crops == "ten"
    # mean/std are measured on the equalised training faces (about 0.5 and 0.29), not typed
    assert 0.4 < pre.mean < 0.6 and 0.2 < pre.std < 0.35
    rc = main([
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--epochs", "1", "--batch-size", "8",
        "--out", str(tmp_path / "raw"), "--threads", "1", "--no-equalize",
    ])  # fmt: skip
    assert rc == 0
    assert not load_model(tmp_path / "raw" / "model.pt").preprocess.equalize


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path) -> None:
    args = [
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--batch-size", "8", "--out", str(tmp_path), "--threads", "1",
    ]  # fmt: skip
    assert main([*args, "--epochs", "1"]) == 0
    assert main([*args, "--epochs", "3", "--resume"]) == 0
    epochs = [json.loads(x)["epoch"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


@pytest.mark.data
def test_short_ckplus_training_beats_chance_on_unseen_subjects(tmp_path: Path) -> None:
    data = full_ckplus()
    run = tmp_path / "ck"
    rc = main([
        "train", "--arch", "fast", "--arch-config", '{"width": 16}', "--dataset", "ckplus",
        "--data", str(data), "--protocol", "subject", "--fold", "1", "--epochs", "5",
        "--lr", "0.05", "--schedule", "cosine", "--batch-size", "32", "--out", str(run),
    ])  # fmt: skip
    assert rc == 0
    out_json = tmp_path / "eval.json"
    rc = main([
        "evaluate", "--weights", str(run / "model.pt"), "--dataset", "ckplus", "--data",
        str(data), "--protocol", "subject", "--fold", "1", "--json", str(out_json),
    ])  # fmt: skip
    assert rc == 0
    result = json.loads(out_json.read_text())
    assert result["images"] == 99
    # chance is 1/7 (14%); always answering the largest class (surprise) gives 25%
    assert result["accuracy"] > 50.0


def test_ckplus_evaluate_over_a_folder_of_fold_models(tmp_path: Path, capsys) -> None:
    # ten untrained fold models over the fixture CK+: checks the fold plumbing and the summary.
    # The fixture holds 4 subjects; renaming each image to its own subject gives 21 subjects.
    import shutil

    from fer_core.data import load_ckplus

    ck = tmp_path / "ck"
    for i, src in enumerate(sorted(CK_FIXTURE.glob("*/*.png"))):
        (ck / src.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, ck / src.parent.name / f"S{i:03d}_001_00000001.png")
    faces = load_ckplus(ck)
    for k in range(1, 11):
        save_model(
            tmp_path / "folds" / f"fold{k:02d}" / "model.pt", create_model("fast", width=8),
            arch="fast", arch_config={"width": 8}, classes=faces.classes, preprocess=Preprocess(),
        )  # fmt: skip
    # the fixture has too few images for the seed protocol's blocks: use the subject protocol
    rc = main([
        "evaluate", "--weights", str(tmp_path / "folds"), "--dataset", "ckplus", "--data",
        str(ck), "--protocol", "subject", "--json", str(tmp_path / "ck.json"),
    ])  # fmt: skip
    out = capsys.readouterr().out
    if rc != 0:
        pytest.fail(out)
    result = json.loads((tmp_path / "ck.json").read_text())
    assert len(result["fold_accuracies"]) == 10
    assert "mean" in out and "fold 10" in out


def test_model_file_round_trip_in_fp16_and_bad_files(tmp_path: Path) -> None:
    net = create_model("fast", width=8).eval()
    p = save_model(
        tmp_path / "m.pt", net, arch="fast", arch_config={"width": 8},
        classes=("a", "b", "c", "d", "e", "f", "g"), preprocess=Preprocess(), half=True,
        meta={"note": "x"},
    )  # fmt: skip
    loaded = load_model(p)
    assert loaded.meta == {"note": "x"} and loaded.classes[0] == "a"
    import torch

    x = torch.randn(2, 1, 44, 44)
    with torch.inference_mode():
        assert torch.allclose(loaded.net(x), net(x), atol=2e-2)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        load_model(tmp_path / "junk.pt")
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.pt")
    assert main(["evaluate", "--weights", str(tmp_path / "junk.pt"), "--data", "x"]) == 2


def test_a_compacted_checkpoint_resumes(tmp_path: Path) -> None:
    """A bfloat16 copy of last.ckpt (what travels in git between sessions) is half the size
    and ``--resume`` continues from it with the weights it holds."""
    import torch

    from fer_core.training.compact_checkpoint import compact_checkpoint

    args = [
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--batch-size", "8", "--out", str(tmp_path), "--threads", "1",
    ]  # fmt: skip
    assert main([*args, "--epochs", "1"]) == 0
    ckpt = tmp_path / "last.ckpt"
    before, after = compact_checkpoint(ckpt, tmp_path / "small.pt")
    assert after < 0.7 * before
    full = torch.load(ckpt, weights_only=False)["model"]
    small = torch.load(tmp_path / "small.pt", weights_only=False)["model"]
    name = next(k for k, v in full.items() if v.is_floating_point() and v.numel() > 1)
    assert small[name].dtype == torch.bfloat16
    assert torch.allclose(small[name].float(), full[name], rtol=1e-2, atol=1e-3)
    (tmp_path / "small.pt").replace(ckpt)
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    epochs = [json.loads(x)["epoch"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
