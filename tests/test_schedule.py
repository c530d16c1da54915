"""Learning-rate schedules, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from fer_core.training.trainer import TrainConfig, lr_at


def test_step_schedule_matches_the_lineage_decay() -> None:
    cfg = TrainConfig(lr=0.01, epochs=100, schedule="step", step_start=80, step_every=5,
                      step_gamma=0.9)  # fmt: skip
    assert lr_at(cfg, 0) == 0.01 and lr_at(cfg, 79) == 0.01
    assert lr_at(cfg, 80) == pytest.approx(0.009)
    assert lr_at(cfg, 84) == pytest.approx(0.009)
    assert lr_at(cfg, 85) == pytest.approx(0.0081)


def test_cosine_with_warmup() -> None:
    cfg = TrainConfig(lr=0.1, epochs=11, schedule="cosine", warmup_epochs=1)
    assert lr_at(cfg, 0, 0.5) == pytest.approx(0.05)
    assert lr_at(cfg, 1) == pytest.approx(0.1)
    assert lr_at(cfg, 6) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_at(cfg, 11) == pytest.approx(0.0, abs=1e-12)
