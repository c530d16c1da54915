"""Delta commits that retry on conflicts and transient storage errors, with backoff.

Several sites commit to the same tables. Delta's optimistic concurrency makes a commit fail
when another one landed first on data it read (two merges into the sessions table, two
creators of a new table); delta-rs rebases plain appends itself, but merges, deletes and
predicate overwrites surface as :class:`deltalake.exceptions.CommitFailedError`. A failed
commit wrote nothing a reader sees, so it is simply repeated after a randomised, growing pause.
Errors that repeating cannot fix (a schema mismatch, a protocol error) are raised at once.
Every error leaves here redacted (:meth:`CentralStore.redact`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fer_core.central.location import CentralError, CentralStore

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Attempts per commit, and the backoff: ``BASE_S * 2**attempt`` (capped) times 0.5-1.5.
ATTEMPTS = 8
BASE_S = 0.1
MAX_S = 5.0


def deltalake() -> Any:
    """The ``deltalake`` package, or a clear error naming the extra that installs it."""
    try:
        import deltalake as dl
    except ImportError as exc:  # pragma: no cover - the locks install it
        raise CentralError("the central store needs the 'deltalake' package: "
                           "pip install 'fer-monitor[central]'") from exc
    return dl


def _retryable(exc: BaseException) -> bool:
    from deltalake.exceptions import (
        CommitFailedError,
        DeltaError,
        DeltaProtocolError,
        SchemaMismatchError,
        TableNotFoundError,
    )

    if isinstance(exc, SchemaMismatchError | DeltaProtocolError | TableNotFoundError):
        return False
    return isinstance(exc, CommitFailedError | DeltaError | OSError)


def with_retries(central: CentralStore, what: str, action: Callable[[], T], *,
                 attempts: int = ATTEMPTS) -> tuple[T, int]:
    """Run ``action`` until it succeeds; return its result and the number of retries."""
    for attempt in range(attempts):
        try:
            return action(), attempt
        except Exception as exc:
            if not _retryable(exc) or attempt == attempts - 1:
                raise CentralError(
                    f"{what} failed after {attempt + 1} attempt(s): "
                    f"{central.redact(f'{type(exc).__name__}: {exc}')}") from None
            pause = min(MAX_S, BASE_S * 2 ** attempt) * random.uniform(0.5, 1.5)
            log.info("%s: %s; retrying in %.2f s", what,
                     central.redact(f"{type(exc).__name__}: {exc}").splitlines()[0], pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


def open_table(central: CentralStore, uri: str) -> Any | None:
    """The Delta table at ``uri``, or None when none exists there yet."""
    dl = deltalake()
    from deltalake.exceptions import TableNotFoundError

    try:
        return dl.DeltaTable(uri, storage_options=central.storage_options or None)
    except TableNotFoundError:
        return None
    except Exception as exc:
        raise CentralError(f"cannot open {uri}: "
                           f"{central.redact(f'{type(exc).__name__}: {exc}')}") from None
