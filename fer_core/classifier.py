"""One object per loaded model: the runtime computing logits, the spec feeding it, its device.

Why: the app classifies a few faces per frame for hours. Everything that does not change between
frames (the network or ONNX Runtime session, the preprocessing spec with the session's test-time
crops, the device) is decided once, when the model is loaded, and held by one
:class:`Classifier`; :func:`fer_core.inference.predict_faces` only runs it.

Two runtimes compute the same function (max absolute probability difference at most
:data:`TOLERANCE` on real faces, ``tests/test_onnx.py``):

* ``onnxruntime``: the ONNX graph shipped beside the model file (``models/<name>.onnx``, written
  by ``ship`` or ``python -m fer_core export-onnx``), run on the CPU by ONNX Runtime. It needs no
  torch, so the app installs without it (``pip install .``, docs in README.md).
* ``torchscript`` / ``eager``: the ``.pt`` file's network through PyTorch
  (:mod:`fer_core.models.compiled`); needs the ``train`` extra.

Which one :func:`load_classifier` picks: ``FER_RUNTIME`` (``onnxruntime``, ``torchscript``,
``eager``, or ``auto``, the default). ``auto`` takes ONNX Runtime when the ``.onnx`` beside the file
exists, was exported from this very ``.pt`` (its SHA-256 is recorded in the graph) and ONNX
Runtime is installed, and PyTorch otherwise.

The model file stays the one source of truth: the ``.onnx`` carries a copy of the file's name,
version, classes and preprocessing spec in its metadata, plus the SHA-256 of the ``.pt`` it was
exported from; a ``.pt`` changed after export (recalibrated, retrained) no longer matches, and the
stale graph is refused rather than silently run with an old temperature.

This module imports neither torch nor ONNX Runtime at import time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.errors import ModelFileError
from fer_core.preprocess import Preprocess, crop_array, prepare_array, probs_from_logits_array

if TYPE_CHECKING:
    from fer_core.models.file_format import LoadedModel

log = logging.getLogger(__name__)

#: Runtimes a classifier can use; ``auto`` (``FER_RUNTIME``'s default) picks one of them.
RUNTIMES: tuple[str, ...] = ("onnxruntime", "torchscript", "eager")
RUNTIME_ENV = "FER_RUNTIME"
#: Key of the ONNX graph's metadata entry that holds the model file's spec (JSON).
ONNX_META_KEY = "fer_core.model"
ONNX_META_FORMAT = 1
#: Max absolute difference of class probabilities between runtimes (as
#: :data:`fer_core.models.compiled.TOLERANCE`, without importing torch).
TOLERANCE = 1e-4

#: (n, 1, crop, crop) float32 -> (n, classes) float32 logits
LogitsFn = Callable[[np.ndarray], np.ndarray]


class RuntimeUnavailableError(ModelFileError):
    """The requested runtime cannot run this model here (package missing, no or stale .onnx)."""


@dataclass(frozen=True)
class Classifier:
    """A model ready to classify faces: built once per loaded model, used for every frame.

    Attributes:
        logits: the runtime's call, prepared crops (n, 1, c, c) float32 -> (n, classes) logits.
        net: what runs underneath (a torch module, a TorchScript module or an ONNX Runtime
            session), for introspection only.
        preprocess: the model file's spec, with the test-time crops this classifier uses.
        runtime: ``onnxruntime``, ``torchscript`` or ``eager`` (what actually runs, after any
            fallback).
        device: where the runtime computes (ONNX Runtime: always ``cpu``).
    """

    logits: LogitsFn
    net: Any
    name: str
    version: str
    classes: tuple[str, ...]
    preprocess: Preprocess
    runtime: str
    device: str = "cpu"

    def with_crops(self, crops: str | None) -> Classifier:
        """The same runtime with other test-time crops (``None`` or the same: ``self``)."""
        if crops is None or crops == self.preprocess.test_crops:
            return self
        return dataclasses.replace(
            self, preprocess=dataclasses.replace(self.preprocess, test_crops=crops)
        )

    def predict(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, classes) of uint8 faces (N, S, S) under the spec.

        The crops of a whole batch go through the runtime as one call.
        """
        pre = self.preprocess
        out = []
        for i in range(0, len(images), batch_size):
            crops = crop_array(prepare_array(images[i : i + batch_size], pre), pre)
            out.append(probs_from_logits_array(np.asarray(self.logits(crops)), pre))
        if not out:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

    @classmethod
    def from_model(
        cls, model: LoadedModel, backend: str = "torchscript", crops: str | None = None
    ) -> Classifier:
        """A PyTorch classifier for a loaded ``.pt`` model (``torchscript`` falls back to eager
        with a warning when tracing fails; an unknown backend is a ``ValueError``)."""
        import torch

        from fer_core.models.compiled import optimize_or_eager

        net = optimize_or_eager(model, backend)
        try:
            device = next(model.net.parameters()).device
        except StopIteration:
            device = torch.device("cpu")

        def logits(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return net(torch.from_numpy(x).to(device)).float().cpu().numpy()

        runtime = "eager" if net is model.net else backend
        return cls(
            logits=logits, net=net, name=model.name, version=model.version,
            classes=tuple(model.classes), preprocess=model.preprocess, runtime=runtime,
            device=str(device),
        ).with_crops(crops)  # fmt: skip


def onnx_path_for(model_path: str | os.PathLike) -> Path:
    """Where a model file's ONNX graph lives: beside it, same name, ``.onnx``."""
    return Path(model_path).with_suffix(".onnx")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (how an ``.onnx`` names the ``.pt`` it came from)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def torch_available() -> bool:
    """Whether PyTorch can be imported here (the ``train`` extra is installed)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime can be imported here."""
    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):
        return False


