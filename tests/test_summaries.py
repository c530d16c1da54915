"""Per-session summaries: the history and overview from ``_summary.json`` equal the raw rows'.

Every store here is written through the real log-store writer (real Parquet files), and every
figure is computed twice: from the raw rows, the way the pages did before summaries, and from
the summaries. They must agree to float rounding, including a session recorded at two rates
with a stalled stream that crosses minute and 15-minute boundaries.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pyarrow.dataset as ds
import pytest

from fer_core import analytics as an
from fer_core.logstore import LogStore
from fer_core.logstore.compaction import compact_session
from fer_core.logstore.summary_file import (
    SUMMARY_FILE,
    read_summary,
    refresh_summaries,
    summary_is_current,
)
from fer_core.logstore.synthetic import synthetic_rows
from fer_core.measures import summaries
from tests.dashboard_fixtures import (
    T0,
    _face,
    _no_face,
    read_session,
    session_a_rows,
    session_b_rows,
    write_session,
)

REPO = Path(__file__).resolve().parent.parent
TZ = "Europe/Berlin"


def _two_rate_rows(start, face_fps: float, no_face_fps: float) -> list[dict]:
    """190 s from 14:30 past the hour: face at ``face_fps``, no face at ``no_face_fps``.

    The stream stalls for 10 s (the cap of 2 s applies), and the session crosses three minute
    boundaries and the quarter hour, so bins are summed across minutes and buckets.
    """
    segments = [(0, 40, "happy"), (40, 70, None), (80, 150, "sad"), (150, 190, None)]
    rows, i = [], 0
    for begin, end, label in segments:
        fps = face_fps if label else no_face_fps
        k = 0
        while begin + k / fps < end - 1e-9:
            t = begin + k / fps
            row = (_face(i, start, {label: 0.7, "neutral": 0.2, "surprise": 0.1}) if label
                   else _no_face(i, start))
            row["timestamp"] = start + timedelta(seconds=t)
            rows.append(row)
            k += 1
            i += 1
    return rows


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("summaries")
    write_session(root, "p1", "a", session_a_rows())
    write_session(root, "p1", "b", session_b_rows())
    quarter = T0 + timedelta(minutes=14, seconds=30)
    write_session(root, "p2", "even", _two_rate_rows(quarter, 10, 10))
    write_session(root, "p2", "uneven", _two_rate_rows(quarter + timedelta(days=1), 4, 15))
    return root


def _raw_history(root: Path, subject: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = read_session(root, subject)
    return an.bucket_counts(rows), an.session_bounds(rows)


def _assert_same_history(root: Path, subject: str) -> None:
    counts, bounds = an.subject_history(root, subject)
    raw_counts, raw_bounds = _raw_history(root, subject)
    pdt.assert_frame_equal(counts, raw_counts, check_dtype=False, rtol=1e-9)
    pdt.assert_frame_equal(bounds, raw_bounds, check_dtype=False, rtol=1e-12)


@pytest.mark.parametrize("subject", ["p1", "p2"])
def test_history_from_summaries_equals_raw_rows(store_root: Path, subject: str) -> None:
    counts, bounds = an.subject_history(store_root, subject)
    raw_counts, raw_bounds = _raw_history(store_root, subject)
    assert len(counts) > len(bounds) > 1
    pdt.assert_frame_equal(counts, raw_counts, check_dtype=False, rtol=1e-9)
    pdt.assert_frame_equal(bounds, raw_bounds, check_dtype=False, rtol=1e-12)
    table = an.session_table(counts, bounds)
    pdt.assert_frame_equal(table, an.session_table(raw_counts, raw_bounds), rtol=1e-9)
    for fn in (an.shares_by_day, an.valence_by_day, an.time_of_day_heatmap):
        pdt.assert_frame_equal(fn(counts, TZ), fn(raw_counts, TZ), rtol=1e-9)
    got = an.summarise_period(counts, bounds)
    want = an.summarise_period(raw_counts, raw_bounds)
    assert got.pop("dominant") == want.pop("dominant")
    assert got == pytest.approx(want, rel=1e-9, nan_ok=True)


def test_summary_equals_the_session_page(store_root: Path) -> None:
    """Each session's row of the history table = the session page's figures from its rows."""
    counts, bounds = an.subject_history(store_root, "p2")
    table = an.session_table(counts, bounds).set_index("session")
    for session in ("even", "uneven"):
        page = an.session_summary(read_session(store_root, "p2", session))
        row = table.loc[session]
        assert row["dominant"] == page["dominant"]
        for key in ("duration_s", "n_frames", "n_face_frames", "face_seconds", "face_in_view",
                    "negative_share", "mean_valence", "mean_confidence",
                    *(f"share_{c}" for c in an.CLASSES)):
            assert row[key] == pytest.approx(page[key], rel=1e-9), (session, key)
    # the two rates give the same figures (time, not rows): 110 of 180 recorded s with a face
    even, uneven = table.loc["even"], table.loc["uneven"]
    assert uneven["face_in_view"] == pytest.approx(even["face_in_view"], abs=0.01)
    assert uneven["face_in_view"] == pytest.approx(110 / 180, abs=0.01)
    assert uneven["share_happy"] == pytest.approx(40 / 110, abs=0.01)


def test_label_counts_equal_the_duckdb_query_over_raw_rows(store_root: Path) -> None:
    got = an.summary_label_counts(store_root)
    want = an.session_label_counts(store_root)
    pdt.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9)
    pdt.assert_frame_equal(an.negative_share_by_session(got),
                           an.negative_share_by_session(want), rtol=1e-9)


def test_summary_file_is_written_on_close_and_skipped_by_raw_readers(store_root: Path) -> None:
    import duckdb

    directory = store_root / "subject=p1" / "session=a"
    digest = read_summary(directory)
    assert digest is not None and summary_is_current(directory, digest)
    assert digest["n_frames"] == 10 and digest["bins"]["minute"]
    n_rows = len(LogStore(store_root).read())
    dataset = ds.dataset(store_root, format="parquet", partitioning="hive")
    assert dataset.count_rows() == n_rows
    with duckdb.connect() as con:
        glob = str(store_root / "**" / "*.parquet")
        assert con.execute("SELECT count(*) FROM read_parquet(?)", [glob]).fetchone()[0] == n_rows


def _copy_store(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("damage", ["garbage", "old_version", "other_files", "edited_bins",
                                    "missing"])
def test_bad_summary_is_recomputed_not_trusted(store_root: Path, tmp_path: Path, caplog,
                                               damage: str) -> None:
    root = _copy_store(store_root, tmp_path / "store")
    target = root / "subject=p2" / "session=uneven" / SUMMARY_FILE
    digest = json.loads(target.read_text())
    if damage == "garbage":
        target.write_bytes(b"{not json")
    elif damage == "old_version":
        target.write_text(json.dumps({**digest, "summary_version": 0}))
    elif damage == "other_files":  # the summary of another session, or of older files
        target.write_bytes((root / "subject=p2" / "session=even" / SUMMARY_FILE).read_bytes())
    elif damage == "edited_bins":  # the frame count no longer adds up
        digest["bins"]["n"][0] += 1
        target.write_text(json.dumps(digest))
    else:
        target.unlink()
    with caplog.at_level(logging.WARNING, logger="fer_core"):
        _assert_same_history(root, "p2")
    assert any("p2/uneven" in r.getMessage() and "recomputed" in r.getMessage()
               for r in caplog.records)
    assert refresh_summaries(root, fsync=False) == [("p2", "uneven")]
    assert summary_is_current(target.parent, read_summary(target.parent))
    assert refresh_summaries(root, fsync=False) == []


def test_compaction_writes_the_summary_and_a_failing_hook_loses_nothing(tmp_path, monkeypatch,
                                                                       caplog) -> None:
    store = LogStore(tmp_path, fsync=False)
    w = store.open_session("p3", "parts", started_at=T0)
    w._compact_on_close = False  # as after a crash: part files, no summary yet
    for k in range(3):
        w.append_many(synthetic_rows(40, T0 + timedelta(seconds=2 * k), first_frame=40 * k))
        w.flush()
    w.close()
    directory = tmp_path / "subject=p3" / "session=parts"
    assert read_summary(directory) is None
    with caplog.at_level(logging.INFO, logger="fer_core"):
        _assert_same_history(tmp_path, "p3")  # recomputed from the three parts
    assert any("recomputed" in r.getMessage() for r in caplog.records)

    def broken(rows):
        raise RuntimeError("summary bug")

    monkeypatch.setattr(summaries, "session_digest", broken)
    assert compact_session(directory, fsync=False) is not None  # the rows are compacted anyway
    assert read_summary(directory) is None
    monkeypatch.undo()
    assert compact_session(directory, fsync=False) is not None  # already compacted: hook only
    assert summary_is_current(directory, read_summary(directory))
    _assert_same_history(tmp_path, "p3")


def test_session_being_recorded_is_read_from_its_rows(tmp_path) -> None:
    store = LogStore(tmp_path, fsync=False)
    write_session(tmp_path, "p4", "done", session_a_rows())
    with store.open_session("p4", "live", started_at=T0 + timedelta(hours=1)) as w:
        w.append_many(synthetic_rows(30, T0 + timedelta(hours=1)))
        w.flush()
        assert not (tmp_path / "subject=p4" / "session=live" / SUMMARY_FILE).exists()
        assert refresh_summaries(tmp_path, fsync=False) == []  # a live session is left alone
        _assert_same_history(tmp_path, "p4")
    assert (tmp_path / "subject=p4" / "session=live" / SUMMARY_FILE).exists()


def test_logs_repair_cli_writes_missing_summaries(store_root: Path, tmp_path: Path) -> None:
    root = _copy_store(store_root, tmp_path / "store")
    for f in root.glob(f"subject=*/session=*/{SUMMARY_FILE}"):
        f.unlink()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "fer_core", "logs", "--root", str(root),
                          "repair"], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    written = sorted(root.glob(f"subject=*/session=*/{SUMMARY_FILE}"))
    assert len(written) == 4
    for f in written:
        assert summary_is_current(f.parent, read_summary(f.parent))
    _assert_same_history(root, "p2")


def test_stale_reason_hand_checks() -> None:
    rows = pd.DataFrame(session_a_rows())
    digest = summaries.session_digest(rows)
    assert summaries.stale_reason(digest) is None
    # 10 frames at 1 frame/s: 10 s recorded, 8 with a face, all in the 09:00 minute
    assert digest["n_frames"] == 10 and digest["duration_s"] == pytest.approx(10.0)
    assert set(digest["bins"]["minute"]) == {int(T0.timestamp() * 1000)}
    assert summaries.stale_reason({**digest, "rule": {"max_gap_s": 5.0}}) is not None
    assert summaries.stale_reason({**digest, "n_frames": 11}) is not None
    assert summaries.stale_reason([digest]) == "not a summary"
    empty = summaries.session_digest(rows.iloc[0:0])
    assert empty["n_frames"] == 0 and summaries.stale_reason(empty) is None


def test_log_store_loads_without_the_analytics() -> None:
    """The store imports the analytics only when it finishes a session (no load-time cycle)."""
    code = ("import sys, fer_core.logstore, fer_core.logstore.compaction, "
            "fer_core.logstore.summary_file; "
            "sys.exit(1 if 'fer_core.analytics' in sys.modules else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
