"""Which models the benchmarks time: shipped model files when present, else registry nets.

Weights do not change speed, so until a model file is committed a freshly built network of the
same architecture stands in for it; the moment ``models/<name>.pt`` exists it is used instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from fer_core.labels import FER2013_CLASSES
from fer_core.models.architectures import create_model
from fer_core.models.file_format import LoadedModel, load_model
from fer_core.models.shipped import shipped_models

log = logging.getLogger(__name__)

#: Models the product ships (or will): the default live model and the seed's network.
EXPECTED_MODELS: tuple[str, ...] = ("fast", "paper")


@dataclass
class BenchModel:
    """A model to time and where it came from (a file, or the registry with random weights)."""

    name: str
    model: LoadedModel
    source: str


def registry_model(arch: str, seed: int = 0) -> LoadedModel:
    """An untrained ``arch`` net wrapped as a LoadedModel (FER2013 classes, 48 -> 44 crops)."""
    torch.manual_seed(seed)
    net = create_model(arch, num_classes=len(FER2013_CLASSES)).eval()
    return LoadedModel(
        net=net, arch=arch, arch_config={}, classes=FER2013_CLASSES, name=arch
    )


def bench_models(extra_archs: tuple[str, ...] = ()) -> list[BenchModel]:
    """Every shipped live model, plus registry stand-ins for expected or requested ones not shipped.

    Only models with FER2013's classes can run the live pipeline (its log rows hold FER2013's seven
    probabilities); a CK+ research model is left out of the speed benchmarks.
    """
    found: list[BenchModel] = []
    for name, path in shipped_models().items():
        loaded = load_model(path)
        if tuple(loaded.classes) != FER2013_CLASSES:
            log.info("skipping %s: it predicts %s, not the live pipeline's classes", name,
                     ", ".join(loaded.classes))  # fmt: skip
            continue
        found.append(BenchModel(name, loaded, str(path)))
    have = {m.name for m in found} | {m.model.arch for m in found}
    for arch in (*EXPECTED_MODELS, *extra_archs):
        if arch not in have:
            log.info("no shipped %s model: timing an untrained registry net", arch)
            found.append(BenchModel(arch, registry_model(arch), "registry (untrained weights)"))
            have.add(arch)
    return found
