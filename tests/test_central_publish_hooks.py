"""Publishing right after a session is finished (``analyze``; the app's STOP uses the same
:func:`fer_core.central.background.publish_later`) and the status the app shows per session.

The central store here is a local path (a real Delta table on disk); the S3 path of the same
code is covered by tests/test_central.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import av
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.webrtc_glue import WebRtcRecorder
from fer_core.central import reader, resolve_central
from fer_core.central.background import publish_later, status_text
from fer_core.central.publish import publish_session
from fer_core.config import PROJECT_ROOT
from fer_core.logstore import LogStore
from fer_core.session_info import SessionInfo
from fer_core.video_fixture import blank_frame, write_y4m
from tests.auth_fixtures import log_in, use_auth_dir
from tests.central_fixtures import synthetic_store
from tests.dashboard_fixtures import session_a_rows, session_b_rows, write_session


@pytest.fixture
def local_central(tmp_path, monkeypatch):
    monkeypatch.delenv("FER_CONFIG", raising=False)
    monkeypatch.setenv("FER_CENTRAL_STORE", str(tmp_path / "central"))
    monkeypatch.setenv("FER_SITE", "room-1")
    return tmp_path / "central"


@pytest.mark.subprocess
def test_analyze_publishes_the_session_it_wrote(tmp_path, local_central, model_path):
    video = write_y4m(tmp_path / "v.y4m", [blank_frame()] * 6, fps=5)
    done = subprocess.run(
        [sys.executable, "-m", "fer_core", "analyze", str(video), "--subject", "P9",
         "--session", "v", "--start", datetime(2026, 11, 2, 9, tzinfo=UTC).isoformat(),
         "--no-progress", "--root", str(tmp_path / "logs")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert done.returncode == 0, done.stderr
    assert "central store: published" in done.stderr
    assert reader.count_frames(resolve_central()) == {("P9", "room-1.v"): 6}


def test_publish_later_and_the_status_it_leaves(tmp_path, local_central, monkeypatch):
    store = synthetic_store(tmp_path / "logs", [("P1", "a", 8), ("P1", "b", 3)])
    assert status_text(store.root, "P1", "a") == "waiting"  # finished, not yet published
    thread = publish_later(store.root, "P1", "a")
    assert thread is not None
    thread.join(timeout=120)
    assert status_text(store.root, "P1", "a") == "published"
    (tmp_path / "not-a-dir").write_text("x")  # a central store that cannot be written
    broken = resolve_central(str(tmp_path / "not-a-dir"))
    assert publish_session(store, broken, "P1", "b").action == "failed"
    assert status_text(store.root, "P1", "b").startswith("failed: ")
    monkeypatch.delenv("FER_CENTRAL_STORE")
    assert publish_later(store.root, "P1", "b") is None  # no central store: nothing at all


def test_history_page_shows_published_and_failed(tmp_path, local_central, monkeypatch):
    root = tmp_path / "logs"
    write_session(root, "p01", "s-a", session_a_rows(), source="video")
    write_session(root, "p01", "s-b", session_b_rows(), source="video")

    store = LogStore(root)
    assert publish_session(store, resolve_central(), "p01", "s-a").action == "published"
    (tmp_path / "not-a-dir").write_text("x")
    publish_session(store, resolve_central(str(tmp_path / "not-a-dir")), "p01", "s-b")
    monkeypatch.setenv("FER_LOG_ROOT", str(root))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    use_auth_dir(monkeypatch, tmp_path / "auth")
    at = log_in(AppTest.from_file("../dashboard/app.py", default_timeout=60))
    at.session_state["shared.subject"] = "p01"
    at.run()
    at.switch_page("pages/history.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    status = dict(zip(table["session"], table["central"], strict=True))
    assert status["s-a"] == "published" and status["s-b"].startswith("failed: ")


def test_notes_saved_in_the_app_reach_the_central_row(tmp_path, local_central, monkeypatch):
    import threading

    root = tmp_path / "logs"
    write_session(root, "p01", "s-b", session_b_rows(), source="video")

    assert publish_session(LogStore(root), resolve_central(), "p01", "s-b").action == "published"
    monkeypatch.setenv("FER_LOG_ROOT", str(root))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    use_auth_dir(monkeypatch, tmp_path / "auth")
    at = log_in(AppTest.from_file("../dashboard/app.py", default_timeout=60))
    at.session_state["shared.subject"] = "p01"
    at.session_state["shared.session"] = "s-b"
    at.run()
    at.switch_page("pages/session.py").run()
    at.text_area(key="session.notes").set_value("calm, talkative")
    at.button(key="session.save_notes").click().run()
    assert not at.exception, [e.value for e in at.exception]
    for thread in threading.enumerate():  # the page's background publish, to its end
        if thread.name == "publish-p01-s-b":
            thread.join(timeout=120)
    row = reader.list_sessions(resolve_central(), "p01").iloc[0]
    assert row["notes"] == "calm, talkative"
    assert status_text(root, "p01", "s-b") == "published"


def test_erasing_one_session_removes_it_centrally(tmp_path, local_central):
    from fer_core.auth import erase_session

    store = synthetic_store(tmp_path / "logs", [("P1", "gone", 8), ("P1", "kept", 3)])
    central = resolve_central()
    for s in ("gone", "kept"):
        publish_session(store, central, "P1", s)
    removed = erase_session(store, "P1", "gone", tmp_path / "media")
    assert any("1 session row(s), 8 frame row(s)" in r for r in removed), removed
    assert reader.count_frames(central) == {("P1", "room-1.kept"): 3}
    from deltalake import DeltaTable

    files = DeltaTable(central.frames_uri).file_uris()
    assert len(files) == 1  # the erased session's file is gone from the disk too
    assert len(list((local_central / "frames" / "subject=P1").glob("*.parquet"))) == 1


def test_review_mode_shows_both_sites_subjects_on_overview(tmp_path, local_central,
                                                            monkeypatch):
    """A review machine that records nothing: only a central store with two sites' sessions."""
    central = resolve_central()
    for site, subjects in (("room-1", ["P1", "P2"]), ("room-2", ["P1", "Q7"])):
        store = synthetic_store(tmp_path / site, [(s, "x", 12) for s in subjects])
        for s in subjects:
            assert publish_session(store, resolve_central(site=site), s, "x").ok
    store = synthetic_store(tmp_path / "room-2b", [("Q7", "y", 5)])
    started = store.session_meta("Q7", "y").started_at
    segment = store.add_segment("Q7", "y", "stimulus A", started, started + timedelta(seconds=1))
    publish_session(store, resolve_central(site="room-2"), "Q7", "y")
    cache = tmp_path / "cache"
    monkeypatch.setenv("FER_LOG_ROOT", str(cache))
    monkeypatch.setenv("FER_CENTRAL_REVIEW", "1")
    monkeypatch.delenv("FER_SITE")  # a review machine has no site of its own
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    use_auth_dir(monkeypatch, tmp_path / "auth")
    at = log_in(AppTest.from_file("../dashboard/app.py", default_timeout=120))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value.set_index("subject")
    assert {s.replace(" (synthetic)", "") for s in table.index} == {"P1", "P2", "Q7"}
    assert table["n_sessions"].tolist() == [2, 1, 2]  # P1 from both sites, Q7 two sessions

    cached = LogStore(cache).list_sessions()
    assert sorted(cached["session"] + "@" + cached["subject"]) == [
        "room-1.x@P1", "room-1.x@P2", "room-2.x@P1", "room-2.x@Q7", "room-2.y@Q7"]
    assert (cached["n_rows"].sort_values().tolist()
            == sorted(v for v in reader.count_frames(central).values()))
    # segments travel through the sessions table's segments_json, ids and all
    assert LogStore(cache).session_meta("Q7", "room-2.y").segments == [segment]
    # an erasure in the central store reaches the cache at the next sync
    from fer_core.central.cache import sync
    from fer_core.central.maintenance import erase_subject

    erase_subject(central, "Q7")
    assert sorted(sync(central, LogStore(cache)).removed) == ["Q7/room-2.x", "Q7/room-2.y"]
    assert set(LogStore(cache).list_subjects()["subject"]) == {"P1", "P2"}
    # a recording someone started in the cache folder by mistake is left alone while it runs
    with LogStore(cache).open_session("Z9", "live", source="synthetic", synthetic=True):
        assert sync(central, LogStore(cache)).removed == []
        assert ("Z9", "live") in set(map(tuple, LogStore(cache).list_sessions()[
            ["subject", "session"]].itertuples(index=False)))
    assert sync(central, LogStore(cache)).removed == ["Z9/live"]  # closed: not central, so gone
    # erasing one session on the review machine erases it centrally (its id is the central id)
    from fer_core.auth import erase_session

    erase_session(LogStore(cache), "P1", "room-2.x", tmp_path / "media")
    assert ("P1", "room-2.x") not in reader.count_frames(central)
    assert sync(central, LogStore(cache)).added == []  # not fetched back



