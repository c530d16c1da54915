"""Optimised inference paths: ``optimize(model, backend) -> net`` for the live pipeline.

Why: on a 2-core laptop CPU, PyTorch eager mode spends a large share of a 10-crop forward pass on
per-operator dispatch and on BatchNorm as a separate pass. Tracing the network into TorchScript,
freezing it (weights become constants) and running ``optimize_for_inference`` folds BN into the
convolutions and fuses conv+ReLU, so the same arithmetic runs with less overhead. The benchmark
(``python -m fer_core bench inference``, docs/benchmarks.md) measured it at 0.73x eager's time
for the default ``fast`` model at the pipeline's own call (one face = 10 crops) and 0.87x for the
paper net, with a lower activation peak; ONNX Runtime tied it there but is not a dependency, and
channels_last only helped the paper net. So it is :data:`DEFAULT_BACKEND`.

Backends (all return a callable ``(N, 1, crop, crop) float32 -> (N, classes) logits``):

* ``eager``: the network itself, unchanged (reference).
* ``torchscript``: trace + freeze + ``optimize_for_inference`` (default).
* ``channels_last``: eager on NHWC tensors (oneDNN prefers it for some convolutions).
* ``compile``: ``torch.compile``; needs a C++ compiler and compiles again for each new batch
  shape, so it suits fixed-batch offline work, not a live stream whose face count changes.
* ``onnxruntime``: export to ONNX and run with ONNX Runtime; only when ``onnxruntime`` and ``onnx``
  are importable (not project dependencies: at the live path it only tied TorchScript).

Every backend computes the same function: results agree with eager within :data:`TOLERANCE`
(max absolute difference of softmax probabilities); ``tests/test_runtime.py`` checks that on real
fixture faces.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from fer_core.modelfile import LoadedModel

log = logging.getLogger(__name__)

Net = Callable[[torch.Tensor], torch.Tensor]

BACKENDS: tuple[str, ...] = ("eager", "torchscript", "channels_last", "compile", "onnxruntime")
DEFAULT_BACKEND = "torchscript"
#: Max absolute difference of class probabilities between any backend and eager (float32
#: re-association in fused kernels gives ~1e-7; 1e-4 leaves room for other CPUs' kernels while
#: staying far below anything that could change a label or a logged confidence's 3rd decimal).
TOLERANCE = 1e-4
#: Batch used to trace: ten crops of one face, the pipeline's most common call.
TRACE_BATCH = 10


def available_backends() -> list[str]:
    """Backends usable in this environment (``onnxruntime`` only when installed)."""
    names = ["eager", "torchscript", "channels_last", "compile"]
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return names
    return [*names, "onnxruntime"]


def optimize(model: LoadedModel | nn.Module, backend: str = DEFAULT_BACKEND) -> Net:
    """A callable computing ``model``'s logits through ``backend``; the model is left unchanged.

    Raises ``ValueError`` for an unknown backend and ``RuntimeError`` when the backend cannot
    be used here (for example ``onnxruntime`` not installed); callers that prefer to degrade can
    use :func:`optimize_or_eager`.
    """
    net = model.net if isinstance(model, LoadedModel) else model
    crop = model.preprocess.crop_size if isinstance(model, LoadedModel) else 44
    if backend not in BACKENDS:
        known = ", ".join(BACKENDS)
        raise ValueError(f"unknown inference backend {backend!r}; choose from {known}")
    net.eval()
    device = _device_of(net)
    example = torch.zeros(TRACE_BATCH, 1, crop, crop, device=device)
    if backend == "eager":
        return net
    if backend == "torchscript":
        return _torchscript(net, example)
    if backend == "channels_last":
        return _channels_last(net)
    if backend == "compile":
        return torch.compile(net)
    return _onnxruntime(net, example)


def optimize_or_eager(model: LoadedModel | nn.Module, backend: str = DEFAULT_BACKEND) -> Net:
    """:func:`optimize`, falling back to eager (with a warning) if the backend fails here.

    The live pipeline uses this: a network that cannot be traced must still run, only slower.
    """
    try:
        return optimize(model, backend)
    except ValueError:
        raise
    except Exception as exc:  # tracing/export failures are many and backend-specific
        log.warning("inference backend %s unavailable (%s); using eager PyTorch", backend, exc)
        return model.net if isinstance(model, LoadedModel) else model


def _device_of(net: nn.Module) -> torch.device:
    try:
        return next(net.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _torchscript(net: nn.Module, example: torch.Tensor) -> Net:
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # deprecated in favour of torch.compile, which recompiles per batch shape (see above)
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(net, example, check_trace=False)
        frozen = torch.jit.freeze(traced)
        return torch.jit.optimize_for_inference(frozen)


class _ChannelsLast(nn.Module):
    """Eager network on NHWC memory; the input is converted on every call (a cheap copy)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))


def _channels_last(net: nn.Module) -> Net:
    import copy

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
            "the onnxruntime backend needs the onnxruntime and onnx packages, which are not "
            "project dependencies (pip install onnxruntime onnx)"
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
