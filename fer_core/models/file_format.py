"""One file per trained model: weights, architecture, config, classes, preprocessing, metadata.

A model file is a plain ``torch.save`` dict of tensors and primitives, so it loads with
``weights_only=True`` (no arbitrary code runs when a user opens a file someone sent them) and needs
no training arguments: the architecture is rebuilt from the registry by name and config, and the
input preprocessing (:class:`fer_core.preprocess.Preprocess`) is read from the file, never retyped.

Format 2 stores the preprocessing spec as one ``preprocess`` dict. Format-1 files are refused with
a message: every one of them was trained on an earlier, blurred copy of the FER2013 Training split
and expects inputs prepared in a way no inference path supports any more; retrain them.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fer_core.errors import ModelFileError
from fer_core.models.architectures import create_model
from fer_core.preprocess import Preprocess, PreprocessError

log = logging.getLogger(__name__)

FORMAT_VERSION = 2


@dataclass
class LoadedModel:
    """A network ready for inference plus everything needed to feed it and name its outputs."""

    net: nn.Module
    arch: str
    arch_config: dict[str, Any]
    classes: tuple[str, ...]
    preprocess: Preprocess = field(default_factory=Preprocess)
    name: str = ""
    version: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def save_model(
    path: str | Path,
    net: nn.Module,
    *,
    arch: str,
    arch_config: dict[str, Any],
    classes: tuple[str, ...] | list[str],
    preprocess: Preprocess,
    name: str = "",
    version: str = "",
    meta: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write a model file atomically; ``half=True`` stores float weights as fp16 (half the size)."""
    state = {}
    for k, v in net.state_dict().items():
        v = v.detach().cpu()
        state[k] = v.half() if half and v.is_floating_point() else v
    payload = {
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "arch_config": _plain(arch_config),
        "classes": list(classes),
        "preprocess": preprocess.to_dict(),
        "name": name or arch,
        "version": version,
        "meta": _plain(meta or {}),
        "state_dict": state,
    }
    return write_payload(payload, Path(path))


def write_payload(payload: dict[str, Any], path: Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then one rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def _plain(obj: Any) -> Any:
    """Convert tuples to lists recursively so the payload loads under ``weights_only``."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model file into an eval-mode float32 network on ``device``."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelFileError(f"{path} is not a readable model file: {exc}") from exc
    if not isinstance(payload, dict) or "arch" not in payload or "state_dict" not in payload:
        raise ModelFileError(f"{path} is not a fer_core model file (no arch/state_dict)")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format {payload['format_version']}; this fer_core reads up to "
            f"{FORMAT_VERSION}: upgrade fer_core"
        )
    pre = _preprocess_of(path, payload)
    classes = tuple(payload["classes"])
    net = create_model(payload["arch"], num_classes=len(classes), **payload["arch_config"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    net.load_state_dict(state)
    net.to(device).eval()
    return LoadedModel(
        net=net,
        arch=payload["arch"],
        arch_config=payload["arch_config"],
        classes=classes,
        preprocess=pre,
        name=str(payload.get("name", payload["arch"])),
        version=str(payload.get("version", "")),
        meta=dict(payload.get("meta", {})),
    )


def _preprocess_of(path: Path, payload: dict[str, Any]) -> Preprocess:
    """The file's preprocessing spec; files from before the spec existed are refused."""
    if "preprocess" not in payload:
        raise ModelFileError(
            f"{path} is a format-{payload.get('format_version', 1)} model file from before "
            "preprocessing specs: it was trained on the old, blurred FER2013 Training split and "
            "fer_core no longer prepares inputs the way it expects. Retrain it on the current "
            "data (docs/reproduction.md) or use a shipped model."
        )
    try:
        return Preprocess.from_dict(payload["preprocess"])
    except PreprocessError as exc:
        raise ModelFileError(f"{path} has an invalid preprocessing spec: {exc}") from exc


def with_temperature(
    src: str | Path, dst: str | Path, temperature: float, calibration: dict[str, Any]
) -> Path:
    """Copy a model file with ``temperature`` in its spec and ``calibration`` in its metadata.

    Why not load and save: the weights are copied as stored (fp16 stays fp16, byte for byte), so
    calibrating a shipped file changes its probabilities and nothing else.
    """
    src, dst = Path(src), Path(dst)
    load_model(src)  # refuses anything that is not a loadable model file, with its message
    payload = torch.load(src, map_location="cpu", weights_only=True)
    spec = dict(payload["preprocess"])
    spec["temperature"] = float(temperature)
    payload["preprocess"] = Preprocess.from_dict(spec).to_dict()
    payload["meta"] = {**payload.get("meta", {}), "calibration": _plain(calibration)}
    return write_payload(payload, dst)