def _wait_for(store_root, subject: str, session: str, timeout_s: float = 120.0) -> str:

    deadline = time.monotonic() + timeout_s
    while (status := status_text(store_root, subject, session)) == "waiting":
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return status


def test_stop_publishes_the_recorded_session_in_the_background(tmp_path, local_central, model):
    """The Record page's STOP (``LiveRecorder.finish``) returns at once and publishes after."""

    store = LogStore(tmp_path / "logs")
    recorder = WebRtcRecorder(model, store)
    recorder.arm(SessionInfo("P1", consent={"given": True, "text": "consent text shown",
                                            "at": "2026-11-27T10:00:00+00:00"}))

    def feed() -> None:
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(blank_frame(), format="bgr24")
            frame.pts, frame.time_base = i * 6000, Fraction(1, 90_000)
            recorder.on_frame(frame)

    worker = threading.Thread(target=feed)  # streamlit-webrtc calls on_frame from its thread
    worker.start()
    worker.join()
    result = recorder.finish()
    assert result is not None and result.frames == 5
    assert _wait_for(store.root, "P1", result.session) == "published"
    assert reader.count_frames(resolve_central()) == {("P1", f"room-1.{result.session}"): 5}
    row = reader.list_sessions(resolve_central()).iloc[0]
    assert row["status"] == "closed" and row["n_rows"] == 5


