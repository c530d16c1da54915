"""Small hand-computable log sessions shared by the analytics and dashboard tests.

The numbers expected from these rows are worked out by hand in the tests' comments. Rows are
written to real Parquet files in a temporary log store and read back before being analysed, so
the tests exercise the same dtypes the dashboard sees.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from fer_core.labels import FER2013_CLASSES

T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 3, 23, 50, 0, tzinfo=UTC)


def _face(i: int, t0: datetime, probs: dict[str, float], face_index: int = 0) -> dict:
    label = max(probs, key=probs.get)
    row = {
        "timestamp": t0 + timedelta(seconds=i),
        "frame_index": i,
        "face_index": face_index,
        "face_detected": True,
        "box_x": 10, "box_y": 20, "box_w": 50, "box_h": 50,
        "label": label,
        "confidence": probs[label],
        "model_name": "fast", "model_version": "1.0", "source": "video",
    }
    for c in FER2013_CLASSES:
        row[f"prob_{c}"] = probs.get(c, 0.0)
    return row


def _no_face(i: int, t0: datetime) -> dict:
    return {
        "timestamp": t0 + timedelta(seconds=i), "frame_index": i, "face_index": -1,
        "face_detected": False, "model_name": "fast", "model_version": "1.0", "source": "video",
    }


def session_a_rows(t0: datetime = T0) -> list[dict]:
    """Ten frames at 1 frame/s: 8 with a face, 2 without, one secondary face (ignored)."""
    return [
        _face(0, t0, {"happy": 0.8, "neutral": 0.2}),
        _face(1, t0, {"happy": 0.6, "neutral": 0.4}),
        _no_face(2, t0),
        _face(3, t0, {"sad": 0.7, "neutral": 0.3}),
        _face(4, t0, {"sad": 0.9, "neutral": 0.1}),
        _face(4, t0, {"angry": 1.0}, face_index=1),
        _face(5, t0, {"neutral": 0.6, "happy": 0.4}),
        _face(6, t0, {"angry": 0.6, "sad": 0.4}),
        _face(7, t0, {"happy": 1.0}),
        _no_face(8, t0),
        _face(9, t0, {"happy": 0.7, "surprise": 0.3}),
    ]


def session_b_rows(t0: datetime = T1) -> list[dict]:
    """Four frames: angry, angry, no face, neutral (late evening UTC = next day in Berlin)."""
    return [
        _face(0, t0, {"angry": 0.9, "sad": 0.1}),
        _face(1, t0, {"angry": 0.5, "fear": 0.3, "neutral": 0.2}),
        _no_face(2, t0),
        _face(3, t0, {"neutral": 1.0}),
    ]


def write_session(root: Path, subject: str, session: str, rows: list[dict], **meta) -> None:
    """Write rows through the real log-store writer."""
    from fer_core.logstore import LogStore

    store = LogStore(root)
    started = min(r["timestamp"] for r in rows)
    writer = store.open_session(subject, session, started_at=started, **meta)
    try:
        writer.append_many(rows)
    finally:
        writer.close(ended_at=max(r["timestamp"] for r in rows))


def read_session(root: Path, subject: str, session: str | None = None) -> pd.DataFrame:
    """Read rows back through the real log-store reader."""
    from fer_core.logstore import LogStore

    return LogStore(root).read(subject=subject, session=session)
