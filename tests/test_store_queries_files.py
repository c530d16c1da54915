"""The DuckDB store queries read exactly the files the LogStore reader reads (issue 14, item 3).

A ``**/*.parquet`` glob crashed on a corrupt file, raised during compaction and counted the
leftovers of an interrupted compaction twice. Real Parquet files in tmp_path, real DuckDB.
"""

from __future__ import annotations

import threading
import time
import warnings

import pytest

from fer_core import analytics as an
from fer_core.logstore import CorruptFileWarning, LogStore
from fer_core.logstore.compaction import compact_session
from tests.store_fixtures import uncompacted_session


def _frames(counts, session: str) -> int:
    return int(counts.loc[counts["session"] == session, "n"].sum())


def test_leftovers_of_an_interrupted_compaction_are_not_counted_twice(tmp_path):
    store = LogStore(tmp_path)
    d = uncompacted_session(store, "P001", "s1")
    parts = {p.name: p.read_bytes() for p in d.glob("part-w*.parquet")}
    compact_session(d)
    for name, data in parts.items():  # crash after the commit, before the clean-up
        (d / name).write_bytes(data)
    counts = an.session_label_counts(tmp_path)
    assert _frames(counts, "s1") == 40 == len(store.read())


def test_a_corrupt_file_is_skipped_with_a_warning_not_a_crash(tmp_path):
    store = LogStore(tmp_path)
    uncompacted_session(store, "P001", "s1")
    bad = uncompacted_session(store, "P001", "s2") / "part-w"
    victim = sorted(bad.parent.glob("part-w*.parquet"))[1]
    victim.write_bytes(b"PAR1" + b"\x00garbage" * 40 + b"PAR1")
    with pytest.warns(CorruptFileWarning, match=victim.name):
        counts = an.session_label_counts(tmp_path)
    assert _frames(counts, "s1") == 40 and _frames(counts, "s2") == 30


def test_a_session_with_a_lost_manifest_is_skipped_like_the_reader_does(tmp_path):
    store = LogStore(tmp_path)
    d = uncompacted_session(store, "P001", "s1")
    parts = {p.name: p.read_bytes() for p in d.glob("part-w*.parquet")}
    compact_session(d)
    for name, data in parts.items():
        (d / name).write_bytes(data)
    (d / "_compaction-000001.json").unlink()
    uncompacted_session(store, "P002", "ok")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        counts = an.session_label_counts(tmp_path)
        rows = store.read()
    assert _frames(counts, "s1") == 0 == int((rows["session"] == "s1").sum())
    assert _frames(counts, "ok") == 40


def test_compaction_racing_the_query_never_raises_and_never_doubles(tmp_path):
    """A thread writes and compacts sessions (40 frames each, back to back) while the query
    polls: files vanish under the query all the time."""
    store = LogStore(tmp_path, fsync=False)
    stop, errors = threading.Event(), []

    def churn():
        k = 0
        try:
            while not stop.is_set():
                compact_session(uncompacted_session(store, "P001", f"s{k:03d}"), fsync=False)
                k += 1
                time.sleep(0.02)  # sessions close one after another, not all at once
        except Exception as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=churn)
    worker.start()
    polls = 0
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            counts = an.session_label_counts(tmp_path)
            per_session = counts.groupby("session")["n"].sum()
            # a session being written shows its flushed parts (<= 40); never more than 40
            assert (per_session <= 40).all(), per_session[per_session > 40]
            polls += 1
    finally:
        stop.set()
        worker.join()
    assert not errors, errors
    assert polls > 20
    final = an.session_label_counts(tmp_path).groupby("session")["n"].sum()
    assert (final == 40).all() and len(final) >= 3
