"""Export a model file's network to the ONNX graph the torch-free app runs (``<name>.onnx``).

Why: the app classifies with ONNX Runtime (:mod:`fer_core.classifier`) so it installs without
PyTorch. ``ship`` writes the graph beside every shipped file and ``python -m fer_core export-onnx``
writes it for any other model file. The graph takes fixed-size crops
(``(n, 1, crop, crop)`` float32, the batch axis dynamic) and returns logits: the preprocessing,
the test-time crops and the temperature softmax stay outside it, in numpy, read from the spec
that the ``.pt`` file holds, copied into the graph's metadata with the ``.pt``'s SHA-256 (so a
stale graph is detected, :func:`fer_core.classifier.load_onnx`).

Before it is written, the graph is run with ONNX Runtime on random crops and compared with the
PyTorch network: a graph that disagrees by more than :data:`fer_core.classifier.TOLERANCE` in any
probability is refused. ``tests/test_onnx.py`` checks the shipped graphs on real faces.
Needs the ``train`` extra (torch, onnx) and onnxruntime.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_core.classifier import (
    ONNX_META_FORMAT,
    ONNX_META_KEY,
    TOLERANCE,
    file_sha256,
    load_onnx,
    onnx_path_for,
)
from fer_core.errors import ModelFileError
from fer_core.models.compiled import TRACE_BATCH
from fer_core.models.file_format import load_model

log = logging.getLogger(__name__)


def export_onnx(weights: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write ``weights``' network as an ONNX graph (default: beside it, ``.onnx``); return it.

    The default ONNX opset of the installed torch's exporter is used. Raises
    :class:`~fer_core.errors.ModelFileError` when the graph does not compute the network's
    probabilities within tolerance.
    """
    import onnx

    weights = Path(weights)
    out = Path(out) if out is not None else onnx_path_for(weights)
    model = load_model(weights)
    c = model.preprocess.crop_size
    net = model.net.eval()
    buf = io.BytesIO()
    half = _stored_as_fp16(net)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notice
        torch.onnx.export(
            net, (torch.zeros(TRACE_BATCH, 1, c, c),), buf,
            input_names=["crops"], output_names=["logits"],
            dynamic_axes={"crops": {0: "n"}, "logits": {0: "n"}}, dynamo=False,
            # an fp16 file keeps its BatchNorm apart: folding it into the convolutions would
            # make weights that fp16 cannot hold, and the graph twice the size it needs
            do_constant_folding=not half,
            training=torch.onnx.TrainingMode.PRESERVE if half else torch.onnx.TrainingMode.EVAL,
        )  # fmt: skip
    graph = onnx.load_from_string(buf.getvalue())
    if half:
        log.info("%d weight tensors stored as fp16 in the graph", _store_fp16(graph))
    meta = {
        "format": ONNX_META_FORMAT,
        "name": model.name,
        "version": model.version,
        "arch": model.arch,
        "classes": list(model.classes),
        "preprocess": model.preprocess.to_dict(),
        "source": weights.name,
        "source_sha256": file_sha256(weights),
    }
    entry = graph.metadata_props.add()
    entry.key, entry.value = ONNX_META_KEY, json.dumps(meta, sort_keys=True)
    graph.producer_name = "fer_core export-onnx"
    onnx.checker.check_model(graph)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        Path(tmp).write_bytes(graph.SerializeToString())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the graph from other users of the app
        diff = _max_prob_diff(net, Path(tmp), c)
        if diff > TOLERANCE:
            raise ModelFileError(
                f"the ONNX graph of {weights} differs from the network by {diff:.2e} in a "
                f"probability (tolerance {TOLERANCE}): not written"
            )
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    log.info("wrote %s (max probability difference on random crops %.1e)", out, diff)
    return out


def _stored_as_fp16(net: torch.nn.Module) -> bool:
    """True when every float weight and buffer is an fp16 value (a shipped fp16 model file)."""
    for v in net.state_dict().values():
        if v.is_floating_point() and not torch.equal(v.half().float(), v.float()):
            return False
    return True


def _store_fp16(graph: Any) -> int:
    """Store each float32 initializer that is exactly an fp16 value as fp16, cast back on load.

    Why: shipped model files hold fp16 weights, so their graph can too, losslessly: half the
    bytes in git and on disk. The graph still computes in float32 (ONNX Runtime folds the casts
    once, when the session is created). Returns how many tensors were converted.
    """
    from onnx import TensorProto, helper, numpy_helper

    kept, casts = [], []
    for t in graph.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype == np.float32 and np.array_equal(a.astype(np.float16).astype(np.float32), a):
            half = numpy_helper.from_array(a.astype(np.float16), f"{t.name}__fp16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [t.name], to=TensorProto.FLOAT,
                                          name=f"{t.name}__cast"))  # fmt: skip
        else:
            kept.append(t)
    nodes = list(graph.graph.node)
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(kept)
    del graph.graph.node[:]
    graph.graph.node.extend([*casts, *nodes])  # the casts first: nodes stay in dependency order
    return len(casts)


def _max_prob_diff(net: torch.nn.Module, graph: Path, crop: int, n: int = 40) -> float:
    """Max absolute softmax difference between ``net`` and the graph on random crops."""
    x = np.random.default_rng(0).normal(0.0, 1.0, (n, 1, crop, crop)).astype(np.float32)
    with torch.inference_mode():
        ref = torch.softmax(net(torch.from_numpy(x)).float(), 1).numpy()
    got = load_onnx(graph).logits(x)
    got = np.exp(got - got.max(1, keepdims=True))
    got /= got.sum(1, keepdims=True)
    return float(np.abs(got - ref).max())
