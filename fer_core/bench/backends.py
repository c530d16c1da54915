"""Inference backends that were benchmarked against the shipped one and not adopted.

Why they live here and not in :mod:`fer_core.models`: the product ships one compiled path
(:mod:`fer_core.models.compiled`: TorchScript, with eager as reference and fallback). These
contenders exist only so ``python -m fer_core bench inference`` can keep re-measuring that choice
(docs/benchmarks.md, "Inference"). They sit in the library's benchmark package rather than in the
top-level ``benchmarks/`` scripts because the ``bench`` command is part of the installed CLI and
the library must not import from an uninstalled folder. Nothing on the runtime path (pipeline,
recording, analyze, dashboard) imports this module; ``tests/test_compiled.py`` checks that.

Backends (all return a callable ``(N, 1, crop, crop) float32 -> (N, classes) logits``):

* ``eager``, ``torchscript``: the shipped ones, from :mod:`fer_core.models.compiled`.
* ``channels_last``: eager on NHWC tensors (oneDNN prefers it for some convolutions); it helped
  the paper net, not the default model.
* ``compile``: ``torch.compile``; needs a C++ compiler and compiles again for each new batch
  shape, so it suits fixed-batch offline work, not a live stream whose face count changes.
* ``onnxruntime``: export to ONNX in memory and run with ONNX Runtime, behind the tensor call of
  the others; needs ``onnx`` (the train extra). The app itself runs the shipped graphs through
  :mod:`fer_core.classifier` (issue 20); ``benchmarks/bench_classifier_runtimes.py`` times that.

Each must compute the same function as eager within
:data:`fer_core.models.compiled.TOLERANCE`; ``tests/test_bench_backends.py`` checks the ones that
run here.
"""

from __future__ import annotations

import copy
import io
import threading
import warnings

import numpy as np
import torch
from torch import nn

from fer_core.models import compiled
from fer_core.models.compiled import Net, example_input
from fer_core.models.file_format import LoadedModel

#: Every backend the inference benchmark can time: the shipped ones first, then the contenders.
BACKENDS: tuple[str, ...] = (*compiled.BACKENDS, "channels_last", "compile", "onnxruntime")


def available_backends() -> list[str]:
    """Backends usable in this environment (``onnxruntime`` only with onnx and onnxruntime)."""
    names = [b for b in BACKENDS if b != "onnxruntime"]
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return names
    return [*names, "onnxruntime"]


def build(model: LoadedModel | nn.Module, backend: str) -> Net:
    """A callable computing ``model``'s logits through any benchmarked ``backend``.

    Raises ``ValueError`` for an unknown backend and ``RuntimeError`` when the backend cannot
    be used here (for example ``onnxruntime`` not installed).
    """
    if backend in compiled.BACKENDS:
        return compiled.optimize(model, backend)
    if backend not in BACKENDS:
        known = ", ".join(BACKENDS)
        raise ValueError(f"unknown inference backend {backend!r}; choose from {known}")
    net = model.net if isinstance(model, LoadedModel) else model
    net.eval()
    if backend == "channels_last":
        return _channels_last(net)
    if backend == "compile":
        return torch.compile(net)
    return _onnxruntime(net, example_input(model))


class _ChannelsLast(nn.Module):
    """Eager network on NHWC memory; the input is converted on every call (a cheap copy)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))


def _channels_last(net: nn.Module) -> Net:
    return _ChannelsLast(copy.deepcopy(net).to(memory_format=torch.channels_last).eval())


class _OrtNet(nn.Module):
    """An ONNX Runtime session behind the same tensor-in, tensor-out call as a network."""

    def __init__(self, session: object, device: torch.device) -> None:
        super().__init__()
        self.session = session
        self.device = device
        self._lock = threading.Lock()  # one session, callers on several threads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        with self._lock:
            out = self.session.run(None, {"x": arr})[0]  # type: ignore[attr-defined]
        return torch.from_numpy(out).to(self.device)


def _onnxruntime(net: nn.Module, example: torch.Tensor) -> Net:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise RuntimeError(
            "the onnxruntime backend needs the onnxruntime and onnx packages "
            "(pip install '.[train]')"
        ) from exc
    buf = io.BytesIO()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript-based exporter
        torch.onnx.export(
            net,
            (example.cpu(),),
            buf,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
            dynamo=False,
        )
    opts = ort.SessionOptions()
    # match torch's thread setting so side-by-side timings compare like with like
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    return _OrtNet(session, example.device)
