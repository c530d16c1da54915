"""Sharpness-aware minimisation (Foret et al. 2021), one of issue 21's routes to a better default.

Why: a network whose loss stays low in a whole neighbourhood of its weights (a flat minimum)
tends to hold up better on faces unlike its training set than one in a sharp minimum. SAM takes
each step with the gradient measured at the worst nearby point: the weights are moved by
``rho`` along the normalised gradient (the steepest ascent within a ball of radius ``rho``), the
loss is recomputed there on the very same batch, and that second gradient updates the *original*
weights. Each step therefore costs two forward and backward passes.

The trainer owns the optimizer, the loss and the gradient scaler; this module only moves the
weights out and back (exactly: the originals are copied, not subtracted back, so rounding cannot
drift them) and keeps the second pass from counting the batch twice in batch-norm statistics.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


def ascend(params: Sequence[nn.Parameter], rho: float) -> list[torch.Tensor] | None:
    """Move ``params`` by ``rho * g / ||g||`` (the gradient norm over all of them).

    Returns copies of the original values for :func:`restore`, or None (nothing moved) when the
    gradient is zero or not finite: under a float16 gradient scaler an overflowed step is skipped
    by the scaler anyway, and a zero gradient has no direction. The gradients may be scaled by a
    constant (the scaler's): the direction, and so the move, does not depend on it.
    """
    if rho <= 0:
        raise ValueError(f"SAM's rho must be positive, got {rho}")
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return None
    norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad.detach().float()) for p in with_grad])
    )
    if not bool(torch.isfinite(norm)) or float(norm) == 0.0:
        return None
    scale = rho / float(norm)
    originals = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in with_grad:
            p.add_(p.grad.detach().float().mul(scale).to(p.dtype))
    return originals


def restore(params: Sequence[nn.Parameter], originals: list[torch.Tensor] | None) -> None:
    """Put back the values :func:`ascend` copied (a no-op when it moved nothing)."""
    if originals is None:
        return
    with torch.no_grad():
        for p, original in zip(params, originals, strict=True):
            p.copy_(original)


@contextmanager
def batch_norm_stats_kept(net: nn.Module) -> Iterator[None]:
    """Undo whatever a training-mode pass does to batch-norm running statistics.

    SAM's second pass sees the same batch at perturbed weights; letting it update the running
    mean and variance would count that batch twice, at weights the model never keeps. Leave the
    block only after the backward pass: autograd checks that the buffers the forward pass read
    are unchanged.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [
        {name: buf.detach().clone() for name, buf in m.named_buffers(recurse=False)}
        for m in norms
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for module, buffers in zip(norms, saved, strict=True):
                for name, value in buffers.items():
                    getattr(module, name).copy_(value)
