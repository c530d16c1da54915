"""Cached distillation (``train --kd-cache``): the cache is the online teachers' ten-crop answer,
``--resume`` reuses it, another run's cache is refused, and mixup mixes the cached targets."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_core import preprocess_torch
from fer_core.cli import main
from fer_core.data import load_fer2013
from fer_core.models.file_format import load_model
from fer_core.models.shipped import resolve_model_path
from fer_core.preprocess import Preprocess
from fer_core.preprocess_torch import prepare_faces
from fer_core.training import teacher_cache
from fer_core.training.distill import Teachers, distillation_loss
from fer_core.training.teacher_cache import CACHE_FILE, TeacherCacheError, load_or_build
from fer_core.training.trainer import TrainConfig, _augment, _batch_loss, _build_run, _make_batch
from tests.core_data import FER_FIXTURE

pytestmark = pytest.mark.usefixtures("private_cache")

FAST = str(resolve_model_path("fast"))
PAPER = str(resolve_model_path("paper"))


def _faces(n: int = 6) -> np.ndarray:
    return load_fer2013(FER_FIXTURE, "Training").images[:n]


def test_the_cache_is_the_online_teachers_ten_crop_mean() -> None:
    faces = _faces()
    student_pre = Preprocess().with_stats(faces)  # other mean/std than either teacher's file
    teachers = Teachers([FAST, PAPER], student_pre, load_model(FAST).classes,
                        torch.device("cpu"), None, 4.0)  # fmt: skip
    # batches of 4 over 6 faces: the last batch is a partial one
    cached = teacher_cache.teacher_probs(teachers, faces, batch_size=4)
    # online: the student's ten crops of each face, renormalised per teacher by Teachers.probs
    x = prepare_faces(faces, student_pre)
    crops = preprocess_torch.test_crops(x, replace(student_pre, test_crops="ten"))
    online = teachers.probs(crops).reshape(len(faces), 10, -1).mean(dim=1).numpy()
    assert cached.shape == (6, 7) and cached.dtype == np.float32
    np.testing.assert_allclose(cached, online, atol=2e-6)
    np.testing.assert_allclose(cached.sum(axis=1), 1.0, atol=1e-5)
    # the ten crops matter: the centre crop alone gives other numbers
    centre = preprocess_torch.test_crops(x, replace(student_pre, test_crops="center"))
    assert np.abs(teachers.probs(centre).numpy() - cached).max() > 1e-3


def test_a_cache_for_other_teachers_temperature_or_faces_is_refused(tmp_path: Path) -> None:
    faces = _faces()
    path = tmp_path / CACHE_FILE
    built = []

    def make() -> Teachers:
        built.append(1)
        return Teachers([FAST], Preprocess(), load_model(FAST).classes, torch.device("cpu"),
                        None, 4.0)  # fmt: skip

    first = load_or_build(path, [FAST], 4.0, faces, make, 7)
    again = load_or_build(path, [FAST], 4.0, faces, make, 7)
    assert built == [1] and np.array_equal(first, again)
    with pytest.raises(TeacherCacheError, match="other temperature"):
        load_or_build(path, [FAST], 2.0, faces, make, 7)
    with pytest.raises(TeacherCacheError, match="other teachers_sha256"):
        load_or_build(path, [PAPER], 4.0, faces, make, 7)
    other = faces.copy()
    other[0, 0, 0] ^= 1  # one gray level of one face: another split, holdout or --limit
    with pytest.raises(TeacherCacheError, match="faces_sha256"):
        load_or_build(path, [FAST], 4.0, other, make, 7)
    with pytest.raises(TeacherCacheError, match="n_faces"):
        load_or_build(path, [FAST], 4.0, faces[:5], make, 7)
    assert built == [1]
    path.write_bytes(b"not a cache")
    with pytest.raises(TeacherCacheError, match="not a readable teacher cache"):
        load_or_build(path, [FAST], 4.0, faces, make, 7)


def test_mixup_mixes_the_cached_targets_like_the_faces() -> None:
    train = load_fer2013(FER_FIXTURE, "Training").subset(np.arange(8))
    cfg = TrainConfig(arch="fast", arch_config={"width": 4}, mixup_alpha=0.4, kd_weight=1.0,
                      kd_temperature=4.0, amp=False, teachers=[FAST], kd_cache=True)  # fmt: skip
    run = _build_run(cfg, train, torch.device("cpu"))
    run.net.eval()  # no batch statistics: the same batch gives the same logits twice
    batch = prepare_faces(train.images, run.pre)
    y = torch.from_numpy(train.labels)
    target = torch.softmax(torch.randn(8, 7, generator=torch.Generator().manual_seed(1)), 1)
    np.random.seed(3)
    run.gen.manual_seed(9)
    _, loss = _batch_loss(run, _make_batch(run, batch, y, target))
    # by hand: the same draws (crops, lambda, partner), the targets mixed like the faces
    np.random.seed(3)
    g = torch.Generator().manual_seed(9)
    x, _ = _augment(batch, cfg, g, run.pre)
    lam = float(np.random.beta(0.4, 0.4))
    partner = torch.randperm(8, generator=g)
    mixed = (lam * x + (1 - lam) * x[partner]).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        logits = run.net(mixed)
    want = distillation_loss(logits, lam * target + (1 - lam) * target[partner], 4.0)
    assert 0.05 < lam < 0.95 and not torch.equal(partner, torch.arange(8))
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-5)
    unmixed = distillation_loss(logits, target, 4.0)
    assert float(loss.detach()) != pytest.approx(float(unmixed), rel=1e-3)


@pytest.mark.train
def test_kd_cache_training_resumes_on_its_cache_and_refuses_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "run"
    args = ["train", "--arch", "fast", "--arch-config", '{"width": 4}', "--dataset", "fer2013",
            "--data", str(FER_FIXTURE), "--batch-size", "8", "--threads", "1", "--limit", "2",
            "--augment", "camera", "--mixup", "0.4", "--teacher", FAST, "--teacher", PAPER,
            "--kd-weight", "0.7", "--kd-cache", "--out", str(out)]  # fmt: skip
    assert main([*args, "--epochs", "1"]) == 0
    with np.load(out / CACHE_FILE) as data:
        probs = data["probs"]
        fp = json.loads(str(data["fingerprint"]))
    n = len(load_fer2013(FER_FIXTURE, "Training").images[::2])
    assert probs.shape == (n, 7) and fp["n_faces"] == n and fp["temperature"] == 4.0
    assert load_model(out / "model.pt").meta["train_config"]["kd_cache"] is True

    def no_rebuild(*_a: object, **_k: object) -> np.ndarray:
        raise AssertionError("--resume recomputed the teacher cache")

    monkeypatch.setattr(teacher_cache, "teacher_probs", no_rebuild)
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    epochs = [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main([*args, "--epochs", "3", "--resume", "--kd-temperature", "2"]) == 2
    assert "teacher cache" in caplog.text and "other temperature" in caplog.text
    with pytest.raises(ValueError, match="give at least one --teacher"):
        main([a for a in args if a not in ("--teacher", FAST, PAPER)] + ["--epochs", "1"])
