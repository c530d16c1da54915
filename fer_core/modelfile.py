"""One file per trained model: weights, architecture, config, classes, preprocessing, metadata.

A model file is a plain ``torch.save`` dict of tensors and primitives, so it loads with
``weights_only=True`` (no arbitrary code runs when a user opens a file someone sent them) and needs
no training arguments: the architecture is rebuilt from the registry by name and config.
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

from fer_core.errors import FerError
from fer_core.nets import create_model

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class LoadedModel:
    """A network ready for inference plus everything needed to feed it and name its outputs."""

    net: nn.Module
    arch: str
    arch_config: dict[str, Any]
    classes: tuple[str, ...]
    input_size: int = 48
    crop_size: int = 44
    mean: float = 0.0
    std: float = 1.0
    input_blur: float = 0.0  # Gaussian sigma applied to every input face (see data/shift.py)
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
    mean: float,
    std: float,
    name: str = "",
    version: str = "",
    meta: dict[str, Any] | None = None,
    half: bool = False,
    input_size: int = 48,
    crop_size: int = 44,
    input_blur: float = 0.0,
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
        "input_size": input_size,
        "crop_size": crop_size,
        "mean": float(mean),
        "std": float(std),
        "input_blur": float(input_blur),
        "name": name or arch,
        "version": version,
        "meta": _plain(meta or {}),
        "state_dict": state,
    }
    path = Path(path)
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


class ModelFileError(FerError, ValueError):
    """A file is not a model file this version of fer_core can load."""


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
        input_size=int(payload.get("input_size", 48)),
        crop_size=int(payload.get("crop_size", 44)),
        mean=float(payload["mean"]),
        std=float(payload["std"]),
        input_blur=float(payload.get("input_blur", 0.0)),
        name=str(payload.get("name", payload["arch"])),
        version=str(payload.get("version", "")),
        meta=dict(payload.get("meta", {})),
    )
