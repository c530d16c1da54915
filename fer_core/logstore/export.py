"""Export and import of sessions (CSV, Parquet, ZIP). Work in progress."""

from __future__ import annotations

from typing import Any


def export_bytes(store: Any, fmt: str, subject: str | None, session: str | None) -> bytes:
    raise NotImplementedError("export is not implemented yet")


def import_zip(store: Any, data: Any) -> list[tuple[str, str]]:
    raise NotImplementedError("import is not implemented yet")
