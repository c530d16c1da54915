"""The catalog: which subjects and sessions the store holds, and the listing tables about them.

Why its own module: listing is needed by more than ``LogStore`` -- the export scopes a download
with :func:`session_pairs`, the summary refresh walks every session folder -- and those used to
reach into the store (``store._pairs``), which made the export and the store import each other.
Everything here reads the directory tree, ``_session.json`` and Parquet footer facts handed in
by the caller; nothing scans row data or writes, and nothing imports the store.

The listing tables (:func:`sessions_table`, :func:`subjects_table`) are documented in
docs/log-format.md ("Listing"); their columns and dtypes are fixed here so an empty store lists
as an empty table of the same types.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from fer_core.logstore import reader
from fer_core.logstore.ids import validate_id
from fer_core.logstore.layout import SESSION_META, parse_key_dir, session_dir, subject_dir
from fer_core.logstore.meta import SessionMeta, damage_text, read_meta
from fer_core.logstore.session_lock import is_recording

log = logging.getLogger(__name__)

SESSION_COLUMNS = [
    "subject", "session", "started_at", "ended_at", "duration_s", "n_rows", "n_frames",
    "n_face_rows", "label", "operator", "model_name", "synthetic",
    # beyond the contract:
    "model_version", "source", "status", "n_segments", "n_bad_files", "damage",
    "baseline", "notes",
]
SUBJECT_COLUMNS = [
    "subject", "n_sessions", "n_rows", "first_started_at", "last_started_at",
    "total_duration_s", "synthetic",
]


def _key_dirs(directory: Path, key: str) -> list[str]:
    """Valid ids of the ``<key>=<id>`` folders in ``directory`` (sorted; others skipped)."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    out = [parse_key_dir(e.name, key) for e in entries if e.is_dir()]
    return sorted(s for s in out if s)


def subject_ids(root: Path) -> list[str]:
    """Every subject in the store (sorted); foreign folders are ignored."""
    return _key_dirs(root, "subject")


def session_ids(root: Path, subject: str) -> list[str]:
    """Every session of ``subject`` (sorted); none when the subject does not exist."""
    return _key_dirs(subject_dir(root, subject), "session")


def session_pairs(root: Path, subject: str | None = None,
                  session: str | None = None) -> list[tuple[str, str]]:
    """The (subject, session)s in scope: all, one subject's, one session id in any subject,
    or one exact session. Ids are validated; a scope with nothing in it is an empty list."""
    if session is not None and subject is None:
        validate_id(session, "session")
        return [(s, session) for s in subject_ids(root) if session in session_ids(root, s)]
    subjects = [validate_id(subject, "subject")] if subject is not None else subject_ids(root)
    pairs = []
    for subj in subjects:
        if session is not None:
            validate_id(session, "session")
            if session_dir(root, subj, session).is_dir():
                pairs.append((subj, session))
        else:
            pairs.extend((subj, sess) for sess in session_ids(root, subj))
    return pairs


