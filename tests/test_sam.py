"""Sharpness-aware steps (``train --sam-rho``): the gradient of the sharpest nearby weights
updates the original weights, batch-norm statistics count each batch once."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fer_core.cli import main
from fer_core.data import load_fer2013
from fer_core.models.file_format import load_model
from fer_core.preprocess_torch import prepare_faces
from fer_core.training import sam
from fer_core.training.trainer import TrainConfig, _batch_loss, _build_run, _make_batch, _optimise
from tests.core_data import FER_FIXTURE


def _net_with_grads(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    net(torch.randn(8, 5)).pow(2).sum().backward()
    return net


def test_ascend_moves_by_rho_along_the_gradient_and_restore_is_exact() -> None:
    net = _net_with_grads()
    params = list(net.parameters())
    before = [p.detach().clone() for p in params]
    grads = torch.cat([p.grad.flatten() for p in params])
    originals = sam.ascend(params, 0.05)
    moved = torch.cat([(p.detach() - b).flatten() for p, b in zip(params, before, strict=True)])
    assert float(moved.norm()) == pytest.approx(0.05, rel=1e-4)
    torch.testing.assert_close(moved, 0.05 * grads / grads.norm(), rtol=1e-4, atol=1e-7)
    sam.restore(params, originals)
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))


def test_ascend_does_not_depend_on_a_gradient_scale_and_skips_what_has_no_direction() -> None:
    a, b = _net_with_grads(), _net_with_grads()
    for p in b.parameters():
        p.grad.mul_(1024.0)  # what a float16 gradient scaler does
    sam.ascend(list(a.parameters()), 0.05)
    sam.ascend(list(b.parameters()), 0.05)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)
    c = _net_with_grads()
    before = [p.detach().clone() for p in c.parameters()]
    next(c.parameters()).grad[0, 0] = float("inf")  # an overflowed step: the scaler skips it
    assert sam.ascend(list(c.parameters()), 0.05) is None
    for p in c.parameters():
        p.grad.zero_()
    assert sam.ascend(list(c.parameters()), 0.05) is None
    assert all(torch.equal(p, q) for p, q in zip(c.parameters(), before, strict=True))
    with pytest.raises(ValueError, match="rho must be positive"):
        sam.ascend(list(c.parameters()), 0.0)


def test_batch_norm_stats_kept_undoes_a_training_pass() -> None:
    net = _net_with_grads()
    norm = net[1]
    mean, var, count = (norm.running_mean.clone(), norm.running_var.clone(),
                        norm.num_batches_tracked.clone())  # fmt: skip
    with sam.batch_norm_stats_kept(net):
        net(torch.randn(8, 5) + 3.0)
        assert not torch.equal(norm.running_mean, mean)
    assert torch.equal(norm.running_mean, mean) and torch.equal(norm.running_var, var)
    assert torch.equal(norm.num_batches_tracked, count)


def test_a_sam_step_updates_the_original_weights_with_the_sharp_gradient() -> None:
    train = load_fer2013(FER_FIXTURE, "Training").subset(np.arange(8))
    cfg = TrainConfig(arch="fast", arch_config={"width": 4}, amp=False, lr=0.1, nesterov=True,
                      sam_rho=0.05)  # fmt: skip
    run = _build_run(cfg, train, torch.device("cpu"))
    run.net.train()
    faces = prepare_faces(train.images, run.pre)
    y = torch.from_numpy(train.labels)
    b = _make_batch(run, faces, y)
    start = copy.deepcopy(run.net)
    # by hand: the gradient at the start, the move, the gradient there on the same batch
    probe = _with_net(run, copy.deepcopy(start))
    torch.manual_seed(7)  # the same dropout draws in both passes as in the step below
    _, loss = _batch_loss(probe, b)
    loss.backward()
    params = [p for p in probe.net.parameters() if p.requires_grad]
    originals = sam.ascend(params, 0.05)
    assert originals is not None
    for p in params:
        p.grad = None
    with sam.batch_norm_stats_kept(probe.net):
        _, sharp = _batch_loss(probe, b)
        sharp.backward()
    sharp_grads = [p.grad.clone() for p in params]
    # the optimizer step from the *original* weights with those gradients
    want = copy.deepcopy(start)
    opt = torch.optim.SGD(want.parameters(), lr=0.1, momentum=cfg.momentum, nesterov=True,
                          weight_decay=cfg.weight_decay)  # fmt: skip
    for p, g in zip(want.parameters(), sharp_grads, strict=True):
        p.grad = g
    opt.step()
    torch.manual_seed(7)
    _, first_loss = _optimise(run, b)
    assert float(first_loss.detach()) == pytest.approx(float(loss.detach()))
    got, ref = dict(run.net.named_parameters()), dict(want.named_parameters())
    for name, p in got.items():
        torch.testing.assert_close(p, ref[name], rtol=1e-5, atol=1e-6, msg=name)
    # and SAM changed the step: plain SGD from the same start lands elsewhere
    plain = copy.deepcopy(start)
    opt = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=cfg.momentum, nesterov=True,
                          weight_decay=cfg.weight_decay)  # fmt: skip
    _, loss = _batch_loss(_with_net(run, plain), b)
    loss.backward()
    opt.step()
    assert any(not torch.allclose(p, q) for p, q in
               zip(plain.parameters(), run.net.parameters(), strict=True))  # fmt: skip
    # the batch-norm statistics moved once (the first pass), as in a plain step
    bn = next(m for m in run.net.modules() if isinstance(m, nn.BatchNorm2d))
    assert int(bn.num_batches_tracked) == 1


def _with_net(run, net: nn.Module):
    """The run with another network (same config, class weights and teachers)."""
    other = copy.copy(run)
    other.net = net
    return other


def test_train_with_sam_runs_and_records_rho(tmp_path: Path) -> None:
    rc = main([
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--epochs", "1", "--batch-size", "8", "--threads", "1",
        "--sam-rho", "0.05", "--out", str(tmp_path),
    ])  # fmt: skip
    assert rc == 0
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert np.isfinite(record["train_loss"])
    assert load_model(tmp_path / "model.pt").meta["train_config"]["sam_rho"] == 0.05
