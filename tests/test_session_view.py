"""A long session's page: exact figures from all rows, charts from every n-th frame (issue 23).

A 6M-row session took 62 s and 2.25 GB to open because the page read every row into pandas.
Above ``LARGE_SESSION_ROWS`` the page now reads only every n-th frame for its charts and takes
its figures from the session's summary. The limits are lowered here so that an 18,000-frame
demo session (real writer, real compaction and summary) counts as long.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer_core import analytics as an
from fer_core.analytics import session_detail as sv
from fer_core.demo_data import PROFILES, _records, session_frame
from fer_core.logstore import LogStore
from tests.auth_fixtures import log_in, use_auth_dir

APP = "../dashboard/app.py"
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LIMIT, CHART_FRAMES = 5_000, 2_000


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    """One 20-minute demo session at 15 frames/s (18,000 frames), written by the real writer."""
    root = tmp_path_factory.mktemp("long") / "logs"
    frame = session_frame(np.random.default_rng(3), PROFILES[0], START, minutes=20, fps=15)
    writer = LogStore(root).open_session("p01", "long", source="synthetic", synthetic=True,
                                         started_at=START)
    writer.append_many(_records(frame))
    writer.close()
    return root


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9,
                                                                  abs_tol=1e-12)
    return a == b


def test_a_long_session_is_downsampled_and_its_figures_are_exact(store_root, monkeypatch):
    all_rows = LogStore(store_root).read("p01", "long")
    expected = an.session_summary(all_rows)

    def no_full_read(*args, **kwargs):
        raise AssertionError("the whole session was read")

    monkeypatch.setattr(LogStore, "read", no_full_read)
    view = an.session_view(store_root, "p01", "long", len(all_rows), limit=LIMIT,
                           chart_frames=CHART_FRAMES)
    assert view.downsampled and view.step == math.ceil(len(all_rows) / CHART_FRAMES) == 9
    assert len(view.rows) <= CHART_FRAMES
    assert (view.rows["frame_index"] % view.step == 0).all()
    assert (view.rows["face_index"] <= 0).all()
    assert view.rows["timestamp"].is_monotonic_increasing
    assert set(view.summary) == set(expected)
    different = {k: (expected[k], view.summary[k]) for k in expected
                 if not _same(expected[k], view.summary[k])}
    assert not different
    np.testing.assert_allclose(view.shares.to_numpy(), an.class_shares(all_rows).to_numpy(),
                               rtol=1e-9)


def test_a_short_session_is_read_whole(store_root):
    view = an.session_view(store_root, "p01", "long")  # 18,000 rows: under the real limit
    assert not view.downsampled and view.step == 1
    assert len(view.rows) == view.n_rows == 18_000


def test_the_session_page_says_its_charts_are_downsampled(store_root, tmp_path, monkeypatch):
    monkeypatch.setattr(sv, "LARGE_SESSION_ROWS", LIMIT)
    monkeypatch.setattr(sv, "CHART_FRAMES", CHART_FRAMES)
    monkeypatch.setenv("FER_LOG_ROOT", str(store_root))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    use_auth_dir(monkeypatch, tmp_path / "auth")
    at = log_in(AppTest.from_file(APP, default_timeout=60))
    at.session_state["shared.subject"] = "p01"
    at.session_state["shared.session"] = "long"
    at.run()
    at.switch_page("pages/session.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Long session (18,000 rows)" in i.value and "every 9th frame" in i.value
               for i in at.info)
    titles = [el.proto.spec for el in at.get("plotly_chart")]
    # all but the exact shares bar (5 charts: the raw lines only on request)
    assert sum("every 9th frame" in t for t in titles) == 4
    full = an.session_summary(LogStore(store_root).read("p01", "long"))
    shown = {m.label: m.value for m in at.metric}
    assert shown["Face in view"] == f"{100 * full['face_in_view']:.0f}%"
    assert shown["Negative-affect share"] == f"{100 * full['negative_share']:.0f}%"