def session_row(root: Path, subject: str, session: str, infos: list[reader.FileInfo],
                problem: str) -> dict[str, Any] | None:
    """One row of :func:`sessions_table`, from the session's footer facts and metadata.

    ``infos``/``problem``: the session's live files and its damage ("" if none), as the
    store's snapshot rule found them. None when there is nothing to list yet (a session being
    created right now, or an empty foreign folder).
    """
    directory = session_dir(root, subject, session)
    meta = read_meta(directory)
    good = [i for i in infos if not i.error]
    bad = [i for i in infos if i.error and not reader.is_newer_schema(i)]
    ts_max = max((i.ts_max for i in good if i.ts_max is not None), default=None)
    ts_min = min((i.ts_min for i in good if i.ts_min is not None), default=None)
    damage = [problem] if problem else []
    if bad:
        damage.append(f"{len(bad)} unreadable file(s): "
                      + ", ".join(f"{i.path.name} ({i.error})" for i in bad))
    if meta is None:
        if not directory.is_dir():
            return None
        if not good and not damage:
            return None  # being created right now, or an empty foreign directory
        how = "unreadable" if (directory / SESSION_META).exists() else "missing"
        damage.append(f"metadata {SESSION_META} {how}")
        meta = SessionMeta(subject, session,
                           started_at=datetime.fromtimestamp((ts_min or 0) / 1000, UTC))
    last = datetime.fromtimestamp(ts_max / 1000, UTC) if ts_max is not None else None
    # an end before the start (a wall clock set back by an older recorder, a hand edit): the
    # metadata's times cannot be trusted, so the session is damaged and lasts as its rows do
    backwards = meta.ended_at is not None and meta.ended_at < meta.started_at
    if backwards:
        damage.append(f"recorded end {meta.ended_at:%Y-%m-%d %H:%M:%S} UTC ends before it "
                      f"starts ({meta.started_at:%Y-%m-%d %H:%M:%S} UTC)")
    if damage:
        log.warning("damaged session %s/%s: %s", subject, session, "; ".join(damage))
    # what an earlier repair could not recover stays on record (not a new warning each time)
    damage.extend(damage_text(record) for record in meta.damage)
    if meta.ended_at is not None and not backwards:
        status = "closed"
        duration = meta.duration_s
    else:
        status = ("closed" if backwards else
                  "recording" if is_recording(directory) else "interrupted")
        first = datetime.fromtimestamp(ts_min / 1000, UTC) if ts_min is not None else None
        begin = first if backwards and first is not None else meta.started_at
        duration = max(0.0, (last - begin).total_seconds()) if last else 0.0
    if damage and status != "recording":
        status = "damaged"
    return {
        "subject": subject, "session": session, "started_at": meta.started_at,
        "ended_at": meta.ended_at, "duration_s": duration,
        "n_rows": sum(i.num_rows for i in good), "n_frames": sum(i.n_frames for i in good),
        "n_face_rows": sum(i.n_face_rows for i in good), "label": meta.label,
        "operator": meta.operator, "model_name": meta.model_name,
        "synthetic": meta.synthetic, "model_version": meta.model_version,
        "source": meta.source, "status": status, "n_segments": len(meta.markers),
        "n_bad_files": len(infos) - len(good), "damage": "; ".join(damage),
        "baseline": meta.baseline, "notes": meta.notes,
    }


def sessions_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``list_sessions()``: :data:`SESSION_COLUMNS` with fixed dtypes, sorted by subject and
    start (an empty store gives an empty table of the same dtypes)."""
    df = pd.DataFrame(rows, columns=SESSION_COLUMNS)
    for col in ("started_at", "ended_at"):
        df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[ms, UTC]")
    for col in ("n_rows", "n_frames", "n_face_rows", "n_segments", "n_bad_files"):
        df[col] = df[col].astype("int64")
    df["duration_s"] = df["duration_s"].astype("float64")
    df["synthetic"] = df["synthetic"].astype(bool)
    df["baseline"] = df["baseline"].fillna(False).astype(bool)
    df["notes"] = df["notes"].fillna("").astype(str)
    return df.sort_values(["subject", "started_at", "session"]).reset_index(drop=True)


def subjects_table(sessions: pd.DataFrame) -> pd.DataFrame:
    """``list_subjects()`` from a :func:`sessions_table`: one row per subject;
    ``synthetic`` is True when every session of it is synthetic."""
    if sessions.empty:
        df = pd.DataFrame(columns=SUBJECT_COLUMNS)
        return df.astype({"n_sessions": "int64", "n_rows": "int64",
                          "total_duration_s": "float64", "synthetic": bool,
                          "first_started_at": "datetime64[ms, UTC]",
                          "last_started_at": "datetime64[ms, UTC]"})
    grouped = sessions.groupby("subject", sort=True)
    df = pd.DataFrame({
        "n_sessions": grouped.size(),
        "n_rows": grouped["n_rows"].sum(),
        "first_started_at": grouped["started_at"].min(),
        "last_started_at": grouped["started_at"].max(),
        "total_duration_s": grouped["duration_s"].sum(),
        "synthetic": grouped["synthetic"].all(),
    }).reset_index()
    return df[SUBJECT_COLUMNS]
