"""Which files a network learned from may have seen its hold-out faces.

Why: a temperature is honest only when it is fitted on faces the network never learned from. A
distilled student never trains on its ``--val-from-train`` hold-out, but its teachers, and a file
it started from (``--init-from``), may have. A teacher trained on all of Training has memorised
the hold-out (measured in session 12 on fast v2.2's hold-out: its teachers fast v1.0 and paper v1.0
scored 84.25% and 95.75% there, 69.57% and 70.88% on PublicTest), and the student learns the
teacher's function around those faces. The hold-out then looks easier than an unseen face: v2.2
scores 71.43% there against 69.74% on PublicTest at nearly the same mean confidence (69.09%,
68.84%), and the temperature fitted there (0.827) over-sharpens PublicTest (ECE 4.76% against
2.58% at temperature 1; docs/reproduction.md has the commands). So ``train``
records the files that may have seen the hold-out, and ``calibrate`` refuses to fit on it.

A hold-out is ``{"fraction": f, "seed": s}`` as :func:`fer_core.data.holdout_split` draws it:
one seeded permutation, the first ``int(n * f)`` faces held out. So a hold-out of the same seed
and at least the same fraction contains every face of a smaller one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: the model-file meta key: the lineage files that may have learned from this file's hold-out
SEEN_BY = "holdout_seen_by"


def covers(outer: dict[str, Any] | None, inner: dict[str, Any]) -> bool:
    """True when hold-out ``outer`` holds every face of hold-out ``inner`` (same seed, so the
    same permutation, and at least the same fraction); a missing ``outer`` holds nothing."""
    if not outer:
        return False
    return outer.get("seed") == inner["seed"] and float(outer.get("fraction", 0)) >= float(
        inner["fraction"]
    )


def ancestors_of(meta: dict[str, Any]) -> list[str]:
    """The files a model learned from, as its training config records them: teachers first,
    then the weights it started from."""
    cfg = meta.get("train_config") or {}
    out = [str(p) for p in cfg.get("teachers") or []]
    if cfg.get("init_from"):
        out.append(str(cfg["init_from"]))
    return out


def read_meta(path: str | Path) -> dict[str, Any] | None:
    """A model file's meta, or None when it is missing, unreadable or carries none (a
    checkpoint, another tool's file): then nobody can tell what that file learned from."""
    import torch

    try:  # weights_only: the path comes from a file's own record, so nothing in it is executed
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # missing, truncated, foreign, a pickled checkpoint: unknown
        log.warning("cannot read %s to check what it learned from: %s", path, exc)
        return None
    meta = payload.get("meta") if isinstance(payload, dict) else None
    return dict(meta) if isinstance(meta, dict) else None


def holdout_seen_by(
    ancestors: list[str],
    holdout: dict[str, Any],
    meta_of: Callable[[str], dict[str, Any] | None] = read_meta,
) -> list[str]:
    """The ``ancestors`` that may have learned from ``holdout``'s faces.

    An ancestor counts when its provenance is unknown, when its own hold-out does not cover
    ``holdout`` (it trained on some of those faces), or when its own record says files before it
    saw its hold-out; a file written before that record existed counts when it had ancestors.
    """
    seen = []
    for path in ancestors:
        meta = meta_of(path)
        if meta is None or not covers(meta.get("holdout"), holdout):
            seen.append(path)
            continue
        own = meta.get(SEEN_BY)
        if own or (own is None and ancestors_of(meta)):
            seen.append(path)
    return seen


def recorded_or_checked(meta: dict[str, Any]) -> list[str]:
    """The files that may have seen this model's hold-out: its own record when it has one (written
    by ``train``), else checked now against the files its training config names."""
    if SEEN_BY in meta:
        return list(meta[SEEN_BY])
    holdout = meta.get("holdout")
    if not holdout:
        return []
    return holdout_seen_by(ancestors_of(meta), holdout)
