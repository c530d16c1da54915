"""Networks (not to be confused with the top-level ``models/`` folder of shipped weights)."""

from fer_core.nets import baselines, fastnet, paper  # noqa: F401  (registration side effects)
from fer_core.nets.complexity import count_macs, count_params
from fer_core.nets.registry import arch_info, create_model, list_models, register_model

__all__ = [
    "arch_info",
    "count_macs",
    "count_params",
    "create_model",
    "list_models",
    "register_model",
]
