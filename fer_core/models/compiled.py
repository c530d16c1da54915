"""The shipped inference backend: the network traced into frozen, optimised TorchScript.

Why: on a 2-core laptop CPU, PyTorch eager mode spends a large share of a 10-crop forward pass on
per-operator dispatch and on BatchNorm as a separate pass. Tracing the network into TorchScript,
freezing it (weights become constants) and running ``optimize_for_inference`` folds BN into the
convolutions and fuses conv+ReLU, so the same arithmetic runs with less overhead. The benchmark
(``python -m fer_core bench inference``, docs/benchmarks.md) measured it at 0.73x eager's time
for the default ``fast`` model at the pipeline's own call (one face = 10 crops) and 0.87x for the
paper net, with a lower activation peak. So it is :data:`DEFAULT_BACKEND` of the PyTorch path
(a ``.pt`` model handed to the pipeline, ``FER_RUNTIME=torchscript``). The app itself runs the
shipped ONNX graphs with ONNX Runtime (:mod:`fer_core.classifier`), faster still and without torch.

Backends here (each returns a callable ``(N, 1, crop, crop) float32 -> (N, classes) logits``):

* ``eager``: the network itself, unchanged (the reference, and the fallback when tracing fails).
* ``torchscript``: trace + freeze + ``optimize_for_inference`` (default).

The PyTorch contenders that lost (channels_last, ``torch.compile``) and the in-memory ONNX
Runtime export live with the benchmark that compared them, :mod:`fer_core.bench.backends`,
which the runtime path never imports.

The backend computes the same function as eager: results agree within :data:`TOLERANCE` (max
absolute difference of softmax probabilities); ``tests/test_compiled.py`` checks that on real
fixture faces.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import torch
from torch import nn

from fer_core.models.file_format import LoadedModel

log = logging.getLogger(__name__)

Net = Callable[[torch.Tensor], torch.Tensor]

#: The backends the product ships: the reference and the compiled path.
BACKENDS: tuple[str, ...] = ("eager", "torchscript")
DEFAULT_BACKEND = "torchscript"
#: Max absolute difference of class probabilities between any backend and eager (float32
#: re-association in fused kernels gives ~1e-7; 1e-4 leaves room for other CPUs' kernels while
#: staying far below anything that could change a label or a logged confidence's 3rd decimal).
TOLERANCE = 1e-4
#: Batch used to trace: ten crops of one face, the pipeline's most common call.
TRACE_BATCH = 10


def optimize(model: LoadedModel | nn.Module, backend: str = DEFAULT_BACKEND) -> Net:
    """A callable computing ``model``'s logits through ``backend``; the model is left unchanged.

    Raises ``ValueError`` for a backend that is not shipped; tracing failures propagate (callers
    that prefer to degrade use :func:`optimize_or_eager`).
    """
    net = model.net if isinstance(model, LoadedModel) else model
    if backend not in BACKENDS:
        known = ", ".join(BACKENDS)
        raise ValueError(f"unknown inference backend {backend!r}; choose from {known}")
    net.eval()
    if backend == "eager":
        return net
    return _torchscript(net, example_input(model))


def optimize_or_eager(model: LoadedModel | nn.Module, backend: str = DEFAULT_BACKEND) -> Net:
    """:func:`optimize`, falling back to eager (with a warning) if the backend fails here.

    The live pipeline uses this: a network that cannot be traced must still run, only slower.
    """
    try:
        return optimize(model, backend)
    except ValueError:
        raise
    except Exception as exc:  # tracing failures are many and network-specific
        log.warning("inference backend %s unavailable (%s); using eager PyTorch", backend, exc)
        return model.net if isinstance(model, LoadedModel) else model


def example_input(model: LoadedModel | nn.Module) -> torch.Tensor:
    """Zeros shaped like the pipeline's commonest call (:data:`TRACE_BATCH` crops) on the net's
    device; a bare network is assumed to take the default 44x44 crops."""
    net = model.net if isinstance(model, LoadedModel) else model
    crop = model.preprocess.crop_size if isinstance(model, LoadedModel) else 44
    return torch.zeros(TRACE_BATCH, 1, crop, crop, device=_device_of(net))


def _device_of(net: nn.Module) -> torch.device:
    try:
        return next(net.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _torchscript(net: nn.Module, example: torch.Tensor) -> Net:
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # deprecated in favour of torch.compile, which recompiles per batch shape (see
        # fer_core.bench.backends), so unusable for a live stream whose face count changes
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(net, example, check_trace=False)
        frozen = torch.jit.freeze(traced)
        return torch.jit.optimize_for_inference(frozen)
