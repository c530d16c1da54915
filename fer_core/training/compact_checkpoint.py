"""A small copy of a training checkpoint that can travel in git between sessions.

Why: a long CPU run (issue 21's 150-epoch student) outlives one development session, and a
later session may get a new machine where ``runs/`` is gone. ``last.ckpt`` holds the weights,
their EMA and the optimizer's momentum in float32 (18 MB for the ``fast`` student); stored in
bfloat16 they take half, and ``--resume`` loads them back as float32 (``load_state_dict``
copies into the float32 parameters and the optimizer casts its state to the parameters'
dtype). The run then continues from bfloat16-rounded values: a resumed run is no longer
bit-identical to an uninterrupted one, which a training run of this length does not need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def _to_bf16(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() > 1:
        return value.to(torch.bfloat16)
    if isinstance(value, dict):
        return {k: _to_bf16(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_bf16(v) for v in value]
    return value


def compact_checkpoint(src: Path, dst: Path) -> tuple[int, int]:
    """Write ``src`` (a ``last.ckpt``) to ``dst`` with its float tensors in bfloat16; returns
    (bytes before, bytes after). RNG states, counters and the history are kept exactly."""
    state = torch.load(src, map_location="cpu", weights_only=False)
    for key in ("model", "ema", "optimizer"):
        if state.get(key) is not None:
            state[key] = _to_bf16(state[key])
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, dst)
    return src.stat().st_size, dst.stat().st_size
