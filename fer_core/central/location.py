"""Where the central store is, which site this install is, and how to reach it without leaking.

The location comes from ``$FER_CENTRAL_STORE`` or the ``[central] store`` key of ``fer.toml``
(the same file :mod:`fer_core.logstore.root` reads): ``s3://bucket/prefix`` or a local path.
Credentials come only from the standard AWS environment variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``; ``AWS_ENDPOINT_URL`` for
MinIO, Ceph or any S3-compatible server): a URL carrying ``user:secret@`` and a ``fer.toml``
with credential keys are refused, because both end up in logs, shell histories and backups.
Every message this package logs or raises passes through :meth:`CentralStore.redact`, which
blanks each credential value, so a secret never reaches a log, an error or the audit log.

The site (``$FER_SITE`` or ``[central] site``) names this recording install; it prefixes every
session id in the central tables (``<site>.<local session id>``), which makes ids unique across
sites without changing how sessions are named locally.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fer_core.logstore.root import CONFIG_ENV, DEFAULT_CONFIG

#: Environment variable naming the central store (overrides ``fer.toml``).
CENTRAL_ENV = "FER_CENTRAL_STORE"
#: Environment variable naming this site (overrides ``fer.toml``).
SITE_ENV = "FER_SITE"
#: Keys the ``[central]`` table of ``fer.toml`` may hold.
CONFIG_KEYS = frozenset({"store", "site", "review"})
#: A site name: short, no dot (the dot separates site and local id in a central session id).
SITE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,23}")
#: Environment variables passed to delta-rs as storage options, and which of them are secret.
AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
            "AWS_ENDPOINT_URL")
SECRET_VARS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
REDACTED = "***"


class CentralError(RuntimeError):
    """A central-store operation failed; the message is already redacted."""


class CentralConfigError(CentralError, ValueError):
    """The central store or site is missing or misconfigured (a user error: one line)."""


@dataclass(frozen=True)
class CentralStore:
    """A resolved central store: its URI, the site publishing to it, and storage options."""

    uri: str
    site: str | None
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    @property
    def frames_uri(self) -> str:
        return f"{self.uri.rstrip('/')}/frames"

    @property
    def sessions_uri(self) -> str:
        return f"{self.uri.rstrip('/')}/sessions"

    def require_site(self) -> str:
        """The site name; publishing needs one (it makes session ids unique across sites)."""
        if not self.site:
            raise CentralConfigError(
                f"no site name: set ${SITE_ENV} or [central] site in fer.toml (letters, "
                "digits, '_' and '-', up to 24 characters, unique among the sites)")
        return self.site

    def secrets(self) -> list[str]:
        """Every credential value in use (from the options and the environment)."""
        values = {self.storage_options.get(k, "") for k in SECRET_VARS}
        values |= {os.environ.get(k, "") for k in SECRET_VARS}
        return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)

    def redact(self, text: object) -> str:
        """``text`` with every credential value replaced by ``***``."""
        out = str(text)
        for secret in self.secrets():
            out = out.replace(secret, REDACTED)
        return out

    def __str__(self) -> str:
        return self.uri


def validate_site(site: str) -> str:
    if not isinstance(site, str) or not SITE_RE.fullmatch(site):
        raise CentralConfigError(
            f"site name {site!r} is not allowed: use letters, digits, '_' and '-' (no dot), "
            "starting with a letter or digit, up to 24 characters")
    return site


def central_session_id(site: str, session: str) -> str:
    """The session's id in the central tables: ``<site>.<local id>``, unique across sites.

    The site has no dot, so the first dot splits the id back into site and local id.
    """
    return f"{validate_site(site)}.{session}"


def _config_file() -> tuple[Path, dict]:
    """The ``[central]`` table of the config file (empty when there is no file)."""
    path = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG)).expanduser().absolute()
    if not path.is_file():
        return path, {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CentralConfigError(f"cannot read config file {path}: {exc}") from exc
    table = data.get("central", {})
    if not isinstance(table, dict):
        raise CentralConfigError(f"{path}: [central] must be a table")
    unknown = sorted(set(table) - CONFIG_KEYS)
    if unknown:  # names only: a value here may be a secret
        raise CentralConfigError(
            f"{path}: unknown key(s) {unknown} in [central] (allowed: {sorted(CONFIG_KEYS)}); "
            "credentials belong in the environment (AWS_ACCESS_KEY_ID, ...), never in fer.toml")
    return path, table


def _storage_options(uri: str) -> dict[str, str]:
    """delta-rs options for ``uri`` from the standard AWS variables (none for a local path)."""
    if not uri.startswith("s3://"):
        return {}
    opts = {k: os.environ[k] for k in AWS_VARS if os.environ.get(k)}
    if "AWS_REGION" not in opts:
        opts["AWS_REGION"] = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = opts.get("AWS_ENDPOINT_URL", "")
    if endpoint.startswith("http://"):
        opts["AWS_ALLOW_HTTP"] = "true"  # a local/LAN S3-compatible server without TLS
    return opts


def parse_location(value: str, base: Path | None = None) -> str:
    """Normalise a central store location: ``s3://bucket/prefix`` or an absolute local path."""
    value = value.strip()
    if not value:
        raise CentralConfigError("the central store location is empty")
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme != "s3":
            raise CentralConfigError(
                f"central store scheme {parts.scheme!r} is not supported: use s3://bucket/prefix "
                "(any S3-compatible server via AWS_ENDPOINT_URL) or a local path")
        if "@" in parts.netloc or parts.password or parts.username:
            raise CentralConfigError(
                "the central store URL must not carry credentials (user:secret@); set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment instead")
        if parts.query or parts.fragment:
            raise CentralConfigError("the central store URL must not have a query or fragment")
        bucket, prefix = parts.netloc, parts.path.strip("/")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise CentralConfigError(f"{bucket!r} is not a valid S3 bucket name")
        return f"s3://{bucket}/{prefix}".rstrip("/")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return str(path.absolute())


def resolve_central(uri: str | None = None, site: str | None = None) -> CentralStore | None:
    """The configured central store, or None when none is configured.

    Order for each of location and site: the argument, the environment variable, then the
    ``[central]`` table of ``$FER_CONFIG`` / ``./fer.toml`` (a relative path there is relative
    to the file).
    """
    cfg_path, table = _config_file()
    base = None
    if uri is None and os.environ.get(CENTRAL_ENV):
        uri = os.environ[CENTRAL_ENV]
    if uri is None and table.get("store"):
        uri, base = str(table["store"]), cfg_path.parent
    if site is None:
        site = os.environ.get(SITE_ENV) or (str(table["site"]) if table.get("site") else None)
    if not uri:
        return None
    location = parse_location(uri, base)
    return CentralStore(location, validate_site(site) if site else None,
                        _storage_options(location))


def require_central(uri: str | None = None, site: str | None = None) -> CentralStore:
    """Like :func:`resolve_central` but a missing configuration is an error."""
    central = resolve_central(uri, site)
    if central is None:
        raise CentralConfigError(
            f"no central store configured: set ${CENTRAL_ENV} (s3://bucket/prefix or a path) "
            "or [central] store in fer.toml")
    return central