def test_stop_with_an_unwritable_central_store_keeps_the_session_and_says_why(
        tmp_path, monkeypatch, model):

    (tmp_path / "not-a-dir").write_text("x")
    monkeypatch.delenv("FER_CONFIG", raising=False)
    monkeypatch.setenv("FER_CENTRAL_STORE", str(tmp_path / "not-a-dir"))
    monkeypatch.setenv("FER_SITE", "room-1")
    store = LogStore(tmp_path / "logs")
    recorder = WebRtcRecorder(model, store)
    recorder.arm(SessionInfo("P2", consent={"given": True, "text": "consent text shown",
                                            "at": "2026-11-27T10:00:00+00:00"}))

    frame = av.VideoFrame.from_ndarray(blank_frame(), format="bgr24")
    frame.pts, frame.time_base = 0, Fraction(1, 90_000)

    worker = threading.Thread(target=recorder.on_frame, args=(frame,))
    worker.start()
    worker.join()
    result = recorder.finish()
    assert result is not None and result.error is None  # STOP itself succeeded
    assert _wait_for(store.root, "P2", result.session).startswith("failed: ")
    assert len(store.read("P2", result.session)) == 1  # the local session is intact


def test_a_baseline_choice_reaches_a_table_made_before_the_column(tmp_path, local_central):
    """Issue 19: ``baseline`` is a column of the sessions table; a table created by an older
    version (without it) gains it on the next publish instead of refusing the merge."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from fer_core.central.tables import SESSIONS_SCHEMA, sessions_row

    store = synthetic_store(tmp_path / "logs", [("P1", "a", 8), ("P1", "b", 3)])
    central = resolve_central()
    # the sessions table as an older version wrote it: same row, no baseline column
    listing = store.list_sessions("P1").set_index("session")
    old = sessions_row(store.session_meta("P1", "a"), listing.loc["a"].to_dict(),
                       "room-1.a", "room-1", {})
    old_schema = pa.schema([f for f in SESSIONS_SCHEMA if f.name != "baseline"])
    write_deltalake(central.sessions_uri, old.select(old_schema.names).cast(old_schema))
    assert "baseline" not in DeltaTable(central.sessions_uri).schema().to_arrow().names

    store.set_baseline("P1", "b", True)
    assert publish_session(store, central, "P1", "b").action == "published"
    assert publish_session(store, central, "P1", "a").action == "published"  # its frames
    rows = {r["session"]: r["baseline"] for r in reader.sessions(central, "P1").to_pylist()}
    assert rows == {"room-1.a": False, "room-1.b": True}
    store.set_baseline("P1", "b", False)
    assert publish_session(store, central, "P1", "b").action == "updated"
    rows = {r["session"]: r["baseline"] for r in reader.sessions(central, "P1").to_pylist()}
    assert rows["room-1.b"] is False
