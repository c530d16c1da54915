"""Where the auth state lives and how long a login lasts.

Default folder: ``.fer_auth/`` beside the log store root (never inside it: the store's folders
are Parquet datasets, and erasing a subject must not touch accounts). ``$FER_AUTH_DIR`` overrides.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

AUTH_DIR_ENV = "FER_AUTH_DIR"
IDLE_TIMEOUT_ENV = "FER_SESSION_IDLE_MINUTES"
MAX_AGE_ENV = "FER_SESSION_MAX_HOURS"
DEFAULT_IDLE_MINUTES = 30.0
DEFAULT_MAX_HOURS = 12.0


def auth_dir(log_root: str | Path | None = None) -> Path:
    """``$FER_AUTH_DIR``, else ``<log root>/../.fer_auth``."""
    if os.environ.get(AUTH_DIR_ENV):
        return Path(os.environ[AUTH_DIR_ENV]).expanduser().absolute()
    from fer_core.logstore.root import resolve_root

    root = Path(log_root) if log_root is not None else resolve_root()
    return root.expanduser().absolute().parent / ".fer_auth"


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"${name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"${name} must be > 0, got {raw!r}")
    return value


def idle_timeout_s() -> float:
    """Seconds without any request after which a login expires."""
    return 60 * _float_env(IDLE_TIMEOUT_ENV, DEFAULT_IDLE_MINUTES)


def max_age_s() -> float:
    """Seconds after which a login expires however active it is."""
    return 3600 * _float_env(MAX_AGE_ENV, DEFAULT_MAX_HOURS)


COOKIE_KEY_FILE = "cookie_key"


def cookie_key(directory: Path) -> bytes:
    """The key that signs login cookies: 32 random bytes in ``<auth dir>/cookie_key`` (0600).

    Kept on disk so cookies stay verifiable across a restart (the restart still logs everyone
    out, because login sessions live in memory; the cookie is then refused as expired, not as
    forged). Deleting the file makes every cookie ever issued count as forged.
    """
    path = directory / COOKIE_KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def prepare_dir(directory: Path) -> Path:
    """Create the folder private to the user (0700) and keep it out of git."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# accounts, password hashes and the audit log: never commit\n*\n")
    return directory
