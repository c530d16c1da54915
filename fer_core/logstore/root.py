"""Where the store lives: explicit argument, environment variable, config file, or ``./logs``.

Order: the ``root`` passed to :class:`~fer_core.logstore.LogStore`; ``$FER_LOG_ROOT``; the
``[logstore] root`` key of the TOML file named by ``$FER_CONFIG`` or, if that is unset,
``./fer.toml`` (a relative root there is relative to the config file); finally
:func:`fer_core.config.log_root` (``./logs``, the project's embedded default store).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from fer_core import config

CONFIG_ENV = "FER_CONFIG"
DEFAULT_CONFIG = "fer.toml"


def resolve_root(root: str | Path | None = None) -> Path:
    """The store root to use (not created here)."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(config.LOG_ROOT_ENV):
        return config.log_root()
    cfg_path = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG)).expanduser().absolute()
    if cfg_path.is_file():
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read config file {cfg_path}: {exc}") from exc
        value = data.get("logstore", {}).get("root")
        if value:
            path = Path(str(value)).expanduser()
            return path if path.is_absolute() else cfg_path.parent / path
    elif CONFIG_ENV in os.environ:
        raise ValueError(f"${CONFIG_ENV} names {cfg_path}, which does not exist")
    return config.log_root()
