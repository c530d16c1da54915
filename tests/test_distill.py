"""Distillation: the loss by hand, and a student trained from a teacher through the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from fer_core.cli import main
from fer_core.models.file_format import load_model
from fer_core.models.shipped import resolve_model_path
from fer_core.training.distill import distillation_loss
from tests.core_data import FER_FIXTURE


def test_distillation_loss_by_hand() -> None:
    # student logits [0, 0] at T=2 -> [0.5, 0.5]; teacher [0.8, 0.2]:
    # KL = 0.8 ln(0.8/0.5) + 0.2 ln(0.2/0.5), times T^2 = 4
    teacher = torch.tensor([[0.8, 0.2]])
    got = distillation_loss(torch.zeros(1, 2), teacher, 2.0)
    want = 4 * (0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5))
    assert float(got) == pytest.approx(want, rel=1e-5)
    # a student that already matches the teacher has nothing to learn
    logits = torch.log(teacher) * 2.0
    assert float(distillation_loss(logits, teacher, 2.0)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.train
@pytest.mark.usefixtures("private_cache")
def test_a_student_trains_from_a_teacher(tmp_path: Path) -> None:
    common = ["--dataset", "fer2013", "--data", str(FER_FIXTURE), "--epochs", "1",
              "--batch-size", "8", "--threads", "1"]  # fmt: skip
    assert main(["train", "--arch", "fast", "--arch-config", '{"width": 8}', *common,
                 "--out", str(tmp_path / "teacher")]) == 0  # fmt: skip
    teacher = tmp_path / "teacher" / "model.pt"
    assert main(["train", "--arch", "fast", "--arch-config", '{"width": 4}', *common,
                 "--teacher", str(teacher), "--teacher", str(teacher), "--kd-weight", "0.7",
                 "--out", str(tmp_path / "student")]) == 0  # fmt: skip
    cfg = load_model(tmp_path / "student" / "model.pt").meta["train_config"]
    assert cfg["teachers"] == [str(teacher), str(teacher)] and cfg["kd_weight"] == 0.7
    with pytest.raises(ValueError, match="predicts"):
        # a CK+ model (other classes) cannot teach a FER2013 student
        main(["train", "--arch", "fast", "--arch-config", '{"width": 4}', *common,
              "--teacher", str(resolve_model_path("ckplus")),
              "--out", str(tmp_path / "bad")])  # fmt: skip


def test_camera_distillation_shows_the_teacher_the_same_crop_of_the_clean_face() -> None:
    from fer_core.preprocess import Preprocess
    from fer_core.training.trainer import TrainConfig, _augment
    from fer_core.transforms import (
        apply_affine,
        apply_erasing,
        random_affine_crop_flip,
        random_affine_theta,
        random_camera,
        random_erasing,
        random_erasing_mask,
    )

    faces = torch.randn(16, 1, 48, 48, generator=torch.Generator().manual_seed(3))
    pre = Preprocess(mean=0.5, std=0.25)
    cfg = TrainConfig(augment="camera")
    student, teacher = _augment(faces, cfg, torch.Generator().manual_seed(7), pre,
                                clean_view=True)  # fmt: skip
    assert teacher is not None and teacher.shape == student.shape == (16, 1, 44, 44)
    # the same draws, by hand: degradations, then one geometry and one erased box for both views
    g = torch.Generator().manual_seed(7)
    degraded = random_camera(faces, pixel_mean=0.5, pixel_std=0.25, generator=g)
    theta = random_affine_theta(16, 48, max_rotate_deg=30.0, generator=g)
    mask, noise = random_erasing_mask((16, 1, 44, 44), generator=g)
    assert torch.equal(student, apply_erasing(apply_affine(degraded, theta), mask, noise))
    assert torch.equal(teacher, apply_erasing(apply_affine(faces, theta), mask, noise))
    # some faces were degraded (p=0.2 for each of four kinds): the two views differ there only
    differs = (student != teacher).flatten(1).any(1)
    assert 0 < int(differs.sum()) < 16
    # without a teacher the student's batch is what the recipe gave before views existed
    g = torch.Generator().manual_seed(7)
    old = random_camera(faces, pixel_mean=0.5, pixel_std=0.25, generator=g)
    old = random_erasing(
        random_affine_crop_flip(old, max_rotate_deg=30.0, generator=g), generator=g
    )
    alone, none = _augment(faces, cfg, torch.Generator().manual_seed(7), pre)
    assert none is None and torch.equal(alone, old)


@pytest.mark.parametrize("p", [0.0, 0.35, 1.0])
def test_camera_p_sets_how_often_each_degradation_is_drawn(p: float) -> None:
    """``train --camera-p``: the recipe's degradations come with the configured probability
    (0: the student sees the clean face; 1: every face is degraded)."""
    from fer_core.preprocess import Preprocess
    from fer_core.training.trainer import TrainConfig, _augment
    from fer_core.transforms import random_camera

    faces = torch.randn(64, 1, 48, 48, generator=torch.Generator().manual_seed(3))
    pre = Preprocess(mean=0.5, std=0.25)
    cfg = TrainConfig(augment="camera", camera_p=p)
    student, teacher = _augment(faces, cfg, torch.Generator().manual_seed(7), pre,
                                clean_view=True)  # fmt: skip
    differs = int((student != teacher).flatten(1).any(1).sum())
    if p == 0.0:
        assert differs == 0
    elif p == 1.0:
        assert differs == 64
    else:  # the same draws as random_camera with p, by hand
        expected = random_camera(faces, pixel_mean=0.5, pixel_std=0.25, p=p,
                                 generator=torch.Generator().manual_seed(7))  # fmt: skip
        assert differs == int((expected != faces).flatten(1).any(1).sum())


def test_train_refuses_a_camera_p_outside_0_1(tmp_path) -> None:
    with pytest.raises(SystemExit, match="--camera-p is a probability"):
        main(["train", "--arch", "fast", "--dataset", "fer2013", "--data", "x",
              "--augment", "camera", "--camera-p", "1.5", "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()
