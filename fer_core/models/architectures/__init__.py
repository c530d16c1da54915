"""Network architectures, built by name (the weights they are trained into ship in ``models/``)."""

from fer_core.models.architectures import (  # noqa: F401  (registration side effects)
    baselines,
    fastnet,
    paper,
)
from fer_core.models.architectures.complexity import count_macs, count_params
from fer_core.models.architectures.registry import (
    arch_info,
    create_model,
    list_models,
    register_model,
)

__all__ = [
    "arch_info",
    "count_macs",
    "count_params",
    "create_model",
    "list_models",
    "register_model",
]
