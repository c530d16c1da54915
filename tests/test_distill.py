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