def load_classifier(
    path: str | os.PathLike,
    *,
    runtime: str | None = None,
    device: str = "cpu",
    crops: str | None = None,
) -> Classifier:
    """The classifier of a model file (``.pt``, or its ``.onnx`` directly).

    ``runtime``: one of :data:`RUNTIMES` or ``"auto"``; ``None`` reads ``FER_RUNTIME`` (default
    ``auto``, see the module docstring). ``crops`` overrides the file's test-time crops.
    """
    path = Path(path)
    choice = runtime or os.environ.get(RUNTIME_ENV, "") or "auto"
    if choice not in ("auto", *RUNTIMES):
        raise ValueError(
            f"unknown runtime {choice!r} ({RUNTIME_ENV}); choose from auto, {', '.join(RUNTIMES)}"
        )
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    if path.suffix == ".onnx":
        if choice not in ("auto", "onnxruntime"):
            raise ValueError(f"{path} is an ONNX graph: it runs with onnxruntime, not {choice}")
        pt = path.with_suffix(".pt")
        return load_onnx(path, pt if pt.is_file() else None).with_crops(crops)
    onnx = onnx_path_for(path)
    if choice == "auto":
        if device == "cpu" and onnx.is_file() and onnxruntime_available():
            try:
                return load_onnx(onnx, path).with_crops(crops)
            except RuntimeUnavailableError as exc:
                if not torch_available():
                    raise
                log.warning("%s; running %s with PyTorch instead", exc, path.name)
        elif not torch_available():
            raise RuntimeUnavailableError(
                f"{path.name} has no ONNX graph beside it ({onnx.name}) "
                + ("" if onnxruntime_available() else "and ONNX Runtime is not installed ")
                + "and PyTorch is not installed: export one with `python -m fer_core export-onnx "
                f"--weights {path}` where torch is installed, or install the train extra "
                "(pip install '.[train]')"
            )
        choice = "torchscript"
    if choice == "onnxruntime":
        if not onnx.is_file():
            raise RuntimeUnavailableError(
                f"no ONNX graph {onnx} for {path.name}: run `python -m fer_core export-onnx "
                f"--weights {path}`"
            )
        return load_onnx(onnx, path).with_crops(crops)
    if not torch_available():
        raise RuntimeUnavailableError(
            f"runtime {choice} needs PyTorch, which is not installed (pip install '.[train]')"
        )
    from fer_core.models.file_format import load_model

    return Classifier.from_model(load_model(path, device), choice, crops)


def load_onnx(onnx: Path, source: Path | None = None) -> Classifier:
    """An ONNX Runtime classifier for an exported graph; ``source``: the ``.pt`` it must match."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise RuntimeUnavailableError(
            "ONNX Runtime is not installed (pip install onnxruntime, a core dependency)"
        ) from exc
    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # warnings about unused initialisers are noise here
    try:
        session = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
        raise ModelFileError(f"{onnx} is not a readable ONNX graph: {exc}") from exc
    meta = _onnx_meta(onnx, session.get_modelmeta().custom_metadata_map)
    if source is not None and meta.get("source_sha256") != file_sha256(source):
        raise RuntimeUnavailableError(
            f"{onnx.name} was exported from another {source.name} (the model file changed "
            f"after export): run `python -m fer_core export-onnx --weights {source}`"
        )
    input_name = session.get_inputs()[0].name

    def logits(x: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: x})[0]

    return Classifier(
        logits=logits, net=session, name=meta["name"], version=meta["version"],
        classes=tuple(meta["classes"]), preprocess=meta["preprocess"], runtime="onnxruntime",
    )  # fmt: skip


def _onnx_meta(onnx: Path, props: dict[str, str]) -> dict[str, Any]:
    """The model file's spec as stored in the graph's metadata, checked."""
    raw = props.get(ONNX_META_KEY)
    if raw is None:
        raise ModelFileError(
            f"{onnx} has no {ONNX_META_KEY!r} metadata: it was not exported by fer_core "
            "(python -m fer_core export-onnx)"
        )
    try:
        meta = json.loads(raw)
        if meta.get("format", 0) > ONNX_META_FORMAT:
            raise ModelFileError(f"{onnx} has ONNX metadata format {meta['format']}: upgrade")
        meta["preprocess"] = Preprocess.from_dict(meta["preprocess"])
        meta["classes"] = [str(c) for c in meta["classes"]]
        meta["name"], meta["version"] = str(meta["name"]), str(meta.get("version", ""))
    except ModelFileError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{onnx} has invalid {ONNX_META_KEY!r} metadata: {exc}") from exc
    return meta
