"""Architecture registry: a network is one builder function and a name.

``create_model(name, **config)`` is the single factory; saved model files store the name and the
config, so any saved model is rebuilt from its file alone. ``list_models()`` lets the CLI, tests and
benchmarks enumerate every network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass(frozen=True)
class ArchInfo:
    """What a registered architecture is and how to build it."""

    name: str
    builder: Callable[..., nn.Module]
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, ArchInfo] = {}


def register_model(name: str, description: str, **defaults: Any) -> Callable:
    """Decorator: register ``builder(num_classes=..., **config) -> nn.Module`` under ``name``."""

    def deco(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} registered twice")
        _REGISTRY[name] = ArchInfo(name, builder, description, dict(defaults))
        return builder

    return deco


def list_models() -> list[str]:
    """Names of all registered architectures, sorted."""
    return sorted(_REGISTRY)


def arch_info(name: str) -> ArchInfo:
    """The registry entry for ``name``, with a helpful error for unknown names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r}; known: {', '.join(list_models())}"
        ) from None


def create_model(name: str, num_classes: int = 7, **config: Any) -> nn.Module:
    """Build architecture ``name`` with its defaults overridden by ``config``."""
    info = arch_info(name)
    merged = {**info.defaults, **config}
    return info.builder(num_classes=num_classes, **merged)
